"""The live-truth test's writer process (run as a script, not collected): for DURATION seconds
it changes the status of the welink outbox rows and acknowledges alerts, each in its own
committed transaction on its own connection, as the worker and another operator would, and
appends one JSON line per change to LOG (wall-clock time after the commit, what, which, to what).

    python tests/live_writer.py DB LOG DURATION SEED
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import time

STATUSES = ("pending", "retrying", "sent", "dead")


def main(db: str, log: str, duration: float, seed: int) -> None:
    rng = random.Random(seed)
    con = sqlite3.connect(db, timeout=30)
    welink = [r[0] for r in con.execute("SELECT id FROM outbox WHERE channel = 'welink'")]
    alerts = [r[0] for r in con.execute("SELECT id FROM alert WHERE acknowledged_at IS NULL")]
    rng.shuffle(alerts)
    end = time.monotonic() + duration
    with open(log, "a", encoding="utf-8") as out:
        n = 0
        while time.monotonic() < end:
            n += 1
            if n % 15 == 0 and alerts:
                alert_id = alerts.pop()
                with con:
                    con.execute("UPDATE alert SET acknowledged_at = created_at WHERE id = ?",
                                (alert_id,))
                change = {"kind": "ack", "id": alert_id, "value": True}
            else:
                row_id = rng.choice(welink)
                status = rng.choice(STATUSES)
                with con:
                    con.execute("UPDATE outbox SET status = ? WHERE id = ?", (status, row_id))
                change = {"kind": "outbox", "id": row_id, "value": status}
            out.write(json.dumps({"t": time.time(), **change}) + "\n")
            out.flush()
            time.sleep(rng.uniform(0.02, 0.12))
    con.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
