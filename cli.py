"""The `ercase` command: up | worker | api | migrate | seed | organisations | users | policy |
schedules | retention | simulate | audit."""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket

# ercase up starts its own children with fixed commands (bandit B404).
import subprocess  # nosec B404
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import uvicorn
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from temporalio.client import Client

from mail.render import format_london
from mail_sink import DEFAULT_MAIL_FOLDER, start_mail_sink
from policies.loader import load_policy_file
from policies.schema import PolicyInvalid, policy_json_schema
from policies.target_fit import target_warnings
from records import audit
from records.database import Database
from records.migrate import current_revision, display_url, head_revision, upgrade
from records.models import Organisation
from schedules import RECURRING, describe_schedules, trigger_schedule
from services.demo import DEMO_ORGANISATION, DEMO_PASSWORD, DEMO_USERS, seed_demo
from services.errors import ServiceError
from services.organisations import HOLIDAY_REGIONS, add_organisation, list_organisations
from services.retention import purge_expired_cases, reapply_shreds
from services.user_admin import NewAccount, UserAdmin
from services.worker_presence import wait_for_worker
from settings import VAR_DIR, Settings, get_settings
from simulation import CasesFileInvalid, current_policy_for, simulate
from temporal_client import connect
from worker import run_worker

API_PORT = 8000
# The dev server's web UI listens this far above its frontend port (7233 → 8233).
TEMPORAL_UI_OFFSET = 1000


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _wait_until(check: Callable[[], bool], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise SystemExit(f"ercase: {what} did not come up within {seconds:.0f} s")


def _api_ready(port: int) -> bool:
    try:
        # Bandit B310 does not apply: a fixed http:// URL on loopback, never one from input.
        url = f"http://127.0.0.1:{port}/readyz"
        with urllib.request.urlopen(url, timeout=2) as reply:  # nosec B310
            return bool(reply.status == 200)
    except OSError:
        return False


def _temporal_host_port(settings: Settings) -> tuple[str, int]:
    host, _, port = settings.temporal_address.rpartition(":")
    return host or "localhost", int(port)


class Unreachable(Exception):
    """The database or Temporal did not answer: main() says which, at what address."""


async def _reach_temporal(settings: Settings, database: Database | None = None) -> Client:
    try:
        return await connect(settings, database)
    except RuntimeError as error:  # how temporalio reports a failed connection
        raise Unreachable(
            f"cannot reach Temporal at {settings.temporal_address} "
            f"(namespace {settings.temporal_namespace})"
        ) from error


async def _seed(settings: Settings, worker_patience: float = 0) -> bool:
    """Seed the demo once, after migrating; refused (nothing written) with no worker running,
    since opening the demo cases takes steps only a worker can run."""
    upgrade(settings.database_url)
    database = Database(settings.database_url)
    try:
        async with database.sessions() as session:
            code = DEMO_ORGANISATION[0]
            if await session.scalar(select(Organisation.id).where(Organisation.code == code)):
                return False
        client = await _reach_temporal(settings, database)
        if not await wait_for_worker(client, settings.task_queue, worker_patience):
            raise SystemExit(
                f"ercase seed: no worker is polling task queue {settings.task_queue!r} at "
                f"{settings.temporal_address}; start `ercase worker` first, since the demo "
                "cases cannot advance without it (nothing was seeded)."
            )

        async def client_factory() -> Client:
            return client

        return await seed_demo(database, client_factory, settings.task_queue)
    finally:
        await database.dispose()


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _run_worker(settings: Settings) -> None:
    try:
        asyncio.run(run_worker(settings))
    except RuntimeError as error:
        # The worker waits its start-up patience for Temporal, then gives up with this.
        if "client connect" not in str(error):
            raise
        raise Unreachable(f"cannot reach Temporal at {settings.temporal_address}") from error


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn believes X-Forwarded-For only from ERCASE_TRUSTED_PROXIES: by default from
    nobody (uvicorn's own default trusts loopback, which let a forged header from the same
    machine escape the sign-in rate limit and write a made-up address into the audit log)."""
    return {
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
    }


def up(settings: Settings, port: int) -> None:
    """The whole embedded stack in one command; Ctrl-C (or SIGTERM) stops every child."""
    signal.signal(signal.SIGTERM, _interrupt)
    VAR_DIR.mkdir(exist_ok=True)
    upgrade(settings.database_url)
    # Children read the same configuration, in dev mode unless the caller said otherwise.
    child_env = {**os.environ, "ERCASE_DEV": "true" if settings.dev else "false"}
    children: list[subprocess.Popen[bytes]] = []

    def spawn(*command: str) -> None:
        # Bandit B603 does not apply: ercase's own commands (this Python, the temporal binary).
        children.append(subprocess.Popen(command, env=child_env))  # nosec B603

    host, temporal_port = _temporal_host_port(settings)
    own_temporal = not _answers(host, temporal_port)
    if not own_temporal:
        print(f"ercase: using the Temporal server already at {settings.temporal_address}")
    else:
        temporal = str(Path(sys.executable).parent / "temporal")
        spawn(
            temporal, "server", "start-dev",
            "--db-filename", str(VAR_DIR / "temporal.db"),
            "--ip", "127.0.0.1", "--port", str(temporal_port),
            "--ui-port", str(temporal_port + TEMPORAL_UI_OFFSET), "--log-level", "error",
        )  # fmt: skip
        _wait_until(lambda: _answers(host, temporal_port), "the Temporal dev server", 60)

    sink = None
    if settings.dev and not _answers(settings.smtp_host, settings.smtp_port):
        sink = start_mail_sink("127.0.0.1", settings.smtp_port, DEFAULT_MAIL_FOLDER)

    spawn(sys.executable, "-m", "cli", "worker")
    spawn(sys.executable, "-m", "cli", "api", "--host", "127.0.0.1", "--port", str(port))
    try:
        _wait_until(lambda: _api_ready(port), "the API", 60)
        # The worker started with the API; the seed's steps need it polling.
        if settings.dev and asyncio.run(_seed(settings, worker_patience=60)):
            print("ercase: demo data seeded (first start)")
        base = f"http://localhost:{port}"
        print(f"\nercase is up.\n  API:          {base}/api  (docs at {base}/docs)")
        if settings.dev:
            print(f"  Dev outbox:   {base}/dev/outbox  (mail caught on port {settings.smtp_port})")
            users = ", ".join(f"{name} ({roles[0]})" for name, _, roles in DEMO_USERS)
            print(f"  Demo users:   {users}; password '{DEMO_PASSWORD}'")
        if own_temporal:
            print(f"  Temporal UI:  http://localhost:{temporal_port + TEMPORAL_UI_OFFSET}")
        print("Ctrl-C stops everything.", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("ercase: a component stopped; shutting the rest down", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nercase: stopping")
    finally:
        _stop(children)
        if sink is not None:
            sink.stop()


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    # Worker and API first, the Temporal server last, so in-flight work can finish.
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    for child in reversed(children):
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


async def _schedules(settings: Settings, command: str, name: str | None) -> None:
    client = await _reach_temporal(settings)
    if command == "trigger":
        assert name is not None
        print(f"triggered {await trigger_schedule(client, settings.task_queue, name)}")
        return
    for state in await describe_schedules(client, settings.task_queue):
        if not state.exists:
            print(f"{state.name}: not created yet (the worker creates it when it starts)")
            continue
        runs = ", ".join(format_london(run) for run in state.next_runs) or "none"
        last = format_london(state.last_run) if state.last_run else "never"
        print(f"{state.name} ({state.schedule_id}): {state.description}")
        print(f"  next: {runs}\n  last: {last}")


async def _retention_purge(settings: Settings, dry_run: bool) -> None:
    """Purge (or list, with --dry-run) the closed cases past their retention period."""
    database = Database(settings.database_url)

    async def client() -> Client:
        return await _reach_temporal(settings, database)

    try:
        purged = await purge_expired_cases(
            database,
            settings.documents_dir,
            settings.shred_ledger,
            client,
            datetime.now(UTC),
            dry_run,
        )
    finally:
        await database.dispose()
    verb = "would purge" if dry_run else "purged"
    for item in purged:
        counts = ", ".join(f"{n} {what}" for what, n in item.counts.items())
        print(
            f"{verb} {item.case_id} ({item.case_type}, closed {format_london(item.closed_at)}, "
            f"kept {item.retention}): {counts}"
        )
    print(f"{len(purged)} case(s) {verb}")


async def _retention_reapply(settings: Settings) -> None:
    """Purge again the cases in the shred ledger that a restored database still holds."""
    database = Database(settings.database_url)

    async def client() -> Client:
        return await _reach_temporal(settings, database)

    try:
        reapplied = await reapply_shreds(
            database, settings.documents_dir, settings.shred_ledger, client, datetime.now(UTC)
        )
    finally:
        await database.dispose()
    for case_id in reapplied:
        print(f"purged again {case_id} (named in {settings.shred_ledger})")
    print(f"{len(reapplied)} case(s) purged again")


async def verify_audit(database_url: str) -> int:
    """`ercase audit verify`: 0 and OK when the chain holds, 1 and the first broken row if not."""
    database = Database(database_url)
    try:
        async with database.sessions() as session:
            verdict = await audit.verify(session)
    finally:
        await database.dispose()
    print(verdict, file=sys.stdout if verdict.ok else sys.stderr)
    return 0 if verdict.ok else 1


def validate_policy_file(path: Path) -> int:
    try:
        policy = load_policy_file(path)
    except FileNotFoundError:
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    except PolicyInvalid as invalid:
        for error in invalid.errors:
            print(f"{path}: {error.path}: {error.message}", file=sys.stderr)
        return 1
    print(f"{path}: valid ({policy.name}, {len(policy.stages)} stages)")
    # A warning leaves the file valid (exit 0): the owner decides.
    for warning in target_warnings(policy):
        print(f"{path}: warning: {warning.path}: {warning.message}", file=sys.stderr)
    return 0


def simulate_command(policy_file: Path, cases_file: Path, against: str) -> int:
    try:
        proposed = load_policy_file(policy_file)
        current = current_policy_for(against, proposed)
        comparison = asyncio.run(simulate(proposed, current, cases_file))
    except (PolicyInvalid, CasesFileInvalid, FileNotFoundError) as problem:
        print(f"ercase simulate: {problem}", file=sys.stderr)
        return 1
    print("\n".join(comparison.lines()))
    return 0


def migrate(database_url: str) -> None:
    """`ercase migrate`: bring the database to the current schema, under the migration lock."""
    before = current_revision(database_url)
    upgrade(database_url)
    where = display_url(database_url)
    if before == head_revision():
        print(f"{where}: already at schema {before}; nothing to do")
    else:
        print(f"{where}: migrated from {before or 'an empty database'} to {head_revision()}")


def _schema_current(database_url: str) -> None:
    """Account commands need the current schema; saying so beats a "no such table" error."""
    revision = current_revision(database_url)
    if revision != head_revision():
        raise SystemExit(
            f"ercase: the database at {display_url(database_url)} is at schema "
            f"{revision or 'none'}, not {head_revision()}; run `ercase migrate` first."
        )


def _password_from_stdin() -> str:
    # One line; the newline that ends it (echo, a here-string) is not part of the password.
    return sys.stdin.readline().removesuffix("\n").removesuffix("\r")


async def accounts_command(settings: Settings, args: argparse.Namespace) -> None:
    """`ercase organisations ...` and `ercase users ...`: each a thin call into the services."""
    _schema_current(settings.database_url)
    database = Database(settings.database_url)
    admin = UserAdmin(database, settings.public_url)
    try:
        if args.command == "organisations" and args.organisations_command == "add":
            added = await add_organisation(database, args.code, args.name, args.holidays)
            print(f"added {added.code} ({added.name}, {added.holiday_region} bank holidays)")
        elif args.command == "organisations":
            for organisation in await list_organisations(database):
                print(f"{organisation.code}\t{organisation.name}\t{organisation.holiday_region}")
        elif args.users_command == "add":
            password = _password_from_stdin() if args.password_stdin else None
            account = NewAccount(
                args.username, args.organisation, tuple(args.role), args.name, args.email, password
            )
            result = await admin.add(account)
            roles = ", ".join(result.account.roles)
            print(f"added {result.account.username} to {result.account.organisation} ({roles})")
            if result.set_password_link is not None:
                print(
                    "Send them this one-time link to set their password (it works once, "
                    f"within 3 days):\n{result.set_password_link}"
                )
        elif args.users_command == "add-membership":
            member = await admin.add_membership(args.username, args.organisation, args.role)
            roles = ", ".join(member.roles)
            print(f"{member.username} is now a member of {member.organisation} ({roles})")
        elif args.users_command == "list":
            for user in await admin.list(args.organisation):
                state = "active" if user.active else "deactivated"
                if not user.home:
                    state = "member" if user.active else "member (ended)"
                roles = ",".join(user.roles)
                print(f"{user.username}\t{user.full_name}\t{user.email}\t{roles}\t{state}")
        elif args.users_command == "set-password":
            await admin.set_password(args.username, _password_from_stdin())
            print(f"password set for {args.username}")
        elif await admin.deactivate(args.username):
            print(f"deactivated {args.username}: refused from their next request on")
        else:
            print(f"{args.username} was already deactivated; nothing changed")
    finally:
        await database.dispose()


def _add_account_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    organisations = commands.add_parser("organisations", help="the organisations (trusts)")
    organisation_commands = organisations.add_subparsers(
        dest="organisations_command", required=True
    )
    add_organisation_parser = organisation_commands.add_parser("add", help="add an organisation")
    add_organisation_parser.add_argument("code", help="its code, e.g. the ODS code RXX")
    add_organisation_parser.add_argument("name")
    add_organisation_parser.add_argument(
        "--holidays", default=HOLIDAY_REGIONS[0],
        help=f"whose bank holidays its working days skip: {', '.join(HOLIDAY_REGIONS)}",
    )  # fmt: skip
    organisation_commands.add_parser("list", help="every organisation")
    users = commands.add_parser("users", help="accounts")
    user_commands = users.add_subparsers(dest="users_command", required=True)
    add_user = user_commands.add_parser(
        "add", help="add an account (prints a one-time set-password link unless --password-stdin)"
    )
    add_user.add_argument("username")
    add_user.add_argument("--organisation", required=True, help="the organisation's code")
    add_user.add_argument("--role", action="append", required=True, help="repeat for more")
    add_user.add_argument("--name", required=True, help="the person's full name")
    add_user.add_argument("--email", required=True)
    add_user.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    add_membership = user_commands.add_parser(
        "add-membership", help="give an account roles in another organisation as well"
    )
    add_membership.add_argument("username")
    add_membership.add_argument("--organisation", required=True, help="the organisation's code")
    add_membership.add_argument("--role", action="append", required=True, help="repeat for more")
    list_users = user_commands.add_parser("list", help="an organisation's accounts and members")
    list_users.add_argument("--organisation", required=True)
    set_password = user_commands.add_parser("set-password", help="set a password (from stdin)")
    set_password.add_argument("username")
    set_password.add_argument("--password-stdin", action="store_true", required=True)
    deactivate = user_commands.add_parser(
        "deactivate", help="refuse the account from its next request on (nothing is deleted)"
    )
    deactivate.add_argument("username")


def _run(args: argparse.Namespace) -> None:
    """Dispatch; a refusal or an unreachable server ends in one sentence, not a traceback."""
    settings = get_settings()
    try:
        _dispatch(settings, args)
    except ServiceError as refusal:
        raise SystemExit(f"ercase: {refusal.detail}") from None
    except Unreachable as problem:
        raise SystemExit(f"ercase: {problem}.") from None
    except (OperationalError, InterfaceError) as error:
        # SQLAlchemy gives no statement for an error raised while connecting.
        if error.statement is None or error.connection_invalidated:
            raise SystemExit(
                f"ercase: cannot reach the database at {display_url(settings.database_url)}."
            ) from None
        raise


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ercase", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start the embedded stack (what `make run` runs)")
    up_parser.add_argument("--port", type=int, default=API_PORT)
    commands.add_parser("worker", help="run the Temporal worker")
    api_parser = commands.add_parser("api", help="serve the HTTP API")
    api_parser.add_argument("--host", default="127.0.0.1")
    api_parser.add_argument("--port", type=int, default=API_PORT)
    commands.add_parser("migrate", help="bring the database to the current schema")
    commands.add_parser(
        "seed", help="migrate, then add the demo trust, users, staff and cases (once)"
    )
    _add_account_commands(commands)
    policy_parser = commands.add_parser("policy", help="work with policy definitions")
    policy_commands = policy_parser.add_subparsers(dest="policy_command", required=True)
    validate_parser = policy_commands.add_parser("validate", help="check a definition file")
    validate_parser.add_argument("file", type=Path)
    policy_commands.add_parser(
        "schema", help="print the definition format as JSON Schema (for editors)"
    )
    schedules_parser = commands.add_parser("schedules", help="the recurring mail's schedules")
    schedule_commands = schedules_parser.add_subparsers(dest="schedules_command", required=True)
    schedule_commands.add_parser("list", help="each schedule, with its next runs")
    trigger_parser = schedule_commands.add_parser("trigger", help="run a schedule now")
    trigger_parser.add_argument("name", choices=[mail.name for mail in RECURRING])
    retention_parser = commands.add_parser("retention", help="records retention")
    retention_commands = retention_parser.add_subparsers(dest="retention_command", required=True)
    purge_parser = retention_commands.add_parser(
        "purge", help="destroy closed cases past their retention period (not on legal hold)"
    )
    purge_parser.add_argument("--dry-run", action="store_true", help="list them, change nothing")
    retention_commands.add_parser(
        "reapply",
        help="after restoring a database backup: purge again every case the shred ledger names",
    )
    simulate_parser = commands.add_parser(
        "simulate", help="replay a year of cases under the current and a proposed policy"
    )
    simulate_parser.add_argument("--policy", type=Path, required=True, help="the proposed policy")
    simulate_parser.add_argument("--cases", type=Path, required=True, help="CSV of past cases")
    simulate_parser.add_argument(
        "--against", default="current", help="'current' (the shipped policy) or a policy file"
    )
    audit_parser = commands.add_parser("audit", help="the hash-chained audit log")
    audit_commands = audit_parser.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser("verify", help="check every row's hash and link; name the first bad")
    _run(parser.parse_args(argv))


def _dispatch(settings: Settings, args: argparse.Namespace) -> None:
    if args.command == "up":
        if "dev" not in settings.model_fields_set:
            settings = settings.model_copy(update={"dev": True})
        up(settings, args.port)
    elif args.command == "worker":
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a worker is stopped
            _run_worker(settings)
    elif args.command == "api":
        upgrade(settings.database_url)
        uvicorn.run(
            "api.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            **proxy_options(settings),
        )
    elif args.command == "schedules":
        asyncio.run(_schedules(settings, args.schedules_command, getattr(args, "name", None)))
    elif args.command == "retention":
        if args.retention_command == "reapply":
            asyncio.run(_retention_reapply(settings))
        else:
            asyncio.run(_retention_purge(settings, args.dry_run))
    elif args.command == "migrate":
        migrate(settings.database_url)
    elif args.command in ("organisations", "users"):
        asyncio.run(accounts_command(settings, args))
    elif args.command == "seed":
        seeded = asyncio.run(_seed(settings))
        print("demo data seeded" if seeded else "demo data already present; nothing changed")
    elif args.command == "policy" and args.policy_command == "schema":
        print(json.dumps(policy_json_schema(), indent=2))
    elif args.command == "policy":
        sys.exit(validate_policy_file(args.file))
    elif args.command == "simulate":
        sys.exit(simulate_command(args.policy, args.cases, args.against))
    elif args.command == "audit":
        sys.exit(asyncio.run(verify_audit(settings.database_url)))


def run() -> NoReturn:
    """The `ercase` console script: main(), then out without the interpreter's teardown.

    A command that used a Temporal client (seed, schedules, retention) can otherwise abort
    as the interpreter finalises — "Fatal Python error: PyGILState_Release" from the SDK's
    Rust threads (temporalio/sdk-python#300) — after its work is done, turning success into
    exit code -6. Everything a command writes is flushed first; the exit code is main()'s.
    """
    code: int | str | None = 0
    try:
        main()
    except SystemExit as exit_:
        code = exit_.code
    if isinstance(code, str):  # SystemExit("sentence"): printed, exit status 1
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    run()
