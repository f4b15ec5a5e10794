"""Bring a database's schema up to date with the migrations in records/migrations."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from records.database import ensure_sqlite_folder, sync_url


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    url = sync_url(database_url).render_as_string(hide_password=False)
    # Alembic's config is an INI file underneath: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    ensure_sqlite_folder(database_url)
    command.upgrade(alembic_config(database_url), "head")
