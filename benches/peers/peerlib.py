"""What the peer scripts share: arguments, the periods, the local standards, the output.

Only the plumbing is shared. Each peer computes its measures itself (DuckDB SQL in
measures.duckdb.py, polars lazy frames in measures.polars.py); this module turns their
tallies (met, breach, pending, excluded per measure and month) into rows shaped like
`csc-audit metrics --format csv`, restricted to the columns in OUT_COLUMNS.
"""

import argparse
import calendar
import csv
import datetime as dt
import pathlib
import sys
import tomllib

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent

# The columns the peers write and check.py compares: every column that holds a number
# computed from the data. target, rag, ci_low, ci_high, unit and polarity follow from the
# definition and these numbers; category is `all` for every measure in MEASURES.
OUT_COLUMNS = [
    "metric_id",
    "period",
    "period_start",
    "period_end",
    "breakdown",
    "group",
    "numerator",
    "denominator",
    "value",
    "pending",
    "excluded",
    "rate_per_10k",
    "complete",
]

# How many months back csc-audit reports by default: the month of the as-of date and
# the 23 before it.
MONTHS_BACK = 24


def read_measures(path=HERE / "MEASURES"):
    ids = []
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            ids.append(line)
    return ids


def parse_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", required=True, help="extract folder (clean synth output)")
    ap.add_argument("--as-of", required=True, help="extract date, YYYY-MM-DD")
    ap.add_argument("--holidays", required=True, help="CSV of bank holidays (date,name), from holidays.py")
    ap.add_argument("--out", required=True, help="CSV file to write")
    ap.add_argument("--measures", default=str(HERE / "MEASURES"))
    ap.add_argument("--standards", default=str(REPO / "metrics" / "standards.toml"))
    a = ap.parse_args()
    a.as_of = dt.date.fromisoformat(a.as_of)
    a.data = pathlib.Path(a.data)
    a.ids = read_measures(a.measures)
    with open(a.standards, "rb") as f:
        std = tomllib.load(f)
    a.child_population = std.get("child_population")
    a.standards = std.get("standards", {})
    return a


def month_periods(as_of):
    """[(label, start, end, at)]: the 24 months to the as-of date's month; `at` is the
    snapshot date (the month end, or the as-of date for a month not yet over)."""
    out = []
    y, m = as_of.year, as_of.month
    for _ in range(MONTHS_BACK):
        start = dt.date(y, m, 1)
        end = dt.date(y, m, calendar.monthrange(y, m)[1])
        out.append((f"{y:04d}-{m:02d}", start, end, min(end, as_of)))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def num(x):
    """A number as csc-audit prints it: whole numbers without decimals, else 2 places."""
    if x is None:
        return ""
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.2f}"


def write_rows(path, ids, kinds, tallies, periods, as_of, child_population):
    """kinds: id -> 'ratio' (ratio, repeat and snapshot print alike) or 'count'.
    tallies: {(id, period): (met, breach, pending, excluded)}; missing means zeros."""
    missing = [i for i in ids if i not in kinds]
    if missing:
        sys.exit(f"MEASURES names measures this peer does not compute: {', '.join(missing)}")
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(OUT_COLUMNS)
        for mid in ids:
            for label, start, end, _at in periods:
                met, breach, pending, excluded = (int(v) for v in tallies.get((mid, label), (0, 0, 0, 0)))
                if kinds[mid] == "count":
                    x = met + breach
                    numerator, denominator, value = x, None, x
                    rate = 10_000.0 * x / child_population if child_population else None
                else:
                    n = met + breach
                    numerator, denominator = met, n
                    value = 100.0 * met / n if n > 0 else None
                    rate = None
                w.writerow([
                    mid, label, start.isoformat(), end.isoformat(), "all", "all",
                    num(numerator), num(denominator), num(value), pending, excluded,
                    num(rate), "yes" if end <= as_of else "no",
                ])
