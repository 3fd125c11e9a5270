#!/usr/bin/env python3
"""Writes the bank holidays csc-audit counts working days with, as CSV (date,name).

The list is read at bench time from calendars/england-and-wales.toml, the file
src/calendar.rs builds into the binary (include_str!), so it cannot drift from what the
binary uses. With --binary it is also checked against the binary itself: every holiday on
a weekday must be one `csc-audit days --from <first day> --to <last day>` lists as "not
counted", and nothing else may be listed.

Standard library only.
"""

import argparse
import csv
import datetime as dt
import pathlib
import re
import subprocess
import sys
import tomllib

REPO = pathlib.Path(__file__).resolve().parent.parent.parent

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--calendar", default=str(REPO / "calendars" / "england-and-wales.toml"))
ap.add_argument("--out", required=True)
ap.add_argument("--binary", help="csc-audit binary to check the list against")
a = ap.parse_args()

with open(a.calendar, "rb") as f:
    cal = tomllib.load(f)
if cal.get("weekend", ["Sat", "Sun"]) != ["Sat", "Sun"]:
    sys.exit(f"{a.calendar}: the peers assume a Saturday-Sunday weekend")
first, last = int(cal["first_year"]), int(cal["last_year"])
hols = sorted((dt.date.fromisoformat(str(h["date"])), h["name"]) for h in cal["holiday"])

with open(a.out, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["date", "name"])
    # The calendar's span, so a peer can build its working-day table from first to last.
    for d, name in hols:
        w.writerow([d.isoformat(), name])

if a.binary:
    lo, hi = dt.date(first, 1, 1), dt.date(last, 12, 31)
    out = subprocess.run(
        [a.binary, "days", "--from", lo.isoformat(), "--to", hi.isoformat()],
        check=True, capture_output=True, text=True,
    ).stdout
    listed = set()
    for m in re.finditer(r"not counted: \w{3} (\d{2} \w{3} \d{4})", out):
        listed.add(dt.datetime.strptime(m.group(1), "%d %b %Y").date())
    # Day 0 (the --from date) is never counted, so it is never listed.
    expected = {d for d, _ in hols if d.weekday() < 5 and d != lo}
    total = int(re.match(r"(\d+) working days", out).group(1))
    hol = {d for d, _ in hols}
    days = [lo + dt.timedelta(i) for i in range(1, (hi - lo).days + 1)]
    mine = sum(1 for d in days if d.weekday() < 5 and d not in hol)
    if total != mine:
        sys.exit(f"the binary counts {total} working days in ({lo}, {hi}], this list {mine}")
    if listed != expected:
        sys.exit(
            "holiday list differs from the binary's calendar: "
            f"only in {a.calendar}: {sorted(expected - listed)[:5]}; "
            f"only in the binary: {sorted(listed - expected)[:5]}"
        )
print(f"{len(hols)} holidays {first}-{last} -> {a.out}" + (" (checked against the binary)" if a.binary else ""))
