"""Threat, hate, harassment and profanity patterns in the nine platform languages (data only; see abuse.py).

Hate is found by what is said about a group (deport them, they are vermin, they do not belong
here), not by slurs alone. Patterns run over lower-cased text.
"""

from __future__ import annotations

# Threats of violence aimed at the reader.
THREATS: tuple[str, ...] = (
    # Second person, a harm verb, future or conditional: the threat need not be a listed phrase.
    r"\b(?:i|we)\s*(?:'ll|’ll|\s+will|\s+am\s+going\s+to|'m\s+going\s+to|\s+are\s+going\s+to|\s+gonna|'m\s+gonna|"
    r"\s+shall)\s+(?:\w+\s+){0,3}?(?:kill|hurt|stab|shoot|murder|strangle|burn|break|smash|slit|bury)\s+"
    r"(?:(?:you|u|ya)\b(?!\s+(?:a|an|some|the|one|more|another|up\s+a)\b)|(?:your|ur)\s+(?:face|legs?|neck|arms?|"
    r"head|teeth|bones|skull|jaw|family|kids|children|house|car)\b)",
    r"\b(?:beat|batter)\s+(?:you|u)\s+(?:up|until|till|senseless|to\s+death|black\s+and\s+blue|so\s+hard)\b",
    r"\bmake\s+(?:you|u)\s+(?:pay\s+for|suffer|regret|bleed)\b",
    r"\bmake\s+sure\s+(?:you|u)\s+(?:never|can['’]?t|won['’]?t)\s+(?:walk|talk|see|work|sleep)\s+again\b",
    r"\b(?:you|u|your\s+(?:family|kids|children|mother|mum|mom))\s*(?:'ll|’ll|\s+will|\s+are\s+going\s+to|\s+gonna|"
    r"['’]re\s+going\s+to|['’]re\s+gonna)\s+"
    r"(?:pay\s+for\s+(?:this|that|it)|suffer|regret\s+(?:this|that|it)|bleed|be\s+sorry|end\s+up\s+(?:in\s+a\s+(?:ditch|coffin|wheelchair|body\s+bag)|"
    r"in\s+(?:the\s+)?hospital|dead))\b",
    r"\b(?:i|we)\s+know\s+where\s+(?:you|u|your\s+\w+)\s+(?:live|lives|sleep|go\s+to\s+school)\b",
    r"\baccidents\s+(?:happen|can\s+happen)\s+to\s+(?:people|those|girls|boys|women|men)\s+(?:who|that)\b",
    r"\bjeg\s+skal\s+(?:\w+\s+){0,2}?(?:knuse|drepe|banke|skade|slå\s+ihjel|knivstikke|brekke)\s+"
    r"(?:deg|trynet\s+ditt|ansiktet\s+ditt|beina\s+dine|kjeften\s+din)\b",
    r"\bjag\s+ska\s+(?:\w+\s+){0,2}?(?:slå\s+sönder|döda|krossa|skada|spöa|knivhugga)\s+(?:dig|ditt\s+\w+)\b",
    r"\bjeg\s+(?:skal|vil)\s+(?:\w+\s+){0,2}?(?:dræbe|banke|smadre|skade|tæske|slå\s+dig\s+(?:ned|i\s+stykker|ihjel))\s*"
    r"(?:dig|dit\s+\w+)?\b",
    r"\bich\s+(?:werde|werd|will|mach|mache)\s+dich\s+(?:\w+\s+){0,3}?(?:umbringen|fertigmachen|kaputtmachen|"
    r"abstechen|verprügeln|totschlagen|finden\s+und)\b",
    r"\bich\s+(?:werde|werd|will)\s+dir\s+(?:\w+\s+){0,3}?(?:brechen|wehtun|weh\s+tun|polieren|einschlagen)\b",
    r"\bte\s+voy\s+a\s+(?:\w+\s+){0,2}?(?:matar|reventar|destrozar|apuñalar)\b",
    r"\bte\s+voy\s+a\s+(?:romper|partir)\s+(?:la\s+cara|las\s+piernas|los\s+dientes|los\s+huesos|el\s+cuello|"
    r"la\s+boca|la\s+crisma)\b",
    r"\b(?:te\s+vas\s+a\s+arrepentir|lo\s+vas\s+a\s+pagar|me\s+las\s+vas\s+a\s+pagar)\b",
    r"\b(?:połamię|polamie|połamie|rozwalę|rozwale|zabiję|zabije|zajebię|zajebie)\s+(?:ci\b|cię|cie\b)",
    r"(?<!nie\s)\b(?:pożałujesz|pozalujesz)\b",
    r"(?:зламаю|поламаю|розіб['’]ю|поб['’]ю|приб['’]ю|вб['’]ю)\s+(?:тобі|тебе)|"
    r"(?:тебе|тобі)\s+(?:\w+\s+){0,2}(?:вб['’]ю|поб['’]ю|зламаю|поламаю|розіб['’]ю)|"
    r"(?<!не\s)пошкодуєш",
    r"س[أا]كسر\s+(?:ر[أا]سك|يدك|رجلك|وجهك|عظامك)|س(?:[أا]ضربك|[أا]ذبحك|[أا]حرقك)|ستندم",
    r"\b(?:i|we)\s*(?:'ll|’ll|\s+will|\s+am\s+going\s+to|'m\s+going\s+to|\s+are\s+going\s+to|\s+gonna|'m\s+gonna)\s+"
    r"(?:kill|hurt|stab|shoot|murder|rape|strangle|slap|punch|burn|end)\s+(?:you|u|ya|your\s+family)\b"
    r"(?!\s+(?:a|an|some|the|one|another)\b)",
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
    r"people\s+like\s+(?:you|u)|ppl\s+like\s+(?:you|u)|the\s+likes\s+of\s+you|folk\s+som\s+(?:deg|dig)|"
    r"(?:sånne|slike)\s+som\s+deg|(?:sådana|såna)\s+som\s+du|sådan\s+nogen\s+som\s+dig|"
    r"leute\s+wie\s+(?:du|dich)|menschen\s+wie\s+(?:du|dich)|gente\s+como\s+t[úu]|los\s+de\s+tu\s+(?:clase|calaña)|"
    r"(?:ludzie\s+)?tacy\s+jak\s+ty|(?:люди\s+)?такі\s+як\s+ти|[أا]مثالك|ناس\s+مثلك|"
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

# What is said of a group after naming it (deport them, they are vermin, they do not belong here). One pattern
# names the group once and tries every statement after it: the group alternation is the expensive part.
_GROUP_STATEMENTS: tuple[str, ...] = (
    rf"(?:should|must|need\s+to|ought\s+to|deserve\s+to|burde|bør|borde|sollten|sollen|deberían|"
    rf"powinni|повинні)\s+(?:all\s+|alle\s+|alla\s+|todos\s+|wszyscy\s+)?(?:be\s+|get\s+|bli\s+|bliva\s+|werden\s+|ser\s+|"
    rf"zostać\s+|бути\s+)?{_REMOVAL}",
    r"(?:should|must|deserve\s+to)\s+(?:all\s+)?die\b",
    rf"(?:are|r|er|är|sind|son|są|to|це|هم)\s+(?:all\s+|just\s+|nothing\s+but\s+|bare\s+|alle\s+|"
    rf"bara\s+|alla\s+|nur\s+|alle\s+|todos\s+|wszyscy\s+)?{_DEHUMANISING}\b",
    r"(?:don't|dont|do\s+not|don’t|doesn't|doesnt|does\s+not|doesn’t)\s+belong\s+(?:here|in\s+\w+)",
    r"(?:hører\s+ikke\s+til|hører\s+ikke\s+hjemme|hör\s+inte\s+hit|gehört\s+nicht|gehören\s+nicht|"
    r"no\s+pertenece|nie\s+pasuj\w*|nie\s+należ\w*|не\s+належ\w*|не\s+місце|لا\s+مكان\s+لهم)",
    r"(?:should|must|need\s+to|have\s+to|ought\s+to|burde|bør|borde|bör|sollten|deberían|powinni|"
    r"powinny|мають|повинні)\s+(?:all\s+|alle\s+|alla\s+|todos\s+|wszyscy\s+)?(?:go\s+back|leave|get\s+out|"
    r"reise\s+hjem|dra\s+hjem|rejse\s+hjem|åka\s+hem|åka\s+tillbaka|zurück\w*|verschwinden|volver|irse|"
    r"wraca[ćc]|wynie\w+|забиратися|повертатися|їхати)\b(?!\s+(?:their|the|a|an|his|her|your|at|by|before|after)\b)",
    r"(?:ruin|ruins|destroy|destroys|wreck|wrecks|poison|poisons|infest|infests)\s+(?:every|our|this|the|"
    r"all)\b",
    r"(?:hører\s+ikke\s+hjemme|hör\s+inte\s+hemma|gehören\s+nicht|no\s+pertenecen)",
    r"(?:are\s+)?(?:ruining|destroying|invading|taking\s+over|ødelegger|förstör|ødelægger|zerstören|"
    r"están\s+destruyendo|niszczą)\s+(?:our|this|the|landet|vårt|unser|das|el|nuestro|nasz)",
)

HATE: tuple[str, ...] = (
    rf"\b{_GROUPS}\s+(?:{'|'.join(f'(?:{t})' for t in _GROUP_STATEMENTS)})",
    rf"(?:no\s+hay\s+(?:sitio|lugar)\s+para|nie\s+ma\s+tu\s+miejsca\s+dla|ingen\s+plass\s+til|ingen\s+plats\s+för|"
    rf"kein\s+platz\s+für)\s+{_GROUPS}",
    r"\b(?:go|crawl|get|fuck\s+off|piss\s+off|run)\s+(?:\w+\s+)?back\s+(?:to\s+(?:your|ur)\s+(?:own\s+)?"
    r"(?:country|land|shithole|village)|(?:to\s+)?where\s+(?:you|u)\s+(?:came|come)\s+from)\b",
    r"\b(?:geh|geht|verschwinde|hau\s+ab)\s+(?:\w+\s+)?zurück,?\s+(?:wo(?:her)?\s+du\s+herkommst|in\s+dein\s+land)",
    r"\b(?:vuelve|vuélvete|vuelvete|regresa|lárgate|largate)\s+a\s+tu\s+(?:país|pais|tierra)\b",
    r"(?:їдь|повертайся|вали|забирайся|забирайтеся|їдьте)\s+(?:назад\s+)?(?:у|в|до)\s+(?:свою|своєї|себе)",
    r"(?:ارجع|ارجعوا|عد|عودوا)\s+(?:[إا]لى|الى|ل)\s*(?:بلدك|بلادك|بلدكم|بلادكم)",
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

_HOSTILE = (
    r"(?:pathetic|stupid|little|dumb|useless|worthless|disgusting|fat|ugly|brainless|miserable|filthy|dirty|lazy|"
    r"absolute|complete|total|fucking|bloody|sick|vile|spineless|braindead)"
)
# Copula then a negation: "du er ikke en idiot", "you are not a loser" say the opposite.
_NOT = r"(?!(?:ikke|ikkje|inte|nicht|kein\w*|not|no|nie|не)\b)"

# Insults and harassment aimed at the reader.
HARASSMENT: tuple[str, ...] = (
    # An insult with adjectives before it, said to or about the reader: "you pathetic little worm", "jesteś
    # bezużytecznym idiotą", "ти жалюгідний ідіот", "du dummer Vollidiot", "eres un idiota inútil".
    # Nouns that are insults only with a hostile adjective ("freak", "pig", "clown") need one.
    r"\b(?:you|u)(?:['’]re|\s+are|\s+r|re)\s+(?:such\s+)?(?:a|an)\s+(?:\w+\s+){0,2}?"
    r"(?:idiot|moron|imbecile|loser|cretin|worm|scum|parasite|waste\s+of\s+space)\b",
    rf"\b(?:you|u)\s+(?:{_HOSTILE}\s+){{1,2}}(?:\w+\s+)?(?:idiot|moron|imbecile|loser|cretin|worm|scum|parasite|"
    r"freak|pig|cow|rat|clown|bitch)\b",
    rf"\b(?:you|u)(?:['’]re|\s+are|\s+r|re)\s+(?:such\s+)?(?:a|an)\s+(?:{_HOSTILE}\s+){{1,2}}(?:freak|pig|cow|rat|"
    r"clown|pest)\b",
    r"\b(?:ur|you['’]re|you\s+are)\s+(?:so\s+|such\s+a\s+)?(?:ugly|stupid|dumb|fat|disgusting|pathetic|worthless)\s+"
    r"(?:and|&)\s+(?:\w+\s+){0,2}(?:stupid|ugly|dumb|fat|useless|worthless)\b",
    r"\b(?:everyone|everybody|nobody|no\s+one|noone)\s+(?:\w+\s+){0,4}(?:hates|laughs\s+at|can\s+stand|"
    r"can['’]?t\s+stand|despises)\s+(?:you|u)\b",
    r"\bno\s+wonder\s+(?:your|ur)\s+(?:\w+\s+)?(?:left|hate|hates|dumped)\s+(?:you|u)\b",
    rf"\bdu\s+(?:er|är|bist)\s+{_NOT}(?:så\s+|so\s+)?(?:en\s+|ett\s+|ein\s+|eine\s+)?(?:\w+\s+){{0,2}}?"
    r"(?:idiot|taper|taber|"
    r"tosk|dust|förlorare|tönt|fjols|versager|vollidiot|trottel|depp|loser|nolle|kødd|idiotin)\b",
    r"\b(?:du\s+(?:\w+(?:er|e)\s+){1,2}|(?:din|ditt)\s+(?:\w+\s+){1,2})(?:idiot|vollidiot|versager|trottel|depp|taper|taber|tosk|förlorare|tönt)\b",
    r"\b(?<!no\s)eres\s+(?:un\s+|una\s+)?(?:\w+\s+){0,2}?(?:idiota|imbécil|imbecil|estúpid[oa]|estupid[oa]|inútil|inutil|"
    r"perdedor[a]?|basura|asqueros[oa]|gilipollas)\b",
    r"\b(?:gord[oa]|idiota|imbécil|estúpid[oa])\s+(?:asqueros[oa]|de\s+mierda|inútil|inutil)\b",
    r"\b(?<!nie\s)jeste[śs]\s+(?:\w+\s+){0,2}?(?:idiot\w*|debil\w*|kretyn\w*|głup\w*|glup\w*|żałos\w*|zalos\w*|"
    r"beznadziejn\w*|frajer\w*|krow[aą]|świni[aą])\b",
    r"\bty\s+(?:\w+\s+){0,2}?(?:debilu|idioto|kretynie|frajerze|śmieciu|smieciu)\b",
    r"(?<!\w)ти\s+(?!не\s)(?:\w+\s+){0,2}?(?:ідіот\w*|дебіл\w*|тупи\w*|тупа|нікчем\w*|покидьок|придурок|виродок|мразь)",
    r"[أا]نت\s+(?!(?:لست|مش|ليس|مو)\s)(?:\w+\s+){0,2}?(?:حقير|غبي|قذر|تافه|حمار|كلب)",
    r"\b(?:nobody|no\s+one|noone)\s+(?:wants|likes|needs)\s+you\b(?!\s+to\b)",
    r"\beveryone\s+hates\s+you\b",
    r"\byou\s+(?:don't|dont|do\s+not|don’t)\s+belong\s+here\b",
    r"\bdu\s+er\s+(?:så\s+)?(?:verdiløs|ubrukelig|ekkel|patetisk|værdiløs|ulækker|en\s+idiot|en\s+taber)\b",
    r"\bdu\s+är\s+(?:så\s+)?(?:värdelös|äcklig|patetisk|en\s+idiot|dum\s+i\s+huvudet)\b",
    r"\bdu\s+bist\s+(?:so\s+)?(?:wertlos|nutzlos|ekelhaft|erbärmlich|ein\s+idiot|dumm)\b",
    r"\b(?<!no\s)eres\s+(?:un\s+|una\s+)?(?:inútil|basura|patético|patética|asqueroso|asquerosa|idiota|estúpido|estúpida)\b",
    r"\b(?<!nie\s)jesteś\s+(?:bezwartościowy|bezwartościowa|żałosny|żałosna|obrzydliwy|obrzydliwa|idiotą|głupi|głupia)\b",
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
