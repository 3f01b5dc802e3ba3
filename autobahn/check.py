#!/usr/bin/env python3
"""Gate an Autobahn|Testsuite run on its JSON reports (Switchyard's strict pass rule).

Usage:
    check.py --expect N [--server INDEX.json ...] [--client INDEX.json ...]

Each INDEX.json is the `index.json` wstest writes into its outdir:
    {agent: {case_id: {"behavior": ..., "behaviorClose": ..., "duration": ms,
                       "remoteCloseCode": int|null, "reportfile": ...}}}
Several files per side are merged (e.g. 1-11, 12.* and 13.* run as separate wstest
processes). A case id appearing in two files of one side is an error.

A side passes when, for every agent in it:
  * the number of cases equals --expect (517 for a full run, 301 for sections 1-11);
  * every case has `behavior` AND `behaviorClose` in {OK, INFORMATIONAL}.
So NON-STRICT, UNIMPLEMENTED (permessage-deflate not negotiated in 12.* / 13.*), FAILED,
WRONG CODE, UNCLEAN, FAILED BY CLIENT, ... all fail.
A side with zero cases (or a missing/unreadable report) fails.

Exit status: 0 if every given side passes, 1 otherwise, 2 on usage errors.
"""
import argparse
import json
import os
import sys
from collections import Counter

PASS_VALUES = ("OK", "INFORMATIONAL")
# Display order for the summary table; anything else wstest reports is appended.
KNOWN_VALUES = ["OK", "INFORMATIONAL", "NON-STRICT", "UNIMPLEMENTED", "FAILED",
                "WRONG CODE", "UNCLEAN", "FAILED BY CLIENT"]


def case_key(case_id):
    """Sort "9.10.2" after "9.2.1": compare numerically part by part."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in case_id.split("."))


def value_ok(case_id, value):
    del case_id  # the same rule for every section
    return value in PASS_VALUES


def load_side(paths):
    """Merge several index.json files into {agent: {case_id: result}}; returns (merged, errors)."""
    merged, errors = {}, []
    for path in paths:
        try:
            with open(path) as f:
                index = json.load(f)
        except (OSError, ValueError) as e:
            errors.append("cannot read report %s: %s" % (path, e))
            continue
        if not isinstance(index, dict):
            errors.append("%s: not an {agent: {case: result}} object" % path)
            continue
        base = os.path.dirname(path)
        for agent, cases in index.items():
            dest = merged.setdefault(agent, {})
            for case_id, result in cases.items():
                if case_id in dest:
                    errors.append("agent %s: case %s appears in more than one report (%s)"
                                  % (agent, case_id, path))
                    continue
                result = dict(result)
                if result.get("reportfile"):
                    result["reportfile"] = os.path.join(base, result["reportfile"])
                dest[case_id] = result
    return merged, errors


def check_side(name, paths, expect):
    """Print the summary for one side; return True if it passes."""
    print("=" * 72)
    print("%s side: %s" % (name, ", ".join(paths)))
    merged, errors = load_side(paths)
    for e in errors:
        print("  ERROR: " + e)
    ok = not errors
    if not merged or not any(merged.values()):
        print("  FAIL: no test cases found")
        return False

    for agent in sorted(merged):
        cases = merged[agent]
        beh = Counter(c.get("behavior", "<missing>") for c in cases.values())
        close = Counter(c.get("behaviorClose", "<missing>") for c in cases.values())
        values = [v for v in KNOWN_VALUES if beh[v] or close[v] or v in ("OK", "FAILED")]
        values += sorted((set(beh) | set(close)) - set(values))

        print("-" * 72)
        print("agent %r: %d cases (expected %d)" % (agent, len(cases), expect))
        print("  %-20s %10s %14s" % ("", "behavior", "behaviorClose"))
        for v in values:
            print("  %-20s %10d %14d" % (v, beh[v], close[v]))

        bad = []
        for case_id in sorted(cases, key=case_key):
            r = cases[case_id]
            b, bc = r.get("behavior", "<missing>"), r.get("behaviorClose", "<missing>")
            if not (value_ok(case_id, b) and value_ok(case_id, bc)):
                bad.append((case_id, b, bc, r))
        if bad:
            print("  %d non-passing cases:" % len(bad))
            for case_id, b, bc, r in bad:
                print("    %-9s behavior=%-14s behaviorClose=%-14s remoteCloseCode=%s  %s"
                      % (case_id, b, bc, r.get("remoteCloseCode"), r.get("reportfile", "")))
            ok = False
        if len(cases) != expect:
            print("  FAIL: %d cases, expected %d" % (len(cases), expect))
            ok = False
    print("%s side: %s" % (name, "PASS" if ok else "FAIL"))
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Check Autobahn|Testsuite index.json reports (strict Switchyard rule).")
    ap.add_argument("--server", nargs="+", default=[], metavar="INDEX_JSON",
                    help="report(s) of wstest -m fuzzingclient (our server under test)")
    ap.add_argument("--client", nargs="+", default=[], metavar="INDEX_JSON",
                    help="report(s) of wstest -m fuzzingserver (our client under test)")
    ap.add_argument("--expect", type=int, required=True, metavar="N",
                    help="expected number of cases per agent and side (517 full, 301 quick)")
    args = ap.parse_args(argv)
    if not args.server and not args.client:
        ap.error("give --server and/or --client reports")

    results = []
    if args.server:
        results.append(("server", check_side("server", args.server, args.expect)))
    if args.client:
        results.append(("client", check_side("client", args.client, args.expect)))
    print("=" * 72)
    ok = all(r for _, r in results)
    print("AUTOBAHN %s (%s)" % ("PASS" if ok else "FAIL",
                                ", ".join("%s %s" % (n, "pass" if r else "FAIL") for n, r in results)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
