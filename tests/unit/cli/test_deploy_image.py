"""The Containerfile's stages and the image's entry points, and the Tilt dev loop's use of tilt.yaml."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.cli import spec
from services.cli.deploy import overlays, render, topology
from services.kit.persistence import retention_policy

CONTAINERFILE = spec.REPO_ROOT / "Containerfile"
DOCKERIGNORE = spec.REPO_ROOT / ".dockerignore"
TILTFILE = spec.REPO_ROOT / "deploy" / "Tiltfile"


@dataclass
class Stage:
    """One FROM … AS … stage and its instructions (continuation lines joined)."""

    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def of(self, keyword: str) -> list[str]:
        return [argument for word, argument in self.instructions if word == keyword]


def stages(text: str) -> list[Stage]:
    """The Containerfile's stages, in order."""
    joined = re.sub(r"\\\n", " ", text)
    parsed: list[Stage] = []
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, argument = line.partition(" ")
        if word.upper() == "FROM":
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", argument.strip(), re.IGNORECASE)
            assert match, f"every stage is named: {line}"
            parsed.append(Stage(match.group(1), match.group(2)))
        elif parsed:
            parsed[-1].instructions.append((word.upper(), argument.strip()))
    return parsed


@pytest.fixture(scope="module")
def built_stages() -> list[Stage]:
    return stages(CONTAINERFILE.read_text())


def test_the_image_is_built_in_stages_and_the_runtime_copies_only_their_results(built_stages: list[Stage]) -> None:
    """deps → source → runtime; the runtime stage installs nothing itself and takes /opt/venv and /app."""
    assert [s.name for s in built_stages] == ["deps", "source", "runtime"]
    runtime = built_stages[-1]
    copies = runtime.of("COPY")
    assert any("--from=deps /opt/venv /opt/venv" in c for c in copies)
    assert any("--from=source" in c and c.endswith("/app /app") for c in copies)
    assert all("--from=" in c for c in copies), "the runtime stage copies nothing from the build context"
    for run in runtime.of("RUN"):
        assert not re.search(r"\b(apt-get|apk|pip install|gcc|make|build-essential)\b", run), run


def test_the_runtime_runs_as_a_numeric_non_root_user_matching_the_pods(built_stages: list[Stage]) -> None:
    """USER is the uid the Deployments run as (runAsNonRoot needs a numeric user)."""
    (user,) = built_stages[-1].of("USER")
    uid, _, gid = user.partition(":")
    assert int(uid) == int(gid) != 0
    objects = render.files(render.load_topology())["base/profile.yaml"].decode()
    assert f"runAsUser: {uid}" in objects


def test_the_entry_point_is_the_python_the_deployments_pass_modules_to(built_stages: list[Stage]) -> None:
    """ENTRYPOINT is the venv's Python; CMD is a module of the package."""
    runtime = built_stages[-1]
    (entrypoint,) = runtime.of("ENTRYPOINT")
    assert json.loads(entrypoint) == [topology.PYTHON]
    (cmd,) = runtime.of("CMD")
    arguments = json.loads(cmd)
    assert arguments[0] == "-m"
    assert importlib.util.find_spec(arguments[1]) is not None


def test_every_module_the_deployments_and_probes_run_exists_in_the_package() -> None:
    """Each tilt.yaml service runs `python -m services.<name>` (a package with __main__), and the exec probe's
    module is importable from the same code."""
    mesh = render.load_topology()
    for resource in mesh.servers:
        arguments = mesh.args(resource)
        assert arguments[0] == "-m"
        module = importlib.util.find_spec(arguments[1])
        assert module is not None, arguments[1]
        assert importlib.util.find_spec(f"{arguments[1]}.__main__") is not None, arguments[1]
    assert importlib.util.find_spec("services.cli.deploy.probe") is not None


def test_the_build_context_holds_what_the_stages_copy(built_stages: list[Stage]) -> None:
    """Every path a stage copies from the context exists and is let through by .dockerignore."""
    allowed = [line[1:].rstrip("/") for line in DOCKERIGNORE.read_text().splitlines() if line.startswith("!")]
    for stage in built_stages:
        for copy in stage.of("COPY"):
            parts = shlex.split(copy)
            if any(p.startswith("--from=") for p in parts):
                continue
            for source in (p for p in parts[:-1] if not p.startswith("--")):
                path = source.rstrip("/")
                assert (spec.REPO_ROOT / path).exists(), source
                assert any(path == a or path.startswith(a + "/") or path.endswith(Path(a).name) for a in allowed), path
    assert (spec.REPO_ROOT / "mtls" / "trust-policy.yaml").exists()


def test_the_tiltfile_reads_tilt_yaml_and_lists_no_service_of_its_own() -> None:
    """deploy/Tiltfile takes its resources from tilt.yaml, applies the dev overlay, and live-updates code."""
    text = TILTFILE.read_text()
    assert "read_yaml(os.path.join(ROOT, 'tilt.yaml'))" in text
    assert "kustomize(OVERLAY)" in text
    assert "'k8s', 'overlays', 'dev'" in text
    assert "sync(os.path.join(ROOT, 'services'), '/app/services')" in text
    for resource in render.load_topology().workloads:
        assert f"'{resource.name}'" not in text, f"the Tiltfile names {resource.name} itself"
    assert f"IMAGE = '{overlays.UNRELEASED_REPOSITORY}'" in text  # the name the overlay's images: entry sets


def test_the_image_holds_the_retention_policy_where_the_services_look_for_it(built_stages: list[Stage]) -> None:
    """Every service reads config/retention.yaml at start (next to services/ in /app): the source stage copies it."""
    relative = retention_policy.DEFAULT_POLICY.relative_to(spec.REPO_ROOT).as_posix()
    source = next(s for s in built_stages if s.name == "source")
    assert any(shlex.split(copy) == [relative, relative] for copy in source.of("COPY"))
    assert f"sync(os.path.join(ROOT, 'config', 'retention.yaml'), '/app/{relative}')" in TILTFILE.read_text()
