"""The retention policy (`config/retention.yaml`, docs/privacy/retention.md): how long each data class is kept
and which (service, table, timestamp) it covers, read once at start and turned into one service's retention
rules; a class over the append-only audit log is refused unless it keeps its rows."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic_core import ErrorDetails

from services.kit import yamlfiles
from services.kit.persistence.retention import Hop, Rule

DEFAULT_POLICY = Path(__file__).resolve().parents[3] / "config" / "retention.yaml"
_MAX_POLICY_BYTES = 64 * 1024

# The services with a database; a policy naming another is a typo, not a service to skip.
SERVICES = ("gateway", "profile", "kintell", "buddy", "upskilling", "q2q", "safety")
# Database triggers refuse UPDATE and DELETE on these (docs/privacy/Audit_Log_Specification.md).
APPEND_ONLY = frozenset({"audit_records", "audit_checkpoints"})

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
ServiceName = Literal["gateway", "profile", "kintell", "buddy", "upskilling", "q2q", "safety"]


class RetentionPolicyError(ValueError):
    """The retention policy is malformed or names what a service's schema lacks; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Join(_Strict):
    """From the rows so far to `table`, on the `columns` both name alike (not `on`: YAML reads it as true)."""

    table: Name
    columns: tuple[Name, ...] = Field(min_length=1)


class Cover(_Strict):
    """One table of a data class in one service, dated by `timestamp`: a column of the table itself, or,
    with `through`, of the last table joined."""

    service: ServiceName
    table: Name
    timestamp: Name
    through: tuple[Join, ...] = ()

    def tables(self) -> Iterator[str]:
        """The table and every table joined through."""
        yield self.table
        yield from (join.table for join in self.through)


class DataClass(_Strict):
    """A data class: kept `max_age_days`, then deleted by the retention task, or only kept (`action: keep`)
    when the rows may not be deleted by it (the audit log)."""

    max_age_days: int = Field(gt=0)
    meaning: str = Field(min_length=1)
    action: Literal["delete", "keep"] = "delete"
    covers: tuple[Cover, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _append_only_is_kept(self) -> DataClass:
        if self.action == "delete":
            for cover in self.covers:
                if kept := sorted(APPEND_ONLY.intersection(cover.tables())):
                    raise ValueError(
                        f"{', '.join(kept)} ({cover.service}) is append-only: the database refuses to delete"
                        " its rows; a class over it must say `action: keep`"
                    )
        return self


class PolicyDocument(_Strict):
    """The policy file as written."""

    version: Literal[1]
    classes: dict[Name, DataClass] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_row_outlives_what_dates_it(self) -> PolicyDocument:
        # A row dated through another table never expires once that table's row is gone.
        ages = {
            (cover.service, cover.table): (name, c.max_age_days)
            for name, c in self.classes.items()
            if c.action == "delete"
            for cover in c.covers
        }
        for name, data_class in self.classes.items():
            for cover in data_class.covers:
                for join in cover.through:
                    parent = ages.get((cover.service, join.table))
                    if parent is not None and parent[1] < data_class.max_age_days:
                        raise ValueError(
                            f"{name}: {cover.service} {cover.table} is dated by {join.table}, which {parent[0]}"
                            f" deletes sooner ({parent[1]} days): its rows would never expire"
                        )
        return self


@dataclass(frozen=True)
class RetentionPolicy:
    """The validated policy: each data class by name."""

    classes: Mapping[str, DataClass]

    def covers(self, service: str) -> Iterator[tuple[str, DataClass, Cover]]:
        """Every (class name, class, cover) of `service`, in the file's order."""
        for name, data_class in self.classes.items():
            for cover in data_class.covers:
                if cover.service == service:
                    yield name, data_class, cover

    def rules(self, service: str) -> tuple[Rule, ...]:
        """The retention rules of `service`: rows dated through other tables first (the deepest first), so a
        row goes before the row it belongs to; classes that only keep their rows give none."""
        found = [
            Rule(
                cover.table,
                cover.timestamp,
                timedelta(days=data_class.max_age_days),
                through=tuple(Hop(join.table, join.columns) for join in cover.through),
            )
            for _, data_class, cover in self.covers(service)
            if data_class.action == "delete"
        ]
        return tuple(sorted(found, key=lambda rule: -len(rule.through)))

    def check(self, service: str, columns: Mapping[str, Collection[str]]) -> None:
        """Raises RetentionPolicyError naming the class when a table or column it names for `service` is not
        in `columns` (table name → its column names: the service's schema)."""
        for name, _, cover in self.covers(service):
            dated = cover.table
            _require(name, service, columns, cover.table, ())
            for join in cover.through:
                _require(name, service, columns, dated, join.columns)
                _require(name, service, columns, join.table, join.columns)
                dated = join.table
            _require(name, service, columns, dated, (cover.timestamp,))


def _require(
    name: str, service: str, columns: Mapping[str, Collection[str]], table: str, wanted: Collection[str]
) -> None:
    if table not in columns:
        raise RetentionPolicyError(f"retention class {name}: {service} has no table {table}")
    if missing := sorted(set(wanted) - set(columns[table])):
        raise RetentionPolicyError(f"retention class {name}: {service} {table} has no column {', '.join(missing)}")


def load(path: Path = DEFAULT_POLICY) -> RetentionPolicy:
    """Reads and validates the policy file; RetentionPolicyError names the file and the key that is wrong."""
    try:
        document = yamlfiles.read(path, max_bytes=_MAX_POLICY_BYTES)
    except yamlfiles.YamlFileError as exc:
        raise RetentionPolicyError(str(exc)) from exc
    try:
        return parse(document)
    except RetentionPolicyError as exc:
        raise RetentionPolicyError(f"{path}: {exc}") from exc


def parse(document: object) -> RetentionPolicy:
    """Validates an already-parsed policy document."""
    try:
        parsed = PolicyDocument.model_validate(document)
    except ValidationError as exc:
        raise RetentionPolicyError("; ".join(_describe(error) for error in exc.errors())) from None
    return RetentionPolicy(classes=parsed.classes)


def schema_columns(engine: sa.Engine) -> dict[str, set[str]]:
    """The tables of the database behind `engine`, each with its column names."""
    inspector = sa.inspect(engine)
    return {table: {c["name"] for c in inspector.get_columns(table)} for table in inspector.get_table_names()}


def metadata_columns(*schema: sa.MetaData) -> dict[str, set[str]]:
    """The tables of `schema` (a service's `tables.SCHEMA`), each with its column names."""
    return {name: set(table.c.keys()) for metadata in schema for name, table in metadata.tables.items()}


def rules_for(service: str, engine: sa.Engine, path: Path | None = None) -> tuple[Rule, ...]:
    """The policy's rules of `service`, checked against its database first (fail fast at start)."""
    policy = load(path or DEFAULT_POLICY)
    policy.check(service, schema_columns(engine))
    return policy.rules(service)


def _describe(error: ErrorDetails) -> str:
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{where or 'the document'}: {message}"
