"""uvicorn's access log, without the personal data a URL can carry.

A query string holds what people search for (employee names, case summaries' words) and the
calendar feed's path holds its secret token; both went into every access log line. The log
keeps the method, the path without its query, and the status; a calendar token is shown as
`…`.
"""

import logging
import re

CALENDAR_TOKEN = re.compile(r"^/calendar/[^/]+\.ics$")
ACCESS_LOGGER = "uvicorn.access"


def loggable_path(full_path: str) -> str:
    path = full_path.split("?", 1)[0]
    return "/calendar/….ics" if CALENDAR_TOKEN.match(path) else path


class WithoutPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn logs (client address, method, path with query, HTTP version, status).
        if isinstance(record.args, tuple) and len(record.args) == 5:
            address, method, full_path, version, status = record.args
            record.args = (address, method, loggable_path(str(full_path)), version, status)
        return True


def install_access_log_filter() -> None:
    """Once per process, whichever app is created first (uvicorn configures the logger)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, WithoutPersonalData) for existing in logger.filters):
        logger.addFilter(WithoutPersonalData())
