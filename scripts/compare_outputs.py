#!/usr/bin/env python3
"""Compares two trees written by scripts/reference_outputs.sh, file by file.

Every output file must be byte-identical except:
- summary.json: wall times, latencies, the provenance block and the version are left out;
- ticks.csv: the wall-time columns (*_ms) are left out;
- events.jsonl: a health of "inf" (older builds) and null (newer) are the same;
- *.stdout lines that report times, *.stderr (backend note, progress) and the run marker
  .marginsync-run (command, version, start time) are not compared;
- the path of the tree itself reads as ROOT.
Usage: compare_outputs.py BEFORE AFTER   (exit 1 when they differ)
"""
import csv, io, json, os, sys

TIMING_WORDS = ("time", "seconds", "latency", "wall", "_ms", "per_second", "provenance", "version",
                "started", "command_line")


def strip_timing(value):
    if isinstance(value, dict):
        return {k: strip_timing(v) for k, v in value.items()
                if not any(w in k for w in TIMING_WORDS)}
    if isinstance(value, list):
        return [strip_timing(v) for v in value]
    return value


def normalized(path, root):
    name = os.path.basename(path)
    with open(path, "rb") as f:
        data = f.read().replace(os.path.abspath(root).encode(), b"ROOT")
    if name == "summary.json":
        return json.dumps(strip_timing(json.loads(data)), sort_keys=True, indent=1)
    if name == "ticks.csv":
        rows = list(csv.reader(io.StringIO(data.decode())))
        keep = [i for i, h in enumerate(rows[0]) if not h.endswith("_ms")] if rows else []
        return "\n".join(",".join(r[i] for i in keep) for r in rows)
    if name == "events.jsonl":
        out = []
        for line in data.decode().splitlines():
            e = json.loads(line)
            if e.get("health") == "inf":
                e["health"] = None
            out.append(json.dumps(e, sort_keys=True))
        return "\n".join(out)
    if name.endswith(".stdout"):
        return "\n".join(l for l in data.decode().splitlines()
                         if not l.startswith("time:") and "wall" not in l and " s" not in l)
    return data


def files(root):
    found = set()
    for d, _, names in os.walk(root):
        for n in names:
            if n.endswith(".stderr") or n == ".marginsync-run":
                continue
            found.add(os.path.relpath(os.path.join(d, n), root))
    return found


def main(before, after):
    a, b = files(before), files(after)
    bad = 0
    for rel in sorted(a | b):
        if rel not in a or rel not in b:
            print(f"only in {'before' if rel in a else 'after'}: {rel}")
            bad += 1
            continue
        if normalized(os.path.join(before, rel), before) != normalized(os.path.join(after, rel), after):
            print(f"differs: {rel}")
            bad += 1
    print(f"{len(a | b)} files compared, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
