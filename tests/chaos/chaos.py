#!/usr/bin/env python3
"""Chaos driver for agentd (run through tests/chaos/chaos.sh).

Starts agent-mock with random faults (dropped connections cut mid-event,
stalled streams, 429s and 500s on creates and retrieves, events written in
small pieces) and agentd, in a temporary directory. A submitter thread
keeps RUNS runs in flight (EVENTS events each, 5-20 ms apart), submitting
through the API with an idempotency key per run and retrying the same key
until it is acknowledged, so it also submits across agentd's deaths. For
ROUNDS rounds the driver waits 0.2-2 s and SIGKILLs agentd (the
supervisor), one random worker, or both, and restarts agentd when it
killed it (a killed worker is restarted by agentd itself). Then it stops
submitting, waits until every run is terminal, stops agentd with SIGTERM
and verifies the store against the mock's ground truth with
verify_chaos.py. Prints one summary line; exits 0 only if nothing was lost
or duplicated and every run completed.

Environment: BIN (programs, default bin/), ROUNDS (20; 0 runs one batch
without kills), RUNS (200), EVENTS (200), WORKERS (2), SEED (random;
printed), STALE_AFTER (agentd --stale-after, 60), FINAL_TIMEOUT (seconds
to wait for the last runs, default 300), KEEP=1 (keep the directory),
MOCK_FLAGS (replace the default faults), AGENTD_FLAGS (extra flags),
WAIT (seconds between kills, a range, default 0.2-2).

STORE=postgres HOSTS=N (defaults STORE=sqlite, HOSTS=1): the store is a
throwaway PostgreSQL server (tests/pg/pg.sh, in the run's directory) shared
by N agentd hosts h0..hN-1, each with its own --socket and LEASE_TTL
(--lease-ttl, default 4 s, so that takeovers happen within the test).
Runs are submitted through any live host (another one when it does not
answer). Each round, after the WAIT, one live host, at random, is killed
whole (SIGKILL of its workers, then of its supervisor), loses one worker
(SIGKILL), or is stopped (SIGSTOP of the supervisor and its workers) for
LEASE_TTL + 2-6 s, past its lease (the others reap it and take its runs
over when one of them looks in time), then continued (SIGCONT). A killed
host is restarted with the same host id (the restart-after-kill-9 path)
after RESTART_WAIT seconds (a range, default 0.2-8: about half the
restarts come after the lease ran out, when the others may have reaped
it first). After the last round the stopped hosts are continued and the
dead ones restarted when due, then the driver waits for the last runs; every host must then stop cleanly on SIGTERM and leave
no row in the hosts table. On a failure (or with KEEP=1) the store is
dumped to store.sql (pg_dump) in the kept directory. KINDS=host,stop,...
(comma-separated) takes the kinds of round in turn instead of at random.
"""
import http.client
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


BIN = os.path.abspath(os.environ.get("BIN") or os.path.join(TOP, "bin"))
ROUNDS = env_int("ROUNDS", 20)
RUNS = env_int("RUNS", 200)
EVENTS = env_int("EVENTS", 200)
WORKERS = env_int("WORKERS", 2)
SEED = env_int("SEED", random.SystemRandom().randrange(1, 2**31))
FINAL_TIMEOUT = env_int("FINAL_TIMEOUT", 300)
KEEP = os.environ.get("KEEP", "") not in ("", "0")
STALE_AFTER = env_int("STALE_AFTER", 60)
WAIT = [float(x) for x in os.environ.get("WAIT", "0.2-2").split("-")]
MOCK_FLAGS = os.environ.get("MOCK_FLAGS") or (
    "--chaos-drop 0.002 --chaos-stall 0.0005 --chaos-429 0.02 "
    "--chaos-500 0.02 --chaos-split")
AGENTD_FLAGS = os.environ.get("AGENTD_FLAGS", "")
STORE = os.environ.get("STORE", "").strip() or "sqlite"
if STORE in ("pg", "postgresql"):
    STORE = "postgres"
HOSTS = env_int("HOSTS", 1)
LEASE_TTL = env_int("LEASE_TTL", 4)
START_LIMIT = env_int("START_LIMIT", 30)
RESTART_WAIT = [float(x) for x in
                os.environ.get("RESTART_WAIT", "0.2-8").split("-")]
PG = STORE == "postgres"
KINDS = [k for k in os.environ.get("KINDS", "").split(",") if k.strip()]
if any(k not in ("host", "worker", "stop") for k in KINDS) or (
        KINDS and not PG):
    raise SystemExit("chaos: KINDS: host, worker or stop, comma-separated "
                     "(STORE=postgres)")
if STORE not in ("sqlite", "postgres"):
    raise SystemExit(f"chaos: STORE={STORE}: sqlite or postgres")
if HOSTS < 1 or (not PG and HOSTS != 1):
    raise SystemExit(f"chaos: HOSTS={HOSTS}: one host on SQLite, one or "
                     f"more on PostgreSQL")
# What reading the store may raise, SQLite or psql.
DB_ERRORS = (sqlite3.Error, subprocess.SubprocessError, OSError, ValueError)

rng = random.Random(SEED)             # kills, waits
sub_rng = random.Random(SEED + 1)     # run intervals (submitter thread)
host_rng = random.Random(SEED + 2)    # host a submission goes to (PG)


def log(msg):
    print(f"chaos: {msg}", flush=True)


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over agentd's Unix socket."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


class Host:
    """One agentd host of a shared (PostgreSQL) store."""

    def __init__(self, c, i):
        self.name = f"h{i}"
        self.sock = os.path.join(c.dir, f"{self.name}.sock")
        self.logname = f"{self.name}.log"
        self.log = open(os.path.join(c.dir, self.logname), "ab")
        self.proc = None
        self.state = "down"     # up, dead (killed), stopped (SIGSTOP)
        self.due = 0.0          # monotonic time of its restart or SIGCONT
        self.stopped = []       # the pids it SIGSTOPped
        self.start_t0 = 0.0     # when it was (re)started
        self.attempts = 0       # starts since then (one exits: again)
        self.why = ""           # the last line of its log at an exit


class Chaos:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="agentd-chaos-",
                                    dir=os.environ.get("TMPDIR", "/tmp"))
        self.sock = os.path.join(self.dir, "agentd.sock")
        self.db = os.path.join(self.dir, "agentd.db")
        self.mock = None
        self.agentd = None
        self.mock_url = None
        self.lock = threading.Lock()
        self.keys = []          # acknowledged idempotency keys
        self.next_key = 0
        self.submit_stop = threading.Event()
        self.submit_errors = 0
        self.kills = {"agentd": 0, "worker": 0}
        self.restart_waits = []
        self.slow_starts = 0
        self.problems = []
        self.mock_log = open(os.path.join(self.dir, "mock.log"), "ab")
        self.hosts = []
        self.pgdir = None
        if PG:
            self.kills = {"host": 0, "worker": 0, "stop": 0}
            self.agentd_log = None
            self.hosts = [Host(self, i) for i in range(HOSTS)]
        else:
            self.agentd_log = open(os.path.join(self.dir, "agentd.log"),
                                   "ab")

    # -- processes ---------------------------------------------------
    def start_mock(self):
        port_file = os.path.join(self.dir, "mock.port")
        argv = [os.path.join(BIN, "agent-mock"), "--port-file", port_file,
                "--seed", str(SEED)] + MOCK_FLAGS.split()
        self.mock = subprocess.Popen(argv, stdout=self.mock_log,
                                     stderr=self.mock_log)
        for _ in range(100):
            if os.path.exists(port_file) and os.path.getsize(port_file):
                break
            time.sleep(0.05)
        else:
            raise SystemExit("chaos: agent-mock did not start")
        port = open(port_file).read().strip()
        self.mock_url = f"http://127.0.0.1:{port}"

    def start_pg(self):
        """A throwaway PostgreSQL server in DIR/pg; self.db its conninfo."""
        self.pgdir = os.path.join(self.dir, "pg")
        with open(os.path.join(self.dir, "pg_start.log"), "ab") as err:
            r = subprocess.run(["sh", os.path.join(TOP, "tests", "pg",
                                                   "pg.sh"),
                                "start", self.pgdir],
                               stdout=subprocess.PIPE, stderr=err)
        if r.returncode == 77:
            raise SystemExit("chaos: no PostgreSQL server binaries "
                             "(apt-get install -y postgresql)")
        env = dict(re.findall(r"^export (\w+)='([^']*)'$",
                              r.stdout.decode(), re.M))
        if r.returncode != 0 or not env.get("PG_CONNINFO"):
            raise SystemExit(f"chaos: pg.sh start failed ({r.returncode}); "
                             f"see {self.dir}/pg_start.log")
        self.db = env["PG_CONNINFO"]

    def stop_pg(self, dump):
        if self.pgdir is None:
            return
        if dump:
            subprocess.call(["pg_dump", "-d", self.db, "-f",
                             os.path.join(self.dir, "store.sql")],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, timeout=120)
        with open(os.path.join(self.dir, "pg_start.log"), "ab") as err:
            subprocess.call(["sh", os.path.join(TOP, "tests", "pg",
                                                "pg.sh"),
                             "stop", self.pgdir], stdout=err, stderr=err)
        self.pgdir = None

    def psql(self, sql, timeout=30):
        r = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-v",
                            "ON_ERROR_STOP=1", "-d", self.db, "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, check=True)
        return r.stdout.decode().strip()

    def api(self, method, path, body=None, timeout=10, sock=None):
        c = UnixHTTPConnection(sock or self.sock, timeout=timeout)
        try:
            c.request(method, path, body=body,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def health(self, sock=None):
        st, body = self.api("GET", "/v1/health", timeout=5, sock=sock)
        if st != 200:
            raise OSError(f"health {st}")
        return json.loads(body)

    def start_agentd(self):
        argv = [os.path.join(BIN, "agentd"), "--db", self.db, "--socket",
                self.sock, "--endpoint", self.mock_url + "/v1",
                "--workers", str(WORKERS), "--idle-timeout", "2",
                "--stale-after", str(STALE_AFTER), "--retry-max", "4",
                "--poll-interval", "1", "--poll-max", "2"]
        argv += AGENTD_FLAGS.split()
        t0 = time.monotonic()
        for attempt in range(100):
            self.agentd = subprocess.Popen(argv, stdout=self.agentd_log,
                                           stderr=self.agentd_log)
            while time.monotonic() - t0 < 30:
                if self.agentd.poll() is not None:
                    break
                try:
                    self.health()
                    self.restart_waits.append(time.monotonic() - t0)
                    return
                except (OSError, http.client.HTTPException, ValueError):
                    time.sleep(0.02)
            rc = self.agentd.poll()
            if rc is None:
                raise SystemExit("chaos: agentd did not answer in 30 s")
            # The store lock may still be held for an instant; retry.
            if attempt == 0 or attempt % 10 == 9:
                log(f"agentd exited {rc} at start; retrying")
            time.sleep(0.1)
        raise SystemExit("chaos: agentd would not start")

    # Hosts start without blocking the driver: a host waiting for the
    # database (a lock held by a stopped host) must not keep the stopped
    # one from being continued on time.
    def start_host(self, h):
        """Start (or restart) host h; tend_hosts sees it come up."""
        if h.state not in ("starting", "retry"):
            h.start_t0 = time.monotonic()
            h.attempts = 0
            h.why = ""
        argv = [os.path.join(BIN, "agentd"), "--db", self.db,
                "--socket", h.sock, "--host-id", h.name,
                "--lease-ttl", str(LEASE_TTL),
                "--endpoint", self.mock_url + "/v1",
                "--workers", str(WORKERS), "--idle-timeout", "2",
                "--stale-after", str(STALE_AFTER), "--retry-max", "4",
                "--poll-interval", "1", "--poll-max", "2"]
        argv += AGENTD_FLAGS.split()
        h.proc = subprocess.Popen(argv, stdout=h.log, stderr=h.log)
        h.attempts += 1
        h.state = "starting"

    def check_start(self, h):
        """A starting host: up once its API answers; started again when
        it exited; the run ends when it is not up within START_LIMIT."""
        took = time.monotonic() - h.start_t0
        rc = h.proc.poll()
        if rc is None:
            try:
                self.health_quick(h.sock)
            except (OSError, http.client.HTTPException, ValueError):
                if took < START_LIMIT:
                    return
                why = self.last_line(h.logname)
                subprocess.call(["pkill", "-9", "-P", str(h.proc.pid)])
                h.proc.kill()
                h.proc.wait()
                h.state = "dead"
                raise SystemExit(f"chaos: host {h.name} not up in "
                                 f"{took:.0f}s ({h.attempts} starts; its "
                                 f"log: {why})")
            h.state = "up"
            self.restart_waits.append(took)
            if took > 5:
                self.slow_starts += 1
                log(f"host {h.name} took {took:.1f}s to start ({h.attempts}"
                    f" starts{'; an exit: ' + h.why if h.why else ''})")
            return
        h.why = self.last_line(h.logname)
        if took >= START_LIMIT:
            h.state = "dead"
            raise SystemExit(f"chaos: host {h.name} would not start in "
                             f"{took:.0f}s ({h.attempts} starts; exited "
                             f"{rc}: {h.why})")
        if h.attempts == 1 or h.attempts % 10 == 0:
            log(f"host {h.name} exited {rc} at start ({h.why}); retrying")
        h.state = "retry"
        h.due = time.monotonic() + 0.1

    def health_quick(self, sock):
        st, body = self.api("GET", "/v1/health", timeout=1, sock=sock)
        if st != 200:
            raise OSError(f"health {st}")
        return json.loads(body)

    def last_line(self, name):
        try:
            with open(os.path.join(self.dir, name), "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return lines[-1].strip()[:300] if lines else "empty"
        except OSError as e:
            return str(e)

    def kill_agentd(self):
        self.agentd.send_signal(signal.SIGKILL)
        self.agentd.wait()
        self.kills["agentd"] += 1

    def kill_worker(self, sock=None):
        try:
            workers = [w for w in self.health(sock)["workers"]
                       if w.get("alive") and w.get("pid")]
        except (OSError, http.client.HTTPException, ValueError):
            return False
        if not workers:
            return False
        pid = rng.choice(workers)["pid"]
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        self.kills["worker"] += 1
        return True

    # -- hosts (PostgreSQL) ------------------------------------------
    def children(self, pid):
        r = subprocess.run(["pgrep", "-P", str(pid)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return [int(x) for x in r.stdout.split()]

    def kill_host(self, h):
        """SIGKILL a host whole: its workers, then its supervisor."""
        subprocess.call(["pkill", "-9", "-P", str(h.proc.pid)])
        h.proc.send_signal(signal.SIGKILL)
        h.proc.wait()
        h.state = "dead"
        h.due = time.monotonic() + rng.uniform(RESTART_WAIT[0],
                                               RESTART_WAIT[-1])
        self.kills["host"] += 1

    def stop_host(self, h):
        """SIGSTOP a host (supervisor first) past its lease TTL."""
        h.stopped = [h.proc.pid]
        os.kill(h.proc.pid, signal.SIGSTOP)
        for pid in self.children(h.proc.pid):
            try:
                os.kill(pid, signal.SIGSTOP)
                h.stopped.append(pid)
            except ProcessLookupError:
                pass
        h.state = "stopped"
        h.due = time.monotonic() + rng.uniform(LEASE_TTL + 2, LEASE_TTL + 6)
        self.kills["stop"] += 1

    def cont_host(self, h):
        for pid in h.stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        h.stopped = []
        h.state = "up"

    def tend_hosts(self):
        """Restart the dead hosts and continue the stopped ones when due;
        see the starting ones come up."""
        for h in self.hosts:
            if h.state == "up" and h.proc.poll() is not None:
                self.problems.append(f"host {h.name} exited by itself "
                                     f"({h.proc.returncode})")
                log(self.problems[-1] + "; restarting it")
                self.start_host(h)
            elif h.state == "stopped" and time.monotonic() >= h.due:
                self.cont_host(h)
            elif h.state == "dead" and time.monotonic() >= h.due:
                self.start_host(h)
            elif h.state == "retry" and time.monotonic() >= h.due:
                self.start_host(h)
            elif h.state == "starting":
                self.check_start(h)

    def pause(self, seconds):
        """Sleep, tending the hosts meanwhile."""
        end = time.monotonic() + seconds
        while True:
            self.tend_hosts()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.05))

    def live_hosts(self):
        return [h for h in self.hosts if h.state == "up"]

    # -- submissions -------------------------------------------------
    def in_flight(self):
        if PG:
            return int(self.psql(
                "SELECT count(*) FROM runs WHERE status IN "
                "('pending','starting','running')"))
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True,
                              timeout=10)
        try:
            return con.execute(
                "SELECT count(*) FROM runs WHERE status IN "
                "('pending','starting','running')").fetchone()[0]
        finally:
            con.close()

    def submit_one(self, key):
        interval = sub_rng.randint(5, 20)
        body = json.dumps({
            "request": {
                "model": "mock", "input": f"chaos {key}",
                "metadata": {"mock_events": str(EVENTS),
                             "mock_interval_ms": str(interval)}},
            "idempotency_key": key})
        # Same key until acknowledged, even across agentd's deaths (on
        # PostgreSQL through any live host, another one at each retry).
        while True:
            sock = None
            if PG:
                live = self.live_hosts()
                if not live:
                    time.sleep(0.05)
                    continue
                sock = host_rng.choice(live).sock
            try:
                st, _ = self.api("POST", "/v1/runs", body, sock=sock)
                if st in (200, 201):
                    with self.lock:
                        self.keys.append(key)
                    return
                self.submit_errors += 1
            except (OSError, http.client.HTTPException):
                self.submit_errors += 1
            time.sleep(0.05)

    def submitter(self):
        while not self.submit_stop.is_set():
            try:
                want = RUNS - self.in_flight()
            except DB_ERRORS:
                want = 0
            for _ in range(max(0, want)):
                if self.submit_stop.is_set():
                    break
                key = f"chaos-{self.next_key}"
                self.next_key += 1
                self.submit_one(key)
            self.submit_stop.wait(0.2)

    # -- the run -----------------------------------------------------
    def wait_terminal(self, timeout):
        t0 = time.monotonic()
        last = None
        while time.monotonic() - t0 < timeout:
            try:
                n = self.in_flight()
            except DB_ERRORS:
                n = -1
            if n == 0:
                return True
            if n != last and (last is None or n // 50 != last // 50):
                log(f"waiting for {n} runs to finish")
            last = n
            if self.mock.poll() is not None:
                self.problems.append(f"agent-mock died "
                                     f"({self.mock.returncode})")
                log(self.problems[-1])
                return False
            if not PG and self.agentd.poll() is not None:
                self.problems.append(
                    f"agentd exited by itself ({self.agentd.returncode}) "
                    f"while runs were finishing")
                log(self.problems[-1] + "; restarting it")
                self.start_agentd()
            if PG:
                self.pause(0.5)
            else:
                time.sleep(0.5)
        return False

    def scan_log(self, name):
        """Crashes and sanitizer reports in a log."""
        with open(os.path.join(self.dir, name), "rb") as f:
            text = f.read().decode("utf-8", "replace")
        bad = []
        for line in text.splitlines():
            if ("killed by signal" in line and
                    "killed by signal 9" not in line):
                bad.append(line)
            elif ("Sanitizer" in line or "runtime error:" in line or
                  " fatal: " in line or "exited with status" in line and
                  "exited with status 0" not in line):
                bad.append(line)
        return [f"{name}: {b}" for b in bad]

    def rounds_sqlite(self):
        for rnd in range(1, ROUNDS + 1):
            time.sleep(rng.uniform(WAIT[0], WAIT[-1]))
            if self.mock.poll() is not None:
                self.problems.append(f"agent-mock died in round {rnd} "
                                     f"({self.mock.returncode})")
                break
            what = rng.choice(["agentd", "worker", "both"])
            if what in ("worker", "both"):
                self.kill_worker()
                if what == "both":
                    time.sleep(rng.uniform(0, 0.05))
            if what in ("agentd", "both"):
                self.kill_agentd()
                self.start_agentd()
            if rnd % 10 == 0 or rnd == ROUNDS:
                log(f"round {rnd}: kills agentd {self.kills['agentd']}, "
                    f"worker {self.kills['worker']}, runs submitted "
                    f"{len(self.keys)}")

    def rounds_pg(self):
        for rnd in range(1, ROUNDS + 1):
            self.pause(rng.uniform(WAIT[0], WAIT[-1]))
            if self.mock.poll() is not None:
                self.problems.append(f"agent-mock died in round {rnd} "
                                     f"({self.mock.returncode})")
                break
            while not self.live_hosts():
                self.pause(0.05)
            if KINDS:
                what = KINDS[(rnd - 1) % len(KINDS)]
            else:
                what = rng.choice(["host", "worker", "stop"])
            h = rng.choice(self.live_hosts())
            if what == "host":
                self.kill_host(h)
            elif what == "worker":
                # A host just continued or restarted may have no worker
                # up yet: then one of another live host.
                others = [o for o in self.live_hosts() if o is not h]
                rng.shuffle(others)
                for o in [h] + others:
                    if self.kill_worker(o.sock):
                        h = o
                        break
                else:
                    what = "worker (none alive on a live host to kill)"
            else:
                self.stop_host(h)
            if what == "host":
                note = f" (restart in {h.due - time.monotonic():.1f}s)"
            elif what == "stop":
                note = f" (continued in {h.due - time.monotonic():.1f}s)"
            else:
                note = ""
            log(f"round {rnd}: {what} {h.name}{note}" if what in (
                "host", "worker", "stop") else f"round {rnd}: {what}")
            if rnd % 10 == 0 or rnd == ROUNDS:
                log(f"round {rnd}: kills host {self.kills['host']}, "
                    f"worker {self.kills['worker']}, stop "
                    f"{self.kills['stop']}, runs submitted "
                    f"{len(self.keys)}")

    def stop_agentd(self, p, name):
        """SIGTERM, a clean exit within 30 s."""
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(30)
            if rc != 0:
                self.problems.append(f"{name} exited {rc} on SIGTERM")
        except subprocess.TimeoutExpired:
            self.problems.append(f"{name} did not stop within 30 s of "
                                 "SIGTERM")
            p.kill()
            p.wait()

    def workers_alive(self, sock=None):
        # Killed workers come back by themselves (restart backoff).
        for _ in range(100):
            try:
                ws = self.health(sock)["workers"]
            except (OSError, http.client.HTTPException, ValueError):
                ws = []
            if len(ws) == WORKERS and all(w.get("alive") for w in ws):
                return True
            time.sleep(0.1)
        self.problems.append(f"workers not all alive at the end"
                             f"{' on ' + sock if sock else ''}: {ws}")
        return False

    def run(self):
        t_start = time.monotonic()
        log(f"seed {SEED}, {ROUNDS} rounds, {RUNS} runs in flight x "
            f"{EVENTS} events, {WORKERS} workers, dir {self.dir}")
        if PG:
            log(f"store PostgreSQL, {HOSTS} hosts, lease TTL {LEASE_TTL}s")
        log(f"agent-mock {MOCK_FLAGS}")
        self.start_mock()
        if PG:
            self.start_pg()
            for h in self.hosts:
                self.start_host(h)
            while any(h.state != "up" for h in self.hosts):
                self.pause(0.02)
        else:
            self.start_agentd()
        sub = threading.Thread(target=self.submitter, daemon=True)
        sub.start()
        while len(self.keys) < RUNS and sub.is_alive():
            time.sleep(0.05)
        if PG:
            self.rounds_pg()
        else:
            self.rounds_sqlite()
        self.submit_stop.set()
        if PG:
            # The submitter may wait for a host: keep tending them.
            while sub.is_alive() and time.monotonic() - t_start < 3600:
                self.pause(0.1)
                sub.join(0.1)
        sub.join(60)
        t_rounds = time.monotonic() - t_start
        log(f"rounds done in {t_rounds:.1f}s; {len(self.keys)} runs "
            f"submitted ({self.submit_errors} submit attempts failed "
            f"and were retried)")
        if PG:
            while any(h.state != "up" for h in self.hosts):
                self.pause(0.05)
        finished = self.wait_terminal(FINAL_TIMEOUT)
        if not finished:
            self.problems.append(f"runs still in flight after "
                                 f"{FINAL_TIMEOUT}s")
        if PG:
            for h in self.hosts:
                self.workers_alive(h.sock)
            for h in self.hosts:
                self.stop_agentd(h.proc, f"host {h.name}")
            try:
                left = self.psql("SELECT string_agg(host_id, ',') FROM hosts")
                if left:
                    self.problems.append(f"hosts left in the hosts table "
                                         f"after clean stops: {left}")
            except DB_ERRORS as e:
                self.problems.append(f"reading the hosts table: {e}")
            for h in self.hosts:
                h.log.flush()
                for line in self.scan_log(h.logname)[:10]:
                    self.problems.append(line.strip()[:300])
            self.log_hosts()
        else:
            self.workers_alive()
            self.stop_agentd(self.agentd, "agentd")
            self.agentd_log.flush()
            for line in self.scan_log("agentd.log")[:10]:
                self.problems.append(line.strip()[:300])
        try:
            stats = json.load(urllib.request.urlopen(
                self.mock_url + "/mock/stats", timeout=30))
            ch = stats.get("chaos", {})
            log(f"faults injected: {ch.get('drops')} drops, "
                f"{ch.get('stalls')} stalls, {ch.get('http429')} 429s, "
                f"{ch.get('http500')} 500s, {ch.get('split_writes')} split "
                f"writes; {stats.get('resumes')} resumes, "
                f"{stats.get('polls')} polls, {stats.get('creates')} "
                f"creates")
        except OSError as e:
            self.problems.append(f"mock stats: {e}")
        keys_file = os.path.join(self.dir, "keys")
        with open(keys_file, "w") as f:
            f.write("\n".join(self.keys) + "\n")
        res_file = os.path.join(self.dir, "verify.json")
        vrc = subprocess.call([sys.executable,
                               os.path.join(HERE, "verify_chaos.py"),
                               self.db, self.mock_url, "--require-completed",
                               "--keys", keys_file, "--json", res_file])
        try:
            res = json.load(open(res_file))
        except (OSError, ValueError):
            res = {}
            self.problems.append("verify_chaos.py gave no result")
        if vrc != 0 and not res.get("problems"):
            self.problems.append(f"verify_chaos.py exited {vrc}")
        if self.mock.poll() is None:
            self.mock.send_signal(signal.SIGTERM)
        try:
            if self.mock.wait(30) != 0:
                self.problems.append(f"agent-mock exited "
                                     f"{self.mock.returncode}")
        except subprocess.TimeoutExpired:
            self.problems.append("agent-mock did not stop on SIGTERM")
        self.mock_log.flush()
        for line in self.scan_log("mock.log")[:10]:
            self.problems.append(line.strip()[:300])
        losses = res.get("losses", -1)
        dups = res.get("duplicates", -1)
        ok = (not self.problems and vrc == 0 and losses == 0 and
              dups == 0 and res.get("not_completed", 1) == 0)
        if res.get("statuses"):
            log("runs by status: " + ", ".join(
                f"{k} {v}" for k, v in sorted(res["statuses"].items())))
        if self.restart_waits:
            w = sorted(self.restart_waits)
            log(f"{'host' if PG else 'agentd'} start to ready: median "
                f"{w[len(w) // 2]:.2f}s, max {w[-1]:.2f}s" +
                (f", {self.slow_starts} over 5 s" if PG else ""))
        for p in self.problems:
            log("PROBLEM: " + p)
        kills = sum(self.kills.values())
        if PG:
            kinds = (f"host {self.kills['host']}, worker "
                     f"{self.kills['worker']}, stop {self.kills['stop']}")
        else:
            kinds = (f"agentd {self.kills['agentd']}, worker "
                     f"{self.kills['worker']}")
        print(f"chaos: rounds {ROUNDS}, kills {kills} ({kinds}), "
              f"runs {res.get('runs', 0)}, events checked "
              f"{res.get('events', 0)}, losses {losses}, duplicates "
              f"{dups}, resubmitted {res.get('resubmitted', 0)}")
        log(f"{'ok' if ok else 'FAILED'} in "
            f"{time.monotonic() - t_start:.1f}s (seed {SEED})")
        return ok

    def log_hosts(self):
        """What the hosts' logs say about leases, in one line."""
        n = {"reaped": 0, "lost": 0, "unrenewed": 0, "released": 0,
             "joins": 0}
        for h in self.hosts:
            with open(os.path.join(self.dir, h.logname), "rb") as f:
                text = f.read().decode("utf-8", "replace")
            n["reaped"] += text.count("missed its lease")
            n["lost"] += text.count("lease was lost")
            n["unrenewed"] += text.count("could not be renewed in time")
            n["released"] += text.count("released from a dead host")
            n["joins"] += text.count("joined as host")
        log(f"hosts: {n['joins']} joins, {n['reaped']} reaped by another "
            f"host ({n['released']} runs released), leases lost "
            f"{n['lost']}, not renewed in time {n['unrenewed']}")

    def cleanup(self, ok):
        for h in self.hosts:
            if h.state == "stopped":
                self.cont_host(h)
        for p in [h.proc for h in self.hosts] + [self.agentd, self.mock]:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    if PG and p is not self.mock:
                        subprocess.call(["pkill", "-9", "-P", str(p.pid)])
                    p.kill()
                    p.wait()
        self.stop_pg(dump=not ok or KEEP)
        self.mock_log.close()
        if self.agentd_log is not None:
            self.agentd_log.close()
        for h in self.hosts:
            h.log.close()
        if ok and not KEEP:
            subprocess.call(["rm", "-rf", self.dir])
        else:
            log(f"logs and store kept in {self.dir}")


def main():
    c = Chaos()
    ok = False
    try:
        ok = c.run()
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        c.cleanup(ok)
    sys.exit(0 if ok else 1)


main()
