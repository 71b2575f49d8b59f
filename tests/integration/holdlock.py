#!/usr/bin/env python3
"""Hold an SQLite store's write lock for a while, as another program would.

holdlock.py DB SECONDS [READY_FILE]

Takes the lock with BEGIN IMMEDIATE, retrying every millisecond for up to
30 s: agentd's workers may be writing back to back, and a busy handler that
sleeps ever longer between tries can miss every gap between their
transactions. Creates READY_FILE once the lock is held, holds it SECONDS,
then rolls back. Exit 0 when the lock was held the whole time, 1 when it
could not be taken (said on stderr), 2 on bad arguments.
"""
import sqlite3
import sys
import time


def main():
    if len(sys.argv) not in (3, 4):
        print("usage: holdlock.py DB SECONDS [READY_FILE]", file=sys.stderr)
        return 2
    try:
        hold = float(sys.argv[2])
    except ValueError:
        print("holdlock.py: SECONDS must be a number", file=sys.stderr)
        return 2
    c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
    deadline = time.monotonic() + 30
    while True:
        try:
            c.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e):
                print("holdlock.py: %s" % e, file=sys.stderr)
                return 1
            if time.monotonic() > deadline:
                print("holdlock.py: write lock not taken in 30 s",
                      file=sys.stderr)
                return 1
            time.sleep(0.001)
    t0 = time.monotonic()
    if len(sys.argv) == 4:
        open(sys.argv[3], "w").close()
    time.sleep(hold)
    c.execute("ROLLBACK")
    print("holdlock.py: held the write lock %.0f ms"
          % ((time.monotonic() - t0) * 1000), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
