#!/usr/bin/env python3
"""Stands in for systemd's notification socket: binds an AF_UNIX datagram socket at
argv[1] and writes every datagram received to argv[2], one per line with newlines inside a
datagram shown as '|', flushed at once, until killed."""
import os
import signal
import socket
import sys

# A test runner may start children with signals blocked; a stand-in must die on SIGTERM.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

path, out = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    f.write("listening\n")
    while True:
        data = s.recv(65536).decode("utf-8", "replace")
        f.write(data.replace("\n", "|") + "\n")
