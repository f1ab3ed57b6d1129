"""Rules widened by cause (word forms, fillers, dose questions, burden statements, threats without listed
phrases, hate about "people like you", adjectives before insults), and the clean texts each must leave alone.

Every sentence is written for this file; none is taken from a labelled set.
"""

from __future__ import annotations

import re

import pytest

from services.safety.domain import abuse, lexicon_abuse, obfuscation
from services.safety.domain.findings import FindingType
from services.safety.domain.screening import screen
from services.safety.domain.self_harm import fold


def _types(text: str) -> set[tuple[str, str]]:
    return {(f.type.value, f.subtype) for f in screen(text).findings}


def _self_harm(text: str) -> bool:
    # The rules alone: these tests pin what each rule finds and leaves; what the trained classifier adds, and its
    # false alarms on look-alikes, are measured by `python -m services.safety.evaluate` (docs/safety/model-card.md).
    return any(f.type is FindingType.SELF_HARM for f in screen(text, classify=False).findings)


def _toxic(text: str) -> set[str]:
    return {f.subtype for f in screen(text).findings if f.type is FindingType.TOXIC}


@pytest.mark.parametrize(
    "text",
    [
        # Dose and method questions asked together with dying or not waking up.
        "quick question, how many of my sleeping pills would kill a grown man like me",
        "hvor mange av sovepillene trenger jeg for å aldri våkne",
        "hur många sömntabletter krävs för att dö, ärligt",
        "wie viele von den Schlaftabletten bis man tot ist",
        "cuantas de estas pastillas para no despertar mañana",
        "ile tych tabletek zeby umrzec spokojnie",
        "скільки цих пігулок щоб не прокинутися",
        "كم حبة من هذا الدواء حتى أموت",
        "I have been hoarding my tablets for weeks",
        # Others better off if I were dead.
        "my parents would honestly be happier if i was dead",
        "det ville vært lettere for familien om jeg bare døde",
        "det vore enklare för alla om jag inte fanns",
        "det ville være nemmere for dem hvis jeg var død",
        "es wäre besser für meine Familie, wenn ich tot wäre",
        "sería mejor para mi familia si me muriera",
        "byłoby lepiej dla mamy gdybym umarła",
        "мамі було б легше якби я померла",
        "سيكون أفضل لأهلي لو مت",
        # Filler words between the parts of a wish.
        "ich möchte eigentlich nur sterben",
        "я хочу вже просто померти",
        "chcę już po prostu umrzeć",
        "quiero simplemente morirme",
        "jeg vil egentlig bare dø",
        # Reflexives separated or conjugated, and diacritics left out.
        "wczoraj znowu zaczęłam się ciąć",
        "myslalem zeby sie zabic",
        "ich habe beschlossen, mich nächste Woche umzubringen",
        "me he vuelto a cortar las muñecas",
        "i started cutting again after the exams",
        "jag skar mig själv igår",
        "orker ikke a leve lenger",
        # Goodbyes and euphemisms.
        "i'm planning to end it all this weekend",
        "this is the last time you'll hear from me",
        "my final message to all of you: goodbye",
        "det her er min sidste besked. farvel",
        # Spanish plural and feminine forms of the topic.
        "últimamente tengo ideas suicidas",
    ],
)
def test_self_harm_said_in_new_forms_is_found(text: str) -> None:
    assert _self_harm(text)


@pytest.mark.parametrize(
    "text",
    [
        "how many paracetamol can I take for a headache",
        "hvor mange tabletter kan jeg ta mot feber",
        "wie viele Tabletten nimmt man bei Erkältung",
        "it would be better if I was there by six",
        "it would be easier if i just ordered online",
        "I cut myself shaving this morning",
        "I plan to end things with my landlord properly",
        "we plan to end it with a party",
        "this is my last message before the holidays",
        "my dad is going to kill me when he sees the car",
        "me voy a cortar el pelo mañana",
        "ich glaube, sie haben mich nicht gesehen",
    ],
)
def test_look_alikes_of_the_new_self_harm_forms_stay_clean(text: str) -> None:
    assert not _self_harm(text)


@pytest.mark.parametrize(
    "text",
    [
        "The workshop is about suicide prevention in schools",
        "Hun leder et prosjekt om selvmordsforebygging",
        "Projektet arbetar med förebyggande av självmord",
        "Wir planen eine Schulung zur Suizidprävention",
        "taller de prevención del suicidio para docentes",
        "konferencja o zapobieganiu samobójstwom",
        "семінар з профілактики самогубств",
        "محاضرة عن الوقاية من الانتحار",
        "suicide awareness week starts on Monday",
    ],
)
def test_naming_prevention_work_is_not_a_self_harm_mention(text: str) -> None:
    assert not _self_harm(text)


@pytest.mark.parametrize(
    "text",
    [
        "after the suicide prevention training i still want to die",
        "I called the suicide helpline last night",
        "my cousin died by suicide last year",
    ],
)
def test_prevention_does_not_hide_intent_or_an_event(text: str) -> None:
    assert _self_harm(text)


@pytest.mark.parametrize(
    "text",
    [
        "I'll personally break your jaw",
        "we are going to burn your house down",
        "I'll beat you senseless",
        "I will make you suffer for this",
        "your kids will pay for that",
        "you're going to end up in hospital",
        "we know where your sister lives",
        "accidents happen to people who ask questions",
        "jeg skal snart knuse ansiktet ditt",
        "jag ska en dag krossa dig",
        "jeg vil en dag tæske dig",
        "ich werde dich eines Tages umbringen",
        "ich werde dir alle Zähne einschlagen",
        "te voy a reventar",
        "te vas a arrepentir de esto",
        "połamię ci ręce",
        "pożałujesz tego",
        "я тобі зламаю руки",
        "سأكسر رأسك",
    ],
)
def test_threats_without_a_listed_phrase_are_found(text: str) -> None:
    assert "threat" in _toxic(text)


@pytest.mark.parametrize(
    "text",
    [
        "we will beat you at chess on friday",
        "I will break your record next season",
        "I'll burn you a copy of the album",
        "you'll pay 50 kr at the door",
        "make sure you pay the invoice",
        "te voy a pegar el enlace aquí",
        "nie pożałujesz tego zakupu",
        "не пошкодуєш, чесно",
        "sæt dig, jeg vil gerne slå dig i skak",
        "ich werde dich morgen vom Bahnhof abholen",
    ],
)
def test_threat_look_alikes_stay_clean(text: str) -> None:
    assert "threat" not in _toxic(text)


@pytest.mark.parametrize(
    "text",
    [
        "people like you are parasites",
        "your kind doesn't belong in our town",
        "folk som deg hører ikke til her",
        "sådana som du hör inte hemma här",
        "Leute wie du gehören nicht hierher",
        "gente como tú no pertenece aquí",
        "tacy jak ty nie pasują do tego kraju",
        "такі як ти не належать сюди",
        "أمثالك لا مكان لهم هنا",
        "you people should go back, nobody asked you to come",
        "crawl back to where you came from",
        "lárgate a tu país",
        "ارجعوا إلى بلادكم",
        "повертайся у свою країну",
        "immigrants ruin every town they move to",
    ],
)
def test_hate_about_people_like_the_reader_is_found(text: str) -> None:
    assert "hate" in _toxic(text)


@pytest.mark.parametrize(
    "text",
    [
        "people like you are the reason I volunteer",
        "people like you should get a medal",
        "foreigners must leave their keys at the desk",
        "go back to your seat please",
        "jeg skal dra hjem nå",
        "vuelve a tu casa temprano",
    ],
)
def test_hate_look_alikes_stay_clean(text: str) -> None:
    assert "hate" not in _toxic(text)


@pytest.mark.parametrize(
    "text",
    [
        "you spineless little worm",
        "you're such a brainless moron",
        "you're a filthy pig",
        "du er en skikkelig idiot",
        "du bist so ein kompletter Versager",
        "du elender Trottel",
        "eres una idiota integral",
        "jesteś skończonym kretynem",
        "ty głupi debilu",
        "ти безмозкий ідіот",
        "أنت واحد غبي",
        "everyone in this group laughs at you",
    ],
)
def test_an_insult_with_adjectives_before_it_is_found(text: str) -> None:
    assert _toxic(text)


@pytest.mark.parametrize(
    "text",
    [
        "you have a pet rat",
        "you are a clown in the school play",
        "du er ikke en taper",
        "no eres un inútil, solo estás cansado",
        "nie jesteś głupia",
        "ти не ідіот",
    ],
)
def test_insult_look_alikes_stay_clean_of_aimed_insults(text: str) -> None:
    assert "insult" not in {f.subtype for f in screen(text).findings if f.confidence.value > 0.3}


@pytest.mark.parametrize(
    "text",
    [
        "Order 7731 2204 9918 left the warehouse",
        "Ordrenummer 912 34 567 er sendt",
        "Booking ref 41 22 33 44",
        "Bestellnummer 0151 2345 678",
        "numer zamówienia 601 234 567",
        "Rechnung Nr. 4412 9087 33",
        "reference 3312-4412-9087",
    ],
)
def test_reference_numbers_are_not_phones(text: str) -> None:
    assert not any(subtype == "phone" for _, subtype in _types(text))


@pytest.mark.parametrize(
    "text",
    ["ring meg på 912 34 567", "my order is late, call me on 912 34 567", "zadzwoń 601 234 567", "0151 2345 6789"],
)
def test_phones_next_to_other_words_are_still_phones(text: str) -> None:
    assert ("pii", "phone") in _types(text)


def test_folding_keeps_every_index() -> None:
    text = "Nie chcę żyć, lärm, ÅØ, niño"
    folded = fold(text.lower())
    assert len(folded) == len(text)
    assert folded == "nie chce zyc, larm, ao, nino"


def test_grouping_by_first_character_matches_what_the_plain_alternation_matches() -> None:
    alternatives = [r"kill\s+myself", r"\w+\s+would\s+be\s+better", r"(?:ki|ha)ng\s+on", r"[أا]موت", r"kind"]
    grouped = re.compile(abuse.by_first_character(alternatives))
    plain = re.compile("|".join(f"(?:{a})" for a in alternatives))
    for text in [
        "i kill myself",
        "they would be better",
        "hang on",
        "king on",
        "اموت",
        "kind",
        "nothing",
        "x would be better",
    ]:
        found = [m.span() for m in grouped.finditer(text)]
        assert found == [m.span() for m in plain.finditer(text)], text


@pytest.mark.parametrize(
    "patterns",
    [
        lexicon_abuse.THREATS,
        lexicon_abuse.HATE,
        lexicon_abuse.HARASSMENT,
        lexicon_abuse.PROFANITY_STRONG,
        lexicon_abuse.PROFANITY_MODERATE,
        [r"\bkill\s+myself", r"\b\w+\s+would\s+be\s+better", r"\b\d+\s+pills", r"[أا]موت", r"\bkind"],
    ],
    ids=["threats", "hate", "harassment", "profanity-strong", "profanity-moderate", "mixed"],
)
def test_patterns_are_gated_as_gated_gates_them_without_parsing_them_again(patterns: list[str]) -> None:
    # The gate is worked out from each alternative's first characters; gated() works it out from the whole
    # pattern. The two must compile the very same expression.
    at_words = [p.removeprefix(r"\b") for p in patterns if p.startswith(r"\b")]
    anywhere = [p for p in patterns if not p.startswith(r"\b")]
    expected = [r"(?<!\w)(?=\w)(?:" + abuse.by_first_character(at_words) + ")"] if at_words else []
    expected += [abuse.by_first_character(anywhere)] if anywhere else []
    assert [p.pattern for p in abuse.compile_patterns(patterns)] == [
        obfuscation.gated(re.compile(source)).pattern for source in expected
    ]
