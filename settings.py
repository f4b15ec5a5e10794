"""The one configuration surface: environment variables prefixed ERCASE_ (see docs/api.md).

Nothing else in ercase reads os.environ. Secrets that a developer should not have to
invent (the payload key, the token signing key) are generated once into var/ when
they are not set, so an embedded install keeps the same keys across restarts.
"""

import base64
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


def _key_from_file(name: str) -> str:
    """Read a generated key from var/, creating it (32 random bytes, base64) the first time."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ERCASE_", extra="ignore")

    database_url: str = "sqlite:///var/ercase.db"
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "ercase"
    smtp_host: str = "localhost"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    # A CA bundle for a relay whose certificate comes from a private (e.g. the trust's) CA.
    smtp_ca_file: Path | None = None
    mail_from: str = "ercase@localhost"
    # The display name mail is sent under ("East Example HR" <ercase@…>) for an organisation
    # that has not set its own (PATCH /api/organisation/settings); none: the bare address.
    mail_sender_name: str | None = None
    payload_key: str = Field(default="")
    secret_key: str = Field(default="")
    documents_dir: Path = Path("var/documents")
    # The letter templates policies name (policies/letters/ ships ercase's own); a trust that
    # keeps its own points this at a folder holding them.
    letter_templates_dir: Path = Path(__file__).resolve().parent / "policies" / "letters"
    # Every case the retention purge destroyed, outside the database, so that a restored
    # backup can be purged again (records/shred_ledger.py). In production, on storage that is
    # never restored with the database.
    shred_ledger: Path = Path("var/shred-ledger.jsonl")
    dev: bool = False
    # Where links in mail point; the API's own address under `ercase up`.
    public_url: str = "http://localhost:8000"
    access_token_minutes: int = 8 * 60
    # The Temporal UI allowed to call the codec endpoint (CORS), to show sealed payloads.
    temporal_ui_origin: str = "http://localhost:8233"
    # Single sign-on through OpenID Connect (the trust's identity provider), when an issuer is set.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    # Defaults to <public_url>/sign-in/oidc/callback.
    oidc_redirect_url: str | None = None
    # People the provider vouches for but ercase does not know are refused unless this names
    # the organisation (its code) to create them in, with no role until an admin gives one.
    oidc_create_users_in: str | None = None
    # Open cases a worker keeps in memory (Temporal's sticky cache); the rest are replayed from
    # history when their next timer or step comes (bench/open_cases_memory.py measures it).
    worker_cached_workflows: int = 1000
    # Workflow tasks a worker takes on at once. Workflow code is pure Python under one GIL, so
    # more at once does not finish them sooner; it makes every one of them slower. With the
    # SDK's 100, a worker started with hundreds of cases to replay (after a crash) ran them
    # all at once, each past Temporal's 10 s task timeout, so each was retried, again and
    # again: the worker made no progress while busy (bench/chaos.py).
    worker_workflow_tasks: int = 10
    # How long a process remembers a case's key once read (records/case_keys.py): a step seals
    # and opens about eight payloads, each else a database read. A key the retention purge
    # destroys in another process is refused here once this has passed; 0 reads every time.
    case_key_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # How long a starting worker waits for the database and Temporal to answer before it gives
    # up (they may be restarting at the same moment, e.g. after a power cut).
    startup_patience_seconds: float = 300
    # Reports: the complexity of an open case is its type's weight times its risk's weight
    # (types not listed weigh 1); time is costed at the highest hourly rate among the roles of
    # whoever recorded it; FOI exports show counts below the threshold as "*". These are the
    # defaults: each organisation may set its own (records/organisation_settings.py).
    report_case_type_weights: dict[str, float] = {
        "disciplinary": 3,
        "employment_tribunal": 4,
        "bullying_harassment": 3,
        "grievance": 2,
        "investigation": 2,
        "capability": 2,
        "appeal": 2,
        "enquiry": 0.5,
    }
    report_risk_weights: dict[str, float] = {"urgent": 2, "routine": 1}
    report_hourly_rates: dict[str, float] = {
        "advisor": 32,
        "manager": 45,
        "hr_director": 75,
        "admin": 25,
    }
    foi_threshold: int = 5
    # Case documents larger than this are refused.
    document_max_mb: int = Field(default=20, ge=1, le=500)
    # Sign-in hardening. An account is locked *for one client address* after this many failed
    # attempts in a row from it, for this long, so a stranger elsewhere cannot lock its owner
    # out; one client address may fail at most sign_in_rate_limit times per window; and once an
    # account has failed sign_in_account_limit times per window from anywhere, only addresses
    # it has signed in from before may try it (a guessing attack spread over many addresses).
    sign_in_max_failures: int = Field(default=5, ge=1)
    sign_in_lockout_minutes: int = Field(default=15, ge=1)
    sign_in_rate_limit: int = Field(default=20, ge=1)
    sign_in_rate_window_minutes: int = Field(default=15, ge=1)
    sign_in_account_limit: int = Field(default=50, ge=1)
    # The reverse proxies whose X-Forwarded-For names the client (uvicorn's forwarded_allow_ips:
    # addresses or networks, comma-separated). Empty: no proxy is believed, and the address
    # is the connection's own, so a forged header neither escapes the rate limit nor reaches
    # the audit log.
    trusted_proxies: str = ""

    @field_validator("payload_key")
    @classmethod
    def _payload_key(cls, value: str) -> str:
        value = value or _key_from_file("payload.key")
        if len(base64.b64decode(value, validate=True)) != 32:
            raise ValueError("ERCASE_PAYLOAD_KEY must be a base64-encoded 32-byte AES-256 key")
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: str) -> str:
        return value or _key_from_file("secret.key")


@lru_cache
def get_settings() -> Settings:
    return Settings()
