"""The API stack in-process: the FastAPI app over httpx, a real worker on the dev server, a
database with the test people and a real SMTP server."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from records.database import Database
from settings import Settings
from tests.support.configuration import make_settings
from tests.support.people import People, add_people
from tests.support.ports import free_port
from tests.support.smtp import SmtpServer
from tests.support.temporal import end_case_workflows
from tests.support.waiting import eventually
from worker import build_worker

API_BASE = "http://ercase.test"


@dataclass
class ApiStack:
    http: httpx.AsyncClient
    database: Database
    settings: Settings
    people: People
    smtp: SmtpServer
    app: FastAPI

    def client_at(self, address: str) -> httpx.AsyncClient:
        """Another client of the same app, arriving from `address` (close it after use)."""
        return client_at(self.app, address)

    async def token(
        self, username: str, password: str = "demo", organisation: str | None = None
    ) -> dict[str, str]:
        """A bearer token; with `organisation` (a code), for working in that one."""
        form = {"username": username, "password": password}
        if organisation is not None:
            form["organisation"] = organisation
        response = await self.http.post("/api/auth/token", data=form)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    """A client of the app in-process whose requests come from `address`."""
    transport = httpx.ASGITransport(app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url=API_BASE)


@asynccontextmanager
async def serving(app: FastAPI, **options: Any) -> AsyncIterator[str]:
    """The app under a real uvicorn on a free loopback port (options as `ercase api` gives
    them); yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    running = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started, 30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await running


@asynccontextmanager
async def api_stack_on(
    dev_server_env: WorkflowEnvironment, db: Database, smtp_server: SmtpServer
) -> AsyncIterator[ApiStack]:
    """The API stack over a given database (e.g. one on PostgreSQL)."""
    people = await add_people(db)
    settings = make_settings(
        db.engine.url.render_as_string(hide_password=False)
        .replace("+aiosqlite", "")
        .replace("+psycopg", ""),
        smtp_port=smtp_server.port,
        temporal_address=dev_server_env.client.service_client.config.target_host,
        task_queue=f"api-test-{uuid.uuid4()}",
    )
    worker = build_worker(
        dev_server_env.client,
        db,
        settings,
        settings.task_queue,
        workflow_failure_exception_types=[Exception],
    )
    app = create_app(settings)
    async with (
        worker,
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=API_BASE) as http,
    ):
        yield ApiStack(http, db, settings, people, smtp_server, app)
        await end_case_workflows(dev_server_env, db)
