#!/usr/bin/env python3
"""The soak test of scripts/soak.sh: slad under mixed load for MINUTES, sampled every 30 s.

Load, all at once:
  - events: incidents opened at a steady rate (reaction targets of 1-3 minutes, so warnings,
    breaches and escalations fall due all the time), acknowledged and resolved later, over two
    sources;
  - rotations: every 2 minutes a log is rotated, by rename and by copytruncate in turn, and
    the generation before the last five is deleted (logrotate's `rotate 5`);
  - webhooks: a real HTTP receiver that answers 500 for one minute in every four;
  - control: GET /v1/status and /v1/incidents?state=at_risk at about 20 requests/s, timed;
  - reloads: SIGHUP every 3 minutes;
  - kills: SIGKILL and a restart every 10 minutes.

Sampled: resident memory, open descriptors, events in the ledger, pending deliveries, and the
control latency (p50/p99) of the last interval. Printed: one line per 5 minutes, then a
verdict: descriptors flat after warm-up, and memory growing no faster than the ledger (slad
keeps every event of the ledger in memory: the bytes per event are printed).

  soak.py SLAD MINUTES
"""
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

slad, minutes = sys.argv[1], float(sys.argv[2])
work = tempfile.mkdtemp(prefix="slad-soak-")
stop = threading.Event()
rng = random.Random(7)
failing = threading.Event()
received = [0, 0]  # ok, refused


class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", "0")))
        code = 500 if failing.is_set() else 200
        received[0 if code == 200 else 1] += 1
        self.send_response(code)
        self.send_header("content-length", "0")
        self.end_headers()


hooks = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
hooks.daemon_threads = True
threading.Thread(target=hooks.serve_forever, daemon=True).start()

os.makedirs(f"{work}/config/contracts.d")
os.makedirs(f"{work}/logs")
for name in ("alpha", "beta", "gamma"):
    with open(f"{work}/config/contracts.d/{name}.yaml", "w") as f:
        f.write(
            f'id: {name}\ncustomer: {name.title()} AG\ncalendar: 24x7\nfee: {{ amount: "1000.00", currency: EUR }}\n'
            'priorities:\n  P1: { reaction: 1m, resolution: 10m }\n  P2: { reaction: 3m, resolution: 30m }\n'
            'warn_at: ["50%", "80%"]\nescalations:\n  - { at: "200%", notify: [ops] }\n'
            'penalties:\n  reaction_breach: { P1: "10.00" }\nnotify: [ops]\n')
socket_path = f"{work}/slad.sock"
with open(f"{work}/config/slad.yaml", "w") as f:
    f.write(
        f'allowed_lateness: 0s\nsources:\n  - {{ name: desk, path: "{work}/logs/desk.jsonl*", format: jsonl }}\n'
        f'  - {{ name: noc, path: "{work}/logs/noc.jsonl*", format: jsonl }}\n'
        f'webhooks:\n  ops: {{ url: "http://127.0.0.1:{hooks.server_address[1]}/ops", timeout: 2s, max_age: 1h }}\n')


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def start():
    return subprocess.Popen(
        [slad, "run", "--config", f"{work}/config", "--state", f"{work}/state", "--socket", socket_path],
        stderr=open(f"{work}/stderr", "a"))


proc = start()
lock = threading.Lock()


def writer():
    n = 0
    pending = []  # (due, line, source)
    while not stop.is_set():
        now = time.time()
        for source in ("desk", "noc"):
            n += 1
            contract = rng.choice(["alpha", "beta", "gamma"])
            priority = rng.choice(["P1", "P2"])
            incident = f"{source}-{n}"
            line = (f'{{"id":"{incident}-o","time":"{iso(now)}","type":"incident.opened","incident":"{incident}",'
                    f'"contract":"{contract}","priority":"{priority}"}}')
            with open(f"{work}/logs/{source}.jsonl", "a") as f:
                f.write(line + "\n")
            ack, res = now + rng.uniform(10, 200), now + rng.uniform(120, 1500)
            pending.append((ack, f'{{"id":"{incident}-a","time":"%s","type":"incident.acknowledged","incident":"{incident}"}}', source))
            pending.append((res, f'{{"id":"{incident}-r","time":"%s","type":"incident.resolved","incident":"{incident}"}}', source))
        due = [p for p in pending if p[0] <= now]
        pending = [p for p in pending if p[0] > now]
        for t, template, source in due:
            with open(f"{work}/logs/{source}.jsonl", "a") as f:
                f.write(template % iso(t) + "\n")
        time.sleep(0.5)


def rotator():
    # As logrotate with `rotate 5`: the five newest generations are kept, older ones deleted
    # (slad holds a descriptor for every file its pattern matches, docs/ingest.md).
    k = 0
    while not stop.wait(120):
        k += 1
        for source in ("desk", "noc"):
            live = f"{work}/logs/{source}.jsonl"
            if not os.path.exists(live):
                continue
            if k % 2:
                os.rename(live, f"{live}.{k}")
            else:
                subprocess.run(["cp", live, f"{live}.{k}"])
                open(live, "r+").truncate(0)
            if os.path.exists(f"{live}.{k - 5}"):
                os.remove(f"{live}.{k - 5}")


def hooks_flapper():
    while not stop.wait(180):
        failing.set()
        if stop.wait(60):
            break
        failing.clear()


latencies = []


def control():
    while not stop.is_set():
        for path in ("/v1/status", "/v1/incidents?state=at_risk&limit=50"):
            t = time.perf_counter()
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(5)
                s.connect(socket_path)
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: s\r\nconnection: close\r\n\r\n".encode())
                while s.recv(65536):
                    pass
                s.close()
                with lock:
                    latencies.append((time.perf_counter() - t) * 1000)
            except OSError:
                pass
        time.sleep(0.1)


for body in (writer, rotator, hooks_flapper, control):
    threading.Thread(target=body, daemon=True).start()


def sample():
    pid = proc.pid
    try:
        rss = int(next(l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")).split()[1]) // 1024
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return None
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(socket_path)
        s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: s\r\nconnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        doc = json.loads(data.split(b"\r\n\r\n", 1)[1])
    except (OSError, ValueError, IndexError):
        return None
    with lock:
        lat = sorted(latencies)
        latencies.clear()
    p = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] if lat else float("nan")
    pending = sum(o["pending"] for o in doc["outbox"])
    return dict(rss=rss, fds=fds, events=doc["events"], open=doc["incidents"]["open"], pending=pending,
                p50=p(0.5), p99=p(0.99), n=len(lat))


began = time.time()
samples = []
next_kill = began + 600
next_reload = began + 180
print(f"soak: {minutes:g} minutes in {work}; one line per 5 minutes", flush=True)
print(" min   RSS MB  fds   events  open  pending  control p50/p99 ms (n)", flush=True)
while time.time() - began < minutes * 60:
    time.sleep(30)
    now = time.time()
    if now >= next_kill:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc = start()
        next_kill += 600
        time.sleep(5)
    if now >= next_reload:
        proc.send_signal(signal.SIGHUP)
        next_reload += 180
    s = sample()
    if s is None:
        continue
    s["minute"] = (time.time() - began) / 60
    samples.append(s)
    if len(samples) % 10 == 0:
        print(f"{s['minute']:4.0f}  {s['rss']:7d}  {s['fds']:3d}  {s['events']:7d}  {s['open']:4d}  {s['pending']:7d}"
              f"  {s['p50']:6.1f} / {s['p99']:6.1f} ({s['n']})", flush=True)
stop.set()
proc.send_signal(signal.SIGTERM)
proc.wait()
hooks.shutdown()

# After warm-up (the first 10 minutes and a minute after each restart), descriptors must stay
# within a band, and memory must grow no faster than the ledger does.
steady = [s for s in samples if s["minute"] >= 10 and (s["minute"] % 10) >= 1]
fds = [s["fds"] for s in steady]
print(f"webhooks: {received[0]} accepted, {received[1]} refused (the receiver fails one minute in four)")
if len(steady) < 4:
    sys.exit("soak: too few samples after warm-up")
first, last = steady[0], steady[-1]
grown = (last["rss"] - first["rss"]) * 1048576
events = max(1, last["events"] - first["events"])
print(f"descriptors after warm-up: {min(fds)}-{max(fds)}; memory {first['rss']} -> {last['rss']} MB for "
      f"{events} more ledger events ({grown / events:.0f} bytes per event); control p99 median "
      f"{statistics.median(s['p99'] for s in steady):.1f} ms")
ok = max(fds) - min(fds) <= 32 and grown / events <= 2048
print("soak: " + ("flat: descriptors in a band, memory bounded by the ledger" if ok else "NOT FLAT"))
sys.exit(0 if ok else 1)
