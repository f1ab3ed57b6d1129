"""A case's tags in a phrase bank reach the texts composed from it, and unknown tags are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.q2q.domain.taxonomy import Label
from services.q2q.train import corpus
from services.q2q.train.banks import BankError, read_bank

BANK = """@ neutral
p We had coffee.
@ cases
p ci used_to_now | I used to be shy, now I talk to everyone.
v - volunteer_own_feeling | I was nervous myself.
p - | I'm not lonely at all.
"""


def test_case_tags_are_read_with_the_case(tmp_path: Path) -> None:
    (tmp_path / "en.txt").write_text(BANK, encoding="utf-8")
    cases = {case.text: case for case in read_bank("en", tmp_path).cases}
    assert cases["I used to be shy, now I talk to everyone."].tags == ("used_to_now",)
    assert cases["I used to be shy, now I talk to everyone."].labels == (Label.CONFIDENCE_INCREASE,)
    assert cases["I was nervous myself."].tags == ("volunteer_own_feeling",)
    assert cases["I'm not lonely at all."].tags == ()


def test_an_unknown_case_tag_is_refused_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "en.txt").write_text("@ cases\np ci used_to_then | I used to be shy.\n", encoding="utf-8")
    with pytest.raises(BankError, match=r"en\.txt:2"):
        read_bank("en", tmp_path)


def test_composed_texts_carry_the_tags_of_their_case(tmp_path: Path) -> None:
    (tmp_path / "en.txt").write_text(BANK, encoding="utf-8")
    rows = corpus.compose_split("train", banks=[read_bank("en", tmp_path)], per_language=40)
    for row in rows:  # words of three letters, which typos leave alone
        assert ("used_to_now" in row.tags) == (" shy" in row.text.lower()), row
        assert ("volunteer_own_feeling" in row.tags) == ("i was " in row.text.lower()), row
    assert any("used_to_now" in row.tags for row in rows)


def test_the_shipped_banks_tag_both_targets_in_every_language() -> None:
    for lang in ("en", "nb", "sv", "da", "de", "pl", "es", "uk", "ar"):
        tags = [tag for case in read_bank(lang).cases for tag in case.tags]
        assert tags.count("used_to_now") >= 9, lang
        assert tags.count("volunteer_own_feeling") >= 5, lang
