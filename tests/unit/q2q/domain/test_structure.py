"""Where a "used to … now" text changes to the present (also with "now" misspelt), and where the writer's own
worry ends."""

from __future__ import annotations

import pytest

from services.q2q.domain.features import tokens
from services.q2q.domain.structure import (
    change_point,
    change_span,
    find_change,
    language_clauses,
    negation_contrast,
    own_feeling_clauses,
)


@pytest.mark.parametrize(
    ("text", "present"),
    [
        ("I used to be shy but now I talk to everyone.", "now I talk"),
        ("Раніше я була сором'язлива, а теппер говорю з усіма.", "а теппер"),  # "now" misspelt: the "but"
        ("كنت خجولة، لكن اآلن أتحدث مع الجميع.", "لكن اآلن"),  # "now" misspelt: the "but"
        ("Rok temu nie miałam pewności siebie, teraz robię prezentacje.", "teraz"),
        ("Hace un año no tenía confianza, ahora hago presentaciones.", "ahora"),
        ("Vor einem Jahr hatte ich kein Selbstvertrauen, heute halte ich Vorträge.", "heute"),
    ],
)
def test_the_present_begins_at_now_or_at_the_but_after_the_earlier_state(text: str, present: str) -> None:
    point = change_point(text)
    assert point is not None
    assert text[point:].lstrip().startswith(present)


@pytest.mark.parametrize(
    "text",
    ["I am shy but I try.", "Now I talk to everyone.", "She told me she can't sleep because she's so scared."],
)
def test_no_earlier_state_means_no_change(text: str) -> None:
    assert change_point(text) is None


@pytest.mark.parametrize(
    ("text", "own"),
    [
        ("I'm worried about him because he says he can't sleep from stress.", "I'm worried about him"),
        ("Martwię się o niego, bo mówi, że nie może spać ze stresu.", "Martwię się o niego"),
        ("Ich mache mir etwas Sorgen, ob ich ihr genug helfen kann.", "Ich mache mir etwas Sorgen, ob ich ihr genug"),
        ("I'm a bit worried whether I can help her enough.", "I'm a bit worried whether I can help her enough"),
    ],
)
def test_the_writers_own_worry_ends_where_the_participants_report_begins(text: str, own: str) -> None:
    spans = own_feeling_clauses(text)
    assert len(spans) == 1
    start, end = spans[0]
    assert text[start:end].strip().startswith(own)
    assert "sleep" not in text[start:end]
    assert "spać" not in text[start:end]


@pytest.mark.parametrize(
    ("text", "earlier"),
    [
        # The earlier state is its own clause: what the text says before it is not part of the change.
        (
            "I can't stand the bus. Back then I was too shy to order coffee, now I chat with the baker.",
            "Back then I was too shy to order coffee,",
        ),
        (
            "Min sjef roper hele tiden og før var jeg redd for å ringe, nå ringer jeg selv.",
            "før var jeg redd for å ringe,",
        ),
        (
            "Jag får inget svar från kommunen och förr vågade jag inte prata, nu pratar jag på mötena.",
            "förr vågade jag inte prata,",
        ),
        (
            "Bussen var sen. Tidligere turde jeg ikke spørge om noget, nu spørger jeg hele tiden.",
            "Tidligere turde jeg ikke spørge om noget,",
        ),
        (
            "Das Amt nervt mich und früher hatte ich Angst vor Anrufen, jetzt telefoniere ich gern.",
            "früher hatte ich Angst vor Anrufen,",
        ),
        ("Urząd mnie denerwuje i kiedyś bałam się dzwonić, teraz dzwonię sama.", "kiedyś bałam się dzwonić,"),
        (
            "El casero no contesta y antes me daba miedo llamar, ahora llamo sin problema.",
            "antes me daba miedo llamar,",
        ),
        ("Автобус запізнився. Раніше я боялася дзвонити, тепер дзвоню сама.", "Раніше я боялася дзвонити,"),
        ("الباص تأخر. كنت أخاف أتصل، الآن أتصل لحالي.", "كنت أخاف أتصل،"),
        # A sentence whose full stop is missing still begins at its capitalised marker.
        ("The office never answers Before I was shy, now I ask questions.", "Before I was shy,"),
        # The marker closes the earlier clause; "and she" opens it.
        (
            "Her landlord is difficult and she felt alone before, now she has friends at the choir.",
            "she felt alone before,",
        ),
    ],
)
def test_the_earlier_state_is_the_clause_that_names_it(text: str, earlier: str) -> None:
    span = change_span(text)
    assert span is not None
    assert text[span[0] : span[1]].strip() == earlier


def test_the_present_is_looked_for_in_the_same_or_the_next_sentence_only() -> None:
    text = "Before the meeting we had tea. It rained. The bus was late. But the course is good."
    assert change_span(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "I worry I am not helping her enough with the forms.",
        "Jeg er redd for at jeg ikke hjelper ham nok med søknadene.",
        "Jag är orolig att jag inte hjälper henne tillräckligt med ansökningarna.",
        "Jeg er bange for, at jeg ikke hjælper hende nok.",
        "Ich habe Angst, dass ich ihm nicht genug helfe.",
        "Martwię się, że nie pomagam mu wystarczająco.",
        "Me preocupa no estar ayudándole lo suficiente.",
        "Переживаю, що не допомагаю йому достатньо.",
        "أنا قلقان إني ما عم ساعده كفاية.",
        # "selv" misspelt: the writer's own nerves all the same.
        "Jeg var nervøs sev før første møte.",
        "Jeg var sellv nervøs før mødet.",
    ],
)
def test_worry_about_helping_enough_and_own_nerves_are_the_writers_own(text: str) -> None:
    assert own_feeling_clauses(text)


@pytest.mark.parametrize(
    "text",
    [
        "I worry I will fail the driving test.",
        "I am worried I cannot support my family.",
        "Jeg er redd for at jeg ikke får jobben.",
        "Boję się, że nie zdam egzaminu.",
        "Tengo miedo de la entrevista.",
    ],
)
def test_the_writers_worry_for_themselves_is_not_a_worry_about_someone(text: str) -> None:
    assert own_feeling_clauses(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "I can't follow what my colleagues say at lunch.",
        "Jeg skjønner ikke hva legen sier.",
        "Jag förstår inte vad grannarna säger.",
        "Jeg forstår ikke hvad pædagogen siger.",
        "Ich verstehe nicht, was die Ärztin sagt.",
        "Nie rozumiem, co mówi lekarz.",
        "No entiendo lo que dicen mis compañeros.",
        "Я не розумію, що кажуть колеги.",
        "ما بفهم شو عم يحكي الدكتور.",
    ],
)
def test_not_understanding_what_people_say_is_about_the_language(text: str) -> None:
    assert language_clauses(text)


@pytest.mark.parametrize(
    "text",
    [
        "I don't understand what the caseworker said about the forms.",
        "Jeg forstår ikke hvilke dokumenter jeg trenger.",
        "No entiendo qué documentos necesito.",
        "I have no idea what to do next.",
    ],
)
def test_not_understanding_papers_or_what_to_do_is_not_about_the_language(text: str) -> None:
    assert language_clauses(text) == []


@pytest.mark.parametrize(
    ("text", "present", "earlier"),
    [
        ("Now I ask questions; before I never dared.", "Now I ask questions", "before I never dared."),
        ("I talk to everyone now, but before I was shy.", "I talk to everyone now", "before I was shy."),
        ("Nu vågar jag prata på mötena; förut vågade jag aldrig.", "Nu vågar jag prata på mötena", "förut vågade"),
        (
            "Jetzt traue ich mich zu sprechen; früher habe ich nie etwas gesagt.",
            "Jetzt traue ich mich zu sprechen",
            "früher habe",
        ),
        ("Teraz zadaję pytania; wcześniej nigdy się nie odważyłam.", "Teraz zadaję pytania", "wcześniej nigdy"),
        ("Ahora hago preguntas en clase; antes nunca me atrevía.", "Ahora hago preguntas en clase", "antes nunca"),
        ("Тепер я ставлю питання; раніше ніколи не наважувалася.", "Тепер я ставлю питання", "раніше ніколи"),
        ("الآن أطرح الأسئلة في الصف، سابقا لم أجرؤ أبدا.", "الآن أطرح الأسئلة في الصف", "سابقا لم أجرؤ"),
    ],
)
def test_the_present_may_come_first(text: str, present: str, earlier: str) -> None:
    change = find_change(text)
    assert change is not None
    assert text[slice(*change.present)].strip() == present
    assert earlier in text[slice(*change.earlier)]
    assert change.present[1] <= change.earlier[0]


@pytest.mark.parametrize(
    "text", ["Now I have to call the office before Friday.", "Today we talked before the class started."]
)
def test_before_inside_a_clause_is_not_an_earlier_state(text: str) -> None:
    assert find_change(text) is None


@pytest.mark.parametrize(
    ("text", "present"),
    [
        # "tidigare" (Swedish "before"), and "før"/"förr" written without their letters before an inverted verb.
        ("Tidigare vågade jag inte fråga något, men nu frågar jag hela tiden.", "nu frågar"),
        ("For var jeg redd for a snakke norsk, men na prater jeg med alle.", "men na prater"),
        ("Forr var jag blyg, nu pratar jag med alla.", "nu pratar"),
    ],
)
def test_more_earlier_state_markers(text: str, present: str) -> None:
    change = find_change(text)
    assert change is not None
    assert text[slice(*change.present)].startswith(present)


def test_for_as_a_preposition_is_not_an_earlier_state() -> None:
    assert find_change("Thanks for coming, now we can start.") is None
    assert find_change("I did it for him, and now he is happy.") is None


def test_an_arabic_marker_after_a_line_break_opens_its_own_clause() -> None:
    text = "يرتجف صوتي في الاجتماع\nفي البداية لم أفهم شيئاً، الآن أفهم كل شيء."
    span = change_span(text)
    assert span is not None
    assert text[span[0] : span[1]].startswith("في البداية")


@pytest.mark.parametrize(
    ("text", "negated", "repeated"),
    [
        ("Før turte jeg ikke å spørre om noe, men nå spør jeg hele tiden.", True, True),
        ("Tidigare vågade jag inte fråga något, men nu frågar jag hela tiden.", True, True),
        ("Antes no me atrevía a preguntar nada, pero ahora pregunto todo el tiempo.", True, True),
        ("Nu vågar jag prata på mötena; förut vågade jag aldrig.", True, True),
        ("I didn't dare to speak up before, now I speak up all the time.", False, True),
        # Negated after the marker, nothing repeated.
        ("Nå tør jeg å snakke i timen; før turte jeg aldri.", True, False),
        # Only a light verb returns, and the negator comes before the marker.
        ("I didn't feel confident before, now I feel scared all the time.", False, False),
        # A negation run into the earlier clause from the sentence before is not the earlier state's.
        ("jag har ingen att be om hjälp förut var jag säker på mig själv, men nu är jag rädd att prata.", False, False),
        # The present is negated too.
        ("Before I didn't ask anything, now I still don't ask.", False, False),
        # No negation in the earlier clause.
        ("I used to ask a lot, now I ask less.", False, False),
    ],
)
def test_a_present_that_affirms_what_the_earlier_clause_negated(text: str, negated: bool, repeated: bool) -> None:
    change = find_change(text)
    assert change is not None
    assert negation_contrast(tokens(text), change) == (negated, repeated)


@pytest.mark.parametrize(
    "text",
    [
        "I'm nervous whether I explain well enough.",
        "I am a bit anxious about whether I explain things clearly.",
        "Jeg er usikker på om jeg hjelper nok.",
        "Jeg var litt nervøs for om jeg forklarte ting bra.",
        "Jag är osäker på om jag hjälper tillräckligt.",
        "Jeg er nervøs for, om jeg forklarer godt nok.",
        "Ich bin nervös, ob ich es gut erkläre.",
        "Denerwuję się, czy dobrze tłumaczę.",
        "Nie jestem pewna, czy wystarczająco pomagam.",
        "Me pongo nerviosa pensando si explico bien.",
        "Я хвилююся, чи добре я пояснюю.",
        "أنا قلقة إذا كنت أشرح بشكل جيد.",
    ],
)
def test_nerves_about_the_writers_own_part_are_the_writers_own(text: str) -> None:
    assert own_feeling_clauses(text)


@pytest.mark.parametrize(
    "text",
    [
        "I am nervous whether I will pass the exam.",
        "Jeg er usikker på om jeg består.",
        "She is nervous whether she explains it well.",
        "Ona się denerwuje, czy zda egzamin.",
        "Ella está nerviosa si no sabe la respuesta.",
        "Він переживає, чи знайде роботу.",
    ],
)
def test_nerves_about_ones_own_results_or_someone_elses_are_not_the_writers_part(text: str) -> None:
    assert own_feeling_clauses(text) == []
