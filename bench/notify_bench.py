#!/usr/bin/env python3
"""How fast caulk sends webhook deliveries, and whether a receiver that is down holds up the rest.

Queues EVENTS reboot events (boot announcements of one node) on a server started with
--notify-hold, so nothing is sent yet, for WEBHOOKS webhooks on a local receiver (and, with
DEAD=1, one more webhook on a closed port). Then starts the server again on the same database
without the hold and times how long the receiver takes to get every delivery: deliveries per
second through the courier alone, the way a burst of reboots would go out.

    bench/notify_bench.py                       # 1000 events, 1 webhook, a receiver answering at once
    EVENTS=500 WEBHOOKS=4 DELAY_MS=50 bench/notify_bench.py
    DEAD=1 bench/notify_bench.py                # the same with a webhook whose receiver is down

BIN: caulk binary (default .build/debug/caulk). DELAY_MS: how long the receiver takes to answer.
Only 127.0.0.1 is used; the servers are stopped by their PIDs.
"""
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

BIN = os.environ.get("BIN", ".build/debug/caulk")
EVENTS = int(os.environ.get("EVENTS", "1000"))
WEBHOOKS = int(os.environ.get("WEBHOOKS", "1"))
DELAY_MS = int(os.environ.get("DELAY_MS", "0"))
DEAD = os.environ.get("DEAD", "0") == "1"

received = 0
lock = threading.Lock()


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global received
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if DELAY_MS:
            time.sleep(DELAY_MS / 1000)
        with lock:
            received += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def serve(work, hold):
    arguments = [BIN, "serve", "--config", f"{work}/empty.yaml", "--listen", "127.0.0.1:0", "--database", f"{work}/caulk.db",
                 "--bootstrap-token-file", f"{work}/admin.token"] + (["--notify-hold"] if hold else [])
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=open(f"{work}/serve.log", "a"), text=True,
                               env={"PATH": os.environ["PATH"], "HOME": work, "LOG_LEVEL": "error"})
    for line in process.stdout:
        if line.startswith("caulk: listening on "):
            return process, line.split()[3]
    sys.exit(f"caulk serve did not start; see {work}/serve.log")


def call(url, token, method, path, body=None):
    request = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def main():
    # A listen backlog of 5 (http.server's default) refuses connections a burst opens at once.
    http.server.ThreadingHTTPServer.request_queue_size = 128
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{receiver.server_address[1]}"
    with tempfile.TemporaryDirectory(prefix="caulk-notify-bench.") as work:
        open(f"{work}/empty.yaml", "w").close()
        server, url = serve(work, hold=True)
        token = open(f"{work}/admin.token").read().strip()
        call(url, token, "POST", "/v1/clusters", {"name": "c", "api_endpoint": "https://198.18.0.1:6443"})
        call(url, token, "POST", "/v1/nodes", {"cluster": "c", "name": "n1", "address": "198.18.0.2"})
        for index in range(WEBHOOKS):
            call(url, token, "POST", "/v1/webhooks", {"name": f"w{index}", "url": f"{target}/w{index}", "on": ["reboot"]})
        if DEAD:
            call(url, token, "POST", "/v1/webhooks", {"name": "dead", "url": "http://127.0.0.1:1/", "on": ["reboot"]})
        started = time.monotonic()
        for _ in range(EVENTS):
            call(url, token, "POST", "/v1/nodes/c/n1/boot", {"boot_id": str(uuid.uuid4())})
        queued = time.monotonic() - started
        server.terminate()
        server.wait()

        expected = EVENTS * WEBHOOKS
        server, url = serve(work, hold=False)
        started = time.monotonic()
        while received < expected and time.monotonic() - started < 600:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        dead = call(url, token, "GET", "/v1/deliveries?webhook=dead&status=pending&limit=1000")["items"] if DEAD else []
        retried = sum(1 for item in call(url, token, "GET", "/v1/deliveries?status=delivered&limit=1000")["items"] if item["attempts"] > 1)
        server.terminate()
        server.wait()
    print(f"events queued: {EVENTS} in {queued:.1f} s ({EVENTS / queued:.0f}/s through POST /v1/nodes/c/n1/boot)")
    print(f"webhooks: {WEBHOOKS} on 127.0.0.1 answering after {DELAY_MS} ms" + (", and 1 on a closed port" if DEAD else ""))
    print(f"delivered: {received} of {expected} in {elapsed:.2f} s after the start: {received / elapsed:.0f} deliveries/s"
          f" ({retried} of the last 1000 needed more than one attempt)")
    if DEAD:
        tried = sum(1 for item in dead if item["attempts"] > 0)
        print(f"dead webhook: {tried} of its {EVENTS} deliveries had an attempt recorded by then (each attempt waits up to 5 s to connect)")


if __name__ == "__main__":
    main()
