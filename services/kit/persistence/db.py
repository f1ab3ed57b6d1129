"""Database engine, unit of work and Alembic migrations runner (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event, orm

from services.kit.config import ServiceConfig
from services.kit.logs import get_logger
from services.kit.persistence import slow_queries
from services.kit.telemetry import tracing

# PostgreSQL pools: a service's gRPC workers and its event consumers share one pool per process; 5 + 5
# stays well under the server's default 100 connections for eight services with two processes each.
POOL_SIZE, POOL_OVERFLOW = 5, 5
POOL_TIMEOUT_SECONDS = 10.0  # waiting longer for a connection than a request's deadline helps nobody
POOL_RECYCLE_SECONDS = 1800
STATEMENT_TIMEOUT_MS = 15000  # a runaway statement is cancelled by the server instead of holding locks

# The execution option marking a connection's transactions read-only (set by `read_only(engine)`).
READ_ONLY = "teei_read_only"

log = get_logger(__name__)


def sqlite_url(path: Path) -> str:
    """A SQLAlchemy URL for a SQLite file."""
    return f"sqlite+pysqlite:///{path.resolve()}"


def normalise_url(url: str) -> str:
    """Accepts plain `postgresql://` URLs and selects the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_engine(url: str) -> sa.Engine:
    """An engine with production defaults for the URL's backend."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling breaks SAVEPOINTs (a nested block commits on its own),
        # so SQLAlchemy emits BEGIN itself, of the kind the transaction is (see `_sqlite_begin`).
        event.listen(engine, "begin", _sqlite_begin)
        slow_queries.watch(engine)
        tracing.instrument_engine(engine)
        return engine
    engine = sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        pool_recycle=POOL_RECYCLE_SECONDS,
        connect_args={"options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"},
    )
    slow_queries.watch(engine)
    tracing.instrument_engine(engine)
    return engine


def read_only(engine: sa.Engine) -> sa.Engine:
    """The engine for read-only transactions: its connections carry the READ_ONLY execution option, so
    SQLite's `begin` listener opens a deferred transaction, and PostgreSQL's start `READ ONLY` (at the
    default READ COMMITTED) and refuse any write. It shares the engine's pool."""
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return engine.execution_options(**options)


def _ensure_sqlite_folder(url: str) -> None:
    database = sa.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_begin(connection: sa.Connection) -> None:
    """Writers BEGIN IMMEDIATE: it takes the write lock up front, because a deferred transaction that
    later writes fails at once with "database is locked" when another writer got there first, while
    IMMEDIATE waits out the busy timeout instead. Readers BEGIN (deferred): under WAL they read a
    snapshot beside the writer and never wait on it. `PRAGMA query_only` is SQLite's guard that a read
    transaction writes nothing ("attempt to write a readonly database"); it is kept per connection and
    switched only when the kind of transaction changes."""
    reading = bool(connection.get_execution_options().get(READ_ONLY, False))
    state = connection.connection.info
    if state.get(READ_ONLY, False) != reading:
        connection.exec_driver_sql(f"PRAGMA query_only={int(reading)}")
        state[READ_ONLY] = reading
    connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


RepoT_co = TypeVar("RepoT_co", covariant=True)


class TenantUnitOfWork(Protocol[RepoT_co]):
    """What handlers and queries depend on: one transaction for one company, yielding the service's repository.

    `with uow.begin(company_id=...) as repo:` (handlers) commits on success and rolls back on error;
    `with uow.read(company_id=...) as repo:` (queries) is a read-only transaction that takes no write
    lock and refuses writes. The repository type is the service's own Protocol, so every repository
    call in a handler or query is checked.
    """

    def begin(self, *, company_id: str) -> AbstractContextManager[RepoT_co]: ...

    def read(self, *, company_id: str) -> AbstractContextManager[RepoT_co]: ...


class UnitOfWork:
    """One transaction per command: `with uow.begin() as session:` commits on success, rolls back on error;
    `with uow.read() as session:` is one read-only transaction for a query."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._sessions: Callable[[], orm.Session] = orm.sessionmaker(engine, expire_on_commit=False)
        self._readers: Callable[[], orm.Session] = orm.sessionmaker(read_only(engine), expire_on_commit=False)

    @contextmanager
    def begin(self) -> Iterator[orm.Session]:
        """A session inside one transaction."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[orm.Session]:
        """A session inside one read-only transaction: no write lock taken, writes refused."""
        with self._readers() as session, session.begin():
            yield session


RepoT = TypeVar("RepoT")


class RepositoryFactory(Protocol[RepoT_co]):
    """A service's SQL repository class: built on a session, scoped to one company."""

    def __call__(self, session: orm.Session, *, company_id: str) -> RepoT_co: ...


class SqlTenantUnitOfWork(Generic[RepoT]):
    """The SQL TenantUnitOfWork: one transaction, the service's repository built on its session."""

    def __init__(self, uow: UnitOfWork, repository: RepositoryFactory[RepoT]) -> None:
        self._uow = uow
        self._repository = repository

    @contextmanager
    def begin(self, *, company_id: str) -> Iterator[RepoT]:
        """One transaction for `company_id`; commits when the block succeeds."""
        with self._uow.begin() as session:
            yield self._repository(session, company_id=company_id)

    @contextmanager
    def read(self, *, company_id: str) -> Iterator[RepoT]:
        """One read-only transaction for `company_id`."""
        with self._uow.read() as session:
            yield self._repository(session, company_id=company_id)


def database_url(config: ServiceConfig, name: str) -> str:
    """The service's database: DATABASE_URL when given, else a SQLite file `<name>.db` under the var folder."""
    return config.database_url or sqlite_url(config.var_dir / f"{name}.db")


def migrated_engine(
    config: ServiceConfig, *, name: str, migrations: Path, engine: sa.Engine | None = None
) -> sa.Engine:
    """The engine a service runs on: `engine` as given (tests), else its database migrated to head first
    (its own revisions and any under TEEI_EXTRA_MIGRATIONS/<name>)."""
    if engine is not None:
        return engine
    url = database_url(config, name)
    with migration_lock(config.var_dir, name):
        upgrade(url, migrations, extra_versions=extra_versions(config.extra_migrations, name))
    return create_engine(url)


@contextmanager
def migration_lock(var_dir: Path, name: str) -> Iterator[None]:
    """Held while one process migrates service `name`'s database: the worker processes of one service
    (services/cli/workers.py) start together, and the first to take it applies the revisions the others
    then find done (two Alembic runs at once would both try to apply them)."""
    path = var_dir / "run" / f"{name}.migrations.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


def extra_versions(root: Path | None, name: str) -> Path | None:
    """The folder of revisions shipped beside the service's own (`root`/<name>, TEEI_EXTRA_MIGRATIONS), when
    there is one: how a release's expand revision reaches the successor of a rolling upgrade before it is
    folded into the service's versions folder (docs/data/migrations.md)."""
    if root is None:
        return None
    folder = root / name
    return folder if folder.is_dir() else None


def _alembic_config(url: str, script_location: Path, extra_versions: Path | None = None) -> Config:
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    if extra_versions is not None:
        # Naming version_locations replaces the default `versions` folder, so it is listed first.
        locations = os.pathsep.join(str(folder) for folder in (script_location / "versions", extra_versions))
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", locations.replace("%", "%%"))
    return cfg


def upgrade(url: str, script_location: Path, revision: str = "head", *, extra_versions: Path | None = None) -> None:
    """Applies migrations up to `revision`, the revisions in `extra_versions` included; logs the head reached."""
    cfg = _alembic_config(url, script_location, extra_versions)
    command.upgrade(cfg, revision)
    heads = ScriptDirectory.from_config(cfg).get_heads() if revision == "head" else [revision]
    log.info("db.migrated", revision=",".join(sorted(heads)), extra_versions=str(extra_versions or ""))


def downgrade(url: str, script_location: Path, revision: str = "base", *, extra_versions: Path | None = None) -> None:
    """Reverts migrations down to `revision`."""
    command.downgrade(_alembic_config(url, script_location, extra_versions), revision)


def run_alembic_env(*, service: str, metadata: sa.MetaData | Sequence[sa.MetaData]) -> None:
    """The body of every service's migrations/env.py: its own version table, so services can share
    one database; `metadata` is everything its revisions create (its tables and the kit's it uses), so
    autogenerate compares against the whole schema."""
    from alembic import context  # noqa: PLC0415 - only importable inside an Alembic run

    config, version_table = context.config, f"alembic_version_{service}"
    if context.is_offline_mode():
        url = config.get_main_option("sqlalchemy.url")
        context.configure(url=url, target_metadata=metadata, version_table=version_table)
        with context.begin_transaction():
            context.run_migrations()
        return
    section = config.get_section(config.config_ini_section, {})
    connectable = sa.engine_from_config(section, prefix="sqlalchemy.", poolclass=sa.pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, version_table=version_table)
        with context.begin_transaction():
            context.run_migrations()
