"""The longest text each field takes, for the API and the web pages alike.

Longer text is refused with a sentence naming the limit, never cut: a note cut short without
a word would be a record that says less than its author wrote.
"""

from services.errors import Invalid

NOTE = 20_000
# Each value a step's form sends (terms of reference, an outcome, a date, …).
STEP_FIELD = 20_000
PAUSE_REASON = 2_000
SUMMARY = 5_000
TIME_NOTE = 2_000
CHANGE_NOTE = 2_000
CALLER = 200
SEARCH = 100


class TooLong(Invalid):
    """One field's text is over its limit; `field` names the form field it came in."""

    def __init__(self, field: str, what: str, length: int, limit: int):
        super().__init__(
            f"{what} is {length:,} characters long; it may be at most {limit:,}. Nothing was "
            "saved: shorten it, or put the full text in a document and upload that."
        )
        self.field = field


def check_length(field: str, what: str, text: str, limit: int) -> None:
    """Refuse `text` (named `what` in the sentence) longer than `limit` characters."""
    if len(text) > limit:
        raise TooLong(field, what, len(text), limit)
