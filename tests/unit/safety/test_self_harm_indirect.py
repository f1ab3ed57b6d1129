"""Self-harm said indirectly, in everyday word orders, without diacritics, or about someone else, in every language."""

from __future__ import annotations

import pytest

from services.safety.domain.findings import FindingType
from services.safety.domain.screening import screen


def _self_harm(text: str) -> set[str]:
    # The rules alone: the trained classifier's part is measured by evaluation (docs/safety/model-card.md).
    return {f.subtype for f in screen(text, classify=False).findings if f.type is FindingType.SELF_HARM}


@pytest.mark.parametrize(
    "text",
    [
        "honestly i'd like to go to sleep and never wake up",
        "some days I hope I don't wake up tomorrow",
        "what's even the point of living like this",
        "I just wish I didn't exist",
        "i don't want to be here anymore, sorry",
        "thinking about how to unalive myself",
        "Jeg sier det ikke til noen, men jeg vil ikke være her lenger",
        "det er ingen vits i å leve",
        "Ibland önskar jag att jag inte fanns",
        "jag vill bara somna och aldrig vakna",
        "Jeg kan ikke se nogen grund, der er ingen grund til at leve",
        "nogle gange skærer i mig selv",  # da, word order of a note
        "weil ich nicht mehr leben will",
        "Ich ritze mich wieder seit Wochen",
        "me quiero morir, no aguanto",
        "no tengo ninguna razón para vivir",
        "nie chce mi się już żyć",
        "chce umrzec i tyle",  # Polish without diacritics
        "мені здається, що немає сенсу жити",
        "я втомилася жити",
        "أتمنى الموت كل ليلة",
        "تعبت من الحياة",
    ],
)
def test_indirect_first_person_statements_are_suicidal_ideation(text: str) -> None:
    assert "suicidal_ideation" in _self_harm(text)


@pytest.mark.parametrize(
    "text",
    [
        "my cousin told me he wants to kill himself",
        "I'm scared my friend will take her own life",
        "Naboen tok livet av seg i fjor",
        "Mein Onkel hat sich umgebracht",
        "mi amigo se quiere matar",
        "He was talking about sucide again",
    ],
)
def test_someone_elses_plan_or_suicide_is_a_self_harm_mention(text: str) -> None:
    assert _self_harm(text)


@pytest.mark.parametrize(
    "text",
    [
        "I fell asleep and did not wake up until noon",
        "She hurt herself skiing last winter",
        "What's the point of this meeting?",
        "I don't want to be here on Monday, can we move it?",
        "Jeg kutter meg i håret selv",
        "Jag skär mig alltid när jag lagar mat",  # cutting oneself while cooking: not listed
        "Ich will nicht mehr warten",
        "quiero dormir y despertar temprano",
    ],
)
def test_ordinary_sentences_with_the_same_words_stay_clean(text: str) -> None:
    assert _self_harm(text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "they'd all be happier without me around",
        "looked up methods to die again",
        "standing here thinking of jumping off the roof",
        "i'm done with living",
        "familien min hadde hatt det bedre uten meg",
        "leter etter måter å dø på",
        "mamma hade mått bättre utan mig",
        "jeg har lyst til at dø i aften",
        "Ich habe Angst, mich umzubringen",
        "ich will mir heute Nacht das Leben nehmen",
        "busco maneras de suicidarme",
        "myślę, jak się zabić",
        "chcę sobie zrobić krzywdę... zrobić sobie krzywdę",
        "хочу убити себе",
        "أريد قتل نفسي",
    ],
)
def test_methods_burdens_and_other_word_forms_are_suicidal_ideation(text: str) -> None:
    assert "suicidal_ideation" in _self_harm(text)


@pytest.mark.parametrize(
    ("text", "subtype"),
    [
        ("shut it or I'll kick your teeth in", "threat"),
        ("Ich erwürge dich, wenn du das nochmal machst", "threat"),
        ("hold kjeft din idiot", "insult"),
        ("håll käften, du är en idiot", "insult"),
        ("Halt die Klappe, du Trottel", "insult"),
        ("cállate, estúpido", "insult"),
        ("stul pysk, debilu", "insult"),
        ("замовкни, дебіл", "insult"),
        ("اسكت يا حمار", "insult"),
    ],
)
def test_threats_and_insults_said_to_the_reader_are_toxic(text: str, subtype: str) -> None:
    assert subtype in {f.subtype for f in screen(text).findings if f.type is FindingType.TOXIC}


@pytest.mark.parametrize(
    "text",
    ["Hold kjeft, så morsomt!", "cállate, que me muero de risa", "we jumped from the bridge into the lake last summer"],
)
def test_teasing_and_jumping_into_water_are_not_toxic(text: str) -> None:
    assert not {f for f in screen(text).findings if f.type is FindingType.TOXIC}
