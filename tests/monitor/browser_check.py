#!/usr/bin/env python3
"""Open an edgeroute dashboard or report page in headless Chromium and check it.

Drives Chromium over the DevTools protocol (websocket-client): enables the
Runtime, Log, Network and Page domains, navigates to --url, waits until the
page sets window.__edgerouteRendered >= --min-renders, then checks that

  * no console error, uncaught exception, failed load, HTTP error response or
    JavaScript dialog (an injected alert()) happened,
  * the page holds at least --min-points `[data-point]` elements (and, with
    --every-chart, at least one in every chart),
  * no SVG attribute holds NaN or Infinity,
  * the error banner is hidden (unless --allow-banner),

or, with --expect-banner, that the page shows its error banner (a live page
whose fetches fail: HTTP errors are then expected, exceptions still fail),

saves a full-page screenshot and prints a JSON summary on stdout. Exit codes:
0 pass, 1 fail (the reason on stderr), 2 bad arguments, 77 skipped (no
Chromium or no websocket-client), for ctest's SKIP_RETURN_CODE.

Reusable for the live dashboard: pass the service's /dashboard URL (with
#token=... if the service needs one) and --min-renders 2 to see a refresh.
"""
import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77


class Failure(Exception):
    pass


class DevTools:
    """One websocket to the browser target; page commands go through a flat session."""

    def __init__(self, websocket_module, url, deadline):
        self.deadline = deadline
        self.ws = websocket_module.create_connection(url, timeout=5, suppress_origin=True)
        self.timeout_error = websocket_module.WebSocketTimeoutException
        self.next_id = 0
        self.events = []
        self.session = None

    def close(self):
        self.ws.close()

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Failure("timed out waiting for the browser")
        return left

    def _receive(self):
        self.ws.settimeout(max(0.05, min(1.0, self.remaining())))
        try:
            message = json.loads(self.ws.recv())
        except self.timeout_error:
            return None
        if message.get("method") == "Page.javascriptDialogOpening":
            # A dialog blocks the page's JavaScript (and our evaluations):
            # dismiss it at once; the recorded event still fails the check.
            self.next_id += 1
            self.ws.send(json.dumps({"id": self.next_id, "method": "Page.handleJavaScriptDialog",
                                     "params": {"accept": False}, "sessionId": message.get("sessionId")}))
        return message

    def call(self, method, params=None, browser=False):
        self.next_id += 1
        wanted = self.next_id
        message = {"id": wanted, "method": method, "params": params or {}}
        if not browser and self.session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        while True:
            reply = self._receive()
            if reply is None:
                continue
            if reply.get("id") == wanted:
                if "error" in reply:
                    raise Failure(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def pump(self, seconds):
        """Collects events for a while."""
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            reply = self._receive()
            if reply is not None and "method" in reply:
                self.events.append(reply)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise Failure(f"evaluating {expression!r} threw: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")


def problems_in(events, http_errors_expected=False):
    """Human-readable problems from the collected DevTools events."""
    found = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            found.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            found.append(f"uncaught exception: {text}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            if http_errors_expected and entry.get("source") == "network":
                continue
            found.append(f"log error ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".rstrip())
        elif method == "Network.loadingFailed" and not params.get("canceled") and not http_errors_expected:
            found.append(f"failed load: {params.get('errorText')} ({params.get('type')})")
        elif method == "Network.responseReceived":
            response = params.get("response", {})
            if response.get("status", 0) >= 400 and not http_errors_expected:
                found.append(f"HTTP {response['status']} for {response.get('url')}")
        elif method == "Page.javascriptDialogOpening":
            found.append(f"JavaScript {params.get('type')} dialog opened: {params.get('message')!r}")
    return found


def find_chromium(explicit):
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def start_chromium(binary, profile, deadline):
    log = open(os.path.join(profile, "chromium.log"), "wb")
    process = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
         "--remote-debugging-port=0", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--metrics-recording-only", "--mute-audio", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    log.close()
    active_port = os.path.join(profile, "DevToolsActivePort")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with open(active_port) as f:
                lines = f.read().split("\n")
            if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                return process, f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}"
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    with open(os.path.join(profile, "chromium.log"), "rb") as f:
        tail = f.read()[-2000:].decode("utf-8", "replace")
    raise Failure(f"{binary} did not open its DevTools port (exit code {process.poll()}):\n{tail}")


def stop_chromium(process):
    if process is None or process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


# Counts data points per chart (keyed by the card's heading) and finds SVG
# attributes that are not finite numbers.
INSPECT = r"""(() => {
  const charts = [];
  document.querySelectorAll('svg.chart').forEach((s) => {
    const card = s.closest('section');
    const h = card ? card.querySelector('h2') : null;
    charts.push({chart: h ? h.textContent : '?', points: s.querySelectorAll('[data-point]').length});
  });
  const bad = [];
  document.querySelectorAll('svg, svg *').forEach((n) => {
    for (const a of n.attributes) {
      if (/NaN|Infinity|undefined/.test(a.value)) bad.push(n.tagName + '[' + a.name + '=' + a.value.slice(0, 60) + ']');
    }
  });
  const banner = document.getElementById('er-banner');
  return {
    points: document.querySelectorAll('[data-point]').length,
    charts: charts,
    bad_attributes: bad.slice(0, 10),
    banner: banner && !banner.hidden ? banner.textContent : null,
    title: document.title,
  };
})()"""


def check(args, websocket_module, chromium):
    deadline = time.monotonic() + args.timeout
    profile = tempfile.mkdtemp(prefix="edgeroute-chromium-")
    process = None
    devtools = None
    try:
        process, browser_url = start_chromium(chromium, profile, deadline)
        devtools = DevTools(websocket_module, browser_url, deadline)
        target = devtools.call("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        devtools.session = devtools.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                         browser=True)["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            devtools.call(f"{domain}.enable")
        devtools.call("Emulation.setDeviceMetricsOverride",
                      {"width": args.width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        navigation = devtools.call("Page.navigate", {"url": args.url})
        if navigation.get("errorText"):
            raise Failure(f"could not load {args.url}: {navigation['errorText']}")
        if args.expect_banner:
            wait_for = ("document.getElementById('er-banner') && !document.getElementById('er-banner').hidden ? 1 : 0", 1,
                        "the error banner never showed")
        else:
            wait_for = ("Number(window.__edgerouteRendered) || 0", args.min_renders,
                        f"window.__edgerouteRendered stayed below {args.min_renders}")
        reached = 0
        while reached < wait_for[1]:
            problems = problems_in(devtools.events, args.expect_banner)
            if problems:
                raise Failure("\n".join(problems))
            if time.monotonic() > deadline:
                raise Failure(f"{wait_for[2]} for {args.timeout} s")
            reached = devtools.evaluate(wait_for[0])
            if reached < wait_for[1]:
                devtools.pump(0.1)
        # Late errors (a second fetch, a deferred exception) still count.
        devtools.pump(args.settle)
        problems = problems_in(devtools.events, args.expect_banner)
        if problems:
            raise Failure("\n".join(problems))
        page = devtools.evaluate(INSPECT)
        summary = {"url": args.url, "renders": devtools.evaluate("Number(window.__edgerouteRendered) || 0"),
                   "points": page["points"], "charts": page["charts"], "title": page["title"], "banner": page["banner"],
                   "screenshot": args.screenshot}
        if args.screenshot:
            metrics = devtools.call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            shot = devtools.call("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
            os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
            with open(args.screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
        failures = []
        if page["points"] < args.min_points:
            failures.append(f"only {page['points']} [data-point] elements, wanted >= {args.min_points}")
        if args.every_chart:
            empty = [c["chart"] for c in page["charts"] if c["points"] == 0]
            if empty or not page["charts"]:
                failures.append(f"charts without data points: {empty or 'no charts at all'}")
        if page["bad_attributes"]:
            failures.append(f"SVG attributes that are not numbers: {page['bad_attributes']}")
        if args.expect_banner and not page["banner"]:
            failures.append("the error banner is empty or hidden")
        if page["banner"] and not (args.allow_banner or args.expect_banner):
            failures.append(f"the error banner is showing: {page['banner']!r}")
        print(json.dumps(summary, indent=1))
        if failures:
            raise Failure("\n".join(failures))
    finally:
        if devtools is not None:
            devtools.close()
        stop_chromium(process)
        shutil.rmtree(profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="http://… or file://… page to open")
    parser.add_argument("--screenshot", help="write a full-page PNG here")
    parser.add_argument("--min-points", type=int, default=1, help="fewest [data-point] elements to accept")
    parser.add_argument("--min-renders", type=int, default=1,
                        help="wait until window.__edgerouteRendered reaches this (2 sees a live refresh)")
    parser.add_argument("--every-chart", action="store_true", help="every chart must hold a data point")
    parser.add_argument("--allow-banner", action="store_true", help="do not fail when the error banner shows")
    parser.add_argument("--expect-banner", action="store_true",
                        help="wait for the error banner instead of a render; HTTP errors are expected")
    parser.add_argument("--timeout", type=float, default=30, help="seconds for the whole check")
    parser.add_argument("--settle", type=float, default=0.5, help="seconds to keep listening after the render")
    parser.add_argument("--width", type=int, default=1400, help="viewport width in CSS pixels")
    parser.add_argument("--chromium", help="Chromium binary (default: chromium on PATH)")
    args = parser.parse_args()
    if not args.url.startswith(("http://", "https://", "file://")):
        parser.error(f"--url {args.url}: expected http://, https:// or file://")

    try:
        import websocket
    except ImportError:
        print("SKIP: the Python package websocket-client is not installed for "
              f"{sys.executable} (pip install -r python/requirements.txt)", file=sys.stderr)
        return SKIP
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print(f"SKIP: no Chromium ({args.chromium or 'chromium on PATH'}); "
              "install the Debian package chromium", file=sys.stderr)
        return SKIP
    # ctest's timeout sends SIGTERM: unwind so that Chromium is still stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"FAIL: {args.url}: stopped by signal {signum}"))
    try:
        check(args, websocket, chromium)
    except Failure as e:
        print(f"FAIL: {args.url}\n{e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
