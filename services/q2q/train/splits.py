"""Reads a corpus split (JSON lines) back into rows."""

from __future__ import annotations

import json
from pathlib import Path

from services.q2q.domain.taxonomy import Label
from services.q2q.train.banks import sorted_labels
from services.q2q.train.corpus import Row


def read_rows(path: Path) -> list[Row]:
    """The rows of a split file."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            labels = sorted_labels({Label(code) for code in item["labels"]})
            rows.append(Row(item["id"], item["lang"], item["author"], item["text"], labels, tuple(item["tags"])))
    return rows
