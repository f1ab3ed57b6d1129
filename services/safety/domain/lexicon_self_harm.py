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
        # Said indirectly: sleep without waking, no point, wishing not to exist.
        r"\b(?:sleep|fall\s+asleep|go\s+to\s+sleep)\s+(?:and|&)\s+(?:never|not)\s+wake\s+up\b",
        r"\bhope\s+i\s+(?:never|don[o'’]?t)\s+wake\s+up\b",
        r"\bwhat(?:[’']s|\s+is)\s+(?:even\s+)?the\s+point\s+(?:of|in)\s+(?:anything|living|life|being\s+alive|going\s+on)\b",
        r"\bwish\s+i\s+(?:did\s*n[o'’]?t\s+exist|could\s+(?:just\s+)?disappear\s+forever)\b",
        r"\bdo\s*n[o'’]?t\s+want\s+to\s+be\s+here\s+any\s*more\b",
        r"\b(?:unalive|off)\s+myself\b",
        r"\bwant\s+(?:it\s+all\s+)?to\s+(?:end|be\s+over)\s+for\s+good\b",
        # Anyone would be better off without me (from the verb on: a pattern may not start with any word).
        r"\b(?:would|will|d)\s+(?:all\s+)?be\s+(?:better|happier)\s+(?:off\s+)?without\s+me\b",
        r"\b(?:ways|how|methods?)\s+to\s+(?:die|kill\s+myself|end\s+my\s+life)\b",
        r"\b(?:jump|jumping)\s+(?:off|from)\s+(?:the\s+|a\s+|my\s+)?(?:bridge|roof|building|balcony)\b",
        r"\b(?:done|finished)\s+with\s+(?:life|living|being\s+alive)\b",
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
        r"\bikke\s+(?:vil|orker\s+å)\s+leve\s+(?:lenger|mer)\b",
        r"\bvil\s+ikke\s+være\s+her\s+(?:lenger|mer)\b",
        r"\bønsker?\s+(?:jeg\s+)?(?:at\s+)?jeg\s+ikke\s+(?:fantes|var\s+født|levde)\b",
        r"\bsovne\s+og\s+(?:aldri|ikke)\s+våkne\b",
        r"\b(?:ingen|ikke\s+noen)\s+(?:vits|mening)\s+(?:i\s+|med\s+)?å\s+leve\b",
        r"\bkutter\s+meg\s+(?:selv|igjen|i\s+armene?|opp)\b",
        r"\btenker\s+på\s+å\s+(?:dø|ta\s+livet)\b",
        r"\bbedre\s+uten\s+meg\b",
        r"\bmåter?\s+å\s+(?:dø|ta\s+livet\s+av\s+seg)\b",
        r"\bhoppe\s+(?:fra|ut\s+fra|ned\s+fra)\s+(?:brua|broen|taket|balkongen)\b",
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
        r"\binte\s+(?:vill|orkar)\s+leva\s+(?:längre|mer)\b",
        r"\bvill\s+inte\s+vara\s+här\s+(?:längre|mer)\b",
        r"\bönskar\s+(?:jag\s+)?(?:att\s+)?jag\s+inte\s+(?:fanns|var\s+född|levde)\b",
        r"\bsomna\s+och\s+(?:aldrig|inte)\s+vakna\b",
        r"\bingen\s+(?:idé|mening)\s+(?:med\s+)?att\s+leva\b",
        r"\bskär\s+mig\s+(?:själv|igen|i\s+armarna)\b",
        r"\btänker\s+på\s+att\s+(?:dö|ta\s+livet)\b",
        r"\bbättre\s+utan\s+mig\b",
        r"\bsätt\s+att\s+(?:dö|ta\s+livet\s+av\s+sig)\b",
        r"\bhoppa\s+(?:från|ut\s+från|ner\s+från)\s+(?:bron|taket|balkongen)\b",
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
        r"\bikke\s+(?:vil|orker\s+at)\s+leve\s+(?:længere|mere)\b",
        r"\bvil\s+ikke\s+være\s+her\s+(?:længere|mere)\b",
        r"\bønsker?\s+(?:jeg\s+)?(?:at\s+)?jeg\s+ikke\s+(?:fandtes|var\s+født|levede)\b",
        r"\bfalde\s+i\s+søvn\s+og\s+(?:aldrig|ikke)\s+vågne\b",
        r"\bingen\s+(?:grund|mening)\s+(?:med\s+|til\s+)?at\s+leve\b",
        r"\bskærer\s+i\s+mig\s+selv\b",
        r"\btænker\s+på\s+at\s+(?:dø|tage\s+livet)\b",
        r"\bbedre\s+uden\s+mig\b",
        r"\bmåder?\s+at\s+(?:dø|tage\s+livet\s+af\s+sig)\b",
        r"\bhar\s+lyst\s+til\s+at\s+(?:dø|tage\s+mit\s+liv)\b",
    ),
    "de": (
        r"\bmich\s+(?:selbst\s+)?(?:umbringen|töten|ritzen|verletzen|aufhängen)\b",
        r"\bbringe?\s+mich\s+um\b",
        r"\bmir\s+das\s+leben\s+(?:nehmen|zu\s+nehmen)\b",
        r"\bmeinem\s+leben\s+ein\s+ende\s+(?:setzen|machen)\b",
        r"\bwill\s+nicht\s+mehr\s+leben\b",
        r"\b(?:will|möchte)\s+(?:einfach\s+)?sterben\b",
        r"\bwäre\s+(?:lieber|besser)\s+tot\b",
        r"\bnicht\s+mehr\s+leben\s+(?:will|möchte|kann)\b",
        r"\b(?:will|möchte)\s+(?:einfach\s+)?(?:nur\s+)?tot\s+sein\b",
        r"\bwünschte,?\s+ich\s+wäre\s+tot\b",
        r"\beinschlafen\s+und\s+nie(?:mals)?\s+(?:mehr\s+|wieder\s+)?aufwachen\b",
        r"\b(?:keinen|kein)\s+sinn\s+mehr,?\s+(?:zu\s+leben|weiterzuleben)\b",
        r"\britze\s+mich\b",
        r"\bmich\s+(?:selbst\s+)?(?:umzubringen|zu\s+töten|zu\s+verletzen|zu\s+ritzen)\b",
        r"\bmir\s+(?:\w+\s+){0,3}das\s+leben\s+(?:zu\s+)?nehmen\b",
        r"\bbesser\s+(?:dran\s+)?ohne\s+mich\b",
        r"\bwie\s+man\s+(?:sterben|sich\s+umbringt|sich\s+das\s+leben\s+nimmt)\b",
    ),
    "es": (
        r"\b(?:suicidarme|matarme|ahorcarme|cortarme\s+las\s+venas)\b",
        r"\bquitarme\s+la\s+vida\b",
        r"\bacabar\s+con\s+mi\s+vida\b",
        r"\bno\s+quiero\s+(?:seguir\s+)?vivir\b",
        r"\bquiero\s+(?:morir|morirme)\b",
        r"\bhacerme\s+daño\b",
        r"\b(?:estaría|estarían)\s+mejor\s+(?:muerto|muerta|sin\s+mí)\b",
        r"\bme\s+quiero\s+(?:morir|matar)\b",
        r"\bganas\s+de\s+(?:morir|morirme|matarme|desaparecer\s+para\s+siempre)\b",
        r"\bdormir(?:me)?\s+y\s+no\s+(?:volver\s+a\s+)?despertar\b",
        r"\b(?:sin|ninguna|no\s+tengo|no\s+hay)\s+(?:razón|motivo|razones|motivos)\s+para\s+(?:vivir|seguir\s+viviendo)\b",
        r"\bme\s+corto\s+(?:los\s+brazos|las\s+venas|otra\s+vez)\b",
        r"\bojalá\s+(?:estuviera|estar)\s+muert[oa]\b",
        r"\b(?:formas|maneras|modos)\s+de\s+(?:morir|matarme|suicidarme)\b",
        r"\bmejor\s+sin\s+mí\b",
    ),
    "pl": (
        r"\b(?:zabić|zabije|zabiję|powiesić|powieszę)\s+się\b",
        r"\bodebrać\s+sobie\s+życie\b",
        r"\bnie\s+chcę\s+(?:już\s+)?żyć\b",
        r"\bchcę\s+(?:umrzeć|się\s+zabić)\b",
        r"\b(?:skrzywdzić|okaleczyć|pociąć)\s+(?:siebie|się)\b",
        r"\btnę\s+się\b",
        r"\bnie\s+chce\s+mi\s+si[ęe]\s+(?:już\s+)?(?:żyć|zyc)\b",
        r"\bmam\s+do[śs][ćc]\s+(?:tego\s+)?(?:życia|zycia)\b",
        r"\bchciał(?:a)?bym\s+(?:umrzeć|nie\s+żyć|się\s+zabić|zasnąć\s+na\s+zawsze)\b",
        r"\bzasn[ąa][ćc]\s+i\s+(?:się\s+)?(?:już\s+)?nie\s+obudzi[ćc]\b",
        r"\bnie\s+ma\s+sensu\s+(?:żyć|zyc)\b",
        r"\bchc[ęe]\s+umrze[ćc]\b",
        r"\bzabi[ćc]\s+si[ęe]\b",
        r"\bsi[ęe]\s+zabi[ćc]\b",
        r"\blepiej\s+beze\s+mnie\b",
        r"\bsposob(?:y|ów),?\s+(?:na\s+śmierć|żeby\s+umrzeć|by\s+umrzeć|na\s+samobójstwo)\b",
        r"\bzrobi[ćc]\s+sobie\s+krzywd[ęe]\b",
    ),
    "uk": (
        r"покінчити\s+(?:з\s+)?собою",
        r"накласти\s+на\s+себе\s+руки",
        r"вбити\s+себе",
        r"не\s+хочу\s+(?:більше\s+)?жити",
        r"хочу\s+померти",
        r"(?:завдати\s+собі\s+шкоди|різати\s+себе|поріжу\s+себе)",
        r"хочу\s+(?:вмерти|здохнути)",
        r"(?:немає|нема)\s+сенсу\s+(?:жити|більше\s+жити)",
        r"заснути\s+(?:і|й)\s+не\s+прокинут",
        r"(?:ріжу|порізати|порізала?)\s+себе",
        r"вб['’ʼ]?ю\s+себе",
        r"краще\s+б\s+я\s+(?:помер|померла|не\s+жив|не\s+жила|не\s+народ)",
        r"(?:набридло|втоми(?:вся|лася|лись))\s+жити",
        r"[ув]бити\s+себе",
        r"краще\s+без\s+мене",
        r"способи\s+(?:померти|вбити\s+себе|покінчити\s+з\s+собою)",
    ),
    "ar": (
        r"[أا]ريد\s+[أا]ن\s+[أا]موت",
        r"[أا]قتل\s+نفسي",
        r"[أا]نتحر",
        r"لا\s+[أا]ريد\s+[أا]ن\s+[أا]عيش",
        r"[أا]ؤذي\s+نفسي",
        r"[أا]نهي\s+حياتي",
        r"[أا]تمنى\s+(?:الموت|[أا]ن\s+[أا]موت)",
        r"لا\s+[أا]ريد\s+(?:العيش|الحياة)",
        r"(?:سئمت|تعبت|مللت)\s+(?:من\s+)?الحياة",
        r"[أا]جرح\s+نفسي",
        r"(?:لا|ما\s+في|ليس\s+لدي)\s+سبب\s+للعيش",
        r"بدي\s+(?:موت|[أا]موت)",
        r"قتل\s+نفسي",
        r"(?:ل)?[إا]نهاء\s+حياتي",
        r"[أا]فضل\s+بدوني",
        r"طرق?\s+(?:للموت|للانتحار)",
    ),
}

# Words said between the parts of a statement without changing it ("i just really want to die", "ich will
# einfach nur sterben", "хочу просто померти"): up to three of them are allowed where _FILL is used.
_FILLERS = (
    r"(?:just|really|honestly|simply|so|literally|actually|kind\s+of|kinda|bare|egentlig|helst|virkelig|bara|"
    r"egentligen|verkligen|einfach|nur|noch|echt|wirklich|halt|eigentlich|lieber|solo|solamente|simplemente|ya|"
    r"de\s+verdad|po\s+prostu|już|juz|naprawdę|naprawde|tylko|просто|вже|справді|дуже|فقط|بس)"
)
_FILL = rf"(?:{_FILLERS}\s+){{0,3}}"
# Within one sentence: the gap between a question word and the word that gives it away.
_GAP = r"[^.!?\n]{0,60}?"
_PILLS = (
    r"(?:pills?|tablets?|meds|sleeping\s+pills|paracetamol|ibuprofen|paracet|pamol|panodil|alvedon|ibux|piller|tabletter|pillerne|tabletterna|"
    r"sovepiller|sömntabletter|tabletten|schlaftabletten|pastillas|tabletek|pigułek|tabletki|таблеток|пігулок|"
    r"حبة|حبات|حبوب)"
)

# Dose and method questions: how much of a medicine, asked together with dying or not waking up. A dose
# question without that ("how many pills for a headache") is not one.
DOSE_PATTERNS: tuple[str, ...] = (
    rf"\bhow\s+(?:many|much){_GAP}{_PILLS}{_GAP}\b(?:die|dead|kill|not\s+wake|never\s+wake|lethal|od|overdose)\b",
    rf"\b(?:is|are)\s+\d+{_GAP}{_PILLS}\s+(?:enough\s+to\s+die|lethal|deadly|fatal)\b",
    rf"\bhvor\s+mange{_GAP}{_PILLS}{_GAP}\b(?:dø|død|drepe|ikke\s+våkne|aldri\s+våkne|ikke\s+vågne|aldrig\s+vågne)\b",
    rf"\bhur\s+många{_GAP}{_PILLS}{_GAP}\b(?:dö|död|döda|inte\s+vakna|aldrig\s+vakna)\b",
    rf"\bwie\s+viele{_GAP}{_PILLS}{_GAP}\b(?:sterben|tot|nicht\s+mehr\s+aufwach\w*|nie\s+mehr\s+aufwach\w*|umbring\w*)\b",
    rf"\bcu[aá]nt[ao]s{_GAP}{_PILLS}{_GAP}\b(?:morir|morirme|muerto|muerta|matarme|no\s+despertar)\b",
    rf"\bile{_GAP}{_PILLS}{_GAP}\b(?:umrzeć|umrzec|zabić\s+się|nie\s+obudzi\w*|śmier\w*)\b",
    rf"скільки{_GAP}{_PILLS}{_GAP}(?:померти|вмерти|не\s+прокинут\w*|смерт\w*)",
    rf"كم\s+{_PILLS}{_GAP}(?:[أا]موت|للموت|الموت|لا\s+[أا]ستيقظ|لا\s+[أا]صحى)",
    # Gathering the means: "stockpiling my meds", "samler på piller", "zbieram tabletki".
    rf"\b(?:stockpiling|stockpiled|hoarding|saving\s+up|saved\s+up|collecting)\s+(?:all\s+)?(?:my\s+|the\s+)?{_PILLS}",
    rf"\b(?:samler|samlet|sparer|sparet|samlar|samlat|sparat)\s+(?:på\s+)?(?:opp\s+|sammen\s+)?(?:mine\s+|mina\s+)?{_PILLS}",
    rf"\b(?:sammle|gesammelt|horte|gehortet)\s+(?:\w+\s+)?{_PILLS}|\b{_PILLS}\s+(?:gesammelt|gehortet)",
    rf"\b(?:guardando|acumulando|juntando)\s+(?:\w+\s+)?{_PILLS}",
    rf"\b(?:zbieram|zbierałam|zbierałem|odkładam)\s+(?:\w+\s+)?{_PILLS}",
    rf"(?:збираю|збирала|збирав|накопичую)\s+(?:\w+\s+)?{_PILLS}",
    rf"\b(?:how\s+much|what\s+dose\s+of){_GAP}\b(?:to\s+die|to\s+kill\s+myself|is\s+lethal|to\s+not\s+wake\s+up)\b",
)

# Others better off if I were dead or gone: "better for everyone if I were dead", "everyone would be happier if
# I just wasnt around", "alle hadde hatt det bedre om jeg var borte". Said of oneself only ("if I ...").
_GONE_EN = (
    r"(?:dead|died|gone\s+for\s+good|wasn[o'’]?t\s+(?:around|alive)|weren[o'’]?t\s+(?:around|alive)|"
    r"didn[o'’]?t\s+exist|never\s+existed|was\s+never\s+born|killed\s+myself)"
)
BURDEN_PATTERNS: tuple[str, ...] = (
    rf"\b(?:better|happier|easier)\b[^.!?\n]{{0,30}}\bif\s+i\s+(?:{_FILLERS}\s+){{0,2}}(?:was\s+|were\s+)?{_GONE_EN}",
    r"\b(?:world|everyone|everybody|they|family)\s+(?:would|will|'d)\s+be\s+better\s+off\s+without\s+me\b",
    r"\b(?:bedre|lettere|enklere)\b[^.!?\n]{0,30}\b(?:om|hvis|når)\s+jeg\s+(?:bare\s+)?(?:var\s+død|døde|var\s+borte|"
    r"ikke\s+fantes|ikke\s+levde|ikke\s+var\s+her|forsvant)",
    r"\b(?:bättre|lättare|enklare)\b[^.!?\n]{0,30}\b(?:om|när)\s+jag\s+(?:bara\s+)?(?:var\s+död|dog|var\s+borta|"
    r"inte\s+fanns|inte\s+levde|inte\s+var\s+här|försvann)",
    r"\b(?:bedre|lettere|nemmere)\b[^.!?\n]{0,30}\b(?:hvis|når|om)\s+jeg\s+(?:bare\s+)?(?:var\s+død|døde|var\s+væk|"
    r"ikke\s+fandtes|ikke\s+levede|ikke\s+var\s+her|forsvandt)",
    r"\bbesser\b[^.!?\n]{0,30}\bwenn\s+ich\s+(?:einfach\s+|nicht\s+mehr\s+)?(?:tot\s+wäre|sterben\s+würde|sterbe|"
    r"nicht\s+mehr\s+(?:da|hier)\s+wäre|weg\s+wäre|nicht\s+existieren\s+würde)",
    r"\b(?:mejor|mejores)\b[^.!?\n]{0,30}\bsi\s+(?:yo\s+)?(?:me\s+muriera|estuviera\s+muert[oa]|no\s+estuviera|"
    r"desapareciera|no\s+existiera)",
    r"\b(?:estar[ií]an?|estar[ií]amos|vivir[ií]an)\s+mejor\s+sin\s+m[ií]\b",
    r"\blepiej\b[^.!?\n]{0,30}\b(?:gdybym|jakbym)\s+(?:się\s+)?(?:umarł|umarła|nie\s+żył|nie\s+żyła|zniknął|zniknęła|"
    r"zabił|zabiła|nie\s+istniał|nie\s+istniała)",
    r"(?:краще|легше)[^.!?\n]{0,30}(?:якби|якщо)\s+я\s+(?:просто\s+)?(?:помер|померла|зник|зникла|не\s+жив|не\s+жила|"
    r"не\s+існував|не\s+існувала)",
    r"[أا]فضل[^.!?\n]{0,30}لو\s+(?:[أا]نا\s+)?(?:مت|متّ|[أا]موت|اختفيت)",
)

# Verbs of harming oneself with the reflexive separated or conjugated: "zaczęłam się ciąć", "gdybym się zabił",
# "mich am Wochenende umzubringen", "wenn ich mich umbringe", "me he vuelto a cortar las venas".
REFLEXIVE_PATTERNS: tuple[str, ...] = (
    r"\bsi[ęe]\s+(?:\w+\s+){0,2}(?:zabi(?:ć|c|ł|ła|łem|łam|ję|je)|ci[ąa][ćc]|pocią[ćc]|okalecz\w*|powiesi[ćc]|"
    r"powiesz[ęe])\b",
    r"\b(?:zabi(?:ł|ła|łem|łam|ję|je)|ci[ąa][ćc]|tn[ęe]|tnę|pocięł\w*|powiesi[łl]\w*)\s+si[ęe]\b",
    r"\bich\b[^.!?\n]{0,40}?\bmich\s+(?:\w+\s+){0,4}(?:umzubringen|umbringe|umbring|ritze|aufzuhängen|zu\s+erhängen)\b",
    r"\b(?:ritze|ritzte|verletze)\s+mich\b",
    r"\bme\s+(?:\w+\s+){0,3}(?:cortar|corto|corté|cortado)\s+(?:\w+\s+)?(?:brazos|muñecas|munecas|venas|piernas)\b",
    r"\bme\s+(?:voy\s+a|quiero|pienso)\s+(?:\w+\s+)?(?:matar|suicidar|ahorcar|tirar\s+(?:del|de\s+un|por)\s+\w+)\b",
    r"\b(?:skjærer|skjære|skar|kutter|kuttet|kutte|skadet|skader)\s+(?:i\s+)?meg\s+(?:selv|igjen|i\s+arm\w*|"
    r"i\s+beina|i\s+låret|i\s+håndledd\w*)\b",
    r"\b(?:skär|skära|skar|skadar|skadade)\s+mig\s+(?:själv|igen|i\s+arm\w*|i\s+benen|i\s+låret|i\s+handled\w*)\b",
    r"\b(?:skærer|skære|skar|skader|skadede)\s+(?:i\s+)?mig\s+(?:selv|igen|i\s+arm\w*|i\s+benene|i\s+låret)\b",
    r"(?:ріжу|різала|різав|порізала|порізав|поріжу)\s+(?:\w+\s+)?себе|себе\s+(?:\w+\s+)?(?:ріжу|різала|порізала)",
    r"\b(?:started|start|been|keep|kept)\s+(?:\w+\s+)?(?:cutting|burning|hurting)\s+(?:myself\s+)?again\b",
    r"\bi\s+(?:\w+\s+)?(?:cut|burned|burnt)\s+(?:again|my\s+wrists?)\b",
)

# Euphemisms for ending one's life, and goodbyes that say the writer will not be heard from again.
FAREWELL_PATTERNS: tuple[str, ...] = (
    r"\b(?:plan|planning|going|gonna|decided|ready|want|wanna)\s+to\s+end\s+(?:it|things|everything)(?:\s+all)?\b"
    r"(?!\s+(?:with|between|for\s+(?:him|her|them|us)))",
    r"\b(?:i['’]d|i\s+would|i\s+almost|i\s+nearly)\s+(?:have\s+)?end(?:ed)?\s+it(?:\s+all)?\b(?!\s+(?:with|between))",
    r"\b(?:the\s+)?last\s+time\s+(?:you['’]ll|you\s+will|anyone\s+will|you)\s+(?:ever\s+)?hear\s+from\s+me\b",
    r"\bsiste\s+gang\s+(?:dere|du|noen)\s+hører\s+fra\s+meg\b",
    r"\bsista\s+gången\s+(?:ni|du|någon)\s+hör\s+(?:av|från)\s+mig\b",
    r"\bsidste\s+gang\s+(?:i|du|nogen)\s+hører\s+fra\s+mig\b",
    r"\bdas\s+letzte\s+mal,?\s+dass\s+(?:ihr|du)\s+(?:von\s+mir\s+hör\w*|etwas\s+von\s+mir\s+hör\w*)",
    r"\bla\s+última\s+vez\s+que\s+(?:sabéis|sabes|saben|oís|oyes)\s+(?:algo\s+)?de\s+mí\b",
    # "my last message ... goodbye": a last message only counts together with a farewell.
    r"\b(?:my\s+last|final)\s+(?:message|post|text|words)\b[^\n]{0,40}?\b(?:goodbye|farewell|bye\s+forever)\b",
    r"\b(?:siste|sidste)\s+(?:melding|besked|beskjed)\b[^\n]{0,40}?\b(?:ha\s+det|farvel)\b",
    r"\b(?:sista|mitt\s+sista)\s+meddelande\b[^\n]{0,40}?\b(?:hejdå|farväl|adjö)\b",
    r"\bletzte\s+nachricht\b[^\n]{0,40}?\b(?:lebt\s+wohl|leb\s+wohl|lebewohl|lebwohl)\b",
    r"\búltimo\s+mensaje\b[^\n]{0,40}?\badiós\b",
    r"\bostatnia\s+wiadomość\b[^\n]{0,40}?\bżegnaj\w*",
    r"останнє\s+повідомлення[^\n]{0,40}?прощавай\w*",
    r"آخر\s+رسالة[^\n]{0,40}?وداع",
)

# A first-person wish or plan with filler words in between ("ich will einfach nur sterben", "chcę po prostu
# umrzeć", "хочу просто померти", "i just really want to die").
FILLED_PATTERNS: tuple[str, ...] = (
    rf"\b(?<!n't\s)(?<!n’t\s)(?<!nt\s)(?<!not\s)(?:want|wanna|wish)\s+{_FILL}(?:to\s+)?{_FILL}(?:die|be\s+dead|disappear\s+forever|not\s+wake\s+up)\b",
    rf"\b(?:vil|ønsker\s+å|har\s+lyst\s+til\s+å)\s+{_FILL}dø\b",
    rf"\b(?:vill|önskar)\s+{_FILL}dö\b",
    rf"\b(?:vil|ønsker\s+at|har\s+lyst\s+til\s+at)\s+{_FILL}dø\b",
    rf"\b(?:will|möchte|wollte)\s+{_FILL}(?:sterben|tot\s+sein|nicht\s+mehr\s+leben)\b",
    rf"\b(?<!no\s)quiero\s+{_FILL}(?:morir|morirme|matarme|desaparecer|dejar\s+de\s+vivir)\b",
    rf"\b(?<!nie\s)chc[ęe]\s+{_FILL}(?:umrzeć|umrzec|się\s+zabić|sie\s+zabic|zniknąć|zniknac)\b",
    rf"\bchcia(?:ł|l)(?:a)?bym\s+{_FILL}(?:umrzeć|umrzec|zasnąć|zasnac|nie\s+żyć|nie\s+zyc|zniknąć)\b",
    rf"(?<!не\s)хочу\s+{_FILL}(?:померти|вмерти|здохнути|зникнути\s+назавжди|не\s+жити)",
    rf"(?<!لا\s)(?:[أا]ريد|بدي)\s+{_FILL}(?:[أا]ن\s+)?[أا]موت",
    rf"[أا]تمنى\s+(?:لو\s+)?{_FILL}(?:[أا]موت|مت)",
)

# Naming prevention work is not a mention: "suicide prevention course", "Kurs i selvmordsforebygging", "Fortbildung
# zur Suizidprävention", "szkolenie z zapobiegania samobójstwom". The topic word is then the object of a
# professional activity, not something that happened to anyone. Intent rules still run on the same text, so
# "after the suicide prevention course I still want to die" is found.
PREVENTION_COMPOUND = r"(?:forebygg|förebygg|prevention|prävention|prevencion|prevención)"
PREVENTION_AFTER = (
    r"[\s-]*(?:prevention|awareness|training|research|statistics|rates?|forebygging|forebyggelse|förebyggande|"
    r"prevention|prävention|präventions\w*)\b"
)
PREVENTION_BEFORE = (
    r"\b(?:prevention\s+of|preventing|forebygging\s+av|forebyggelse\s+af|forebygge|förebyggande\s+av|förebygga|"
    r"prävention\s+von|vorbeugung\s+von|prevención\s+del|prevenir\s+el|zapobiegani\w*|"
    r"profilaktyk[ia]|профілактик[аиі]|запобігання|الوقاية\s+من|منع)\s*$"
)

TOPIC_PATTERNS: tuple[str, ...] = (
    r"\b(?:suicide|suicidal|self[\s-]?harm(?:ing)?|overdose)\b",
    r"\b(?:selvmord\w*|självmord\w*|selvskad\w*|självskad\w*)\b",
    r"\b(?:selbstmord\w*|suizid\w*|selbstverletzung)\b",
    r"\b(?:suicidios?|suicidas?|autolesión|autolesiones|ideación\s+suicida)\b",
    r"\b(?:samobój\w*|samookalecz\w*)\b",
    r"(?:самогубств\w*|суїцид\w*|самоушкодж\w*)",
    r"(?:انتحار|الانتحار|إيذاء\s+النفس)",
    # Someone else's suicide or plan to die: the topic, reported.
    r"\b(?:kill|killed|killing|hang|hanged|hanging)\s+(?:him|her|them)sel(?:f|ves)\b",
    r"\b(?:take|took|taking)\s+(?:his|her|their)\s+own\s+life\b",
    r"\b(?:sucide|suicde|suiside)\b",
    r"\b(?:ta|tar|tok|tage|tager|tog)\s+livet\s+a[fv]\s+s(?:eg|ig)\b",
    r"\bsich\s+(?:das\s+leben\s+genommen|umgebracht|umbringen)\b",
    r"\bsuicid(?:arse|ó|o|a|an|ado|ada)\b",
    r"\bse\s+quiere\s+(?:matar|morir|suicidar)\b",
)
