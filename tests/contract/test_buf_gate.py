"""The contract gates: buf lint is clean and `buf breaking` (the CI script) fails on a deleted field."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from services.cli.spec import REPO_ROOT

BIN = Path(os.environ.get("VIRTUAL_ENV", REPO_ROOT / ".venv")) / "bin"
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "BUF_CACHE_DIR": str(REPO_ROOT / ".cache" / "buf")}
PROFILE_PROTO = Path("proto/teei/profile/v1/profile.proto")


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)


def _git(cwd: Path, *args: str) -> None:
    identity = ["-c", "user.email=ci@teei.invalid", "-c", "user.name=ci"]
    subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True)


def _repo_copy(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for name in ("proto", "third_party", "tools"):
        shutil.copytree(REPO_ROOT / name, repo / name)
    shutil.copy(REPO_ROOT / "buf.yaml", repo / "buf.yaml")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "baseline")
    return repo


def _edit_and_commit(repo: Path, pattern: str, replacement: str) -> None:
    path = repo / PROFILE_PROTO
    text, count = re.subn(pattern, replacement, path.read_text(), count=1, flags=re.MULTILINE)
    assert count == 1, f"pattern {pattern!r} not found"
    path.write_text(text)
    _git(repo, "commit", "-qam", "change")


def test_buf_lint_is_clean() -> None:
    result = _run(["buf", "lint"], REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_breaking_gate_fails_when_a_field_is_deleted(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    _edit_and_commit(repo, r"^\s*string family_name = 4;\n", "")
    result = _run(["tools/buf-breaking.sh"], repo)
    assert result.returncode != 0
    assert "family_name" in result.stdout + result.stderr


def test_breaking_gate_passes_an_added_field(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    _edit_and_commit(repo, r"^(\s*string family_name = 4;\n)", r"\1  string preferred_name = 99;\n")
    result = _run(["tools/buf-breaking.sh"], repo)
    assert result.returncode == 0, result.stdout + result.stderr


def test_breaking_gate_fails_when_a_rest_binding_changes(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    _edit_and_commit(repo, r'get: "/v1/profiles/\{profile_id\}"', 'get: "/v1/people/{profile_id}"')
    result = _run(["tools/buf-breaking.sh"], repo)
    assert result.returncode != 0
    assert "GetProfile: GET /v1/profiles/{profile_id} was removed or changed" in result.stderr


def test_breaking_gate_skips_on_the_first_commit(tmp_path: Path) -> None:
    result = _run(["tools/buf-breaking.sh"], _repo_copy(tmp_path))
    assert result.returncode == 0
    assert "skipped" in result.stdout
