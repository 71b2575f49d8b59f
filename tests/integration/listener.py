"""The test servers' shared start (capture.py, slowproxy.py)."""
import os
import socket
import threading


def serve_forever(port_file, handle, *args):
    """Listen on a free loopback port, write it to port_file (whole, by a
    rename), and run handle(conn, *args) in a thread for each connection."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=handle, args=(conn, *args), daemon=True).start()
