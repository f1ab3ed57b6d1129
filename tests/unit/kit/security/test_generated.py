"""Development secrets generated into var/: private, whole, and the same for every process racing to make one."""

from __future__ import annotations

import threading
from pathlib import Path

from services.kit.security import generated


def test_a_generated_secret_is_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "var" / "some.key"
    first = generated.secret_file(path, event="test.generated", hint="-")
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first.strip()) == 43
    assert generated.secret_file(path, event="test.generated", hint="-") == first
    assert [p.name for p in path.parent.iterdir()] == ["some.key"]  # no temporary file left behind


def test_racing_creators_all_get_the_one_secret_that_won(tmp_path: Path) -> None:
    path = tmp_path / "raced.key"
    seen: list[str] = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        seen.append(generated.secret_file(path, event="test.generated", hint="-"))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8
    assert set(seen) == {path.read_text()}
    assert path.read_text().endswith("\n")
