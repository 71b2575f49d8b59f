#!/usr/bin/env python3
"""
An HTTP server on a Unix socket that answers every request in one fixed
way, mostly a broken one, for testing agentctl's HTTP client on what
agentd should never send (tests/cli/test-http.sh). One connection at a
time; the request is read in full (Content-Length) and logged.

usage: bad-http.py SOCKET MODE [--log FILE] [--go FILE]

Modes that answer GET /v1/runs correctly in some unusual framing:
  ok-length ok-drip ok-chunked ok-eof ok-continue ok-lf error-chunked
Broken ones:
  bad-status not-http big-header long-line nul-header bad-length
  two-lengths both-framings gzip-te bad-chunk huge-chunk chunk-no-crlf
  short-body short-chunked empty short-header many-continue switching
Never answering: no-accept (the listen queue is full; nothing accepts).
Event streams (GET /v1/runs/ID/events as SSE; the first connection
misbehaves, later ones finish the run):
  sse-cut sse-bad-chunk
  sse-wait: send the first event, wait for the --go file to exist, then
  the rest (to show that events are delivered as they arrive).
"""

import argparse
import json
import os
import socket
import sys
import time
import urllib.parse

LIST = json.dumps({"runs": [{"id": "r_0123456789abcdef",
                             "status": "completed", "mode": "auto",
                             "resolved_mode": "background",
                             "created_at": 0, "last_event_at": 0,
                             "event_count": 3,
                             "backend_id": "resp_1"}],
                   "next": None}).encode() + b"\n"
HOLD = 30       # seconds a hanging reply holds the connection open


def read_request(conn):
    """The request head and body; None if the client closed first."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = conn.recv(65536)
        if not d:
            return None
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, version = lines[0].split(" ")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        d = conn.recv(65536)
        if not d:
            break
        body += d
    return {"method": method, "path": path, "version": version,
            "headers": headers, "body": body.decode("utf-8", "replace")}


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def sse(seq, etype, data):
    if seq is None:
        return ("event: %s\ndata: %s\n\n" % (etype,
                                             json.dumps(data))).encode()
    return ("id: %d\nevent: %s\ndata: %s\n\n" % (seq, etype,
                                                 json.dumps(data))).encode()


WORDS = ["one ", "two ", "three"]


def events(after):
    """The run's SSE frames after seq `after`, and the final status."""
    out = b""
    for i, w in enumerate(WORDS):
        if i > after:
            out += sse(i, "response.output_text.delta",
                       {"type": "response.output_text.delta",
                        "delta": w})
    out += sse(None, "agentd.status", {"id": "r_0123456789abcdef",
                                        "status": "completed",
                                        "error": None})
    return out


SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")


def respond(conn, mode, req, nconn, opts):
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    if mode == "ok-length":
        conn.sendall(ok + b"Content-Length: %d\r\n\r\n" % len(LIST) + LIST)
    elif mode == "ok-drip":
        data = ok + b"Content-Length: %d\r\n\r\n" % len(LIST) + LIST
        for i in range(len(data)):
            conn.sendall(data[i:i + 1])
            if i % 16 == 0:
                time.sleep(0.001)
    elif mode == "ok-chunked":
        out = ok + b"Transfer-Encoding: chunked\r\n\r\n"
        for i in range(0, len(LIST), 7):
            out += chunk(LIST[i:i + 7])
        out = out.replace(b"7\r\n", b"7;name=value\r\n", 1)
        conn.sendall(out + b"0\r\nX-Trailer: yes\r\n\r\n")
    elif mode == "ok-eof":
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + LIST)
    elif mode == "ok-continue":
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        time.sleep(0.05)
        conn.sendall(ok + b"Content-Length: %d\r\n\r\n" % len(LIST) + LIST)
    elif mode == "ok-lf":
        conn.sendall(b"HTTP/1.1 200 OK\nContent-Length: %d\n\n" %
                     len(LIST) + LIST)
    elif mode == "error-chunked":
        body = b'{"error":{"code":"not_found","message":"no run r_x"}}\n'
        conn.sendall(b"HTTP/1.1 404 Not Found\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" +
                     chunk(body[:10]) + chunk(body[10:]) + b"0\r\n\r\n")
    elif mode == "bad-status":
        conn.sendall(b"HTTP/1.1 OK 200\r\nContent-Length: 0\r\n\r\n")
    elif mode == "not-http":
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        time.sleep(HOLD)
    elif mode == "big-header":
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for i in range(200):
            conn.sendall(b"X-Filler-%d: %s\r\n" % (i, b"a" * 1000))
        time.sleep(HOLD)
    elif mode == "long-line":
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 20000)
        time.sleep(HOLD)
    elif mode == "nul-header":
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-A: a\0b\r\n"
                     b"Content-Length: 0\r\n\r\n")
    elif mode == "bad-length":
        conn.sendall(ok + b"Content-Length: 12abc\r\n\r\n" + LIST)
    elif mode == "two-lengths":
        conn.sendall(ok + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n"
                     + LIST)
    elif mode == "both-framings":
        conn.sendall(ok + b"Content-Length: %d\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" % len(LIST) +
                     chunk(LIST) + b"0\r\n\r\n")
    elif mode == "gzip-te":
        conn.sendall(ok + b"Transfer-Encoding: gzip, chunked\r\n\r\n" +
                     chunk(LIST) + b"0\r\n\r\n")
    elif mode == "bad-chunk":
        conn.sendall(ok + b"Transfer-Encoding: chunked\r\n\r\n" +
                     b"zz\r\n" + LIST)
        time.sleep(HOLD)
    elif mode == "huge-chunk":
        conn.sendall(ok + b"Transfer-Encoding: chunked\r\n\r\n" +
                     b"1ffffffffffffffff\r\n" + LIST)
        time.sleep(HOLD)
    elif mode == "chunk-no-crlf":
        conn.sendall(ok + b"Transfer-Encoding: chunked\r\n\r\n" +
                     b"5\r\n" + LIST[:5] + b"XX5\r\n")
        time.sleep(HOLD)
    elif mode == "short-body":
        conn.sendall(ok + b"Content-Length: 1000\r\n\r\n" + LIST[:10])
    elif mode == "short-chunked":
        conn.sendall(ok + b"Transfer-Encoding: chunked\r\n\r\n" +
                     chunk(LIST[:10]))
    elif mode == "empty":
        pass
    elif mode == "short-header":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: appl")
    elif mode == "many-continue":
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" * 20)
        time.sleep(HOLD)
    elif mode == "switching":
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                     b"Upgrade: h2c\r\n\r\n")
        time.sleep(HOLD)
    elif mode.startswith("sse-"):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(req["path"]).query)
        after = int(q.get("after", ["-1"])[0])
        if mode == "sse-wait":
            first = events(after).split(b"\n\n")[0] + b"\n\n"
            conn.sendall(SSE_HEAD + chunk(first))
            t0 = time.time()
            while not os.path.exists(opts.go) and time.time() - t0 < HOLD:
                time.sleep(0.02)
            rest = events(after)[len(first):]
            conn.sendall(chunk(rest) + b"0\r\n\r\n")
        elif nconn > 1:
            conn.sendall(SSE_HEAD + chunk(events(after)) + b"0\r\n\r\n")
        elif mode == "sse-cut":
            # Two whole events, then half a chunk: the daemon died.
            data = events(after)
            two = b"\n\n".join(data.split(b"\n\n")[:2]) + b"\n\n"
            conn.sendall(SSE_HEAD + chunk(two) + b"40\r\nid: 2\n")
        elif mode == "sse-bad-chunk":
            data = events(after)
            one = data.split(b"\n\n")[0] + b"\n\n"
            conn.sendall(SSE_HEAD + chunk(one) + b"-1\r\n")
    else:
        sys.exit("bad-http: unknown mode %s" % mode)


def no_accept(path):
    """Listen, fill the queue ourselves and never accept. The socket gets
    its name only once the queue is full, so no client gets in first."""
    tmp = path + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(tmp)
    srv.listen(0)
    fill = []
    while True:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(tmp)
        except BlockingIOError:
            c.close()
            break
        fill.append(c)
    os.rename(tmp, path)
    time.sleep(HOLD)


def main():
    ap = argparse.ArgumentParser(description="broken HTTP server")
    ap.add_argument("socket")
    ap.add_argument("mode")
    ap.add_argument("--log")
    ap.add_argument("--go", default="/nonexistent")
    opts = ap.parse_args()
    if os.path.exists(opts.socket):
        os.unlink(opts.socket)
    if opts.mode == "no-accept":
        return no_accept(opts.socket)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(opts.socket)
    srv.listen(16)
    nconn = 0
    while True:
        conn, _ = srv.accept()
        nconn += 1
        try:
            req = read_request(conn)
            if req is None:
                continue
            if opts.log:
                with open(opts.log, "a") as f:
                    f.write(json.dumps(req) + "\n")
            respond(conn, opts.mode, req, nconn, opts)
        except OSError:
            pass        # the client gave up: that is what we test
        finally:
            conn.close()


if __name__ == "__main__":
    main()
