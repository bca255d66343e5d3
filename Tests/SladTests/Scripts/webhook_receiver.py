#!/usr/bin/env python3
"""A real webhook receiver for slad's tests.

Verifies Standard Webhooks signatures (HMAC-SHA256 over id.timestamp.body)
and appends one JSON line per request to --log: id, timestamp, whether the
signature is valid, the status it answered, and the body.

Misbehaviour on demand: --fail-rate answers 500 to that share of requests
(seeded, so runs repeat), --fail-first answers 500 to the first N attempts of
each notification id, --hang-first sleeps --hang-seconds before answering the
first attempt of each id (the sender times out).
"""
import argparse
import base64
import hashlib
import hmac
import json
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--secret", default="")
parser.add_argument("--fail-rate", type=float, default=0.0)
parser.add_argument("--fail-first", type=int, default=0)
parser.add_argument("--hang-first", action="store_true")
parser.add_argument("--hang-seconds", type=float, default=3.0)
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()

key = b""
if args.secret.startswith("whsec_"):
    key = base64.b64decode(args.secret[len("whsec_"):])
elif args.secret:
    key = args.secret.encode()

lock = threading.Lock()
attempts = {}
rng = random.Random(args.seed)
log = open(args.log, "a", buffering=1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        wid = self.headers.get("webhook-id", "")
        if len(body) < length:
            # The sender died mid-request (the crash tests kill it): an HTTP server cannot act on an
            # incomplete request and answers nothing. Logged as such, so the tests can tell it apart.
            with lock:
                log.write(json.dumps({"path": self.path, "id": wid, "incomplete": True,
                                      "received_bytes": len(body), "length": length}, sort_keys=True) + "\n")
            self.close_connection = True
            return
        ts = self.headers.get("webhook-timestamp", "")
        sig = self.headers.get("webhook-signature", "")
        valid = None
        if key:
            mac = hmac.new(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()
            expected = "v1," + base64.b64encode(mac).decode()
            valid = expected in sig.split(" ")
        with lock:
            n = attempts.get(wid, 0) + 1
            attempts[wid] = n
            fail = n <= args.fail_first or (args.fail_rate > 0 and rng.random() < args.fail_rate)
        if args.hang_first and n == 1:
            time.sleep(args.hang_seconds)
        status = 500 if fail else 200
        if valid is False:
            status = 401
        record = {
            "path": self.path, "id": wid, "timestamp": ts, "valid": valid, "status": status, "attempt": n,
            "received_ms": int(time.time() * 1000), "body": json.loads(body or b"null"),
        }
        with lock:
            log.write(json.dumps(record, sort_keys=True) + "\n")
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
print("ready", flush=True)
server.serve_forever()
