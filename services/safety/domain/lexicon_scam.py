"""Money and earnings cues of scam spam in the nine platform languages (data only; see spam.py)."""

from __future__ import annotations

# An amount of money: a currency sign or code next to a number. The run of digits, separators and spaces is
# taken whole (possessive): no currency word starts with one of them, so giving some back never helps.
AMOUNT = (
    r"(?:[$€£]\s?\d[\d.,\s]*+\d?k?|\d[\d.,\s]*+\d?k?\s?(?:\$|€|£|usd|eur|gbp|nok|sek|dkk|pln|uah|kr|kroner|kronor|"
    r"euro|euros|dollars?|zł|złotych|грн|гривень|دولار|يورو))"
)

# Words that sell money, prizes or investments.
MONEY_CUES = (
    r"(?:\b(?:earn|make\s+money|profit|income|investment|invest|crypto|bitcoin|forex|prize|winner|won|giveaway|"
    r"gift\s*card|loan|cash|free\s+money|bonus|double\s+your|passive|"
    r"tjen|tjene|penger|gevinst|vinner|gratis|investering|lån|"
    r"tjäna|pengar|vinst|investering|"
    r"tjen|penge|gevinst|"
    r"verdienen|geld|gewinn|gewinner|kostenlos|investition|kredit|"
    r"ganar|dinero|ganador|premio|inversión|préstamo|"
    r"zarobić|zarabiaj|pieniądze|wygrana|wygrałeś|darmowy|inwestycja|pożyczka|"
    r"заробити|заробіток|гроші|виграш|безкоштовно|інвестиці\w*|кредит)\b|"
    r"(?:اربح|ربح|أموال|اموال|مجانا|جائزة|استثمار))"
)

# Earnings promised per period or without effort: "$500 a day", "from home", "guaranteed".
EASY_MONEY = (
    r"(?:\b(?:per|a|an|every|each)\s+(?:day|week|hour)|daily|weekly|from\s+home|guaranteed|no\s+experience|"
    r"risk[\s-]?free|i\s+døgnet|om\s+dagen|hjemmefra|garantert|per\s+dag|om\s+dagen|hemifrån|garanterat|"
    r"hjemmefra|garanteret|pro\s+tag|von\s+zuhause|garantiert|al\s+día|por\s+día|desde\s+casa|garantizado|"
    r"dziennie|z\s+domu|gwarantowan\w*|на\s+день|щодня|з\s+дому|гарантован\w*|يوميا|من\s+المنزل)"
)

# Ways to be contacted off the platform, typical of investment and job scams.
CONTACT_CUES = r"\b(?:whatsapp|telegram|dm\s+me|inbox\s+me|wa\.me|t\.me|signal\s+me|viber)\b"
