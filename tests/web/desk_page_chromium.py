#!/usr/bin/env python3
"""The risk desk page (docs/design.md 8.12) in a real browser against a real server.

    desk_page_chromium.py MARGINSYNC SOURCE_DIR

Starts `marginsync serve` on the sample book and the crash stream on an ephemeral loopback port,
waits for the feed to end and its last update to be applied, asks the API itself for the summary and the 10 accounts closest to
liquidation, then loads `/` in headless Chromium (Debian's chromium), lets the page poll, and
checks that the DOM it ends with shows the same: the count of accounts per state, the same
accounts in the same order, the stream time, a live connection. Then SIGTERM, exit 0. Once more
with --token-file and the page opened as `/?token=T`; without the token the page is 401.

Python's standard library only. Exit 77 (CTest's SKIP_RETURN_CODE) when no Chromium is installed.
"""
import datetime
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser

SKIP = 77
STATES = ["ok", "preemptive", "margin_call", "liquidate", "liquidation_held"]
READY_TIMEOUT_S = 60
FEED_TIMEOUT_S = 600  # the crash stream: 2,400 updates, each with a risk run (slow under ASan)
STOP_TIMEOUT_S = 60

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


# ---- the DOM Chromium dumps, as a tree ---------------------------------------------------------
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.walk()


class DomBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", [], None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        node = self.cur
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.cur = node.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse_dom(html):
    b = DomBuilder()
    b.feed(html)
    b.close()
    ids = {}
    for n in b.root.walk():
        if "id" in n.attrs:
            ids.setdefault(n.attrs["id"], n)
    return b.root, ids


# ---- the server --------------------------------------------------------------------------------
def http_get(url, token=None, timeout=10):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def get_json(url, token=None):
    return json.loads(http_get(url, token)[1])


def start_server(binary, src, tmp, token_file=None):
    ready = os.path.join(tmp, "ready")
    cmd = [binary, "serve", "--book", os.path.join(src, "data", "sample"),
           "--ticks", os.path.join(src, "data", "streams", "crash.jsonl"),
           "--listen", "127.0.0.1:0", "--ready-file", ready, "-q", "--out", os.path.join(tmp, "out"),
           # 1,000 scenarios: the page shows the same things, and the sanitizer build's 2,400 risk
           # runs stay within minutes.
           "--scenarios", "1000"]
    if token_file:
        cmd += ["--token-file", token_file]
    log = open(os.path.join(tmp, "server.log"), "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("marginsync serve exited with %d before it was ready: %s"
                               % (proc.returncode, server_log(tmp)))
        try:
            with open(ready) as f:
                text = f.read()
            if text.endswith("\n"):
                return proc, text.strip()
        except FileNotFoundError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("no %s after %d s: %s" % (ready, READY_TIMEOUT_S, server_log(tmp)))


def server_log(tmp):
    try:
        with open(os.path.join(tmp, "server.log"), "rb") as f:
            return f.read()[-4000:].decode(errors="replace")
    except OSError:
        return ""


def instant(iso):
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))


def last_timestamp(ticks):
    with open(ticks) as f:
        lines = [line for line in f if line.strip()]
    return instant(json.loads(lines[-1])["ts"])


def wait_feed_applied(url, token, last_ts):
    # `feed: ended` says the file has been read to its end; its updates may still be queued for
    # the engine. Applied, and so still from here on, once stream time is the file's last.
    deadline = time.monotonic() + FEED_TIMEOUT_S
    while time.monotonic() < deadline:
        summary = get_json(url + "/v1/summary", token)
        stream = summary["stream"]
        if stream["feed"] == "ended" and stream["time"] and instant(stream["time"]) == last_ts:
            return summary
        time.sleep(0.25)
    raise RuntimeError("the feed was not applied to its end (%s) within %d s"
                       % (last_ts.isoformat(), FEED_TIMEOUT_S))


def stop_server(proc, tmp):
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        check(False, "the server stops within %d s of SIGTERM" % STOP_TIMEOUT_S)
        return
    check(code == 0, "SIGTERM: the server exits 0 (got %d)" % code)
    if code != 0:
        print(server_log(tmp))


# ---- the page in Chromium ----------------------------------------------------------------------
def dump_dom(chromium, page_url, tmp):
    # --virtual-time-budget: the page's clock runs 5 s (five polls) while Chromium waits for each
    # request, however slow the machine; then the DOM as it stands is printed.
    # --disable-dev-shm-usage: a container's /dev/shm (64 MiB in Docker) can be too small for it.
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--virtual-time-budget=5000", "--user-data-dir=" + os.path.join(tmp, "chromium-profile"),
           "--dump-dom", page_url]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
    if r.returncode != 0 or not r.stdout.strip():
        raise RuntimeError("chromium exited %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[-3000:]))
    return r.stdout.decode("utf-8")


def check_page(chromium, url, page_url, token, tmp, label, last_ts):
    summary = wait_feed_applied(url, token, last_ts)
    closest = get_json(url + "/v1/accounts?order=health&limit=10", token)
    # The feed has ended: nothing changes any more, so what the page shows must equal these.
    root, ids = parse_dom(dump_dom(chromium, page_url, tmp))
    body = next((n for n in root.walk() if n.tag == "body"), None)
    check(body is not None and body.attrs.get("data-loaded") == "1",
          label + ": body data-loaded is 1 (a round of the three fetches succeeded)")

    def text(i):
        return ids[i].text().strip() if i in ids else None

    for state in STATES:
        want = str(summary["accounts"][state])
        got = text("count-" + state)
        check(got == want, "%s: count-%s shows %s (API: %s)" % (label, state, got, want))
    check(text("conn") == "live", "%s: conn says live (got %r)" % (label, text("conn")))
    check(text("stream-time") == summary["stream"]["time"],
          "%s: stream-time shows %r (API: %r)" % (label, text("stream-time"), summary["stream"]["time"]))
    check(text("updates") == str(summary["stream"]["updates"]),
          "%s: updates shows %r (API: %r)" % (label, text("updates"), summary["stream"]["updates"]))
    for key in ("backend", "method"):
        check(text(key) == summary[key],
              "%s: %s shows %r (API: %r)" % (label, key, text(key), summary[key]))
    scenarios = (text("scenarios") or "").replace(",", "")
    check(scenarios == str(summary["scenarios"]),
          "%s: scenarios shows %r (API: %r)" % (label, text("scenarios"), summary["scenarios"]))
    table = ids.get("closest")
    shown = [n.attrs["data-account"] for n in table.walk()
             if n.tag == "tr" and "data-account" in n.attrs] if table is not None else None
    want = [a["account"] for a in closest["accounts"]]
    check(shown == want, "%s: the closest table lists %s (API: %s)" % (label, shown, want))
    for chart in ("chart-tick", "chart-risk", "chart-staleness"):
        drawn = chart in ids and any(n.tag in ("polyline", "circle") for n in ids[chart].walk())
        check(drawn, "%s: %s is drawn" % (label, chart))
    oracles = ids.get("oracles")
    rows = [n for n in oracles.walk() if n.tag == "tr"] if oracles is not None else []
    check(len(rows) == len(summary["oracles"]) + 1,  # the header row
          "%s: one oracles row per underlying (%d)" % (label, len(summary["oracles"])))


def run_case(binary, src, chromium, with_token):
    label = "token" if with_token else "no token"
    with tempfile.TemporaryDirectory(prefix="msync-desk-") as tmp:
        token = token_file = None
        if with_token:
            token = secrets.token_hex(16)  # 32 characters
            token_file = os.path.join(tmp, "token")
            with open(token_file, "w") as f:
                f.write(token + "\n")
        proc, url = start_server(binary, src, tmp, token_file)
        try:
            page_url = url + "/" + ("?token=" + token if token else "")
            if with_token:
                try:
                    status = http_get(url + "/")[0]
                except urllib.error.HTTPError as e:
                    status = e.code
                check(status == 401, "token: the page without the token is 401 (got %d)" % status)
            check_page(chromium, url, page_url, token, tmp, label,
                       last_timestamp(os.path.join(src, "data", "streams", "crash.jsonl")))
        except Exception:
            proc.kill()
            proc.wait()
            print(server_log(tmp))
            raise
        stop_server(proc, tmp)


def main():
    if len(sys.argv) != 3:
        print("usage: desk_page_chromium.py MARGINSYNC SOURCE_DIR", file=sys.stderr)
        return 2
    binary, src = sys.argv[1], sys.argv[2]
    chromium = find_chromium()
    if chromium is None:
        print("SKIP: no chromium or chromium-browser (Debian: apt-get install chromium)")
        return SKIP
    for with_token in (False, True):
        run_case(binary, src, chromium, with_token)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
