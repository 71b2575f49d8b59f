#!/usr/bin/env python3
"""Summarise `perf script -F comm,pid,ip,sym` output of agentd (profile.sh).

Prints the share of samples per process and, for a fixed list of agentd,
SQLite, jansson, curl and libc functions, the share of samples whose call
chain contains the function (inclusive time), grouped as the hot-spot
categories of the benchmark report. Call chains come from DWARF unwinding;
chains cut short by the unwinder count only under their innermost frames.

    perf script -i FILE -F comm,pid,ip,sym | python3 perf-summary.py SUP_PID
"""
import collections
import sys

GROUPS = [
    ("event JSON decode (jscan; jansson for terminal events)",
     ["backend_event_parse", "json_loadb"]),
    ("SSE parsing (sse.c, excl. handlers)", ["sse_parser_feed"]),
    ("event handling (run_sse_event)", ["run_sse_event"]),
    ("store flush (worker_flush)", ["worker_flush"]),
    ("  event INSERT + cursor UPDATE", ["store_events_append"]),
    ("  final run state", ["run_write_final"]),
    ("  sqlite3_exec (BEGIN/COMMIT/SAVEPOINT parsed each time)",
     ["sqlite3_exec"]),
    ("  sqlite3_prepare_v2 (statements prepared per call)",
     ["sqlite3_prepare_v2"]),
    ("  commit: WAL frames written", ["sqlite3WalFrames"]),
    ("  pwrite(2)", ["__libc_pwrite64", "__libc_pwrite"]),
    ("run patches (store_run_patch)", ["store_run_patch"]),
    ("curl (curl_multi_socket_action)", ["curl_multi_socket_action"]),
    ("  curl write callback (agentd)", ["xfer_write_cb"]),
    ("transfer start (xfer_start)", ["xfer_start"]),
    ("supervisor frames in (worker_read_cb)", ["worker_read_cb"]),
    ("frames out (worker_send)", ["worker_send"]),
    ("supervisor: submit (store_run_insert_txn)", ["store_run_insert_txn"]),
    ("supervisor: leases (store_assign)", ["store_assign"]),
    ("supervisor: API routes (api_route)", ["api_route"]),
    ("malloc/free", ["malloc", "__GI___libc_malloc", "__GI___libc_free",
                     "cfree@GLIBC_2.2.5", "_int_malloc", "_int_free"]),
    ("kernel (any [k] frame)", ["__kernel__"]),
]


def read_samples(f):
    samples, cur = [], None
    for line in f:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if not line[0].isspace():
            if cur is not None:
                samples.append(cur)
            head = line.split()
            cur = [head[1] if len(head) > 1 else "?", set()]
            continue
        parts = line.split(None, 1)
        if len(parts) < 2:
            continue
        addr, sym = parts[0], parts[1].split(" (")[0]
        cur[1].add(sym)
        if addr.startswith("ffffffff"):
            cur[1].add("__kernel__")
    if cur is not None:
        samples.append(cur)
    return samples


def main():
    sup = sys.argv[1] if len(sys.argv) > 1 else None
    samples = read_samples(sys.stdin)
    n = len(samples)
    if n == 0:
        print("no samples")
        return
    by_pid = collections.Counter(s[0] for s in samples)
    print("samples: %d" % n)
    for pid, c in by_pid.most_common():
        role = "supervisor" if pid == sup else "worker"
        print("  %-8s %-10s %5.1f%%" % (pid, role, 100.0 * c / n))
    print("inclusive share of all agentd samples:")
    for label, names in GROUPS:
        c = sum(1 for s in samples if any(x in s[1] for x in names))
        print("  %-58s %5.1f%%" % (label, 100.0 * c / n))


if __name__ == "__main__":
    main()
