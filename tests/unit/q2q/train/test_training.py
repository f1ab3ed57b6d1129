"""Training is reproducible, and the shipped model is the one its manifest says, trained on the shipped corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]  # no stubs shipped
from threadpoolctl import threadpool_info, threadpool_limits  # type: ignore[import-untyped]  # no stubs shipped

from services.kit.ml.files import sha256_of
from services.q2q.domain.artifact import MODEL_DIR, WEIGHTS, load, read_manifest
from services.q2q.domain.errors import ModelArtifactInvalid
from services.q2q.train import corpus
from services.q2q.train.artifact import save
from services.q2q.train.banks import DATA_DIR, read_bank
from services.q2q.train.fit import Settings, fit

SMALL = Settings(max_features=5_000)


def _train_small(out: Path) -> None:
    banks = [read_bank("en"), read_bank("nb")]
    train = corpus.compose_split("train", banks=banks, per_language=120)
    validation = corpus.compose_split("validation", banks=banks, per_language=30)
    model = fit(train, validation, SMALL)
    save(out, model, corpus={"train.jsonl": "fixture", "validation.jsonl": "fixture"}, details={})


def test_training_twice_on_the_same_fixture_gives_byte_identical_models(tmp_path: Path) -> None:
    _train_small(tmp_path / "a")
    _train_small(tmp_path / "b")
    for name in ("manifest.json", "vocabulary.json", WEIGHTS):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    first, second = load(tmp_path / "a")[1], load(tmp_path / "b")[1]
    assert np.array_equal(first.weights, second.weights)
    assert np.array_equal(first.thresholds, second.thresholds)


def test_the_solver_runs_on_one_blas_thread_however_many_the_machine_offers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # liblinear's dot products go through BLAS; a threaded BLAS sums them in another order, so the solver's
    # iterates, and the float16 weights, would depend on the number of cores (measured on the full corpus).
    seen: list[int] = []
    real_fit = LogisticRegression.fit

    def fit_and_record(self: object, *args: object, **kwargs: object) -> object:
        seen.extend(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", fit_and_record)
    with threadpool_limits(limits=2):
        _train_small(tmp_path / "model")
    assert seen
    assert set(seen) == {1}


def test_the_shipped_manifest_names_the_shipped_corpus_by_hash() -> None:
    manifest = read_manifest(MODEL_DIR)
    assert manifest.corpus == {
        "train.jsonl": sha256_of(DATA_DIR / "train.jsonl"),
        "validation.jsonl": sha256_of(DATA_DIR / "validation.jsonl"),
    }
    assert manifest.model_version.startswith("q2q-linear-3+")
    assert manifest.model_version.endswith(manifest.corpus["train.jsonl"][:12])


def test_the_shipped_model_loads_and_is_small() -> None:
    manifest, model = load(MODEL_DIR)
    assert len(model.labels) == 23
    assert sum(path.stat().st_size for path in MODEL_DIR.iterdir()) < 5 * 1024 * 1024
    assert manifest.files[WEIGHTS] == sha256_of(MODEL_DIR / WEIGHTS)


def test_the_shipped_corpus_is_what_the_phrase_banks_compose() -> None:
    rows = corpus.extra_training_rows() + corpus.compose_split("train")
    assert "".join(row.to_json() + "\n" for row in rows) == (DATA_DIR / "train.jsonl").read_text(encoding="utf-8")


def test_the_corpus_shares_no_text_with_the_held_out_sets() -> None:
    texts = [line for name in ("train.jsonl", "validation.jsonl") for line in _texts(DATA_DIR / name)]
    corpus.check_leakage(texts)


def test_a_leaking_corpus_is_refused() -> None:
    with pytest.raises(corpus.LeakageError):
        corpus.check_leakage(["Weekends are the worst. The phone doesn't ring, I sit in the flat and watch the rain."])


def test_an_altered_model_file_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(MODEL_DIR, copy)
    data = bytearray((copy / WEIGHTS).read_bytes())
    data[-100] ^= 0xFF
    (copy / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ModelArtifactInvalid):
        load(copy)


def _texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
