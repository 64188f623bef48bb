#!/usr/bin/env python3
"""Drives a real headless Chromium through caulk's dashboard, over the DevTools protocol on a
pipe (--remote-debugging-pipe: no port, nothing but the caulk server on loopback is contacted).

    dashboard_browser.py URL TOKEN SCREENSHOT.png CLUSTER...

Signs in on URL/ui/login by typing TOKEN into the form and submitting it, as a person would, then
checks the dashboard: it loaded, shows every CLUSTER, draws four charts with bars, the sign-in
cookie is invisible to the page (HttpOnly), and the browser logged no console message, exception
or failed load of level error. Saves a full-page screenshot. Exit status 0 when all of that held.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

BROWSERS = ["chromium-headless-shell", "chromium", "chromium-browser"]


class Browser:
    def __init__(self):
        binary = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
        if binary is None:
            sys.exit("dashboard_browser.py: no headless Chromium (apt-get install chromium-headless-shell)")
        self.profile = tempfile.mkdtemp(prefix="caulk-chromium.")
        # fd 3: commands to the browser; fd 4: its answers and events.
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
             "--user-data-dir=" + self.profile, "about:blank"],
            pass_fds=(3, 4, to_browser_r, from_browser_w), preexec_fn=wire,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def send(self, method, params=None, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.read(deadline)
            if reply is None:
                break
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self.events.append(reply)
        raise TimeoutError("no answer to " + method)

    def read(self, deadline):
        while b"\0" not in self.buffer:
            import select
            ready, _, _ = select.select([self.from_browser], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("the browser closed its pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def wait_for(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        for index, event in enumerate(self.events):
            if event.get("method") == method:
                del self.events[index]
                return event
        while time.monotonic() < deadline:
            event = self.read(deadline)
            if event is None:
                break
            if event.get("method") == method:
                return event
            self.events.append(event)
        raise TimeoutError("no " + method)

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError("page script failed: %s" % result["exceptionDetails"])
        return result["result"].get("value")

    def close(self):
        try:
            self.process.terminate()
            self.process.wait(timeout=10)
        except Exception:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def errors_in(events):
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append("console.%s: %s" % (params["type"], [a.get("value") for a in params.get("args", [])]))
        elif method == "Runtime.exceptionThrown":
            found.append("exception: %s" % params.get("exceptionDetails", {}).get("text"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            found.append("%s: %s %s" % (entry.get("source"), entry.get("text"), entry.get("url", "")))
    return found


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    url, token, screenshot, clusters = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    browser = Browser()
    failures = []
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        browser.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(domain + ".enable")
        browser.send("Emulation.setDeviceMetricsOverride", {"width": 1366, "height": 900, "deviceScaleFactor": 1, "mobile": False})

        browser.send("Page.navigate", {"url": url + "/ui/login"})
        browser.wait_for("Page.loadEventFired")
        if browser.evaluate("document.title") != "caulk — sign in":
            failures.append("the sign-in page did not load: %r" % browser.evaluate("document.title"))
        # Typed into the form and submitted, as a person would.
        browser.evaluate("document.getElementById('token').value = %s; document.querySelector('form').submit()" % json.dumps(token))
        browser.wait_for("Page.loadEventFired")

        title = browser.evaluate("document.title")
        text = browser.evaluate("document.body.innerText") or ""
        if title != "caulk — fleet":
            failures.append("after signing in the page is %r, not the dashboard: %s" % (title, text[:300]))
        for cluster in clusters:
            if cluster not in text:
                failures.append("cluster %s is not on the dashboard" % cluster)
        charts = browser.evaluate("document.querySelectorAll('svg.chart').length")
        bars = browser.evaluate("document.querySelectorAll('svg.chart rect').length")
        if charts != 4:
            failures.append("%s charts, expected 4" % charts)
        if not bars:
            failures.append("the charts have no bars")
        if browser.evaluate("document.cookie") != "":
            failures.append("the page can read the sign-in cookie: it must be HttpOnly")

        height = browser.evaluate("document.documentElement.scrollHeight")
        browser.send("Emulation.setDeviceMetricsOverride", {"width": 1366, "height": int(height), "deviceScaleFactor": 1, "mobile": False})
        shot = browser.send("Page.captureScreenshot", {"format": "png"})
        import base64
        with open(screenshot, "wb") as out:
            out.write(base64.b64decode(shot["data"]))
        # Let late console messages arrive before judging.
        try:
            browser.wait_for("Never.happens", timeout=1)
        except TimeoutError:
            pass
        failures += errors_in(browser.events)
        print("dashboard_browser.py: %s; %d clusters named, %s charts, %s bars; screenshot %s (%d bytes)"
              % (title, len(clusters), charts, bars, screenshot, os.path.getsize(screenshot)))
    finally:
        browser.close()
    for failure in failures:
        print("dashboard_browser.py: FAIL " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
