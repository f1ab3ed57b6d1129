"""Threat, hate, harassment and profanity patterns in the nine platform languages (data only; see abuse.py).

Hate is found by what is said about a group (deport them, they are vermin, they do not belong
here), not by slurs alone. Patterns run over lower-cased text.
"""

from __future__ import annotations

# Threats of violence aimed at the reader.
THREATS: tuple[str, ...] = (
    r"\b(?:i|we)\s*(?:'ll|’ll|\s+will|\s+am\s+going\s+to|'m\s+going\s+to|\s+are\s+going\s+to|\s+gonna|'m\s+gonna)\s+"
    r"(?:kill|hurt|stab|shoot|murder|rape|strangle|slap|punch|burn|end)\s+(?:you|u|ya|your\s+family)\b",
    r"\b(?:i|we)\s*(?:'ll|’ll|\s+will|'m\s+going\s+to|\s+am\s+going\s+to|\s+gonna)\s+beat\s+(?:you|u)\s+up\b",
    r"\b(?:i|we)\s*(?:'ll|’ll|\s+will|\s+am\s+going\s+to|'m\s+going\s+to|\s+gonna)\s+(?:find|get)\s+(?:you|u)\b"
    r"(?!\s+(?:a|an|some|the|one|more|another|info|information|help|details|there))",
    r"\bbreak\s+your\s+(?:legs?|neck|face|bones|arms?|jaw)\b",
    r"\b(?:smash|kick|bash|punch|cave)\s+your\s+(?:face|head|teeth|skull)\s+in\b",
    r"\bi\s+know\s+where\s+you\s+live\b",
    r"\b(?:you're|you’re|you\s+are|ur)\s+(?:dead|going\s+to\s+die|gonna\s+die)\b(?!\s+(?:tired|right|serious|wrong|on))",
    r"\bwatch\s+your\s+back\b",
    r"\byou\s*(?:'ll|’ll|\s+will)\s+(?:regret|pay\s+for)\s+(?:this|it|that)\b",
    r"\b(?:someone|somebody)\s+should\s+(?:kill|shoot|stab|hurt|beat\s+up)\s+(?:you|him|her|them)\b",
    r"\bhope\s+you\s+(?:die|get\s+(?:killed|raped|hurt|cancer))\b",
    r"\bjeg\s+(?:skal\s+)?(?:drepe|dreper|banke|banker|knivstikke)\s+deg\b",
    r"\bjeg\s+vet\s+hvor\s+du\s+bor\b",
    r"\bjag\s+(?:ska\s+)?(?:döda|dödar|slå\s+ihjäl|slår\s+ihjäl|knivhugga)\s+dig\b",
    r"\bjag\s+vet\s+var\s+du\s+bor\b",
    r"\bjeg\s+(?:slår\s+dig\s+ihjel|dræber\s+dig|banker\s+dig|vil\s+dræbe\s+dig)\b",
    r"\bjeg\s+ved\s+hvor\s+du\s+bor\b",
    r"\bich\s+(?:bring|bringe|werde)\s+dich\s+(?:um|umbringen|töten)\b",
    r"\bich\s+schlag\w*\s+dich\s+tot\b",
    r"\bich\s+(?:töte|ermorde|erschieße|ersteche|erwürge)\s+dich\b",
    r"\bich\s+weiß\s+wo\s+du\s+wohnst\b",
    r"\bte\s+voy\s+a\s+(?:matar|partir\s+la\s+cara|romper\s+la\s+cara)\b",
    r"\bte\s+mato\b",
    r"\bsé\s+dónde\s+vives\b",
    r"\b(?:zabiję|zabije|pobiję|pobije)\s+cię\b",
    r"\bwiem\s+gdzie\s+mieszkasz\b",
    r"(?:я\s+)?тебе\s+вб['’]ю|вб['’]ю\s+тебе",
    r"я\s+знаю\s+де\s+ти\s+живеш",
    r"س[أا]قتلك|سوف\s+[أا]قتلك",
    r"[أا]عرف\s+[أا]ين\s+تسكن",
)

_GROUPS = (
    r"(?:immigrants|refugees|foreigners|migrants|muslims|jews|blacks|arabs|africans|gays|asylum\s+seekers|"
    r"somalis|syrians|afghans|ukrainians|poles|roma|gypsies|these\s+people|you\s+people|your\s+kind|"
    r"innvandrer(?:e|ne)|utlendinger(?:ne)?|muslimer(?:ne)?|flyktninger(?:ne)?|arabere(?:ne)?|jøder(?:ne)?|"
    r"invandrar(?:e|na)|utlänningar(?:na)?|flyktingar(?:na)?|araber(?:na)?|judar(?:na)?|"
    r"indvandrer(?:e|ne)|udlændinge(?:ne)?|flygtninge(?:ne)?|"
    r"ausländer|flüchtlinge|migranten|muslime|juden|"
    r"inmigrantes|extranjeros|musulmanes|refugiados|judíos|"
    r"imigranci|uchodźcy|muzułmanie|żydzi|cudzoziemcy|"
    r"іммігранти|біженці|мусульмани|євреї|іноземці|"
    r"اللاجئين|اللاجئون|المهاجرين|الأجانب)"
)
_DEHUMANISING = (
    r"(?:animals|vermin|parasites|rats|cockroaches|subhuman|scum|criminals|terrorists|rapists|savages|"
    r"a\s+disease|a\s+plague|trash|garbage|invaders|not\s+human|filth|"
    r"dyr|parasitter|rotter|kriminelle|terrorister|avskum|søppel|"
    r"djur|parasiter|råttor|kriminella|avskum|skräp|afskum|affald|"
    r"tiere|parasiten|ratten|ungeziefer|kriminelle|terroristen|abschaum|dreck|"
    r"animales|parásitos|ratas|criminales|terroristas|escoria|basura|"
    r"zwierzęta|pasożyty|szczury|przestępcy|terroryści|śmiecie|"
    r"тварини|паразити|щури|покидьки|злочинці|"
    r"حيوانات|حشرات|مجرمون|إرهابيون)"
)
_REMOVAL = (
    r"(?:deported|killed|shot|gassed|hanged|removed|kicked\s+out|thrown\s+out|sent\s+back|exterminated|"
    r"locked\s+up|burned|wiped\s+out|"
    r"kastes\s+ut|sendes\s+hjem|utvises|drepes|skytes|kastas\s+ut|skickas\s+hem|utvisas|dödas|skjutas|"
    r"smides\s+ud|udvises|dræbes|"
    r"abgeschoben|getötet|erschossen|vergast|rausgeworfen|"
    r"deportados|expulsados|asesinados|eliminados|"
    r"deportowani|wyrzuceni|zabici|"
    r"депортовані|вигнані|знищені)"
)

HATE: tuple[str, ...] = (
    rf"\b{_GROUPS}\s+(?:should|must|need\s+to|ought\s+to|deserve\s+to|burde|bør|borde|sollten|sollen|deberían|"
    rf"powinni|повинні)\s+(?:all\s+|alle\s+|alla\s+|todos\s+|wszyscy\s+)?(?:be\s+|get\s+|bli\s+|bliva\s+|werden\s+|ser\s+|"
    rf"zostać\s+|бути\s+)?{_REMOVAL}",
    rf"\b{_GROUPS}\s+(?:should|must|deserve\s+to)\s+(?:all\s+)?die\b",
    rf"\b{_GROUPS}\s+(?:are|r|er|är|sind|son|są|to|це|هم)\s+(?:all\s+|just\s+|nothing\s+but\s+|bare\s+|alle\s+|"
    rf"bara\s+|alla\s+|nur\s+|alle\s+|todos\s+|wszyscy\s+)?{_DEHUMANISING}\b",
    rf"\b{_GROUPS}\s+(?:don't|dont|do\s+not|don’t)\s+belong\s+(?:here|in\s+\w+)",
    rf"\b{_GROUPS}\s+(?:hører\s+ikke\s+hjemme|hör\s+inte\s+hemma|gehören\s+nicht|no\s+pertenecen)",
    rf"\b{_GROUPS}\s+(?:are\s+)?(?:ruining|destroying|invading|taking\s+over|ødelegger|förstör|ødelægger|zerstören|"
    rf"están\s+destruyendo|niszczą)\s+(?:our|this|the|landet|vårt|unser|das|el|nuestro|nasz)",
    rf"\b(?:i|we)\s+hate\s+(?:all\s+)?(?:the\s+)?{_GROUPS}",
    rf"\b(?:jeg\s+hater|jag\s+hatar|jeg\s+hader|ich\s+hasse|odio\s+a\s+los|nienawidzę|ненавиджу|[أا]كره)\s+{_GROUPS}",
    rf"\bno\s+{_GROUPS}\s+(?:allowed|welcome)\b",
    r"\b(?:dra|reis)\s+hjem\s+til\s+(?:ditt|ditt\s+eget)\s+land\b",
    r"\b(?:åk|dra)\s+hem\s+till\s+ditt\s+(?:eget\s+)?land\b",
    r"\brejs\s+hjem\s+til\s+dit\s+(?:eget\s+)?land\b",
    r"\bgeh\s+(?:zurück\s+)?(?:in|nach)\s+(?:dein|deine)\s+(?:land|heimat)\b",
    r"\bvuelve\s+a\s+tu\s+país\b",
    r"\bwracaj\s+do\s+(?:swojego|siebie)\s*(?:kraju)?\b",
    r"\bїдь\s+(?:до\s+себе|додому)\b",
    r"\b(?:you|u|ur|such\s+a|fucking|dirty)\s+fags?\b",
)

# Insults and harassment aimed at the reader.
HARASSMENT: tuple[str, ...] = (
    r"\b(?:nobody|no\s+one|noone)\s+(?:wants|likes|needs)\s+you\b(?!\s+to\b)",
    r"\beveryone\s+hates\s+you\b",
    r"\byou\s+(?:don't|dont|do\s+not|don’t)\s+belong\s+here\b",
    r"\bdu\s+er\s+(?:så\s+)?(?:verdiløs|ubrukelig|ekkel|patetisk|værdiløs|ulækker|en\s+idiot|en\s+taber)\b",
    r"\bdu\s+är\s+(?:så\s+)?(?:värdelös|äcklig|patetisk|en\s+idiot|dum\s+i\s+huvudet)\b",
    r"\bdu\s+bist\s+(?:so\s+)?(?:wertlos|nutzlos|ekelhaft|erbärmlich|ein\s+idiot|dumm)\b",
    r"\beres\s+(?:un\s+|una\s+)?(?:inútil|basura|patético|patética|asqueroso|asquerosa|idiota|estúpido|estúpida)\b",
    r"\bjesteś\s+(?:bezwartościowy|bezwartościowa|żałosny|żałosna|obrzydliwy|obrzydliwa|idiotą|głupi|głupia)\b",
    r"\bти\s+(?:нікчема|нікчемний|нікчемна|огидний|огидна|ідіот|ідіотка|тупий|тупа)\b",
    r"[أا]نت\s+(?:حقير|غبي|قذر|تافه)",
    r"\bdra\s+til\s+helvete\b|\bdra\s+åt\s+helvete\b|\bfahr\s+zur\s+hölle\b|\bvete\s+a\s+la\s+mierda\b",
    r"\bidź\s+do\s+diabła\b|\bіди\s+до\s+біса\b",
    # An insult said to the reader as a form of address ("din idiot"), or after telling them to shut up.
    r"\b(?:din|ditt)\s+(?:jævla\s+|jävla\s+|forbanna\s+|dumme?\s+)?(?:idiot|taper|taber|tosk|dust|förlorare|tönt|fjols|"
    r"kødd|nolle)\b",
    r"\b(?:hold\s+kjeft|håll\s+käften?|hold\s+kæft|halt\s+die\s+klappe|halt(?:['’]s|\s+dein)\s+maul|cállate|"
    r"zamknij\s+się|stul\s+pysk)\W{1,4}(?:du\s+|tú\s+|ty\s+)?(?:\w+\s+)?(?:idiot\w*|dumm\w*|trottel|depp|imbécil|"
    r"estúpid[oa]|debil\w*|kretyn\w*|głupi\w*|taper|taber)\b",
    r"(?:замовкни|стули\s+пельку)\W{1,4}(?:ти\s+)?(?:ідіот\w*|дурень|дебіл\w*|тупий|тупа)",
    r"(?:اخرس|اسكت)\W{0,3}\s*يا\s+(?:غبي|حمار|حقير)",
)

PROFANITY_STRONG: tuple[str, ...] = (
    r"\b(?:fitte\w*|fitta\w*|kuk(?:en)?|hore\w*|hora|horan|fotze|hurensohn|wichser|arschloch|"
    r"puta|puto|cabrón|cabron|gilipollas|coño|hijo\s+de\s+puta|kurw\w*|chuj\w*|pierdol\w*|jeba\w*|"
    r"skurwysyn\w*|spierdalaj|pizd\w*|kusse|luder|forpulte?)\b",
    r"(?:блядь|бля[тд]ь|сука|суки|хуй\w*|хуя|пизд\w*|їба\w*|єба\w*|нахуй|мудак\w*)",
    r"(?:شرموطة|كس\s+[أا]مك|ابن\s+الكلب|منيوك)",
)
PROFANITY_MODERATE: tuple[str, ...] = (
    r"\b(?:faen|fanden|jævla|jævlig\w*|jävla|jävlar|jävel|helvetes?|dritt\w*|kraftedeme|fandme|lort|røvhul|"
    r"skitstövel|scheiße|scheisse|scheiß\w*|mierda|joder)\b",
    r"(?:\bбля\b)",
)
