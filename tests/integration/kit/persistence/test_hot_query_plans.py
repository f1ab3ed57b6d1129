"""Every hot read of every service reads through an index, on SQLite and on PostgreSQL.

Each case calls the service's own query code on a session and captures the statements it runs (a
`before_cursor_execute` listener), then explains each one on the same database: the service's database at
head with ROWS rows in every table, nine in ten of them of one company (HEAVY), its statistics gathered
(ANALYZE). The reads run for a company with no rows (they find nothing, so they never open the filled
rows, which are not valid records) and are explained for HEAVY: a company's own index then no longer
looks selective by itself, and the planner takes the index that serves the rest of the condition if
there is one.

A plan fails when
- it reads a whole table that grows with the data: `SCAN <table>` on SQLite (with or without USING INDEX:
  only a SEARCH is bounded), `Seq Scan on <table>` on PostgreSQL;
- a look-up's key (an e-mail's blind index, an external id, a batch, a profile id) is not in the
  condition of the index it searches: it would read every row of the company to find a few;
- a page of a listing is sorted whole (SQLite `USE TEMP B-TREE FOR ORDER BY`, PostgreSQL a `Sort`):
  every row of the company is read before the first page is known. A sort of the rows tied on the
  index's leading time column (SQLite's RIGHT PART, PostgreSQL's Incremental Sort) is bounded and passes.

PostgreSQL is explained with `SET enable_seqscan = off` and `SET enable_sort = off`: ROWS rows are few
enough that it may rightly choose a sequential scan or a sort however good the index; switched off, it
still takes one where no index serves the query (at a prohibitive cost), so the plan shows whether such
an index exists.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from services.buddy.domain.commands import RecordFilter
from services.buddy.repository import SqlBuddyRepository
from services.gateway.domain.privacy import DataSubject
from services.gateway.repository import RequestFilter, SqlClientRepository, SqlOwnSubjectData
from services.gateway.repository import SqlPrivacyRequestRepository as Requests
from services.kintell.domain.commands import SessionFilter
from services.kintell.repository import SqlKintellRepository
from services.kit.audit.queries import AuditFilter, AuditLogReader
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.security import pii
from services.profile.domain.model import ExternalId, Provider
from services.profile.repository import SqlProfileRepository
from services.q2q.domain.model import ScoreFilter
from services.q2q.repository import SqlQ2qRepository
from services.safety.domain.commands import ListFlags
from services.safety.domain.model import ReviewStatus
from services.safety.queries import SqlSafetyReader
from services.upskilling.domain.model import Course, Learner
from services.upskilling.domain.model import Provider as CourseProvider
from services.upskilling.repository import Filters, SqlUpskillingRepository
from tests import postgres
from tests.integration.kit.persistence.old_rows import allowed_values, filled
from tests.integration.kit.persistence.test_revision_steps import JSON_COLUMNS

ROWS = 500
# The company owning nine rows in ten of every table, for which each statement is explained.
HEAVY = "c-heavy"
TENANT_COLUMNS = ("company_id", "tenant")
# Values no filled row holds (the n-th row of every table has `<n>-<column>` in each text column): the
# reads find nothing, which is what keeps them from opening the filled rows, not valid records.
COMPANY = "c-none"
PROFILE = "00000000-0000-0000-0000-00000000beef"
BATCH = "00000000-0000-0000-0000-00000000feed"
EMAIL = "someone@example.org"
SIZE = 50
# Tables a deployment keeps small whatever its traffic: reading them whole is fine.
SMALL = frozenset({"signing_keys", "audit_checkpoints"})
BACKENDS = ("sqlite", "postgresql")

Work = Callable[[orm.Session], object]


@dataclass(frozen=True)
class Case:
    """One hot read: the service whose database it reads, the code that runs it, the column each of its
    statements must find its rows by (in order; "" for none) and whether its order comes from an index."""

    service: str
    name: str
    work: Work
    keys: tuple[str, ...] = ()
    ordered: bool = False


def _connector(service: str, name: str, work: Callable[[Any], object], *keys: str, ordered: bool = False) -> Case:
    repositories = {"kintell": SqlKintellRepository, "buddy": SqlBuddyRepository, "upskilling": SqlUpskillingRepository}
    return Case(service, name, lambda s: work(repositories[service](s, company_id=COMPANY)), keys, ordered)


def _profile(work: Callable[[SqlProfileRepository], object], *keys: str, ordered: bool = False) -> Case:
    return Case("profile", "", lambda s: work(SqlProfileRepository(s, company_id=COMPANY)), keys, ordered)


def _named(case: Case, name: str) -> Case:
    return Case(case.service, name, case.work, case.keys, case.ordered)


def _imports(service: str) -> list[Case]:
    newest = _connector(
        service, "import batches by company", lambda r: r.imports.newest(after=None, size=SIZE), ordered=True
    )
    return [
        newest,
        _connector(service, "import batch", lambda r: r.imports.get(BATCH), "batch_id"),
        _connector(service, "quarantined rows of a batch", lambda r: r.imports.errors(BATCH), "batch_id"),
    ]


def _buddy(kind: str) -> list[Case]:
    people = {"matches": "participant_", "events": "", "checkins": "person_", "feedback": "author_"}[kind]
    return [
        _connector(
            "buddy",
            f"{kind} by company",
            lambda r: r.find(kind, RecordFilter(), after=None, size=SIZE),
            ordered=True,
        ),
        _connector(
            "buddy", f"{kind} by external id", lambda r: r.get_by_external_id(kind, "none-external_id"), "external_id"
        ),
        _connector(
            "buddy",
            f"{kind} by e-mail",
            lambda r: r.find(kind, RecordFilter(email=EMAIL), after=None, size=SIZE),
            f"{people}profile_id",
        ),
        _connector(
            "buddy",
            f"{kind} by profile id",
            lambda r: r.find(kind, RecordFilter(profile_id=PROFILE), after=None, size=SIZE),
            f"{people}profile_id",
        ),
    ]


def _course() -> Course:
    return Course(CourseProvider.GENERIC, "none-provider_name", "none-course_id")


def _audit(where: AuditFilter, *keys: str) -> Callable[[str], Case]:
    work: Work = lambda s: AuditLogReader(s.get_bind().engine).newest(where, before=None, size=SIZE)  # noqa: E731
    return lambda name: Case("gateway", name, work, keys, ordered=True)


def _safety(work: Callable[[SqlSafetyReader], object], name: str, *keys: str) -> Case:
    return Case("safety", name, lambda s: work(SqlSafetyReader(s, company_id=COMPANY)), keys, ordered=True)


def _q2q(where: ScoreFilter, name: str, *keys: str) -> Case:
    work: Work = lambda s: SqlQ2qRepository(s, company_id=COMPANY).list_scores(where, limit=SIZE + 1, after=None)  # noqa: E731
    return Case("q2q", name, work, keys, ordered=not keys)


CASES = [
    # The kit's messaging tables, the same in every service's database.
    Case("profile", "outbox pending", events.pending, ("published_at",), ordered=True),
    Case("profile", "outbox mark published", lambda s: events.mark_published(s, ["e1", "e2"]), ("event_id",)),
    # An inbox claim reads no row (test_query_plans: one INSERT, its conflict found through the primary key).
    _named(_profile(lambda r: r.page(email="", after="", limit=SIZE + 1), ordered=True), "profiles by company"),
    _named(_profile(lambda r: r.get_by_email(EMAIL), "email_index", "email"), "profile by e-mail (blind index)"),
    _named(
        _profile(lambda r: r.get_by_external_id(ExternalId(Provider.KINTELL, "k-7")), "external_id"),
        "profile by external id",
    ),
    _connector(
        "kintell",
        "sessions by company",
        lambda r: r.list_sessions(SessionFilter(), after=None, size=SIZE),
        ordered=True,
    ),
    _connector(
        "kintell",
        "sessions by external id",
        lambda r: r.sessions_by_external_id(["none-external_session_id"]),
        "external_session_id",
    ),
    _connector(
        "kintell",
        "sessions by e-mail",
        lambda r: r.list_sessions(SessionFilter(participant_email=EMAIL), after=None, size=SIZE),
        "participant_profile_id",
    ),
    _connector(
        "kintell",
        "sessions by profile id",
        lambda r: r.list_sessions(SessionFilter(profile_id=PROFILE), after=None, size=SIZE),
        "participant_profile_id",
    ),
    _connector(
        "kintell", "rating by external id", lambda r: r.rating_by_external_id("none-rating"), "external_rating_id"
    ),
    _connector("kintell", "ratings of sessions", lambda r: r.ratings_of([PROFILE]), "session_id"),
    *_imports("kintell"),
    *[case for kind in ("matches", "events", "checkins", "feedback") for case in _buddy(kind)],
    *_imports("buddy"),
    _connector(
        "upskilling",
        "progress by company",
        lambda r: r.list_progress(Filters(), after=None, size=SIZE),
        ordered=True,
    ),
    _connector(
        "upskilling",
        "credentials by company",
        lambda r: r.list_credentials(Filters(), after=None, size=SIZE),
        ordered=True,
    ),
    _connector(
        "upskilling",
        "progress by e-mail",
        lambda r: r.list_progress(Filters(email=EMAIL), after=None, size=SIZE),
        "profile_id",
    ),
    _connector(
        "upskilling",
        "credentials by profile id",
        lambda r: r.list_credentials(Filters(profile_id=PROFILE), after=None, size=SIZE),
        "profile_id",
    ),
    _connector(
        "upskilling",
        "progress by learner (e-mail or provider id)",
        lambda r: r.find_progress(_course(), Learner(email=EMAIL, external_id="none-external_id")),
        "course_id",
    ),
    _connector(
        "upskilling",
        "credential by external key",
        lambda r: r.find_credential(_course(), "none-credential_key"),
        "credential_key",
    ),
    *_imports("upskilling"),
    _safety(
        lambda r: r.list_reviews(ReviewStatus.PENDING, "", limit=SIZE + 1, after=None),
        "review queue (pending, by priority)",
        "status",
    ),
    _safety(
        lambda r: r.list_flags(ListFlags(company_id=COMPANY), limit=SIZE + 1, after=None),
        "flags by company",
    ),
    _q2q(ScoreFilter(), "scores by company"),
    _q2q(ScoreFilter(profile_id=PROFILE), "scores by profile", "profile_id"),
    Case(
        "gateway",
        "privacy requests by company",
        lambda s: Requests(s).matching(RequestFilter(company_id=COMPANY), after=None, limit=SIZE + 1),
        ordered=True,
    ),
    Case(
        "gateway",
        "privacy requests due",
        lambda s: Requests(s).runnable(now=datetime.now(UTC), limit=SIZE),
        ("next_attempt_at",),
    ),
    Case("gateway", "clients by company", lambda s: SqlClientRepository(s).list(company_id=COMPANY)),
    Case(
        "gateway",
        "clients by e-mail (blind index, subject export)",
        lambda s: SqlOwnSubjectData(s).export(DataSubject(COMPANY, PROFILE, EMAIL)),
        ("email_index",),
    ),
    _audit(AuditFilter(tenant=COMPANY), "tenant")("audit events of a company"),
    Case(
        "gateway",
        "audit events of an action",
        lambda s: AuditLogReader(s.get_bind().engine).newest(
            AuditFilter(tenant=COMPANY, action="none-action"), before=None, size=SIZE
        ),
        ("action",),
    ),
]


# Known gaps, not closed yet: (service, case) → (backend, what is missing). Each case is expected to fail
# there (strictly: once the gap is closed, its entry must go).
GAPS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("buddy", "matches by e-mail"): (
        (
            "sqlite",
            "SQLite prefers walking ix_buddy_matches_time under the LIMIT to a four-way MULTI-INDEX OR over "
            "ix_buddy_matches_{participant,buddy}{,_profile}, which all exist",
        ),
    ),
    ("gateway", "clients by e-mail (blind index, subject export)"): (
        (
            "sqlite",
            "the look-up ORs email_index with lower(email), whose index gateway revision 0010 builds on "
            "PostgreSQL only",
        ),
    ),
}


def _fill(engine: sa.Engine) -> None:
    """ROWS rows in every table, parents first, foreign keys pointing at the parents' rows; nine in ten
    of them HEAVY's (a child takes its company from its parent)."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    written: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as connection:
        inspector = sa.inspect(connection)
        for table in metadata.sorted_tables:
            if table.name.startswith("alembic_version_"):
                continue
            allowed = allowed_values(inspector.get_check_constraints(table.name), table)
            given = {name: value for name, value in JSON_COLUMNS.items() if name in table.c} | allowed
            rows = [_row(table, n, given, written) for n in range(ROWS)]
            connection.execute(table.insert(), rows)
            written[table.name] = rows


def _row(table: sa.Table, n: int, given: dict[str, Any], written: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    heavy = {name: HEAVY for name in TENANT_COLUMNS if name in table.c and n % 10}
    # A status has a few values (where no CHECK lists them): the queue's is that of most rows.
    few = {"status": "pending"} if "status" in table.c and "status" not in given else {}
    row = filled(table, n, few | given | heavy)
    for key in table.foreign_keys:
        parent = written.get(key.column.table.name)
        if parent:
            row[key.parent.name] = parent[n % len(parent)][key.column.name]
    return row


class Databases:
    """Each service's database on one backend, migrated to head, filled and analysed on first use."""

    def __init__(self, backend: str, tmp: Path, admin_url: Callable[[], str], stack: contextlib.ExitStack) -> None:
        self._backend, self._tmp, self._admin_url, self._stack = backend, tmp, admin_url, stack
        self._engines: dict[str, sa.Engine] = {}

    def engine(self, service: str) -> sa.Engine:
        """The service's database, made on first use."""
        if service not in self._engines:
            self._engines[service] = self._made(service)
        return self._engines[service]

    def _made(self, service: str) -> sa.Engine:
        if self._backend == "sqlite":
            url = db.sqlite_url(self._tmp / f"{service}.db")
        else:
            name = f"teei_plans_{service}_{uuid.uuid4().hex[:8]}"
            url = self._stack.enter_context(postgres.databases(self._admin_url(), {service: name}))[service]
        db.upgrade(url, importlib.import_module(f"services.{service}.bootstrap").MIGRATIONS)
        engine = db.create_engine(url)
        self._stack.callback(engine.dispose)
        cipher = pii.local(self._tmp / "keys" / service, service)
        self._stack.callback(cipher.close)
        pii.attach(engine, cipher)
        _fill(engine)
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE"))
        return engine


@pytest.fixture(scope="module")
def databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Databases]]:
    """The services' databases by backend: SQLite files, and PostgreSQL (a local server or the embedded one,
    started only when a PostgreSQL case runs)."""
    with contextlib.ExitStack() as stack:
        yield {
            backend: Databases(
                backend,
                tmp_path_factory.mktemp(f"plans-{backend}"),
                lambda: str(request.getfixturevalue("postgres_admin_url")),
                stack,
            )
            for backend in BACKENDS
        }


def _captured(engine: sa.Engine, work: Work) -> list[tuple[str, Any]]:
    """The statements `work` runs that read rows (SELECT, UPDATE, DELETE), with their parameters, in order."""
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH", "UPDATE", "DELETE")):
            captured.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        with orm.Session(engine) as session, session.begin():
            work(session)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    return captured


def _for_heavy(params: Any) -> Any:
    """The statement's parameters with the empty company replaced by HEAVY."""
    if isinstance(params, dict):
        return {key: HEAVY if value == COMPANY else value for key, value in params.items()}
    return type(params)(HEAVY if value == COMPANY else value for value in params)


def explained(engine: sa.Engine, statement: str, params: Any, *, ordered: bool = False) -> list[str]:
    """The plan's lines: SQLite's EXPLAIN QUERY PLAN; PostgreSQL's EXPLAIN with sequential scans, and for
    an `ordered` listing sorts, discouraged (not otherwise: a look-up would then rather walk an index in
    order than sort the few rows it finds)."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            found = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", _for_heavy(params))
            return [str(row[-1]) for row in found]
        connection.exec_driver_sql("SET enable_seqscan = off")
        connection.exec_driver_sql(f"SET enable_sort = {'off' if ordered else 'on'}")
        return [str(row[0]).strip() for row in connection.exec_driver_sql(f"EXPLAIN {statement}", _for_heavy(params))]


def full_scans(plan: list[str], dialect: str, tables: set[str]) -> list[str]:
    """The growing tables a plan reads whole."""
    pattern = r"\bSCAN (\w+)" if dialect == "sqlite" else r"Seq Scan on (\w+)"
    found = [table for line in plan for table in re.findall(pattern, line)]
    return [table for table in found if table in tables and table not in SMALL]


def searches_by(plan: list[str], dialect: str, column: str) -> bool:
    """Whether the plan finds rows through an index whose condition names `column`."""
    pattern = (
        rf"^SEARCH \w+ USING .*INDEX \w+ \(.*\b{column}\b" if dialect == "sqlite" else rf"Index Cond: .*\b{column}\b"
    )
    return any(re.search(pattern, line) for line in plan)


def sorts_whole(plan: list[str], dialect: str) -> bool:
    """Whether the plan sorts every row it reads (a sort of the rows tied on a leading column passes)."""
    if dialect == "sqlite":
        return any(line == "USE TEMP B-TREE FOR ORDER BY" for line in plan)
    return any(re.match(r"(->\s+)?Sort\s+\(", line) for line in plan)


def _params() -> list[Any]:
    return [
        pytest.param(
            backend,
            case,
            id=f"{backend}-{case.service}: {case.name}",
            marks=[
                pytest.mark.xfail(strict=True, reason=why)
                for on, why in GAPS.get((case.service, case.name), ())
                if on == backend
            ],
        )
        for backend in BACKENDS
        for case in CASES
    ]


def test_every_known_gap_names_a_case() -> None:
    assert set(GAPS) <= {(case.service, case.name) for case in CASES}


@pytest.mark.parametrize(("backend", "case"), _params())
def test_a_hot_read_goes_through_an_index(databases: dict[str, Databases], backend: str, case: Case) -> None:
    """On SQLite every check; on PostgreSQL the scans and sorts, not which index a look-up takes: among
    several usable ones, PostgreSQL picks by its estimates of the filled values (distinct in every row but
    the company), where SQLite's choice follows from the indexes there are (the same on both backends)."""
    engine = databases[backend].engine(case.service)
    tables = set(sa.inspect(engine).get_table_names())
    statements = _captured(engine, case.work)
    assert len(statements) >= max(len(case.keys), 1), f"{case.name}: {len(statements)} statements captured"
    for n, (statement, params) in enumerate(statements):
        ordered = case.ordered and n == 0
        plan = explained(engine, statement, params, ordered=ordered)
        shown = "\n".join([*plan, statement])
        assert full_scans(plan, backend, tables) == [], f"{case.name}: full scan in\n{shown}"
        key = case.keys[n] if n < len(case.keys) else ""
        if key and backend == "sqlite":
            assert searches_by(plan, backend, key), f"{case.name}: not found by {key} in\n{shown}"
        if ordered:
            assert not sorts_whole(plan, backend), f"{case.name}: sorts the whole company in\n{shown}"


def test_the_checks_read_both_backends_plans() -> None:
    """The checks themselves, on the lines each backend prints."""
    tables = {"t", "signing_keys"}
    assert full_scans(["SCAN t"], "sqlite", tables) == ["t"]
    assert full_scans(["SCAN t USING COVERING INDEX ix_t"], "sqlite", tables) == ["t"]
    assert full_scans(["SEARCH t USING INDEX ix_t (a=?)"], "sqlite", tables) == []
    assert full_scans(["SCAN signing_keys", "SCAN CONSTANT ROW"], "sqlite", tables) == []
    assert full_scans(["Limit", "->  Seq Scan on t  (cost=1.00..2.00 rows=1 width=8)"], "postgresql", tables) == ["t"]
    assert full_scans(["Index Scan using ix_t on t"], "postgresql", tables) == []
    assert searches_by(["SEARCH t USING INDEX ix_t (company_id=? AND email_index=?)"], "sqlite", "email_index")
    assert not searches_by(["SEARCH t USING INDEX ix_t (company_id=?)"], "sqlite", "email_index")
    assert searches_by(
        ["Index Cond: (((company_id)::text = 'c'::text) AND (email_index = 'x'))"], "postgresql", "email_index"
    )
    assert not searches_by(
        ["Index Cond: ((company_id)::text = 'c'::text)", "Filter: (email_index = 'x')"], "postgresql", "email_index"
    )
    assert sorts_whole(["SEARCH t USING INDEX ix_t (a=?)", "USE TEMP B-TREE FOR ORDER BY"], "sqlite")
    assert not sorts_whole(["USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"], "sqlite")
    assert sorts_whole(["Limit", "->  Sort  (cost=1..2 rows=1 width=8)"], "postgresql")
    assert not sorts_whole(["Limit", "->  Incremental Sort  (cost=1..2 rows=1 width=8)"], "postgresql")
