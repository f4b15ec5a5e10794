"""The access log keeps no personal data a URL carries (issue 22, point 17).

Search terms in query strings are names and summary words; the calendar feed's path is its
secret. A real uvicorn serves the app; the test reads the lines its access logger writes.
"""

import logging

import httpx

from api.access_log import ACCESS_LOGGER
from api.main import create_app
from records.database import Database
from tests.support.configuration import settings_for
from tests.support.people import add_people
from tests.support.stack import serving


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_access_log_lines_carry_no_query_strings_or_calendar_tokens(
    sqlite_database: Database,
) -> None:
    await add_people(sqlite_database)
    app = create_app(settings_for(sqlite_database))
    captured = Lines()
    access = logging.getLogger(ACCESS_LOGGER)
    async with serving(app, log_level="info") as base, httpx.AsyncClient(base_url=base) as http:
        access.addHandler(captured)  # after uvicorn has configured its loggers
        try:
            await http.get("/api/cases?q=Priya%20Patel&status=open")
            await http.get("/calendar/s3cr3t-t0ken-value.ics")
            await http.get("/healthz")
        finally:
            access.removeHandler(captured)
    paths = [line for line in captured.lines if "GET" in line]
    assert len(paths) == 3, captured.lines
    assert '"GET /api/cases HTTP/1.1" 401' in paths[0]
    assert '"GET /calendar/….ics HTTP/1.1"' in paths[1]
    assert '"GET /healthz HTTP/1.1" 200' in paths[2]
    everything = "\n".join(captured.lines)
    assert "Priya" not in everything and "s3cr3t" not in everything
