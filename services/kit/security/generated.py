"""Development secrets generated once into var/: a key file created with mode 0600 the first time a
process needs it, the same for every process that races to create it (production sets the variable)."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from services.kit.logs import get_logger

log = get_logger(__name__)


def random_key() -> str:
    """32 random bytes, base64url without padding, one line."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=") + "\n"


def secret_file(path: Path, *, make: Callable[[], str] = random_key, event: str, hint: str) -> str:
    """The file's text, writing `make()` into it first if it does not exist. The content is written to a
    private temporary file and linked into place, so no process ever reads a half-written secret and the
    first link wins when several create it at once."""
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(make())
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
        log.warning(event, path=str(path), hint=hint)
    except FileExistsError:
        pass  # another process linked its secret first: everyone uses that one
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text()
