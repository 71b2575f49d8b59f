#!/usr/bin/env python3
"""A TCP proxy for agentd's integration tests that answers creates late.

usage: slowproxy.py PORT_FILE UPSTREAM_PORT DELAY_MS

Listens on a free loopback port (written to PORT_FILE) and relays every
connection to 127.0.0.1:UPSTREAM_PORT both ways. On a connection whose
first request is a create (POST /v1/responses), the upstream's answer is
held back DELAY_MS before the first byte is relayed: the backend has the
run at once, its creator learns its id only later, as over a slow link.
"""
import socket
import sys
import threading

from listener import serve_forever
import time


def pump(src, dst, delay_s):
    first = True
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if first and delay_s > 0:
                time.sleep(delay_s)
            first = False
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(conn, upstream, delay_s):
    try:
        up = socket.create_connection(("127.0.0.1", upstream))
    except OSError:
        conn.close()
        return
    head = b""
    try:
        while len(head) < 20:
            chunk = conn.recv(65536)
            if not chunk:
                break
            head += chunk
            up.sendall(chunk)
    except OSError:
        pass
    create = head.startswith(b"POST ") and b"/responses " in head.split(b"\r\n")[0]
    threading.Thread(target=pump, args=(conn, up, 0), daemon=True).start()
    pump(up, conn, delay_s if create else 0)


def main():
    serve_forever(sys.argv[1], serve, int(sys.argv[2]), int(sys.argv[3]) / 1000.0)


if __name__ == "__main__":
    main()
