"""The `ercase` command: up | worker | api | seed | policy | schedules | retention | simulate."""

import argparse
import asyncio
import contextlib
import json
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

import uvicorn
from temporalio.client import Client

from mail.render import format_london
from mail_sink import DEFAULT_MAIL_FOLDER, start_mail_sink
from policies.loader import load_policy_file
from policies.schema import PolicyInvalid, policy_json_schema
from records import audit
from records.database import Database
from records.migrate import upgrade
from schedules import RECURRING, describe_schedules, trigger_schedule
from services.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo
from services.retention import purge_expired_cases, reapply_shreds
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


async def _seed(settings: Settings) -> bool:
    database = Database(settings.database_url)
    client = await connect(settings, database)

    async def client_factory() -> Client:
        return client

    try:
        return await seed_demo(database, client_factory, settings.task_queue)
    finally:
        await database.dispose()


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


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
        if settings.dev and asyncio.run(_seed(settings)):
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
    client = await connect(settings)
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
        return await connect(settings, database)

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
        return await connect(settings, database)

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ercase", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start the embedded stack (what `make run` runs)")
    up_parser.add_argument("--port", type=int, default=API_PORT)
    commands.add_parser("worker", help="run the Temporal worker")
    api_parser = commands.add_parser("api", help="serve the HTTP API")
    api_parser.add_argument("--host", default="127.0.0.1")
    api_parser.add_argument("--port", type=int, default=API_PORT)
    commands.add_parser("seed", help="add the demo trust, users, staff and cases (once)")
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
    args = parser.parse_args(argv)

    if args.command == "up":
        settings = get_settings()
        if "dev" not in settings.model_fields_set:
            settings = settings.model_copy(update={"dev": True})
        up(settings, args.port)
    elif args.command == "worker":
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a worker is stopped
            asyncio.run(run_worker(get_settings()))
    elif args.command == "api":
        settings = get_settings()
        upgrade(settings.database_url)
        uvicorn.run("api.main:create_app", factory=True, host=args.host, port=args.port)
    elif args.command == "schedules":
        asyncio.run(_schedules(get_settings(), args.schedules_command, getattr(args, "name", None)))
    elif args.command == "retention":
        if args.retention_command == "reapply":
            asyncio.run(_retention_reapply(get_settings()))
        else:
            asyncio.run(_retention_purge(get_settings(), args.dry_run))
    elif args.command == "seed":
        seeded = asyncio.run(_seed(get_settings()))
        print("demo data seeded" if seeded else "demo data already present; nothing changed")
    elif args.command == "policy" and args.policy_command == "schema":
        print(json.dumps(policy_json_schema(), indent=2))
    elif args.command == "policy":
        sys.exit(validate_policy_file(args.file))
    elif args.command == "simulate":
        sys.exit(simulate_command(args.policy, args.cases, args.against))
    elif args.command == "audit":
        sys.exit(asyncio.run(verify_audit(get_settings().database_url)))


if __name__ == "__main__":
    main()
