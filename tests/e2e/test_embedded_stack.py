"""`ercase up` (what `make run` runs) on a fresh folder: everything starts, the demo is
seeded once, Ctrl-C stops every child, and a second start keeps every case working."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port

STARTUP_SECONDS = 90


@contextmanager
def ercase_up(folder: Path, env: dict[str, str], api_port: int) -> Iterator[str]:
    """Run `ercase up` in `folder` until it says it is up; yield what it printed so far."""
    log = folder / f"up-{time.monotonic_ns()}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "up", "--port", str(api_port)],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while "ercase is up" not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "ercase up did not come up in time"
            time.sleep(0.5)
        yield log.read_text(errors="replace")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def sign_in(base: str) -> dict[str, str]:
    reply = httpx.post(f"{base}/api/auth/token", data={"username": "alice", "password": "demo"})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


@pytest.mark.slow
def test_ercase_up_starts_seeds_stops_and_restarts(tmp_path: Path) -> None:
    temporal_port, smtp_port, api_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "ERCASE_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "ERCASE_SMTP_PORT": str(smtp_port),
        "ERCASE_TASK_QUEUE": "embedded-test",
    }
    base = f"http://127.0.0.1:{api_port}"

    with ercase_up(tmp_path, env, api_port) as printed:
        assert "demo data seeded" in printed
        assert f"{base.replace('127.0.0.1', 'localhost')}/dev/outbox" in printed
        auth = sign_in(base)
        cases = httpx.get(f"{base}/api/cases?case_type=disciplinary", headers=auth).json()
        assert cases["total"] == 6
        # The seeded absence feed: attendance monitoring opens two sickness cases.
        deadline = time.monotonic() + 30
        while total(base, auth, "sickness") != 2:
            assert time.monotonic() < deadline, "the demo's sickness cases did not open"
            time.sleep(0.5)
        assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
        new_case = httpx.post(
            f"{base}/api/cases",
            json={"case_type": "disciplinary", "employee_id": "E10012", "summary": "Handovers"},
            headers=auth,
        ).json()
        # The imported, already-breached case sends its escalation mail into the dev sink.
        deadline = time.monotonic() + 30
        while "breach" not in httpx.get(f"{base}/dev/outbox").text:
            assert time.monotonic() < deadline, "no breach mail reached the dev outbox"
            time.sleep(0.5)
    for port in (temporal_port, api_port):
        assert_closed(port)

    with ercase_up(tmp_path, env, api_port) as printed:
        assert "demo data seeded" not in printed  # only the first start seeds
        auth = sign_in(base)
        assert total(base, auth, "disciplinary") == 7
        assert total(base, auth, "sickness") == 2  # the monitors opened no more on restart
        # The case opened before the restart is still a live workflow that takes steps.
        step = httpx.post(
            f"{base}/api/cases/{new_case['id']}/actions/no_further_action",
            json={"data": {"outcome": "Resolved after restart"}},
            headers=auth,
        )
        assert step.status_code == 200, step.text
        assert step.json()["status"] == "closed"


def total(base: str, auth: dict[str, str], case_type: str) -> int:
    reply = httpx.get(f"{base}/api/cases?case_type={case_type}", headers=auth)
    return int(reply.json()["total"])


def assert_closed(port: int) -> None:
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
