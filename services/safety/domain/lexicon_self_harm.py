"""Self-harm and suicidal-ideation patterns in the nine platform languages (data only; see self_harm.py).

Patterns run over lower-cased text. English "don't want to live" only counts at the end of a
clause, so "I don't want to live in Oslo" stays clean.
"""

from __future__ import annotations

# A clause ends here: punctuation, the end, or a conjunction in one of the languages.
_END = r"(?=\s*(?:[.!?,;:…)\]\"'’]|$|\n|and\b|but\b|og\b|men\b|och\b|und\b|aber\b|y\b|pero\b|i\b|ale\b|і\b|але\b|و))"

# First-person intent or wish, per language (lower-cased text; \w-boundaries are Unicode-aware).
INTENT_PATTERNS: dict[str, tuple[str, ...]] = {
    "en": (
        r"\b(?:kill|killing|hurt|hurting|harm|harming|cutting|hang|hanging|end)\s+myself\b",
        r"\b(?:end|ending|take|taking|end\s+it\s+all\s+and\s+take)\s+my\s+(?:own\s+)?life\b",
        r"\bend\s+it\s+all\b",
        r"\b(?:want|wanna|wish|planning|plan|ready)\s+(?:to\s+)?(?:die|be\s+dead|not\s+wake\s+up)\b",
        r"\bwish\s+i\s+(?:was|were)\s+(?:dead|never\s+born)\b",
        r"\b(?:do\s*n[o'’]?t|no\s+longer|not)\s+want\s+to\s+(?:live|be\s+alive|exist|wake\s+up)"
        r"(?:\s+any\s*more)?" + _END,
        r"\bbetter\s+off\s+dead\b",
        r"\b(?:everyone|everybody|they|people|my\s+family)\s+(?:would|will|'d)\s+be\s+better\s+off\s+without\s+me\b",
        r"\bno\s+(?:reason|point)\s+(?:to|in)\s+(?:live|living|go\s+on|going\s+on)\b",
        r"\bcan\s*(?:no|')?t\s+go\s+on\s+(?:living|like\s+this|any\s*more)\b",
        r"\btired\s+of\s+(?:living|being\s+alive|life)\b",
        r"\b(?:take|took|taking)\s+(?:all\s+)?(?:my\s+|the\s+)?pills\s+(?:at\s+once|to\s+die)\b",
    ),
    "no": (
        r"\bta\s+livet\s+(?:av|mitt)\s*(?:meg)?\b",
        r"\bta\s+mitt\s+(?:eget\s+)?liv\b",
        r"\b(?:drepe|skade|kutte|henge)\s+meg\s+selv\b",
        r"\bvil\s+ikke\s+leve\s+(?:lenger|mer)\b",
        r"\b(?:vil|ønsker\s+å|har\s+lyst\s+til\s+å)\s+(?:bare\s+|helst\s+)?dø\b",
        r"\borker\s+ikke\s+(?:å\s+)?leve\b",
        r"\bbedre\s+om\s+jeg\s+var\s+død\b",
        r"\bskulle\s+ønske\s+jeg\s+var\s+død\b",
    ),
    "sv": (
        r"\bta\s+livet\s+av\s+mig\b",
        r"\bta\s+mitt\s+(?:eget\s+)?liv\b",
        r"\b(?:döda|skada|skära|hänga)\s+mig\s+själv\b",
        r"\bvill\s+inte\s+leva\s+(?:längre|mer)\b",
        r"\b(?:vill|önskar\s+att\s+jag\s+fick)\s+(?:bara\s+|helst\s+)?dö\b",
        r"\borkar\s+inte\s+(?:att\s+)?leva\b",
        r"\bbättre\s+om\s+jag\s+var\s+död\b",
        r"\bönskar\s+att\s+jag\s+var\s+död\b",
    ),
    "da": (
        r"\btage\s+livet\s+af\s+mig\b",
        r"\btage\s+mit\s+(?:eget\s+)?liv\b",
        r"\bslå\s+mig\s+selv\s+ihjel\b",
        r"\b(?:skade|skære\s+i)\s+mig\s+selv\b",
        r"\bvil\s+ikke\s+leve\s+(?:længere|mere)\b",
        r"\b(?:vil|ønsker\s+at)\s+(?:bare\s+|helst\s+)?dø\b",
        r"\borker\s+ikke\s+(?:at\s+)?leve\b",
        r"\bville\s+ønske\s+jeg\s+var\s+død\b",
    ),
    "de": (
        r"\bmich\s+(?:selbst\s+)?(?:umbringen|töten|ritzen|verletzen|aufhängen)\b",
        r"\bbringe?\s+mich\s+um\b",
        r"\bmir\s+das\s+leben\s+(?:nehmen|zu\s+nehmen)\b",
        r"\bmeinem\s+leben\s+ein\s+ende\s+(?:setzen|machen)\b",
        r"\bwill\s+nicht\s+mehr\s+leben\b",
        r"\b(?:will|möchte)\s+(?:einfach\s+)?sterben\b",
        r"\bwäre\s+(?:lieber|besser)\s+tot\b",
    ),
    "es": (
        r"\b(?:suicidarme|matarme|ahorcarme|cortarme\s+las\s+venas)\b",
        r"\bquitarme\s+la\s+vida\b",
        r"\bacabar\s+con\s+mi\s+vida\b",
        r"\bno\s+quiero\s+(?:seguir\s+)?vivir\b",
        r"\bquiero\s+(?:morir|morirme)\b",
        r"\bhacerme\s+daño\b",
        r"\b(?:estaría|estarían)\s+mejor\s+(?:muerto|muerta|sin\s+mí)\b",
    ),
    "pl": (
        r"\b(?:zabić|zabije|zabiję|powiesić|powieszę)\s+się\b",
        r"\bodebrać\s+sobie\s+życie\b",
        r"\bnie\s+chcę\s+(?:już\s+)?żyć\b",
        r"\bchcę\s+(?:umrzeć|się\s+zabić)\b",
        r"\b(?:skrzywdzić|okaleczyć|pociąć)\s+(?:siebie|się)\b",
        r"\btnę\s+się\b",
    ),
    "uk": (
        r"покінчити\s+(?:з\s+)?собою",
        r"накласти\s+на\s+себе\s+руки",
        r"вбити\s+себе",
        r"не\s+хочу\s+(?:більше\s+)?жити",
        r"хочу\s+померти",
        r"(?:завдати\s+собі\s+шкоди|різати\s+себе|поріжу\s+себе)",
    ),
    "ar": (
        r"[أا]ريد\s+[أا]ن\s+[أا]موت",
        r"[أا]قتل\s+نفسي",
        r"[أا]نتحر",
        r"لا\s+[أا]ريد\s+[أا]ن\s+[أا]عيش",
        r"[أا]ؤذي\s+نفسي",
        r"[أا]نهي\s+حياتي",
    ),
}

TOPIC_PATTERNS: tuple[str, ...] = (
    r"\b(?:suicide|suicidal|self[\s-]?harm(?:ing)?|overdose)\b",
    r"\b(?:selvmord\w*|självmord\w*|selvskad\w*|självskad\w*)\b",
    r"\b(?:selbstmord\w*|suizid\w*|selbstverletzung)\b",
    r"\b(?:suicidio|suicida|autolesión|autolesiones)\b",
    r"\b(?:samobój\w*|samookalecz\w*)\b",
    r"(?:самогубств\w*|суїцид\w*|самоушкодж\w*)",
    r"(?:انتحار|الانتحار|إيذاء\s+النفس)",
)
