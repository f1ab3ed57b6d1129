"""Word and phrase lists of the screening rules (data only; the matching lives in language.py and spam.py).

Words are written plainly in lower case; the matcher adds case folding, leetspeak, repeated
letters and spaced-out spellings, and matches on word boundaries only. A phrase is a tuple of
slots; each slot is a tuple of alternative words, and a slot holding "" is optional.
"""

from __future__ import annotations

Phrase = tuple[tuple[str, ...], ...]

# Suffixes a listed word may carry and still be the same word ("fucking", "bitches", "shitty").
SUFFIXES: tuple[str, ...] = ("s", "es", "ed", "er", "ers", "ing", "in", "y", "ty", "ies")

# Profanity by strength. Deliberately absent: words that are also ordinary words or names
# ("dick", "cock", "hell", "bloody"), which would flag innocent feedback.
PROFANITY_STRONG: tuple[str, ...] = ("fuck", "fck", "fuk", "motherfuck", "cunt")
PROFANITY_MODERATE: tuple[str, ...] = (
    "shit",
    "bullshit",
    "shithead",
    "shithole",
    "bitch",
    "asshole",
    "arsehole",
    "bastard",
    "dickhead",
    "wanker",
    "twat",
    "bollocks",
    "dumbass",
    "jackass",
)
# "prick" is not listed: it is the ordinary Swedish word for a dot.
PROFANITY_MILD: tuple[str, ...] = ("damn", "crap", "ass", "arse", "piss", "bugger")

# Roots that occur inside no innocent word, so they count inside compounds ("clusterfuck").
EMBEDDED_ROOTS: tuple[str, ...] = ("fuck", "motherfuck")

# Slurs against protected groups.
SLURS_HIGH: tuple[str, ...] = (
    "nigger",
    "nigga",
    "faggot",
    "kike",
    "spic",
    "wetback",
    "raghead",
    "towelhead",
    "sandnigger",
    "paki",
    "gook",
)
# Slurs that are also used (rarely) as ordinary words; still hateful in most feedback.
# "fag" is not listed: it is the ordinary Norwegian and Danish word for a school subject (abuse.py
# catches the English slur aimed at someone).
SLURS_MEDIUM: tuple[str, ...] = ("tranny", "dyke", "retard", "retarded", "coon", "chink")

# Insults that are hostile but not hateful on their own.
INSULT_WORDS: tuple[str, ...] = ("idiot", "moron", "imbecile", "loser", "scumbag", "jerk", "cretin")

_GROUPS: tuple[str, ...] = (
    "immigrants",
    "refugees",
    "foreigners",
    "migrants",
    "muslims",
    "jews",
    "blacks",
    "arabs",
    "africans",
    "gays",
    "women",
    "asylum seekers",
)
_DEHUMANISING: tuple[str, ...] = (
    "animals",
    "vermin",
    "parasites",
    "rats",
    "cockroaches",
    "subhuman",
    "scum",
    "invaders",
    "filth",
    "disease",
)

# Hateful phrases aimed at groups, and xenophobic abuse.
HATE_PHRASES: tuple[Phrase, ...] = (
    (("go",), ("back",), ("to",), ("your", "ur", "where"), ("own", ""), ("country", "countries", "you came from")),
    (_GROUPS, ("are", "r"), ("all", "just", ""), _DEHUMANISING),
    (("kill", "gas", "exterminate", "deport"), ("all",), ("the", ""), _GROUPS),
    (("heil",), ("hitler",)),
    (("sieg",), ("heil",)),
    (("white",), ("power",)),
)

# Verbs of physical harm; "beat" and "find" are left out ("we will beat you at chess").
_THREAT_VERBS: tuple[str, ...] = ("kill", "hurt", "stab", "shoot", "murder")

# Threats and incitement to self-harm.
THREAT_PHRASES: tuple[Phrase, ...] = (
    (("kill", "hang"), ("yourself", "urself", "your self")),
    (("kys",),),
    (("go",), ("die",)),
    (("hope",), ("you", "u"), ("die", "get killed", "get hurt")),
    (("you", "u"), ("should", "deserve to"), ("die",)),
    (("i", "we"), ("will", "gonna", "am going to", "are going to", "'ll", "'m going to"), _THREAT_VERBS, ("you", "u")),
)

# Insults aimed at the reader: "you idiot", "you are so stupid".
DIRECTED_INSULTS: tuple[Phrase, ...] = (
    (("you", "u"), ("are", "r", "re", "'re", ""), ("such", "so", "a", "an", ""), ("a", "an", ""), INSULT_WORDS),
    (
        ("you", "u"),
        ("are", "r", "re", "'re"),
        ("so", "such", "really", "a", ""),
        ("stupid", "dumb", "useless", "worthless", "pathetic", "disgusting", "a waste of space", "trash", "garbage"),
    ),
    (("piece",), ("of",), ("shit", "garbage", "trash")),
    (("shut",), ("the fuck", ""), ("up",)),
)

# Phrases of unsolicited promotion and scams; high precision over recall.
SPAM_PHRASES: tuple[Phrase, ...] = (
    (("click",), ("here", "this link", "the link below")),
    (("buy", "order"), ("now", "today")),
    (("act",), ("now", "fast")),
    (("limited",), ("time",), ("offer", "only")),
    (("you", "you've"), ("have", ""), ("won",), ("a", "")),
    (("claim",), ("your",), ("prize", "reward", "bonus")),
    (("make", "earn"), ("money",), ("fast", "online", "from home")),
    (("100%",), ("free",)),
    (("risk",), ("free",)),
    (("no",), ("credit",), ("check",)),
    (("double",), ("your",), ("money", "investment", "bitcoin")),
    (("guaranteed",), ("income", "profit", "returns")),
    (("crypto", "bitcoin", "forex"), ("investment", "trading"), ("opportunity", "platform", "")),
    (("whatsapp", "telegram"), ("me", "us"), ("now", "on", "at", "")),
    (("cheap",), ("viagra", "pills", "meds")),
)

# Words that turn ALL-CAPS shouting into a sales pitch.
MONEY_WORDS: tuple[str, ...] = (
    "free",
    "cash",
    "money",
    "win",
    "winner",
    "won",
    "prize",
    "bitcoin",
    "crypto",
    "discount",
    "offer",
    "deal",
    "bonus",
    "earn",
    "profit",
    "loan",
    "investment",
)
MONEY_SYMBOLS: tuple[str, ...] = ("$", "€", "£", "100%")
URGENCY_WORDS: tuple[str, ...] = ("hurry", "act now", "limited time", "last chance", "expires", "today only", "click")

# Hosts of link shorteners, counted as links even without a scheme.
LINK_SHORTENERS: tuple[str, ...] = ("bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "cutt.ly")
