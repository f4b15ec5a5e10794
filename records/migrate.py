"""Bring a database's schema up to date with the migrations in records/migrations, under a
lock, so any number of processes starting together (API and worker under docker-compose)
migrate one after another: the first does the work, the others find the schema current.

PostgreSQL: a session advisory lock, taken on the connection the migrations then run on.
SQLite: an exclusive flock on a file beside the database (two processes running the same
batch migration at once is what made one fail with CircularDependencyError in 0003). Both
are released by the operating system or the server if the process dies holding them.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, pool, text
from sqlalchemy.engine import URL, make_url

from records.database import ensure_sqlite_folder, sync_url

# An arbitrary constant shared by every ercase process: the key of the advisory lock.
MIGRATION_LOCK_ID = 72_061_544


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    url = sync_url(database_url).render_as_string(hide_password=False)
    # Alembic's config is an INI file underneath: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def lock_file(url: URL) -> Path | None:
    """Where SQLite processes serialise; None for an in-memory database (one process)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    database = Path(url.database)
    return database.with_name(f"{database.name}.migrate.lock")


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # blocks until the process migrating is done
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _advisory_lock(connection: Connection) -> Iterator[None]:
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    connection.commit()
    try:
        yield
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()


def upgrade(database_url: str) -> None:
    ensure_sqlite_folder(database_url)
    config = alembic_config(database_url)
    url = sync_url(database_url)
    with _file_lock(lock_file(url)):
        engine = create_engine(url, poolclass=pool.NullPool)
        try:
            with engine.connect() as connection, _advisory_lock(connection):
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            engine.dispose()


def head_revision() -> str:
    """The schema the code expects, e.g. "0011"."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(database_url: str) -> str | None:
    """The schema the database is at; None before the first migration."""
    url = sync_url(database_url)
    # An SQLite file not there yet is an empty database; asking must not create it.
    if lock_file(url) is not None and not Path(str(url.database)).exists():
        return None
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def display_url(database_url: str) -> str:
    """The address of the database as a person may read it: the password hidden."""
    return make_url(database_url).render_as_string(hide_password=True)
