"""The audit screen's concurrent writer (run as a script, not collected): for DURATION seconds
it creates and expires silences through mrt.ops (each its own committed, audited transaction on
its own connection, as `mrt silence` in another terminal would) and appends one JSON line per
audit row to LOG: the wall-clock time after the commit and the audit row's id.

    python tests/live_audit_writer.py DB LOG DURATION
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta

from mrt.events import utcnow
from mrt.ops import silences
from mrt.store.db import open_database
from mrt.store.models import AuditLog


def main(db_path: str, log: str, duration: float) -> None:
    db = open_database(db_path)
    end = time.monotonic() + duration
    with open(log, "a", encoding="utf-8") as out:
        n, made = 0, []
        while time.monotonic() < end:
            n += 1
            now = utcnow()
            with db.connection_context():
                if n % 3:
                    made.append(silences.create({"keywords": f"word{n}"}, expires_at=now + timedelta(hours=1),
                                    now=now, actor="cli", reason=f"writer {n}"))
                else:
                    silences.expire(made.pop(), now=now, actor="cli", reason=f"writer {n}")
                newest = int(AuditLog.select(AuditLog.id).order_by(AuditLog.id.desc()).scalar())
            out.write(json.dumps({"t": time.time(), "id": newest}) + "\n")
            out.flush()
            time.sleep(0.1)
    db.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
