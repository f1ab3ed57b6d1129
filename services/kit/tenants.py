"""The one grammar of a tenant (company) id, checked wherever a tenant enters the platform: token
issue (client registration, mint, SSO mapping), token validation, service tokens and the CLI.

A tenant id is compared byte for byte everywhere (queries, keys, secrets), so it has exactly one
spelling: no upper case, spaces, wildcards or other characters that could read as another id."""

from __future__ import annotations

import argparse
import re
from typing import TypeGuard

from services.kit.errors import FieldViolation, InvalidArgument

MAX_LENGTH = 63
PATTERN = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{MAX_LENGTH - 1}}}")
GRAMMAR = f"1-{MAX_LENGTH} lower-case letters, digits, '-' or '_', starting with a letter or digit"


class InvalidTenant(InvalidArgument):
    """A tenant id that breaks the grammar; the violation names the field it came in."""

    reason = "INVALID_TENANT"


def is_tenant(value: object) -> TypeGuard[str]:
    """Whether `value` is a tenant id in its one canonical spelling."""
    return isinstance(value, str) and PATTERN.fullmatch(value) is not None


def check(value: object, *, field: str = "tenant") -> str:
    """`value` when it is a tenant id; InvalidTenant naming `field` otherwise."""
    if not is_tenant(value):
        raise InvalidTenant(f"{field} must be {GRAMMAR}", violations=[FieldViolation(field, f"must be {GRAMMAR}")])
    return value


def argument(value: str) -> str:
    """A command line's `--tenant` (argparse `type=`): another spelling is a usage error naming the grammar."""
    if not is_tenant(value):
        raise argparse.ArgumentTypeError(f"must be {GRAMMAR}")
    return value
