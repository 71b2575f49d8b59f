#!/usr/bin/env python3
"""Compare agentd's store with agent-mock's ground truth.

usage: verify.py DB MOCK_URL [--completed-only] [--allow-resubmit]

DB is a SQLite file, or a PostgreSQL conninfo/URI (read with psql).

For every run with a backend id: the stored events (ordered by seq) must
equal the events the mock generated for that response, one for one, with
the same JSON content; the stored output text must equal the mock's text
for completed runs. Prints one summary line; exits 1 on any difference.
"""
import csv
import io
import json
import re
import sqlite3
import subprocess
import sys
import urllib.request


def pg_copy(conninfo):
    """A PostgreSQL store's runs and events, copied into SQLite (memory)."""
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE runs (n, id, status, backend_id, output_text, resolved_mode)")
    con.execute("CREATE TABLE events (run_n, seq, data)")
    for table, sql in (
            ("runs", "SELECT n, id, status, backend_id, output_text, resolved_mode FROM runs"),
            ("events", "SELECT run_n, seq, data FROM events")):
        out = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c",
             f"\\copy ({sql}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)"],
            check=True, capture_output=True, text=True).stdout
        rows = list(csv.reader(io.StringIO(out)))
        # FORCE_QUOTE makes '' an empty string; NULL is unquoted and empty.
        marks = ",".join("?" * (3 if table == "events" else 6))
        for r in rows:
            vals = [None if v == "" else v for v in r]
            if table == "events":
                vals[0], vals[1] = int(vals[0]), int(vals[1])
            else:
                vals[0] = int(vals[0])
            con.execute(f"INSERT INTO {table} VALUES ({marks})", vals)
    return con


def is_pg(db):
    return db.startswith(("postgresql://", "postgres://")) or re.match(r"\s*[a-z_]+\s*=", db)


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def has_results(con):
    return con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'run_results'").fetchone()[0] > 0


def main():
    db, base = sys.argv[1], sys.argv[2]
    completed_only = "--completed-only" in sys.argv
    con = pg_copy(db) if is_pg(db) else sqlite3.connect(db, timeout=10)
    # SQLite keeps a run's text in run_results (schema/005_results.sql).
    rows = con.execute(
        "SELECT r.n, r.id, r.status, r.backend_id, x.output_text, r.resolved_mode "
        "FROM runs r LEFT JOIN run_results x ON x.n = r.n" if has_results(con) else
        "SELECT n, id, status, backend_id, output_text, resolved_mode FROM runs").fetchall()
    truth_runs = {r["id"]: r for r in get(base + "/mock/runs")["runs"]}
    runs = events = losses = dups = mismatches = 0
    problems = []
    for n, rid, status, bid, text, mode in rows:
        if completed_only and status != "completed":
            continue
        if bid is None:
            if status == "completed":
                problems.append(f"{rid}: completed without a backend id")
            continue
        runs += 1
        truth = get(f"{base}/mock/runs/{bid}/events")["events"]
        stored = con.execute(
            "SELECT seq, data FROM events WHERE run_n = ? ORDER BY seq",
            (n,)).fetchall()
        seqs = [s for s, _ in stored]
        if len(seqs) != len(set(seqs)):
            dups += len(seqs) - len(set(seqs))
        # A polled run stores the final object, not every event: what it
        # stored must be true, but it cannot have them all.
        if status == "completed" and mode not in ("poll", "batch"):
            want = {e["sequence_number"]: e for e in truth}
            have = {s: json.loads(d) for s, d in stored}
            missing = [s for s in want if s not in have]
            extra = [s for s in have if s not in want]
            losses += len(missing)
            dups += len(extra)
            for s in have:
                if s in want and have[s] != want[s]:
                    mismatches += 1
            if missing or extra:
                problems.append(f"{rid}: missing {missing[:5]} extra {extra[:5]}")
            t = truth_runs.get(bid, {}).get("text")
            if t is not None and text != t:
                mismatches += 1
                problems.append(f"{rid}: output text differs")
        elif status == "completed":
            t = truth_runs.get(bid, {}).get("text")
            if t is not None and text != t:
                mismatches += 1
                problems.append(f"{rid}: output text differs")
            want = {e["sequence_number"]: e for e in truth}
            for s, d in stored:
                if s not in want or json.loads(d) != want[s]:
                    mismatches += 1
        else:
            # Unfinished or failed: what is stored must be a prefix-free
            # subset of the truth with identical content.
            want = {e["sequence_number"]: e for e in truth}
            for s, d in stored:
                if s not in want or json.loads(d) != want[s]:
                    mismatches += 1
        events += len(stored)
    print(f"verify: runs {runs}, events checked {events}, losses {losses}, "
          f"duplicates {dups}, mismatches {mismatches}")
    for p in problems[:10]:
        print("  " + p)
    sys.exit(1 if (losses or dups or mismatches or problems) else 0)


main()
