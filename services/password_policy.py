"""Which passwords ercase accepts, after NCSC's guidance: length over complexity (at least
12 characters, no rules about digits or symbols), a deny-list of the passwords attackers try
first, and no forced expiry (nothing here ages a password)."""

import re
from functools import cache
from pathlib import Path

from services.errors import Invalid

MIN_LENGTH = 12
# Long enough for any passphrase; the cap only stops a megabyte "password" reaching argon2.
MAX_LENGTH = 256
DENY_LIST = Path(__file__).with_name("common_passwords.txt")
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


class WeakPassword(Invalid):
    """A password under the policy; the detail says which rule, never the password."""


@cache
def common_passwords() -> frozenset[str]:
    lines = DENY_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().casefold() for line in lines if line.strip() and not line.startswith("#")
    )


def check_password(password: str, *, username: str = "", email: str = "") -> None:
    """Raise WeakPassword with one sentence when `password` may not be used."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(
            f"The password is too short: use at least {MIN_LENGTH} characters "
            "(three random words make a good one)."
        )
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"The password is too long: use at most {MAX_LENGTH} characters.")
    folded = password.casefold()
    core = _EDGES.sub("", folded)
    if folded in common_passwords() or core in common_passwords() or len(set(folded)) == 1:
        raise WeakPassword(
            "The password is one of the most common passwords; choose one that is not."
        )
    person = {name.casefold() for name in (username, email, email.partition("@")[0]) if name}
    if folded in person or core in person:
        raise WeakPassword("The password must not be the account's username or email address.")
