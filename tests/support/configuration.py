"""Settings for a test's app and worker: its database and SMTP server, the test keys."""

import tempfile
from pathlib import Path

from records.database import Database
from settings import Settings
from tests.support.keys import TEST_PAYLOAD_KEY


def make_settings(database_url: str, smtp_port: int = 1025, **overrides: object) -> Settings:
    # Each test its own shred ledger, never the checkout's var/.
    overrides.setdefault("shred_ledger", Path(tempfile.mkdtemp()) / "shred-ledger.jsonl")
    return Settings(
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        payload_key=TEST_PAYLOAD_KEY,
        secret_key="test-secret-key-of-enough-length-for-hs256",
        **overrides,  # type: ignore[arg-type]
    )


def settings_for(database: Database, smtp_port: int = 1025, **overrides: object) -> Settings:
    """Settings over a test's database: its URL as the app takes it (the sync driver name)."""
    url = database.engine.url.render_as_string(hide_password=False)
    return make_settings(
        url.replace("+aiosqlite", "").replace("+psycopg", ""), smtp_port, **overrides
    )
