"""Where a "used to … now" text changes to the present (also with "now" misspelt), and where the writer's own
worry ends."""

from __future__ import annotations

import pytest

from services.q2q.domain.structure import change_point, own_feeling_clauses


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
