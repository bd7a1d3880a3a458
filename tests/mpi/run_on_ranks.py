#!/usr/bin/env python3
"""marginsync across MPI ranks against one process (docs/design.md 16), one case per ctest test.

  run_on_ranks.py CASE --cli MARGINSYNC --mpirun MPIRUN --source DIR --work DIR

A compare case runs `marginsync margin` in one process and under `mpirun --oversubscribe -np K`
with the same options (--threads 1 each, so that the summaries' `device` match) and requires
accounts.csv, exposures.csv and summary.json to be the same bytes, except the summary's wall times
and provenance block (scripts/compare_outputs.py). Exit 77 (ctest's skip) without --mpirun: a build
without MPI.
"""
import argparse, json, os, random, shutil, struct, subprocess, sys

SKIP = 77


def run(cmd, expect=0):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if expect is not None and p.returncode != expect:
        print("$ " + " ".join(cmd))
        print(p.stdout + p.stderr)
        raise SystemExit(f"exit status {p.returncode}, expected {expect}")
    return p


def scenario_file(path, symbols, count, seed):
    rng = random.Random(seed)
    with open(path, "w") as f:
        f.write("scenario_id,underlying,spot_return,vol_change\n")
        for s in range(count):
            for u in symbols:
                f.write(f"s{s},{u},{rng.gauss(0, 0.08):.6f},{rng.gauss(0, 0.2):.6f}\n")


def spoil_quantities(path):
    """Every position quantity of a snapshot (docs/design.md 12.1: the 17th section) set to 1e300,
    out of range."""
    data = bytearray(open(path, "rb").read())
    at = 64  # the header
    for section in range(17):
        length = struct.unpack_from("<Q", data, at)[0]
        at += 64
        if section == 16:
            for i in range(length // 8):
                struct.pack_into("<d", data, at + 8 * i, 1e300)
        at += (length + 63) // 64 * 64
    open(path, "wb").write(bytes(data))


def accounts_of_part(accounts, scenarios, part, parts):
    """The accounts of part `part` of `parts` of a book (include/marginsync/risk_share.hpp)."""
    max_chunks = min(256, max(1, (256 << 20) // (8 * max(1, scenarios))))
    chunk = max(256, -(-accounts // max_chunks))
    n = -(-accounts // chunk)
    return min(accounts, n * (part + 1) // parts * chunk) - min(accounts, n * part // parts * chunk)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--cli", required=True)
    ap.add_argument("--mpirun", default="")
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--sanitized", action="store_true",
                    help="an AddressSanitizer build: no address-space limit can apply")
    a = ap.parse_args()
    if not a.mpirun:
        print("built without MPI: skipped")
        return SKIP
    if a.case == "fail_out_of_memory" and a.sanitized:
        # AddressSanitizer reserves terabytes of address space for its shadow memory at start.
        print("AddressSanitizer build: an address-space limit stops the process at start: skipped")
        return SKIP
    work = os.path.join(a.work, a.case)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    cli, sample = a.cli, os.path.join(a.source, "data", "sample")
    mpirun = [a.mpirun, "--oversubscribe"]
    compare = os.path.join(a.source, "scripts", "compare_outputs.py")

    # A generated book whose 2,000 accounts make 8 bad-debt chunks (7 of 256 and one of 208): 2
    # ranks take 4 + 4 chunks, 3 ranks 2 + 3 + 3, so the accounts divide unevenly.
    def generated(snapshot=False):
        out = os.path.join(work, "book.msbook" if snapshot else "book")
        run([cli, "generate", "--accounts", "2000", "--underlyings", "4",
             "--positions-per-account", "4", "--seed", "7", "--out", out, "-q"]
            + (["--snapshot"] if snapshot else []))
        return out

    def same_outputs(book, ranks, *options, command="margin"):
        opts = ["--threads", "1", "-q"] + list(options)
        one = os.path.join(work, "one")
        if not os.path.isdir(one):
            run([cli, command, "--book", book, "--out", one] + opts)
        for k in ranks:
            many = os.path.join(work, f"np{k}")
            run(mpirun + ["-np", str(k), cli, command, "--book", book, "--out", many] + opts)
            p = run([sys.executable, compare, one, many], expect=None)
            print(f"np {k}: " + p.stdout.strip())
            if p.returncode != 0:
                raise SystemExit(f"{k} ranks differ from one process")
            if '"ranks": %d' % k not in open(os.path.join(many, "summary.json")).read():
                raise SystemExit("the summary's provenance does not give the rank count")

    c = a.case
    if c == "sample_full":
        same_outputs(sample, [2, 3], "--method", "full")
    elif c == "sample_delta_gamma":
        same_outputs(sample, [2, 3], "--method", "delta_gamma")
    elif c == "generated_full":
        same_outputs(generated(), [2, 3], "--method", "full", "--scenarios", "2000")
    elif c == "generated_delta_gamma":
        same_outputs(generated(), [2, 3], "--method", "delta_gamma", "--scenarios", "2000")
    elif c == "snapshot_full":
        same_outputs(generated(snapshot=True), [3], "--method", "full", "--scenarios", "1000",
                     "--seed", "11")
    elif c == "snapshot_risk_order":
        # A snapshot whose accounts are stored in scenario risk's order: each rank's part is one
        # range of the file.
        book = os.path.join(work, "risk.msbook")
        run([cli, "convert", "--book", generated(), "--out", book, "--account-order", "risk",
             "-q"])
        same_outputs(book, [2, 3], "--method", "delta_gamma", "--scenarios", "1500")
    elif c == "scenario_file":
        scenarios = os.path.join(work, "scenarios.csv")
        scenario_file(scenarios, ["BTC", "ETH", "SOL", "BNB"], 500, 3)
        same_outputs(generated(), [2, 3], "--scenario-file", scenarios, "--method", "full")
    elif c == "cascade_rounds":
        # 3 rounds, 434 close-outs: every round's margins come from every rank's part.
        same_outputs(generated(), [2, 3], "--shock", "BTC=-0.3,ETH=-0.35", "--scenarios", "1000",
                     command="cascade")
        rounds = open(os.path.join(work, "np3", "rounds.csv")).read().splitlines()
        if len(rounds) < 1 + 3:
            raise SystemExit("the cascade needs several rounds to test them")
    elif c == "cascade_grid":
        same_outputs(generated(), [3], "--shock-grid", "BTC=-0.1:-0.3:0.1,SOL=-0.2:-0.4:0.1",
                     "--scenarios", "500", "--method", "delta_gamma", command="cascade")
    elif c == "cascade_snapshot":
        # Ranks but 0 read their parts of a snapshot and follow rank 0's rounds on them.
        book = generated(snapshot=True)
        opts = ["--shock", "BTC=-0.3,ETH=-0.35", "--scenarios", "1000"]
        same_outputs(book, [2, 3], *opts, command="cascade")
        # Each round's count of accounts not ok (-v) is one process's: a rank that did not close
        # out its accounts (patch them) would still report them, closed, as not ok.
        def not_ok_lines(command):
            p = run(command + ["cascade", "--book", book, "--out", os.path.join(work, "v"),
                               "--force", "--threads", "1", "-v"] + opts)
            return [l for l in p.stderr.splitlines() if "accounts not ok" in l]
        one = not_ok_lines([cli])
        many = not_ok_lines(mpirun + ["-np", "3", cli])
        print("\n".join(many))
        if len(one) < 3 or one != many:
            raise SystemExit(f"rounds' accounts not ok differ:\n{one}\n{many}")
    elif c == "cascade_sample_grid":
        # The sample book is one chunk: on 3 ranks it is rank 2's; rank 1 holds no account, and
        # rank 0 computes no part.
        same_outputs(sample, [3], "--shock-grid", "BTC=-0.1:-0.5:0.2", command="cascade")
    elif c in ("fail_bad_input", "fail_out_of_memory"):
        # One rank fails while the others succeed: mpirun's MPMD form starts one rank with its own
        # command line. Bad input: rank 0, which reads a book directory for every rank, gets a
        # positions file with a bad row; then rank 2, which reads its own part of a snapshot, gets
        # a snapshot whose quantities are out of range (its part's positions are checked). Out of
        # memory: rank 2 gets an address-space limit that its P&L table does not fit in.
        book, out = generated(), os.path.join(work, "out")
        opts = ["--book", book, "--out", out, "--threads", "1", "-q"]
        cases = []
        if c == "fail_bad_input":
            bad = os.path.join(work, "positions.csv")
            lines = open(os.path.join(book, "positions.csv")).read().split("\n")
            row = lines[1499].split(",")
            lines[1499] = ",".join([row[0], "NO-SUCH-INSTRUMENT"] + row[2:])
            open(bad, "w").write("\n".join(lines))
            first = [cli, "margin"] + opts + ["--positions-file", bad]
            cases.append((mpirun + ["-np", "1"] + first + [":", "-np", "2", cli, "margin"] + opts,
                          0, 2, "positions.csv:1500: column 'instrument_id'"))
            snapshot = generated(snapshot=True)
            broken = os.path.join(work, "broken.msbook")
            shutil.copy(snapshot, broken)
            spoil_quantities(broken)
            good = ["--book", snapshot, "--out", out, "--threads", "1", "-q"]
            cases.append((mpirun + ["-np", "2", cli, "margin"] + good + [":", "-np", "1", cli,
                          "margin", "--book", broken, "--out", out, "--threads", "1", "-q"],
                          2, 2, "a quantity or entry cost is out of range"))
            # Rank 2 cuts its part of the snapshot at another N than rank 0's: refused, as bad
            # input, before anything is computed.
            cases.append((mpirun + ["-np", "2", cli, "margin"] + good + ["--scenarios", "1000",
                          ":", "-np", "1", cli, "margin"] + good + ["--scenarios", "999"],
                          2, 2, "999 scenarios, rank 0's 1000: every rank must read the same"))
        else:
            opts += ["--scenarios", "150000"]
            last = ["sh", "-c", "ulimit -v 250000 && exec \"$0\" \"$@\"", cli, "margin"] + opts
            cases.append((mpirun + ["-np", "2", cli, "margin"] + opts + [":", "-np", "1"] + last,
                          2, 1, "out of memory"))
        for command, rank, status, message in cases:
            p = run(command, expect=None)
            print(p.stderr)
            if p.returncode == 0:
                raise SystemExit("mpirun exited 0 although a rank failed")
            if message not in p.stderr or \
                    f"rank {rank} of 3 failed (exit status {status})" not in p.stderr:
                raise SystemExit("the failing rank's message is missing")
            left = sorted(n for n in os.listdir(out) if n != ".marginsync-run")
            if left:
                raise SystemExit(f"output files written although a rank failed: {left}")
    elif c == "other_command_refused":
        p = run(mpirun + ["-np", "2", cli, "generate", "--accounts", "10", "--out",
                          os.path.join(work, "g")], expect=None)
        if p.returncode == 0 or "only margin, cascade and bench run across ranks" not in p.stderr:
            raise SystemExit("generate under mpirun -np 2 was not refused:\n" + p.stderr)
        if os.path.exists(os.path.join(work, "g")):
            raise SystemExit("generate wrote its output under mpirun -np 2")
    elif c in ("bench", "bench_directory"):
        # bench's stage timings across 2 ranks (design.md 16.6): it runs, and rank 0's JSON gives
        # the rank count, the bytes each rank sent and the stages, the ranks' parts put together
        # (`combine`) among them. No assertion on the times. Rank 1 holds only its part of the book
        # (976 of the 2,000 accounts: chunks 4 to 7), read from the snapshot itself or sent by rank
        # 0 from the directory; `full` runs on the whole book, then on its first 1,200 accounts,
        # split as a book of their own (rank 1: 688 of them).
        snapshot = c == "bench"
        book = generated(snapshot=snapshot)
        for first in [2000, 1200]:
            out = os.path.join(work, f"bench{first}.json")
            p = run(mpirun + ["-np", "2", cli, "bench", "--book", book, "--scenarios", "500",
                              "--repeats", "1", "--threads", "1", "--backend", "cpu",
                              "--cpu-full-fraction", str(first / 2000), "--json", out, "-v"])
            j = json.load(open(out))
            if j["provenance"].get("ranks") != 2 or j["ranks"]["count"] != 2:
                raise SystemExit("bench's JSON does not give 2 ranks: " + json.dumps(j["ranks"]))
            if j["sizes"]["accounts"] != 2000:
                raise SystemExit("bench's sizes are not the whole book's: " + json.dumps(j["sizes"]))
            part = accounts_of_part(2000, 500, 1, 2)
            holds = f"rank 1: holds {part} of the book's 2000 accounts"
            if part != 976 or holds not in p.stderr:
                raise SystemExit(f"rank 1 does not say it holds its part ({holds}):\n" + p.stderr)
            full_part = accounts_of_part(first, 500, 1, 2)
            sent = j["ranks"]["bytes_sent"]
            # Rank 0 passes the bad-debt sum on (8 bytes a scenario and an 8-byte length) after
            # each scenario risk, the warm-up's and the timed one's, of each method; rank 1 sends it
            # back with its part's risk numbers (54 bytes an account, 72 bytes of lengths: 16.2).
            bad_debt = 2 * 2 * (8 * 500 + 8)
            if sent != [bad_debt, bad_debt + 2 * (54 * part + 72) + 2 * (54 * full_part + 72)]:
                raise SystemExit(f"bytes sent per rank: {sent} (rank 1's parts: {part}, "
                                 f"{full_part})")
            stages = {(s["method"], s["stage"]) for s in j["stages"]}
            for want in [("", "load"), ("", "upload"), ("", "revalue"), ("full", "scenario risk"),
                         ("delta_gamma", "scenario risk"), ("full", "combine"),
                         ("delta_gamma", "combine")]:
                if want not in stages:
                    raise SystemExit(f"stage {want} missing from {sorted(stages)}")
            for s in j["stages"]:
                if not 0 <= s["seconds"] < float("inf"):
                    raise SystemExit(f"a stage's time is not a time: {s}")
            if p.stdout.count("results in") != 1:
                raise SystemExit("only rank 0 writes and prints:\n" + p.stdout)
    elif c == "bench_refused":
        # What bench cannot split is refused alike on every rank, rank 0 saying why (exit 2).
        for options, words in [(["--book", sample, "--stream"], "--stream runs in one process"),
                               (["--scaling"], "--scaling runs in one process"),
                               ([], "--book is required"),
                               # one bad-debt chunk: a rank would have no part (16.6)
                               (["--book", sample], "needs a bad-debt chunk")]:
            p = run(mpirun + ["-np", "2", cli, "bench"] + options, expect=None)
            if p.returncode != 2 or p.stderr.count(words) != 1:
                raise SystemExit(f"bench {options} under -np 2: exit {p.returncode}\n{p.stderr}")
    else:
        raise SystemExit(f"unknown case {c}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
