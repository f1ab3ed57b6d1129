"""JetStream's files encrypted at rest (events carry e-mails and feedback): the nats-server configuration that
turns the cipher on, and its key. The key is TEEI_NATS_STORE_KEY (or TEEI_NATS_STORE_KEY_FILE), else one
generated once into the var folder (mode 0600) for a mesh on one machine; it reaches nats-server only through
that process's environment, which the configuration names, so no file nats-server reads holds it.

`teei up` (services/cli/launcher.py) and the backups' private server (kit/persistence/backup_streams.py) start
nats-server the same way, so either can read a store the other wrote; the key file lies in the var folder and
so travels with a backup's key material."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from services.kit import config
from services.kit.config import Settings, setting
from services.kit.logs import get_logger
from services.kit.security import generated

log = get_logger(__name__)
KEY_VARIABLE = "TEEI_NATS_STORE_KEY"
KEY_FILE = "nats-store.key"
CONFIG_FILE = "encryption.conf"
# At least 32 characters of base64 (standard or URL-safe) and dots: nothing that could end the quoted string
# nats-server's environment holds it as (see `quoted`).
KEY_FORM = re.compile(r"[A-Za-z0-9+/=_.-]{32,}")
# nats-server's ciphers: ChaCha20-Poly1305 (chacha) or AES-256-GCM (aes).
CIPHERS = ("chacha", "aes")


class StoreEncryption(Settings):
    """TEEI_NATS_STORE_KEY (32 or more base64 characters, e.g. `openssl rand -base64 32`; or
    TEEI_NATS_STORE_KEY_FILE) and TEEI_NATS_STORE_CIPHER."""

    key: str | None = setting(KEY_VARIABLE, default=None, secret=True)
    cipher: str = setting("TEEI_NATS_STORE_CIPHER", default="chacha")


def settings(environ: Mapping[str, str]) -> StoreEncryption:
    """The store's encryption settings; an unknown cipher fails naming the variable."""
    loaded = config.load(StoreEncryption, environ)
    if loaded.cipher not in CIPHERS:
        raise ValueError(f"TEEI_NATS_STORE_CIPHER must be one of {', '.join(CIPHERS)}, not {loaded.cipher!r}")
    return loaded


def store_key(environ: Mapping[str, str], var_dir: Path) -> str:
    """The configured key; without one, the key generated once into `var_dir` (mode 0600)."""
    configured = settings(environ).key
    if configured:
        return _checked(configured, KEY_VARIABLE)
    path = var_dir / KEY_FILE
    text = generated.secret_file(
        path, event="nats.store_key_generated", hint=f"set {KEY_VARIABLE}(_FILE) in production"
    )
    return _checked(text.strip(), str(path))


def config_text(cipher: str = "chacha") -> str:
    """nats-server configuration encrypting JetStream's files; the key is read from the process environment."""
    return f"jetstream {{\n  cipher: {cipher}\n  key: ${KEY_VARIABLE}\n}}\n"


def write_config(path: Path, environ: Mapping[str, str]) -> Path:
    """Writes the configuration to `path` (the `-c` file of nats-server); returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_text(settings(environ).cipher))
    return path


def server_environ(environ: Mapping[str, str], var_dir: Path) -> dict[str, str]:
    """What nats-server's environment needs besides `environ`: the key, under the name its configuration reads."""
    return {KEY_VARIABLE: quoted(store_key(environ, var_dir))}


def quoted(key: str) -> str:
    """The key as nats-server's environment must hold it. nats-server parses a substituted variable as a
    configuration value, so an unquoted key beginning with `-` (one generated key in 64), or with digits it
    reads as a number (`12…`, `1e5…`), stops the server at start; quoted, it is the same string for every key."""
    return f'"{key}"'


def without_key(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without the key's variables: no process but nats-server needs it."""
    return {name: value for name, value in environ.items() if not name.startswith(KEY_VARIABLE)}


def _checked(key: str, source: str) -> str:
    if not KEY_FORM.fullmatch(key):
        raise ValueError(
            f"{source}: the JetStream store key must be at least 32 characters of base64 (A-Z a-z 0-9 + / = _ - .)"
        )
    return key
