#!/usr/bin/env python3
"""Misbehaving control-socket clients for the tests.

idle SOCKET N     open N connections that send nothing; print "ready N" once all are
                  connected, then hold them until stdin closes.
slow SOCKET       send a request one byte per second; print what the server answers
                  (or "closed") and the seconds it took.
garbage SOCKET    send bytes that are not HTTP; print the server's status line.
pipelined SOCKET  send three requests in one write (status, an unknown route, contracts);
                  print the status codes of the answers, in the order they came.
flood SOCKET N B  open N connections and write B bytes of pipelined status requests on each
                  without reading an answer (as much as the server takes within 5 s); print
                  "flooded" with the bytes taken, then hold the connections until stdin closes.
"""
import re
import resource
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "idle":
        n = int(sys.argv[3])
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 256)), hard))
        held = [connect(path) for _ in range(n)]
        print(f"ready {len(held)}", flush=True)
        sys.stdin.read()
    elif mode == "slow":
        s = connect(path)
        start = time.monotonic()
        request = b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 64 + b"\r\n\r\n"
        answer = b""
        s.settimeout(1.0)
        for b in request:
            try:
                s.sendall(bytes([b]))
            except OSError:
                break
            try:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
            except socket.timeout:
                pass
            if answer:
                break
        if not answer:
            try:
                answer = s.recv(4096)
            except OSError:
                pass
        line = answer.split(b"\r\n", 1)[0].decode() if answer else "closed"
        print(f"{line}|{time.monotonic() - start:.1f}", flush=True)
    elif mode == "garbage":
        s = connect(path)
        s.sendall(b"\x00\x01\x02 this is not HTTP\r\n\r\n")
        s.settimeout(5)
        answer = s.recv(4096)
        print(answer.split(b"\r\n", 1)[0].decode() if answer else "closed", flush=True)
    elif mode == "pipelined":
        s = connect(path)
        s.sendall(b"".join(b"GET " + p + b" HTTP/1.1\r\nHost: x\r\n\r\n"
                           for p in (b"/v1/status", b"/v1/nothing", b"/v1/contracts")))
        s.settimeout(5)
        answer = b""
        while len(re.findall(rb"HTTP/1.1 \d+", answer)) < 3:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            answer += chunk
        print(" ".join(c.decode() for c in re.findall(rb"HTTP/1.1 (\d+)", answer)), flush=True)
    elif mode == "flood":
        n, size = int(sys.argv[3]), int(sys.argv[4])
        request = b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"
        payload = request * (size // len(request))
        held = [connect(path) for _ in range(n)]
        for s in held:
            s.setblocking(False)
        sent = [0] * n
        deadline, last_progress = time.monotonic() + 10, time.monotonic()
        # Round-robin until everything is sent, 10 s pass, or the server has taken nothing for
        # a second (it stopped reading: its answers are not read).
        while time.monotonic() < deadline and time.monotonic() - last_progress < 1:
            progress = False
            for k, s in enumerate(held):
                if sent[k] < len(payload):
                    try:
                        sent[k] += s.send(payload[sent[k]:sent[k] + 65536])
                        progress = True
                    except BlockingIOError:
                        pass
            if progress:
                last_progress = time.monotonic()
            elif all(x >= len(payload) for x in sent):
                break
            else:
                time.sleep(0.005)
        print(f"flooded {sum(sent)}", flush=True)
        sys.stdin.read()

main()
