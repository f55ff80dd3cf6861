#!/usr/bin/env python3
"""A --console-socket receiver for the conformance suite (Node cannot receive
fds): accepts one connection, takes the pty master the runtime sends with
SCM_RIGHTS, and prints what the container writes until the marker appears.
Usage: console-socket.py SOCKET MARKER TIMEOUT_SECONDS"""
import os
import select
import socket
import sys
import time

path, marker, timeout = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3])
deadline = time.monotonic() + timeout
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(1)
server.settimeout(timeout)
print('ready', flush=True)

conn, _ = server.accept()
_, fds, _, _ = socket.recv_fds(conn, 4096, 4)
if not fds:
    sys.exit('no file descriptor arrived on the console socket')
master = fds[0]

seen = b''
while marker not in seen:
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([master], [], [], left)[0]:
        sys.exit(f'no {marker.decode()!r} from the container within {timeout:.0f}s; it wrote {seen!r}')
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break  # EIO: every slave end is closed
    if not chunk:
        break
    seen += chunk
sys.stdout.buffer.write(seen)
