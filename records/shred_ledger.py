"""The shred ledger: every case the purge destroyed, kept outside the database.

A database backup taken before a purge still holds the case's wrapped key and its personal
data; restored, it would make the purged case readable again. The ledger is what survives the
restore: `ercase retention reapply` (also run when the worker and the API start) purges again
every case it names that a restored database still holds. It is an append-only file of JSON
lines, written and synced before the purge's transaction commits, so no purge is ever in the
database without being in the ledger. Keep it on storage that is not restored with the database
(docs/operations.md, "Backups and crypto-shredding").
"""

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class Shred:
    case_id: str
    organisation_id: int
    retention: str
    purged_at: datetime


def record_shred(ledger: Path, shred: Shred) -> None:
    """Append one purge to the ledger and sync it to disk before the purge commits."""
    ledger.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({**asdict(shred), "purged_at": shred.purged_at.isoformat()})
    with ledger.open("a", encoding="utf-8") as file:
        file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())


def read_shreds(ledger: Path) -> list[Shred]:
    """Every purge the ledger names, oldest first; none if there is no ledger yet."""
    if not ledger.exists():
        return []
    lines = ledger.read_text(encoding="utf-8").splitlines()
    shreds = []
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            shreds.append(
                Shred(
                    case_id=str(entry["case_id"]),
                    organisation_id=int(entry["organisation_id"]),
                    retention=str(entry["retention"]),
                    purged_at=datetime.fromisoformat(entry["purged_at"]),
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            # Only the last line can be torn (a crash while appending; its purge then never
            # committed); anything else means the ledger was damaged, and must not be skipped.
            if number == len(lines):
                break
            raise ValueError(f"{ledger}, line {number}: not a shred record ({error})") from error
    return shreds
