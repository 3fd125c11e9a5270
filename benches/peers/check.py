#!/usr/bin/env python3
"""Compares a peer's output with csc-audit's, row by row, for the measures in MEASURES.

    check.py REFERENCE.csv PEER.csv [--measures MEASURES]

REFERENCE.csv is `csc-audit metrics --format csv` output (any measures; only those named
in MEASURES and only the `all` rows are compared). PEER.csv has the columns of
peerlib.OUT_COLUMNS. Every one of those columns must be identical as text: counts exactly,
values and rates as printed (2 decimal places). Exits 1 and prints the first differing
rows on any difference, a missing or an extra row. Standard library only.
"""

import argparse
import csv
import sys

import peerlib

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("reference")
ap.add_argument("peer")
ap.add_argument("--measures", default=str(peerlib.HERE / "MEASURES"))
ap.add_argument("--show", type=int, default=10, help="differences to print (default 10)")
a = ap.parse_args()
ids = peerlib.read_measures(a.measures)
cols = peerlib.OUT_COLUMNS
KEY = ("metric_id", "period", "breakdown", "group")


def read(path, what):
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        lacking = [c for c in cols if c not in (r.fieldnames or [])]
        if lacking:
            sys.exit(f"check: {what} {path} has no column {', '.join(lacking)}")
        out = {}
        for row in r:
            if row["metric_id"] not in ids or row["breakdown"] != "all":
                continue
            if row.get("category", "all") != "all":
                sys.exit(f"check: {what} has a distribution row ({row['metric_id']}); MEASURES must name no distributions")
            k = tuple(row[c] for c in KEY)
            if k in out:
                sys.exit(f"check: {what} has row {k} twice")
            out[k] = [row[c] for c in cols]
        return out


ref = read(a.reference, "csc-audit output")
peer = read(a.peer, "peer output")
missing_ids = [i for i in ids if not any(k[0] == i for k in ref)]
if missing_ids:
    sys.exit(f"check: csc-audit output has no rows for {', '.join(missing_ids)} (not available on this data?)")

order = {m: i for i, m in enumerate(ids)}
problems = []
for k in sorted(set(ref) | set(peer), key=lambda k: (order[k[0]], k[1:])):
    r, p = ref.get(k), peer.get(k)
    if r == p:
        continue
    if p is None:
        problems.append(f"  missing in peer: {','.join(r)}")
    elif r is None:
        problems.append(f"  extra in peer:   {','.join(p)}")
    else:
        diff = [f"{c}: csc-audit {x!r} peer {y!r}" for c, x, y in zip(cols, r, p) if x != y]
        problems.append(f"  {k[0]} {k[1]}: " + "; ".join(diff))
if problems:
    bad = sorted({line.split()[0] if not line.startswith("  missing") and not line.startswith("  extra") else "rows"
                  for line in problems})
    print(f"check: {a.peer} DIFFERS from csc-audit in {len(problems)} of {len(ref)} rows "
          f"(header: {','.join(cols)}):", file=sys.stderr)
    for line in problems[: a.show]:
        print(line, file=sys.stderr)
    if len(problems) > a.show:
        print(f"  ... and {len(problems) - a.show} more", file=sys.stderr)
    sys.exit(1)
print(f"check: {a.peer} equals csc-audit: {len(ref)} rows, {len(ids)} measures, columns {','.join(cols)}")
