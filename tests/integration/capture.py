#!/usr/bin/env python3
"""A recording HTTP server for agentd's integration tests.

usage: capture.py PORT_FILE LOG_FILE MODE
MODE hold: read each request, record it, never answer (a create whose
outcome agentd cannot know). MODE reject: answer 400 with an OpenAI-style
error. Each request is appended to LOG_FILE as one JSON line with method,
path, headers and body.
"""
import json
import sys
import threading

from listener import serve_forever


def serve(conn, log, mode):
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(body) < n:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        with open(log, "a") as f:
            f.write(json.dumps({"method": method, "path": path,
                                "headers": headers,
                                "body": body.decode("utf-8", "replace")}) + "\n")
        if mode == "hold":
            threading.Event().wait()
        msg = b'{"error":{"message":"model not found","type":"invalid_request_error","param":"model","code":null}}'
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(msg) + msg)
    finally:
        if mode != "hold":
            conn.close()


def main():
    serve_forever(sys.argv[1], serve, sys.argv[2], sys.argv[3])


main()
