#!/usr/bin/env python3
"""Regenerates the sample tick streams of data/streams/ for the sample book data/sample.

    python3 data/streams/make_streams.py [OUT_DIR]      (default: this script's directory)

Standard library only; deterministic: each stream has its own random.Random(seed), and normals
come from Box-Muller on random() (whose sequence for an integer seed is fixed across Python
versions), so the same script writes the same bytes. Prices are rounded to cents.

The market is data/sample/market.json: BTC spot 91000 vol 0.55, ETH spot 3100 vol 0.70,
correlation 0.8, as_of 2026-11-24T08:00:00Z. Every stream starts one second after as_of and
ticks BTC then ETH at each whole second (the same timestamps for both), like
`marginsync generate --ticks`.

calm_hour.csv
    08:00:01Z .. 09:00:00Z, 3600 timestamps x 2 = 7200 data rows (7201 lines with the header).
    Correlated geometric Brownian motion at the market vols, zero drift, no jumps.

crash.jsonl
    JSON lines {"ts": ISO, "underlying": ..., "price": ...}, 08:00:01Z .. 08:40:00Z, 2400
    timestamps x 2 = 4800 lines. 08:00-08:10 calm; BTC falls 30% from 08:10 to 08:30 (a smooth
    S-shaped path, noise three times the calm vol); ETH follows one minute later (08:11-08:31)
    and falls 35%; then stabilisation to 08:40 with the noise decaying to the calm level. Noise is
    mean-reverting around the path (time constant 30 s), so the falls are 30% and 35% to within
    the noise (a fraction of a percent).

stale_out_of_order.csv
    08:00:01Z .. 08:10:00Z (600 timestamps), calm GBM as in calm_hour.csv, with these anomalies
    (line numbers are 1-based and count the header as line 1; the script checks them):
    - ETH is silent from 08:05:00Z to 08:05:19Z inclusive: its last tick before the gap is
      08:04:59Z (line 603), the next 08:05:20Z (line 625); 21 s between the two ticks, longer
      than stale_after_ms = 5000. BTC ticks throughout (its rows 08:05:00Z .. 08:05:19Z
      are lines 604 .. 623, one a second).
    - 5 out-of-order ticks: a timestamp with a fraction of a second, older than the last tick
      already sent for that underlying, placed after the rows of a later second:
        line 212  BTC 2026-11-24T08:01:40.5Z   after the 08:01:45Z rows (BTC last sent 08:01:45Z)
        line 309  ETH 2026-11-24T08:02:30.25Z  after the 08:02:33Z rows (ETH last sent 08:02:33Z)
        line 388  BTC 2026-11-24T08:03:10.75Z  after the 08:03:12Z rows (BTC last sent 08:03:12Z)
        line 836  BTC 2026-11-24T08:06:59.5Z   after the 08:07:05Z rows (BTC last sent 08:07:05Z)
        line 990  ETH 2026-11-24T08:08:20.5Z   after the 08:08:21Z rows (ETH last sent 08:08:21Z)
    - 2 malformed lines (extra lines; the well-formed rows around them are complete):
        line 425  2026-11-24T08:03:30Z,BTC,n/a     non-numeric price
        line 917  2026-11-24T08:07:45Z,DOGE,0.16   unknown underlying
    Rows: 1 header + 600 BTC + 580 ETH + 5 late + 2 malformed = 1188 lines.
"""
import math
import os
import random
import sys

AS_OF_HOUR = 8  # 2026-11-24T08:00:00Z, the sample market's as_of
SPOT = {"BTC": 91000.0, "ETH": 3100.0}
VOL = {"BTC": 0.55, "ETH": 0.70}
RHO = 0.8
SECONDS_PER_YEAR = 31536000.0  # ACT/365, as docs/design.md section 3
DT = 1.0 / SECONDS_PER_YEAR  # one second

# stale_out_of_order.csv: the anomalies above, as (seconds after as_of) and checked line numbers.
ETH_SILENT = range(300, 320)  # no ETH row for 08:05:00Z .. 08:05:19Z
# (underlying, late timestamp in seconds, inserted after the rows of this second, expected line)
LATE_TICKS = [("BTC", 100.5, 105, 212), ("ETH", 150.25, 153, 309), ("BTC", 190.75, 192, 388),
              ("BTC", 419.5, 425, 836), ("ETH", 500.5, 501, 990)]
# (line text without the timestamp's seconds, inserted after the rows of this second, expected line)
MALFORMED = [("BTC,n/a", 210, 425), ("DOGE,0.16", 465, 917)]
EXPECTED_STALE_LINES = 1188
EXPECTED_ETH_AROUND_GAP = (603, 625)


def timestamp(seconds):
    """ISO 8601 UTC of as_of + seconds, with the shortest exact fraction (as format_timestamp)."""
    whole = int(math.floor(seconds))
    frac = seconds - whole
    h, rest = divmod(AS_OF_HOUR * 3600 + whole, 3600)
    m, s = divmod(rest, 60)
    text = "2026-11-24T%02d:%02d:%02d" % (h, m, s)
    if frac:
        text += ("%.9f" % frac)[1:].rstrip("0")
    return text + "Z"


def price_text(p):
    return "%.2f" % p


class normals:
    """Standard normals by Box-Muller from random.Random(seed).random()."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.spare = None

    def next(self):
        if self.spare is not None:
            z, self.spare = self.spare, None
            return z
        u1 = 1.0 - self.rng.random()  # (0, 1]: log is finite
        u2 = self.rng.random()
        r = math.sqrt(-2.0 * math.log(u1))
        self.spare = r * math.sin(2.0 * math.pi * u2)
        return r * math.cos(2.0 * math.pi * u2)

    def correlated_pair(self):
        e1, e2 = self.next(), self.next()
        return e1, RHO * e1 + math.sqrt(1.0 - RHO * RHO) * e2


def gbm_paths(seed, steps):
    """{symbol: [price at second 0 .. steps]}: correlated GBM, zero drift but the Ito term."""
    z = normals(seed)
    logs = {"BTC": [0.0], "ETH": [0.0]}
    for _ in range(steps):
        zb, ze = z.correlated_pair()
        for sym, shock in (("BTC", zb), ("ETH", ze)):
            v = VOL[sym]
            logs[sym].append(logs[sym][-1] - 0.5 * v * v * DT + v * math.sqrt(DT) * shock)
    return {sym: [SPOT[sym] * math.exp(x) for x in logs[sym]] for sym in logs}


def write(path, lines):
    with open(path, "w", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))


def calm_hour(out_dir):
    steps = 3600
    paths = gbm_paths(seed=20261124, steps=steps)
    lines = ["timestamp,underlying,price"]
    for k in range(1, steps + 1):
        for sym in ("BTC", "ETH"):
            lines.append("%s,%s,%s" % (timestamp(k), sym, price_text(paths[sym][k])))
    write(os.path.join(out_dir, "calm_hour.csv"), lines)


def smoothstep(x):
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def crash(out_dir):
    steps = 2400
    calm_end, fall_seconds, eth_lag = 600, 1200, 60
    fall = {"BTC": 0.30, "ETH": 0.35}
    lag = {"BTC": 0, "ETH": eth_lag}
    tau = 30.0  # mean reversion of the noise, seconds
    z = normals(seed=7301)
    noise = {"BTC": 0.0, "ETH": 0.0}
    lines = []
    for k in range(1, steps + 1):
        # Noise vol: calm, three times calm while BTC falls, decaying back over the last 10 min.
        if k <= calm_end:
            scale = 1.0
        elif k <= calm_end + fall_seconds + eth_lag:
            scale = 3.0
        else:
            scale = 1.0 + 2.0 * math.exp(-(k - calm_end - fall_seconds - eth_lag) / 120.0)
        zb, ze = z.correlated_pair()
        for sym, shock in (("BTC", zb), ("ETH", ze)):
            step_sd = VOL[sym] * math.sqrt(DT) * scale
            noise[sym] = noise[sym] * (1.0 - 1.0 / tau) + step_sd * shock
            trend = 1.0 - fall[sym] * smoothstep((k - calm_end - lag[sym]) / fall_seconds)
            p = SPOT[sym] * trend * math.exp(noise[sym])
            lines.append('{"ts": "%s", "underlying": "%s", "price": %s}' % (timestamp(k), sym, price_text(p)))
    write(os.path.join(out_dir, "crash.jsonl"), lines)


def stale_out_of_order(out_dir):
    steps = 600
    paths = gbm_paths(seed=424242, steps=steps)
    lines = ["timestamp,underlying,price"]
    eth_lines = {}
    late_lines, malformed_lines = [], []
    for k in range(1, steps + 1):
        for sym in ("BTC", "ETH"):
            if sym == "ETH" and k in ETH_SILENT:
                continue
            lines.append("%s,%s,%s" % (timestamp(k), sym, price_text(paths[sym][k])))
            if sym == "ETH":
                eth_lines[k] = len(lines)
        for sym, late, after, _ in LATE_TICKS:
            if after == k:
                # A price between its neighbouring seconds' (log-linear), as a delayed tick would be.
                lo, w = int(math.floor(late)), late - math.floor(late)
                p = paths[sym][lo] ** (1.0 - w) * paths[sym][lo + 1] ** w
                lines.append("%s,%s,%s" % (timestamp(late), sym, price_text(p)))
                late_lines.append(len(lines))
        for text, after, _ in MALFORMED:
            if after == k:
                lines.append("%s,%s" % (timestamp(k), text))
                malformed_lines.append(len(lines))
    # The documented line numbers (module docstring, README.md) are what was written.
    assert late_lines == [t[3] for t in LATE_TICKS], late_lines
    assert malformed_lines == [t[2] for t in MALFORMED], malformed_lines
    assert (eth_lines[ETH_SILENT.start - 1], eth_lines[ETH_SILENT.stop]) == EXPECTED_ETH_AROUND_GAP
    assert len(lines) == EXPECTED_STALE_LINES, len(lines)
    write(os.path.join(out_dir, "stale_out_of_order.csv"), lines)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    calm_hour(out_dir)
    crash(out_dir)
    stale_out_of_order(out_dir)


if __name__ == "__main__":
    main()
