#!/usr/bin/env python3
"""
A fake agentd API on a Unix socket, for testing agentctl without the
daemon. Implements the /v1 endpoints agentctl uses with in-memory runs
(optionally kept in a JSON state file so a restarted fake remembers them).

How a submitted run behaves depends on its request.input text:
  contains "[fail]"     -> failed, with an error {http_status, message, body}
  contains "[pending]"  -> running, never finishes by itself (cancel it)
  contains "[stale]"    -> running and stale: resume-stale resumes it
  otherwise             -> completed; the output text is the input, sent as
                           one response.output_text.delta per word
request.metadata.fake_age_s back-dates created_at by that many seconds.
Batches (/v1/batches...) and queues (/v1/queues...) are kept as agentd
keeps them, in a simplified form: every batch line is a run as above.

usage: fake-api.py SOCKET [--state FILE] [--log FILE] [--event-delay SECS]
                   [--die-after-events N] [--chunk BYTES]
--die-after-events N: exit abruptly after sending N SSE events in total
(to test re-attaching); --chunk splits every SSE write into pieces of that
many bytes; --log appends one JSON line per request (method, path, body).
"""

import argparse
import json
import os
import re
import secrets
import socketserver
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

FINISHED = ("completed", "failed", "cancelled", "incomplete", "abandoned")
STATUSES = ("pending", "starting", "running") + FINISHED


def now_ms():
    return int(time.time() * 1000)


class State:
    """All runs and events, under one lock; saved to a file if asked."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Condition()
        self.runs = {}          # id -> run object
        self.events = {}        # id -> [event]
        self.extra = {}         # id -> {"output_text", "stale"}
        self.keys = {}          # idempotency key -> id
        self.batches = {}       # name -> {queue, max_attempts, ..., ids}
        self.queues = {}        # name -> settings
        self.started = time.time()
        if path and os.path.exists(path):
            with open(path) as f:
                d = json.load(f)
            self.runs, self.events = d["runs"], d["events"]
            self.extra, self.keys = d["extra"], d["keys"]
            self.batches = d.get("batches", {})
            self.queues = d.get("queues", {})

    def save(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"runs": self.runs, "events": self.events,
                       "extra": self.extra, "keys": self.keys,
                       "batches": self.batches, "queues": self.queues}, f)
        os.replace(tmp, self.path)

    def add_event(self, rid, etype, data):
        run = self.runs[rid]
        seq = run["last_seq"] + 1
        data = dict(data, type=etype, sequence_number=seq)
        self.events[rid].append({"seq": seq, "type": etype, "data": data})
        run["last_seq"] = seq
        run["event_count"] += 1
        run["last_event_at"] = now_ms()
        run["updated_at"] = now_ms()

    def create(self, env):
        req = env["request"]
        text = req.get("input")
        if not isinstance(text, str):
            text = json.dumps(text)
        rid = "r_" + secrets.token_hex(8)
        bid = "resp_" + secrets.token_hex(12)
        t = now_ms()
        md = req.get("metadata") if isinstance(req.get("metadata"),
                                               dict) else {}
        try:
            t -= int(md.get("fake_age_s", "0")) * 1000
        except ValueError:
            pass
        mode = env.get("mode", "auto")
        run = {
            "id": rid, "status": "running", "mode": mode,
            "resolved_mode": "background" if mode == "auto" else mode,
            "backend_id": bid, "backend_status": "in_progress",
            "endpoint": "http://127.0.0.1:9/v1",
            "queue": env.get("queue", "default"),
            "priority": env.get("priority", 0), "attempts": 1,
            "last_seq": -1, "event_count": 0, "last_event_at": None,
            "created_at": t, "updated_at": t, "finished_at": None,
            "resumable": True,
            "idempotency_key": env.get("idempotency_key"),
            "error": None,
        }
        self.runs[rid] = run
        self.events[rid] = []
        self.extra[rid] = {"output_text": "", "stale": False}
        if env.get("idempotency_key") is not None:
            self.keys[env["idempotency_key"]] = rid
        self.add_event(rid, "response.created",
                       {"response": {"id": bid, "status": "in_progress"}})
        if "[pending]" in text:
            return run
        if "[stale]" in text:
            self.extra[rid]["stale"] = True
            return run
        if "[fail]" in text:
            self.add_event(rid, "response.failed",
                           {"response": {"id": bid, "status": "failed"}})
            self.finish(rid, "failed", {
                "http_status": 500, "message": "backend exploded",
                "body": '{"error":{"message":"boom"}}'})
            return run
        for w in re.findall(r"\s*\S+", text) or [text]:
            self.add_event(rid, "response.output_text.delta",
                           {"item_id": "msg_1", "output_index": 0,
                            "content_index": 0, "delta": w})
        self.extra[rid]["output_text"] = text
        self.add_event(rid, "response.completed",
                       {"response": {"id": bid, "status": "completed"}})
        self.finish(rid, "completed", None)
        return run

    def finish(self, rid, status, error):
        run = self.runs[rid]
        run["status"] = status
        run["backend_status"] = status
        run["error"] = error
        run["finished_at"] = now_ms()
        run["updated_at"] = now_ms()
        run["resumable"] = False
        self.lock.notify_all()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-agentd/0.1"

    def log_message(self, fmt, *args):
        pass

    # -- helpers --

    def send_json(self, code, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, code, ecode, msg):
        self.send_json(code, {"error": {"code": ecode, "message": msg}})

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None, raw
        try:
            return json.loads(raw), raw
        except ValueError:
            return ValueError, raw

    def log_request_line(self, body):
        if not self.server.opts.log:
            return
        with open(self.server.opts.log, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "accept": self.headers.get("Accept"),
                                "body": None if body is ValueError
                                else body}) + "\n")

    def route(self):
        u = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(
            u.query, keep_blank_values=True).items()}
        return u.path, q

    def run_or_404(self, rid):
        run = self.server.state.runs.get(rid)
        if run is None:
            self.error(404, "not_found", "run %s not found" % rid)
        return run

    @staticmethod
    def int_param(q, key, dflt):
        try:
            return int(q[key]) if key in q else dflt
        except ValueError:
            return None

    # -- methods --

    def do_GET(self):
        self.log_request_line(None)
        path, q = self.route()
        st = self.server.state
        with st.lock:
            if path == "/v1/health":
                return self.health()
            if path == "/v1/runs":
                return self.list_runs(q)
            if path == "/v1/batches":
                return self.send_json(200, {"batches": [
                    self.batch_status(n) for n in sorted(
                        st.batches, key=lambda n: (
                            -st.batches[n]["created_at"], n))]})
            if path == "/v1/queues":
                return self.send_json(200, self.queue_list())
            m = re.fullmatch(r"/v1/batches/([^/]+)(/results)?", path)
            if m:
                name = urllib.parse.unquote(m.group(1))
                if name not in st.batches:
                    return self.error(404, "not_found", "no batch %s" % name)
                if m.group(2) is None:
                    return self.send_json(200, self.batch_status(name))
                return self.batch_results(name, q.get("errors_only") in
                                          ("true", "1"))
            m = re.fullmatch(r"/v1/runs/([^/]+)(/events|/result)?", path)
            if not m:
                return self.error(404, "not_found", "no such endpoint")
            rid = urllib.parse.unquote(m.group(1))
            run = self.run_or_404(rid)
            if run is None:
                return
            if m.group(2) is None:
                return self.send_json(200, run)
            if m.group(2) == "/result":
                return self.result(run)
            if "text/event-stream" not in (self.headers.get("Accept") or ""):
                return self.events_page(rid, q)
        return self.events_stream(rid, q)

    def do_POST(self):
        body, raw = self.read_body()
        self.log_request_line(body)
        path, _ = self.route()
        st = self.server.state
        with st.lock:
            if body is ValueError:
                return self.error(400, "bad_request", "body is not JSON")
            if path == "/v1/runs":
                return self.submit(body)
            if path == "/v1/runs/resume-stale":
                ids = [r for r, x in st.extra.items() if x.get("stale")]
                for r in ids:
                    st.extra[r]["stale"] = False
                    st.runs[r]["attempts"] += 1
                st.save()
                return self.send_json(200, {"resumed": ids})
            if path == "/v1/runs/prune":
                return self.prune(body)
            if path == "/v1/batches":
                return self.batch_submit(body)
            m = re.fullmatch(r"/v1/batches/([^/]+)/cancel", path)
            if m:
                return self.batch_cancel(urllib.parse.unquote(m.group(1)))
            m = re.fullmatch(r"/v1/queues/([^/]+)", path)
            if m:
                return self.queue_set(urllib.parse.unquote(m.group(1)),
                                      body)
            m = re.fullmatch(r"/v1/runs/([^/]+)/(resume|cancel)", path)
            if not m:
                return self.error(404, "not_found", "no such endpoint")
            run = self.run_or_404(urllib.parse.unquote(m.group(1)))
            if run is None:
                return
            if m.group(2) == "cancel":
                if run["status"] in FINISHED:
                    return self.error(409, "conflict",
                                      "run %s already finished (%s)" %
                                      (run["id"], run["status"]))
                st.finish(run["id"], "cancelled", None)
            else:
                if run["status"] in ("completed", "cancelled"):
                    return self.error(409, "conflict",
                                      "run %s is %s and cannot be resumed"
                                      % (run["id"], run["status"]))
                run["status"] = "running"
                run["attempts"] += 1
                run["finished_at"] = None
            st.save()
            return self.send_json(200, run)

    # -- endpoints (called with the state lock held) --

    def health(self):
        st = self.server.state
        by = {}
        for r in st.runs.values():
            by[r["status"]] = by.get(r["status"], 0) + 1
        self.send_json(200, {
            "status": "ok", "version": "0.1.0-fake", "pid": os.getpid(),
            "uptime_s": int(time.time() - st.started),
            "db": "/tmp/fake.db", "socket": self.server.opts.socket,
            "endpoint": "http://127.0.0.1:9/v1",
            "workers": [{"instance": 0, "pid": os.getpid(),
                         "runs": by.get("running", 0), "restarts": 0},
                        {"instance": 1, "pid": None, "runs": 0,
                         "restarts": 3}],
            "runs_by_status": by,
            "queue_depth": by.get("pending", 0)})

    def list_runs(self, q):
        st = self.server.state
        if "status" in q and q["status"] not in STATUSES:
            return self.error(400, "bad_request",
                              "unknown status: %s" % q["status"])
        limit = self.int_param(q, "limit", 50)
        if limit is None or limit < 1:
            return self.error(400, "bad_request", "bad limit")
        runs = sorted(st.runs.values(),
                      key=lambda r: (-r["created_at"], r["id"]))
        runs = [r for r in runs
                if q.get("status", r["status"]) == r["status"]
                and q.get("queue", r["queue"]) == r["queue"]]
        if "after" in q:
            ids = [r["id"] for r in runs]
            if q["after"] not in ids:
                return self.error(400, "bad_request", "bad cursor")
            runs = runs[ids.index(q["after"]) + 1:]
        page = runs[:limit]
        nxt = page[-1]["id"] if len(runs) > limit else None
        self.send_json(200, {"runs": page, "next": nxt})

    def result(self, run):
        st = self.server.state
        if run["status"] not in FINISHED:
            return self.error(409, "conflict", "run %s has not finished "
                              "(%s)" % (run["id"], run["status"]))
        resp = None
        if run["status"] == "completed":
            resp = {"id": run["backend_id"], "status": "completed",
                    "output": [{"type": "message", "content": [
                        {"type": "output_text",
                         "text": st.extra[run["id"]]["output_text"]}]}]}
        self.send_json(200, {"id": run["id"], "status": run["status"],
                             "output_text":
                             st.extra[run["id"]]["output_text"],
                             "response": resp, "error": run["error"]})

    def events_page(self, rid, q):
        after = self.int_param(q, "after", -1)
        limit = self.int_param(q, "limit", 100)
        if after is None or limit is None or limit < 1:
            return self.error(400, "bad_request", "bad after or limit")
        evs = [e for e in self.server.state.events[rid] if e["seq"] > after]
        page = evs[:limit]
        nxt = page[-1]["seq"] if len(evs) > limit else None
        self.send_json(200, {"events": page, "next_after": nxt})

    def submit(self, body):
        st = self.server.state
        if not isinstance(body, dict) or not isinstance(body.get("request"),
                                                        dict):
            return self.error(400, "bad_request",
                              "request must be a JSON object")
        if body.get("mode", "auto") not in ("auto", "background", "stream",
                                            "batch", "poll"):
            return self.error(400, "bad_request", "bad mode")
        if "model" in body["request"] and body["request"]["model"] == "bad":
            return self.error(400, "bad_request", "unknown model: bad")
        key = body.get("idempotency_key")
        if key is not None and key in st.keys:
            return self.send_json(200, dict(st.runs[st.keys[key]],
                                            created=False))
        run = st.create(body)
        st.save()
        self.send_json(201, dict(run, created=True))

    def prune(self, body):
        st = self.server.state
        if not isinstance(body, dict) or not isinstance(
                body.get("older_than_s"), int) or body["older_than_s"] < 0:
            return self.error(400, "bad_request", "older_than_s must be a "
                              "non-negative integer")
        cut = now_ms() - body["older_than_s"] * 1000
        gone = [r for r, run in st.runs.items()
                if run["status"] in FINISHED and run["created_at"] < cut]
        for r in gone:
            del st.runs[r], st.events[r], st.extra[r]
        st.keys = {k: v for k, v in st.keys.items() if v in st.runs}
        st.save()
        self.send_json(200, {"deleted": len(gone)})

    # -- batches and queues --

    NAME_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

    def batch_submit(self, body):
        st = self.server.state
        if not isinstance(body, dict) or not isinstance(
                body.get("name"), str) or not self.NAME_RE.fullmatch(
                body["name"]):
            return self.error(400, "bad_request", "bad batch name")
        reqs = body.get("requests")
        if not isinstance(reqs, list) or len(reqs) > 10000:
            return self.error(400, "bad_request", "bad requests")
        for i, r in enumerate(reqs):
            if not isinstance(r, dict) or not isinstance(
                    r.get("custom_id"), str) or not r["custom_id"] or \
                    not isinstance(r.get("request"), dict):
                return self.error(400, "bad_request",
                                  "requests[%d]: bad line" % i)
        name = body["name"]
        queue = body.get("queue") or "default"
        b = st.batches.setdefault(name, {
            "queue": queue, "max_attempts": body.get("max_attempts") or 3,
            "created_at": now_ms(), "cancelled_at": None, "ids": [],
            "custom_ids": {}})
        sub = pres = 0
        for r in reqs:
            key = "batch:%s:%s" % (name, r["custom_id"])
            if key in st.keys:
                pres += 1
                continue
            run = st.create({"request": r["request"], "queue": queue,
                             "mode": body.get("mode") or "auto",
                             "idempotency_key": key})
            b["ids"].append(run["id"])
            b["custom_ids"][run["id"]] = r["custom_id"]
            sub += 1
        st.save()
        self.send_json(200, {"name": name, "submitted": sub,
                             "already_present": pres})

    def batch_status(self, name):
        st = self.server.state
        b = st.batches[name]
        counts = {}
        for rid in b["ids"]:
            s = st.runs[rid]["status"]
            counts[s] = counts.get(s, 0) + 1
        done = sum(n for s, n in counts.items() if s in FINISHED)
        total = len(b["ids"])
        return {"name": name, "queue": b["queue"],
                "max_attempts": b["max_attempts"],
                "created_at": b["created_at"],
                "cancelled_at": b["cancelled_at"], "total": total,
                "finished": done, "counts": counts,
                "rate_per_min": 6.0 if done else 0.0,
                "eta_s": (total - done) * 10 if done < total and done
                else None, "last_finished_at": None}

    def batch_results(self, name, errors_only):
        st = self.server.state
        b = st.batches[name]
        out = []
        for rid in b["ids"]:
            run = st.runs[rid]
            if errors_only and run["status"] == "completed":
                continue
            rq = "batch_req_" + rid[2:]
            if run["status"] == "completed":
                resp = {"status_code": 200, "request_id": rq, "body": {
                    "id": run["backend_id"], "status": "completed",
                    "output_text": st.extra[rid]["output_text"]}}
                err = None
            else:
                resp = None
                err = {"code": run["status"], "message": run["status"]}
            out.append(json.dumps({"id": rq,
                                   "custom_id": b["custom_ids"][rid],
                                   "response": resp, "error": err}))
        body = "".join(line + "\n" for line in out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def batch_cancel(self, name):
        st = self.server.state
        if name not in st.batches:
            return self.error(404, "not_found", "no batch %s" % name)
        n = 0
        for rid in st.batches[name]["ids"]:
            if st.runs[rid]["status"] not in FINISHED:
                st.finish(rid, "cancelled", None)
                n += 1
        st.batches[name]["cancelled_at"] = now_ms()
        st.save()
        self.send_json(200, {"name": name, "cancelled": n})

    def queue_list(self):
        st = self.server.state
        names = set(st.queues) | {r["queue"] for r in st.runs.values()}
        out = []
        for n in sorted(names):
            q = st.queues.get(n, {})
            runs = [r for r in st.runs.values() if r["queue"] == n]
            out.append({
                "name": n, "max_inflight": q.get("max_inflight"),
                "paused": q.get("paused", False),
                "priority": q.get("priority", 0),
                "max_attempts": q.get("max_attempts"),
                "queued": sum(r["status"] == "pending" for r in runs),
                "inflight": sum(r["status"] in ("starting", "running")
                                for r in runs),
                "completed": sum(r["status"] == "completed" for r in runs),
                "failed": sum(r["status"] in FINISHED and
                              r["status"] != "completed" for r in runs)})
        return {"queues": out}

    def queue_set(self, name, body):
        st = self.server.state
        if not self.NAME_RE.fullmatch(name) or not isinstance(body, dict):
            return self.error(400, "bad_request", "bad queue")
        q = st.queues.setdefault(name, {})
        for k in ("max_inflight", "paused", "priority", "max_attempts"):
            if k in body:
                q[k] = body[k]
        st.save()
        self.send_json(200, self.queue_list())

    # -- SSE --

    def sse_write(self, text):
        data = text.encode()
        n = self.server.opts.chunk or len(data)
        for i in range(0, len(data), n):
            self.wfile.write(data[i:i + n])
            self.wfile.flush()

    def events_stream(self, rid, q):
        st = self.server.state
        opts = self.server.opts
        after = self.int_param(q, "after", -1)
        if after is None:
            with st.lock:
                return self.error(400, "bad_request", "bad after")
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.sse_write(": fake-agentd\n\n")
        while True:
            with st.lock:
                if rid not in st.runs:
                    return
                evs = [e for e in st.events[rid] if e["seq"] > after]
                run = st.runs[rid]
                if not evs and run["status"] in FINISHED:
                    status = {"id": rid, "status": run["status"],
                              "error": run["error"]}
                    break
                if not evs:
                    st.lock.wait(0.2)
                    continue
            for e in evs:
                self.sse_write("id: %d\nevent: %s\ndata: %s\n\n" % (
                    e["seq"], e["type"], json.dumps(e["data"])))
                after = e["seq"]
                with st.lock:
                    self.server.sent += 1
                    if opts.die_after_events and \
                            self.server.sent >= opts.die_after_events:
                        os._exit(0)
                if opts.event_delay:
                    time.sleep(opts.event_delay)
        self.sse_write("event: agentd.status\ndata: %s\n\n" %
                       json.dumps(status))


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description="fake agentd API")
    ap.add_argument("socket")
    ap.add_argument("--state")
    ap.add_argument("--log")
    ap.add_argument("--event-delay", type=float, default=0.0)
    ap.add_argument("--die-after-events", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=0)
    opts = ap.parse_args()
    if os.path.exists(opts.socket):
        os.unlink(opts.socket)
    srv = Server(opts.socket, Handler)
    srv.opts = opts
    srv.state = State(opts.state)
    srv.sent = 0
    print("fake-api: listening on %s" % opts.socket, file=sys.stderr,
          flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        try:
            os.unlink(opts.socket)
        except OSError:
            pass


if __name__ == "__main__":
    main()
