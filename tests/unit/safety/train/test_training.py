"""Safety's training is reproducible, and the shipped classifier is the one its manifest says, trained on the
shipped corpus."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from services.kit.ml.files import sha256_of
from services.safety.domain.classifier import LABELS, MODEL_DIR, WEIGHTS, load, read_manifest
from services.safety.domain.errors import ClassifierArtifactInvalid
from services.safety.train import corpus
from services.safety.train.artifact import save
from services.safety.train.fit import Settings, fit

DATA = corpus.DATA_DIR


def _fixture_banks(tmp_path: Path) -> Path:
    """Two languages of the shipped banks, every third text (a small, fixed fixture)."""
    banks = tmp_path / "banks"
    banks.mkdir(parents=True)
    for lang in ("en", "nb"):
        lines = (DATA / "banks" / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines()
        (banks / f"{lang}.jsonl").write_text("\n".join(lines[::3]) + "\n", encoding="utf-8")
    return banks


def _train_small(tmp_path: Path, out: Path) -> None:
    splits = corpus.compose(banks_dir=_fixture_banks(tmp_path / out.name))
    model = fit(splits["train"], splits["validation"], Settings())
    save(out, model, corpus={"train.jsonl": "fixture", "validation.jsonl": "fixture"}, details={})


def test_training_twice_on_the_same_fixture_gives_byte_identical_models(tmp_path: Path) -> None:
    _train_small(tmp_path, tmp_path / "a")
    _train_small(tmp_path, tmp_path / "b")
    for name in ("manifest.json", "vocabulary.json", WEIGHTS):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    first, second = load(tmp_path / "a")[1], load(tmp_path / "b")[1]
    assert np.array_equal(first.weights, second.weights)
    assert np.array_equal(first.thresholds, second.thresholds)


def test_the_shipped_manifest_names_the_shipped_corpus_by_hash() -> None:
    manifest = read_manifest(MODEL_DIR)
    assert manifest.corpus == {name: sha256_of(DATA / name) for name in ("train.jsonl", "validation.jsonl")}
    assert manifest.model_version.startswith("safety-linear-1+")
    assert manifest.model_version.endswith(manifest.corpus["train.jsonl"][:12])


def test_the_shipped_model_loads_and_is_small() -> None:
    manifest, model = load(MODEL_DIR)
    assert model.labels == LABELS
    assert sum(path.stat().st_size for path in MODEL_DIR.iterdir()) < 5 * 1024 * 1024
    assert manifest.files[WEIGHTS] == sha256_of(MODEL_DIR / WEIGHTS)


def test_the_shipped_corpus_is_what_the_banks_compose() -> None:
    splits = corpus.compose()
    for name, rows in splits.items():
        assert "".join(row.to_json() + "\n" for row in rows) == (DATA / f"{name}.jsonl").read_text(encoding="utf-8")


def test_validation_never_shares_a_bank_text_with_training() -> None:
    splits = corpus.compose()
    train = {row.text for row in splits["train"]}
    banked = [t for lang in corpus.LANGUAGES for t in corpus.read_bank(DATA / "banks" / f"{lang}.jsonl")]
    assert not [t.text for t in banked if corpus.in_validation(t.text) and t.text in train]


def test_the_corpus_shares_no_text_with_the_held_out_splits() -> None:
    texts = [json.loads(line)["text"] for name in ("train.jsonl", "validation.jsonl") for line in _lines(DATA / name)]
    corpus.check_leakage(texts)


def test_a_leaking_corpus_is_refused() -> None:
    held_out = json.loads(_lines(DATA / "heldout_v2.jsonl")[0])["text"]
    with pytest.raises(corpus.LeakageError):
        corpus.check_leakage(["an ordinary sentence", held_out])


def test_an_altered_model_file_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(MODEL_DIR, copy)
    data = bytearray((copy / WEIGHTS).read_bytes())
    data[-100] ^= 0xFF
    (copy / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ClassifierArtifactInvalid):
        load(copy)


def test_a_model_of_another_format_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(MODEL_DIR, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    (copy / "manifest.json").write_text(json.dumps({**manifest, "features": "other/9"}), encoding="utf-8")
    with pytest.raises(ClassifierArtifactInvalid, match="format"):
        load(copy)


def test_a_bank_line_with_an_unknown_label_is_refused(tmp_path: Path) -> None:
    bank = tmp_path / "en.jsonl"
    bank.write_text('{"label": "self_harm", "text": "a"}\n{"label": "sad", "text": "b"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"en.jsonl:2: unknown label 'sad'"):
        corpus.read_bank(bank)


def test_a_typo_changes_one_letter_and_keeps_the_rest() -> None:
    text = "I cannot do this any more"
    changed = {corpus.typo(text, random.Random(seed)) for seed in range(30)}  # a seeded test
    assert text not in changed
    assert len(changed) > 5
    assert all(abs(len(variant) - len(text)) <= 1 for variant in changed)


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
