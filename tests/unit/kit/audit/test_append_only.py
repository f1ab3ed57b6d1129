"""No code path changes or removes an audit record: the write side offers only append, the read side only
reads, and no module outside the migrations issues UPDATE or DELETE against the audit tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import services
from services.kit.audit.queries import AuditLogReader
from services.kit.audit.trail import AuditLog, AuditTrail, SqlAuditTrail

SERVICES_DIR = Path(services.__file__).resolve().parent
# A statement on an audit table by its SQLAlchemy Table (`records.update()`) or in raw SQL.
WRITES = re.compile(
    r"\b(records|checkpoints|audit_records|audit_checkpoints)\s*\.\s*(update|delete)\s*\("
    r"|\b(UPDATE|DELETE\s+FROM|TRUNCATE(\s+TABLE)?)\s+\"?audit_(records|checkpoints)\b",
    re.IGNORECASE,
)


def _public(cls: type) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("_")}


@pytest.mark.parametrize(
    ("cls", "allowed"),
    [
        (AuditTrail, {"append"}),
        (SqlAuditTrail, {"append"}),
        (AuditLog, {"record", "trail"}),
        (AuditLogReader, {"newest"}),
    ],
)
def test_the_audit_log_offers_append_and_read_only(cls: type, allowed: set[str]) -> None:
    assert _public(cls) == allowed


def test_no_module_updates_or_deletes_audit_records() -> None:
    offenders = [
        str(path.relative_to(SERVICES_DIR))
        for path in SERVICES_DIR.rglob("*.py")
        if "migrations" not in path.parts and WRITES.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "line",
    [
        "session.execute(records.update().values(outcome='x'))",
        "connection.execute(checkpoints.delete())",
        'connection.exec_driver_sql("DELETE FROM audit_records")',
        "cursor.execute('update audit_checkpoints set signature = 1')",
        'op.execute("TRUNCATE TABLE audit_records")',
    ],
)
def test_the_scan_sees_a_write(line: str) -> None:
    """The scan can fail: each way of writing to the audit tables is caught."""
    assert WRITES.search(line)
