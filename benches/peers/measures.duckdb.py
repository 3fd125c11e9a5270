#!/usr/bin/env python3
"""The measures named in MEASURES, by month, computed with DuckDB SQL.

Written as an analyst would: typed CSV reads, a working-day table (a running count of
working days) joined by date, window functions for repeats, ASOF joins for "the latest
visit before the month end". The output has csc-audit's columns listed in
peerlib.OUT_COLUMNS (see README.md).

    measures.duckdb.py --data DIR --as-of 2025-03-31 --holidays holidays.csv --out out.csv
"""

import duckdb

import peerlib

a = peerlib.parse_args(__doc__.splitlines()[0])
periods = peerlib.month_periods(a.as_of)
first_day, last_day = periods[0][1], periods[-1][2]
S = a.standards
con = duckdb.connect()


def csv_path(table):
    return str(a.data / f"{table}.csv").replace("'", "''")


def load(table, columns):
    """A typed read: every column given its type by name, so the columns may come in any
    order (dates as DATE; date-times read as text and cut to their date, because the
    measures compare dates)."""
    types = ", ".join(f"'{c}': '{'VARCHAR' if t == 'DATETIME' else t}'" for c, t in columns.items())
    select = ", ".join(
        f"CAST(substr({c}, 1, 10) AS DATE) AS {c}" if t == "DATETIME" else c
        for c, t in columns.items()
    )
    con.execute(
        f"CREATE TABLE {table} AS SELECT {select} FROM read_csv('{csv_path(table)}', "
        f"header = true, types = {{{types}}})"
    )


V, D, T = "VARCHAR", "DATE", "DATETIME"
load("referrals", dict(referral_id=V, child_id=V, received_at=T, source=V, decision_at=T,
                       outcome=V, feedback_sent_at=T, team=V, worker=V))
load("assessments", dict(assessment_id=V, child_id=V, referral_id=V, start_date=D,
                         child_seen_date=D, authorised_date=D, outcome=V, team=V, worker=V))
load("strategy_discussions", dict(strategy_id=V, child_id=V, referral_id=V, held_date=D,
                                  minutes_distributed_date=D, police_present=V,
                                  health_present=V, outcome=V, team=V))
load("s47_enquiries", dict(s47_id=V, child_id=V, strategy_id=V, start_date=D, end_date=D,
                           icpc_not_required=V, outcome=V, team=V, worker=V))
load("cp_plans", dict(plan_id=V, child_id=V, start_date=D, end_date=D, initial_category=V,
                      latest_category=V, end_reason=V, team=V, worker=V))
load("conferences", dict(conference_id=V, child_id=V, conference_type=V, date=D, s47_id=V,
                         plan_id=V, outcome=V))
load("core_groups", dict(core_group_id=V, plan_id=V, child_id=V, date=D))
load("visits", dict(visit_id=V, child_id=V, visit_date=D, visit_type=V, seen_alone=V, worker=V))
load("supervisions", dict(supervision_id=V, child_id=V, date=D, worker=V, supervisor=V,
                          cp_plan_reviewed=V))

# Codes match ignoring case, spaces, - and _; flags are Y/yes/true/1.
con.execute("CREATE MACRO code(x) AS regexp_replace(lower(trim(x)), '[ _-]+', '_', 'g')")
con.execute("CREATE MACRO flag(x) AS coalesce(lower(trim(x)) IN ('y', 'yes', 'true', '1'), false)")

# The working-day table: wd = working days from the calendar's start up to and including
# d, so the working days d with a < d <= b number wd(b) - wd(a).
con.execute(f"""
CREATE TABLE holidays AS
SELECT * FROM read_csv('{a.holidays}', header = true, auto_detect = false,
                       columns = {{'date': 'DATE', 'name': 'VARCHAR'}})""")
con.execute("""
CREATE TABLE cal AS
WITH days AS (
  SELECT CAST(d AS DATE) AS d
  FROM range((SELECT make_date(year(min(date)), 1, 1) FROM holidays)::TIMESTAMP,
             (SELECT make_date(year(max(date)), 12, 31) FROM holidays)::TIMESTAMP + INTERVAL 1 DAY,
             INTERVAL 1 DAY) t(d)
)
SELECT days.d,
       sum(CASE WHEN isodow(days.d) >= 6 OR h.date IS NOT NULL THEN 0 ELSE 1 END)
         OVER (ORDER BY days.d) AS wd
FROM days LEFT JOIN holidays h ON h.date = days.d""")

con.execute("CREATE TABLE periods (period VARCHAR, pstart DATE, pend DATE, snap DATE)")
con.executemany("INSERT INTO periods VALUES (?, ?, ?, ?)", periods)
con.execute(f"CREATE MACRO as_of_date() AS DATE '{a.as_of.isoformat()}'")
con.execute("CREATE MACRO wd_as_of_date() AS (SELECT wd FROM cal WHERE d = as_of_date())")


def in_period(col):
    return f"{col} BETWEEN DATE '{first_day}' AND DATE '{last_day}'"


def deadline(start_wd, end, end_wd, limit, start):
    """The status of a case timed in working days: start_wd/end_wd are the cal.wd of its
    start and end dates (end_wd NULL when it has not happened yet)."""
    return f"""CASE
      WHEN {start_wd} IS NULL THEN 'excluded'
      WHEN {end} IS NULL THEN
        CASE WHEN wd_as_of_date() - {start_wd} <= {limit} THEN 'pending' ELSE 'breach' END
      WHEN {end} < {start} THEN 'excluded'
      WHEN {end_wd} IS NULL THEN 'excluded'
      WHEN {end_wd} - {start_wd} <= {limit} THEN 'met'
      ELSE 'breach' END"""


# Each measure: a query giving (period, status) per row judged, status one of met,
# breach, pending, excluded. A count is all "met".
SQL = {}
KINDS = {}

KINDS["referrals"] = "count"
SQL["referrals"] = f"""
SELECT strftime(received_at, '%Y-%m') AS period, 'met' AS status
FROM referrals WHERE {in_period('received_at')}"""

KINDS["referral_decision_1wd"] = "ratio"
SQL["referral_decision_1wd"] = f"""
SELECT strftime(r.received_at, '%Y-%m') AS period,
       {deadline('a.wd', 'r.decision_at', 'b.wd', 1, start='r.received_at')} AS status
FROM referrals r
LEFT JOIN cal a ON a.d = r.received_at
LEFT JOIN cal b ON b.d = r.decision_at
WHERE {in_period('r.received_at')}"""

KINDS["referral_nfa"] = "ratio"
SQL["referral_nfa"] = f"""
SELECT strftime(received_at, '%Y-%m') AS period,
       CASE WHEN coalesce(code(outcome) = 'nfa', false) THEN 'met' ELSE 'breach' END AS status
FROM referrals WHERE {in_period('received_at')}"""

# The child's latest referral on a strictly earlier date, no more than 12 months before.
KINDS["re_referral_12m"] = "ratio"
SQL["re_referral_12m"] = f"""
WITH r AS (
  SELECT received_at,
         max(received_at) OVER (PARTITION BY child_id ORDER BY received_at
                                RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 DAY PRECEDING) AS prev
  FROM referrals WHERE child_id IS NOT NULL AND received_at IS NOT NULL
)
SELECT strftime(received_at, '%Y-%m') AS period,
       CASE WHEN prev >= received_at - INTERVAL {int(S['re_referral_months'])} MONTH
            THEN 'met' ELSE 'breach' END AS status
FROM r WHERE {in_period('received_at')}"""

KINDS["assessment_45wd"] = "ratio"
SQL["assessment_45wd"] = f"""
SELECT strftime(x.authorised_date, '%Y-%m') AS period,
       {deadline('a.wd', 'x.authorised_date', 'b.wd', 45, start='x.start_date')} AS status
FROM assessments x
LEFT JOIN cal a ON a.d = x.start_date
LEFT JOIN cal b ON b.d = x.authorised_date
WHERE {in_period('x.authorised_date')}"""

KINDS["strategy_minutes_timely"] = "ratio"
SQL["strategy_minutes_timely"] = f"""
SELECT strftime(x.held_date, '%Y-%m') AS period,
       {deadline('a.wd', 'x.minutes_distributed_date', 'b.wd',
                 int(S['strategy_minutes_working_days']), start='x.held_date')} AS status
FROM strategy_discussions x
LEFT JOIN cal a ON a.d = x.held_date
LEFT JOIN cal b ON b.d = x.minutes_distributed_date
WHERE {in_period('x.held_date')}"""

KINDS["s47_started"] = "count"
SQL["s47_started"] = f"""
SELECT strftime(start_date, '%Y-%m') AS period, 'met' AS status
FROM s47_enquiries WHERE {in_period('start_date')}"""

KINDS["s47_to_icpc"] = "ratio"
SQL["s47_to_icpc"] = f"""
SELECT strftime(s.start_date, '%Y-%m') AS period,
       CASE WHEN EXISTS (SELECT 1 FROM conferences c
                         WHERE c.s47_id = s.s47_id AND code(c.conference_type) = 'initial'
                           AND c.date IS NOT NULL)
            THEN 'met' ELSE 'breach' END AS status
FROM s47_enquiries s WHERE {in_period('s.start_date')}"""

KINDS["icpc_15wd"] = "ratio"
SQL["icpc_15wd"] = f"""
SELECT strftime(c.date, '%Y-%m') AS period,
       {deadline('a.wd', 'c.date', 'b.wd', 15, start='s.start_date')} AS status
FROM conferences c
JOIN s47_enquiries s ON s.s47_id = c.s47_id
LEFT JOIN cal a ON a.d = s.start_date
LEFT JOIN cal b ON b.d = c.date
WHERE code(c.conference_type) = 'initial' AND {in_period('c.date')}"""

KINDS["core_group_10wd"] = "ratio"
SQL["core_group_10wd"] = f"""
WITH first_cg AS (
  SELECT plan_id, min(date) AS first_date FROM core_groups GROUP BY plan_id
)
SELECT strftime(p.start_date, '%Y-%m') AS period,
       {deadline('a.wd', 'f.first_date', 'b.wd', 10, start='p.start_date')} AS status
FROM cp_plans p
LEFT JOIN first_cg f ON f.plan_id = p.plan_id
LEFT JOIN cal a ON a.d = p.start_date
LEFT JOIN cal b ON b.d = f.first_date
WHERE {in_period('p.start_date')}"""

KINDS["cp_repeat_plan"] = "ratio"
SQL["cp_repeat_plan"] = f"""
WITH p AS (
  SELECT start_date, min(start_date) OVER (PARTITION BY child_id) AS first_start
  FROM cp_plans WHERE child_id IS NOT NULL
)
SELECT strftime(start_date, '%Y-%m') AS period,
       CASE WHEN first_start < start_date THEN 'met' ELSE 'breach' END AS status
FROM p WHERE {in_period('start_date')}"""

# Plans open at each month end (or the as-of date): started by then, not ended by then.
OPEN_PLANS = """
  SELECT pr.period, pr.snap, p.*
  FROM periods pr JOIN cp_plans p
    ON p.start_date <= pr.snap AND (p.end_date IS NULL OR p.end_date > pr.snap)"""

KINDS["cp_plans_open"] = "count"
SQL["cp_plans_open"] = f"SELECT period, 'met' AS status FROM ({OPEN_PLANS})"

# Due: 3 months after the plan started for its first review, else 6 months after the
# plan's previous review (strictly earlier date).
KINDS["cp_review_on_time"] = "ratio"
SQL["cp_review_on_time"] = f"""
WITH rv AS (
  SELECT c.date, c.plan_id,
         max(c.date) OVER (PARTITION BY c.plan_id ORDER BY c.date
                           RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 DAY PRECEDING) AS prev
  FROM conferences c
  WHERE code(c.conference_type) = 'review' AND c.plan_id IS NOT NULL AND c.date IS NOT NULL
), j AS (
  SELECT rv.date, coalesce(rv.prev, p.start_date) AS from_date,
         CASE WHEN rv.prev IS NOT NULL THEN rv.prev + INTERVAL 6 MONTH
              ELSE p.start_date + INTERVAL 3 MONTH END AS due
  FROM rv JOIN cp_plans p ON p.plan_id = rv.plan_id
)
SELECT strftime(date, '%Y-%m') AS period,
       CASE WHEN from_date IS NULL OR date < from_date THEN 'excluded'
            WHEN date <= due THEN 'met' ELSE 'breach' END AS status
FROM j WHERE {in_period('date')}"""

# The child's latest CP visit on or before the month end, at most N working days before it.
KINDS["cp_visits_timely"] = "ratio"
SQL["cp_visits_timely"] = f"""
WITH o AS ({OPEN_PLANS}),
v AS (SELECT child_id, visit_date FROM visits
      WHERE code(visit_type) = 'cp' AND visit_date IS NOT NULL),
l AS (
  SELECT o.period, o.snap, v.visit_date
  FROM o ASOF LEFT JOIN v ON v.child_id = o.child_id AND v.visit_date <= o.snap
)
SELECT l.period,
       CASE WHEN l.visit_date IS NOT NULL
                 AND ca.wd - cv.wd <= {int(S['cp_visit_working_days'])}
            THEN 'met' ELSE 'breach' END AS status
FROM l
LEFT JOIN cal ca ON ca.d = l.snap
LEFT JOIN cal cv ON cv.d = l.visit_date"""

# Plans open at the month end that started at least 2 months before it; the child's latest
# supervision with the plan reviewed, on or before the month end, after (end - 2 months)
# and not before the plan started.
KINDS["cp_supervision_2m"] = "ratio"
SM = int(S["cp_supervision_months"])
SQL["cp_supervision_2m"] = f"""
WITH o AS (
  SELECT * FROM ({OPEN_PLANS}) WHERE start_date <= snap - INTERVAL {SM} MONTH
),
s AS (SELECT child_id, date FROM supervisions WHERE flag(cp_plan_reviewed) AND date IS NOT NULL),
l AS (
  SELECT o.period, o.snap, o.start_date, s.date
  FROM o ASOF LEFT JOIN s ON s.child_id = o.child_id AND s.date <= o.snap
)
SELECT period,
       CASE WHEN date > snap - INTERVAL {SM} MONTH AND date >= start_date
            THEN 'met' ELSE 'breach' END AS status
FROM l"""

unknown = [i for i in a.ids if i not in SQL]
if unknown:
    raise SystemExit(f"MEASURES names measures this peer does not compute: {', '.join(unknown)}")

union = "\nUNION ALL\n".join(
    f"SELECT '{mid}' AS metric_id, period, status FROM ({SQL[mid]})" for mid in a.ids
)
rows = con.execute(f"""
SELECT metric_id, period,
       count(*) FILTER (WHERE status = 'met'),
       count(*) FILTER (WHERE status = 'breach'),
       count(*) FILTER (WHERE status = 'pending'),
       count(*) FILTER (WHERE status = 'excluded')
FROM ({union}) GROUP BY ALL""").fetchall()
tallies = {(m, p): t for m, p, *t in rows}
peerlib.write_rows(a.out, a.ids, KINDS, tallies, periods, a.as_of, a.child_population)
