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
"""
import http.client
import json
import os
import random
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

rng = random.Random(SEED)             # kills, waits
sub_rng = random.Random(SEED + 1)     # run intervals (submitter thread)


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
        self.problems = []
        self.mock_log = open(os.path.join(self.dir, "mock.log"), "ab")
        self.agentd_log = open(os.path.join(self.dir, "agentd.log"), "ab")

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

    def api(self, method, path, body=None, timeout=10):
        c = UnixHTTPConnection(self.sock, timeout=timeout)
        try:
            c.request(method, path, body=body,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def health(self):
        st, body = self.api("GET", "/v1/health", timeout=5)
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

    def kill_agentd(self):
        self.agentd.send_signal(signal.SIGKILL)
        self.agentd.wait()
        self.kills["agentd"] += 1

    def kill_worker(self):
        try:
            workers = [w for w in self.health()["workers"]
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

    # -- submissions -------------------------------------------------
    def in_flight(self):
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
        # Same key until acknowledged, even across agentd's deaths.
        while True:
            try:
                st, _ = self.api("POST", "/v1/runs", body)
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
            except sqlite3.Error:
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
            except sqlite3.Error:
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
            if self.agentd.poll() is not None:
                self.problems.append(
                    f"agentd exited by itself ({self.agentd.returncode}) "
                    f"while runs were finishing")
                log(self.problems[-1] + "; restarting it")
                self.start_agentd()
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

    def run(self):
        t_start = time.monotonic()
        log(f"seed {SEED}, {ROUNDS} rounds, {RUNS} runs in flight x "
            f"{EVENTS} events, {WORKERS} workers, dir {self.dir}")
        log(f"agent-mock {MOCK_FLAGS}")
        self.start_mock()
        self.start_agentd()
        sub = threading.Thread(target=self.submitter, daemon=True)
        sub.start()
        while len(self.keys) < RUNS and sub.is_alive():
            time.sleep(0.05)
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
        self.submit_stop.set()
        sub.join(60)
        t_rounds = time.monotonic() - t_start
        log(f"rounds done in {t_rounds:.1f}s; {len(self.keys)} runs "
            f"submitted ({self.submit_errors} submit attempts failed "
            f"and were retried)")
        finished = self.wait_terminal(FINAL_TIMEOUT)
        if not finished:
            self.problems.append(f"runs still in flight after "
                                 f"{FINAL_TIMEOUT}s")
        # Killed workers come back by themselves (restart backoff).
        for _ in range(100):
            try:
                ws = self.health()["workers"]
            except (OSError, http.client.HTTPException, ValueError):
                ws = []
            if len(ws) == WORKERS and all(w.get("alive") for w in ws):
                break
            time.sleep(0.1)
        else:
            self.problems.append(f"workers not all alive at the end: {ws}")
        self.agentd.send_signal(signal.SIGTERM)
        try:
            rc = self.agentd.wait(30)
            if rc != 0:
                self.problems.append(f"agentd exited {rc} on SIGTERM")
        except subprocess.TimeoutExpired:
            self.problems.append("agentd did not stop within 30 s of "
                                 "SIGTERM")
            self.agentd.kill()
            self.agentd.wait()
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
            log(f"agentd start to ready: median {w[len(w) // 2]:.2f}s, "
                f"max {w[-1]:.2f}s")
        for p in self.problems:
            log("PROBLEM: " + p)
        kills = self.kills["agentd"] + self.kills["worker"]
        print(f"chaos: rounds {ROUNDS}, kills {kills} (agentd "
              f"{self.kills['agentd']}, worker {self.kills['worker']}), "
              f"runs {res.get('runs', 0)}, events checked "
              f"{res.get('events', 0)}, losses {losses}, duplicates "
              f"{dups}, resubmitted {res.get('resubmitted', 0)}")
        log(f"{'ok' if ok else 'FAILED'} in "
            f"{time.monotonic() - t_start:.1f}s (seed {SEED})")
        return ok

    def cleanup(self, ok):
        for p in (self.agentd, self.mock):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.mock_log.close()
        self.agentd_log.close()
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
