#!/usr/bin/env python3
"""Compare agentd's store with agent-mock's ground truth, strictly.

usage: verify_chaos.py DB MOCK_URL [--require-completed] [--json FILE]
                       [--keys FILE] [--only ID,ID...] [--delta-text]

The ground truth of a run (GET /mock/runs/{id}/events) lists the events in
the order a stream from the start sends them, copies and mangled events
included. What agentd must have stored is derived from it with agentd's
cursor rule: an event without an integer sequence_number >= 0 is not
stored, an event whose sequence_number is not above the highest one seen
so far is dropped (a replay, or the late half of an out-of-order pair),
every other event is stored once, byte-for-byte as JSON.

Checks, each counted:
  losses       an expected event of a completed run is not stored
  duplicates   an event stored twice (same seq, or the same event under
               two seqs), or stored although not expected
  mismatches   a stored event differs from the truth; a completed run's
               output text differs from the mock's text; event_count or
               last_seq disagree with the events table
  not completed  (only with --require-completed) a run that ended in
               another status; its status and error are printed
  stray        a backend run no agentd run accounts for, or an agentd run
               whose backend id is not the run the mock has for its key
  integrity    PRAGMA integrity_check is not "ok"
  keys         (with --keys, a file of idempotency keys the driver saw
               acknowledged, one a line) a key without exactly one run

DB is a SQLite file, or a PostgreSQL conninfo/URI: then the runs and
events are copied with psql (\\copy ... TO STDOUT, CSV) into an in-memory
SQLite database and checked the same way; integrity is then that no event
belongs to no run (PRAGMA integrity_check says nothing of PostgreSQL).

A completed run's output text must equal the mock's text, or with
--delta-text (the Databricks dialect, where agentd has no final response
object) the concatenated deltas of the events it should have stored.

Counted but allowed: resubmitted, agentd runs that reached the backend more
than once (the mock's "creates" for its idempotency key > 1).

Prints one summary line and up to 20 problems; --json FILE also writes
the counts as JSON. Exits 1 on any problem.
"""
import csv
import io
import json
import re
import sqlite3
import subprocess
import sys
import urllib.request

RUN_COLS = ["n", "id", "status", "backend_id", "output_text",
            "resolved_mode", "event_count", "last_seq", "error_status",
            "error_message", "idempotency_key"]
INT_COLS = {"n", "event_count", "last_seq", "error_status", "run_n", "seq"}


def is_pg(db):
    return (db.startswith(("postgresql://", "postgres://")) or
            re.match(r"\s*[a-z_]+\s*=", db) is not None)


def pg_copy(conninfo):
    """A PostgreSQL store's runs and events, copied into SQLite (memory).

    CSV cannot tell NULL from an empty string once read by the csv module,
    so each column comes with its own IS NULL beside it."""
    con = sqlite3.connect(":memory:")
    for table, cols in (("runs", RUN_COLS),
                        ("events", ["run_n", "seq", "data"])):
        con.execute(f"CREATE TABLE {table} ({', '.join(cols)})")
        sel = ", ".join(f"{c}, ({c} IS NULL)::int" for c in cols)
        out = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo,
             "-c", f"\\copy (SELECT {sel} FROM {table}) TO STDOUT WITH "
             f"(FORMAT csv, FORCE_QUOTE *)"],
            check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=600).stdout.decode("utf-8")
        marks = ",".join("?" * len(cols))
        rows = []
        for r in csv.reader(io.StringIO(out, newline="")):
            vals = []
            for i, c in enumerate(cols):
                v, null = r[2 * i], r[2 * i + 1] == "1"
                vals.append(None if null else int(v) if c in INT_COLS
                            else v)
            rows.append(vals)
        con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    con.execute("CREATE INDEX events_run ON events (run_n, seq)")
    con.execute("CREATE INDEX runs_key ON runs (idempotency_key)")
    return con


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.load(r)


def expected_events(truth):
    """Apply agentd's cursor rule to the events in stream order."""
    cursor = -1
    keep = {}
    dropped = []
    for e in truth:
        s = e.get("sequence_number")
        if not isinstance(s, int) or isinstance(s, bool) or s < 0:
            dropped.append(("no_seq", e.get("type")))
            continue
        if s <= cursor:
            if s not in keep or keep[s] != e:
                dropped.append(("behind_cursor", s))
            continue
        keep[s] = e
        cursor = s
    return keep, dropped


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    db, base = args[0], args[1].rstrip("/")
    require_completed = "--require-completed" in args
    delta_text = "--delta-text" in args
    json_out = keys_file = only = None
    if "--json" in args:
        json_out = args[args.index("--json") + 1]
    if "--keys" in args:
        keys_file = args[args.index("--keys") + 1]
    if "--only" in args:
        only = set(args[args.index("--only") + 1].split(","))

    pg = is_pg(db)
    if pg:
        con = pg_copy(db)
    else:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    problems = []
    c = {"runs": 0, "completed": 0, "events": 0, "losses": 0,
         "duplicates": 0, "mismatches": 0, "not_completed": 0, "stray": 0,
         "integrity": 0, "keys": 0, "resubmitted": 0,
         "dropped_expected": 0, "statuses": {}}

    if pg:
        orphans = con.execute(
            "SELECT count(*) FROM events WHERE run_n NOT IN "
            "(SELECT n FROM runs)").fetchone()[0]
        if orphans:
            c["integrity"] = 1
            problems.append(f"integrity: {orphans} events of no run")
    else:
        ic = con.execute("PRAGMA integrity_check").fetchall()
        if [r[0] for r in ic] != ["ok"]:
            c["integrity"] = 1
            problems.append(f"integrity_check: {ic[:5]}")

    truth_runs = {r["id"]: r for r in get(base + "/mock/runs")["runs"]}
    by_key = {r["idempotency_key"]: r for r in truth_runs.values()
              if r.get("idempotency_key") is not None}

    # SQLite keeps a run's text in run_results (schema/005_results.sql).
    results = con.execute("SELECT count(*) FROM sqlite_master WHERE "
                          "name = 'run_results'").fetchone()[0] > 0
    rows = con.execute(
        "SELECT r.n, r.id, r.status, r.backend_id, "
        + ("x.output_text" if results else "r.output_text") +
        ", r.resolved_mode, r.event_count, r.last_seq, r.error_status, "
        "r.error_message, r.idempotency_key FROM runs r "
        + ("LEFT JOIN run_results x ON x.n = r.n " if results else "") +
        "ORDER BY r.n").fetchall()
    ids = set()
    for (n, rid, status, bid, text, mode, count, last_seq, est, emsg,
         ikey) in rows:
        ids.add(rid)
        if only is not None and rid not in only:
            continue
        c["runs"] += 1
        c["statuses"][status] = c["statuses"].get(status, 0) + 1
        stored = con.execute(
            "SELECT seq, data FROM events WHERE run_n = ? ORDER BY seq",
            (n,)).fetchall()
        c["events"] += len(stored)
        seqs = [s for s, _ in stored]
        if len(seqs) != len(set(seqs)):
            c["duplicates"] += len(seqs) - len(set(seqs))
            problems.append(f"{rid}: a seq stored twice")
        if count != len(stored):
            c["mismatches"] += 1
            problems.append(f"{rid}: event_count {count}, "
                            f"{len(stored)} events stored")
        if stored and last_seq != max(seqs):
            c["mismatches"] += 1
            problems.append(f"{rid}: last_seq {last_seq}, highest stored "
                            f"seq {max(seqs)}")
        if status != "completed" and require_completed:
            c["not_completed"] += 1
            problems.append(f"{rid}: {status}: HTTP {est}: {emsg}")
        if status == "completed":
            c["completed"] += 1

        mock_run = by_key.get(rid)
        if mock_run is not None and mock_run.get("creates", 1) > 1:
            c["resubmitted"] += 1
        if bid is None:
            if status == "completed":
                c["stray"] += 1
                problems.append(f"{rid}: completed without a backend id")
            if stored:
                c["mismatches"] += 1
                problems.append(f"{rid}: events stored without a "
                                f"backend id")
            continue
        if bid not in truth_runs:
            c["stray"] += 1
            problems.append(f"{rid}: backend id {bid} unknown to the mock")
            continue
        if mock_run is not None and mock_run["id"] != bid:
            c["stray"] += 1
            problems.append(f"{rid}: backend id {bid}, but the mock's run "
                            f"for its key is {mock_run['id']}")

        truth = get(f"{base}/mock/runs/{bid}/events")["events"]
        want, dropped = expected_events(truth)
        c["dropped_expected"] += len(dropped)
        have = {}
        for s, d in stored:
            try:
                have[s] = json.loads(d)
            except ValueError:
                c["mismatches"] += 1
                problems.append(f"{rid}: seq {s} stored as invalid JSON")
        for s, e in have.items():
            if s not in want:
                c["duplicates"] += 1
                problems.append(f"{rid}: seq {s} stored but not expected")
            elif e != want[s]:
                c["mismatches"] += 1
                problems.append(f"{rid}: seq {s} differs from the truth")
        datas = [d for _, d in stored]
        if len(datas) != len(set(datas)):
            c["duplicates"] += len(datas) - len(set(datas))
            problems.append(f"{rid}: the same event stored under two seqs")
        polled = mode in ("poll", "batch")
        if status == "completed":
            if not polled:
                missing = sorted(s for s in want if s not in have)
                if missing:
                    c["losses"] += len(missing)
                    problems.append(f"{rid}: missing seqs {missing[:8]}"
                                    f"{' ...' if len(missing) > 8 else ''}")
            t = truth_runs[bid].get("text")
            if delta_text:
                t = "".join(e.get("delta", "") for _, e in sorted(
                    want.items()) if e.get("type") ==
                    "response.output_text.delta")
            if t is not None and text != t:
                c["mismatches"] += 1
                problems.append(f"{rid}: output text differs from the "
                                f"mock's ({len(text or '')} vs {len(t)} "
                                f"bytes)")

    if only is None:
        for r in truth_runs.values():
            k = r.get("idempotency_key")
            if k is None or k not in ids:
                c["stray"] += 1
                problems.append(f"mock run {r['id']} (key {k}) belongs to "
                                f"no agentd run")
    if keys_file is not None:
        keys = [k for k in open(keys_file).read().split() if k]
        counts = dict(con.execute(
            "SELECT idempotency_key, count(*) FROM runs "
            "WHERE idempotency_key IS NOT NULL GROUP BY idempotency_key"))
        for k in keys:
            if counts.get(k, 0) != 1:
                c["keys"] += 1
                problems.append(f"submitted key {k}: "
                                f"{counts.get(k, 0)} runs")

    print(f"verify: runs {c['runs']} (completed {c['completed']}), events "
          f"checked {c['events']}, losses {c['losses']}, duplicates "
          f"{c['duplicates']}, mismatches {c['mismatches']}, not completed "
          f"{c['not_completed']}, stray {c['stray']}, resubmitted "
          f"{c['resubmitted']}, integrity "
          f"{'ok' if not c['integrity'] else 'BAD'}")
    for p in problems[:20]:
        print("  " + p)
    if len(problems) > 20:
        print(f"  ... and {len(problems) - 20} more")
    c["problems"] = problems
    if json_out is not None:
        with open(json_out, "w") as f:
            json.dump(c, f)
    sys.exit(1 if problems else 0)


main()
