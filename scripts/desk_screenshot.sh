#!/usr/bin/env bash
# Takes the README's screenshot of the risk desk page (docs/design.md 8.12): starts
# `marginsync serve` on the sample book and the crash stream on a free loopback port, waits for the
# feed to end, has headless Chromium (Debian: apt-get install chromium) render `/` at 1400x900
# after five seconds of polling, then stops the server with SIGTERM.
#
#   scripts/desk_screenshot.sh [MARGINSYNC [OUT.png]]     (default: build/marginsync docs/desk.png)
set -euo pipefail
cd "$(dirname "$0")/.."

marginsync=${1:-build/marginsync}
out=${2:-docs/desk.png}
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  echo "desk_screenshot: no chromium (Debian: apt-get install chromium)" >&2
  exit 1
fi
[ -x "$marginsync" ] || { echo "desk_screenshot: $marginsync is not an executable" >&2; exit 1; }

tmp=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$marginsync" serve --book data/sample --ticks data/streams/crash.jsonl --listen 127.0.0.1:0 \
  --ready-file "$tmp/ready" -q --out "$tmp/out" >"$tmp/server.log" 2>&1 &
server=$!

# The server writes http://HOST:PORT to the ready file once it listens (with port 0: a free one).
for _ in $(seq 600); do
  [ -s "$tmp/ready" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
  sleep 0.1
done
url=$(head -n 1 "$tmp/ready")
[ -n "$url" ] || { echo "desk_screenshot: the server did not start within 60 s" >&2; exit 1; }

# `feed: ended` once the file is read; its last update is applied when stream time reaches its
# last timestamp.
echo "desk_screenshot: $url, waiting for the crash stream to be applied to its end"
python3 - "$url" data/streams/crash.jsonl <<'PY'
import json, sys, time, urllib.request
url, ticks = sys.argv[1], sys.argv[2]
with open(ticks) as f:
    last = json.loads([line for line in f if line.strip()][-1])["ts"]
deadline = time.monotonic() + 900
while time.monotonic() < deadline:
    with urllib.request.urlopen(url + "/v1/summary", timeout=10) as r:
        stream = json.load(r)["stream"]
    if stream["feed"] == "ended" and stream["time"] == last:
        sys.exit(0)
    time.sleep(0.5)
sys.exit("desk_screenshot: the feed was not applied to its end within 900 s")
PY

"$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
  --window-size=1400,900 --user-data-dir="$tmp/chromium-profile" --virtual-time-budget=5000 \
  --screenshot="$(realpath -m "$out")" "$url/" 2>"$tmp/chromium.log" ||
  { tail -20 "$tmp/chromium.log" >&2; exit 1; }

kill -TERM "$server"
status=0
wait "$server" || status=$?
server=
[ "$status" -eq 0 ] || { echo "desk_screenshot: the server exited $status" >&2; exit 1; }
echo "desk_screenshot: wrote $out ($(wc -c <"$out") bytes)"
