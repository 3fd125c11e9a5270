#!/usr/bin/env python3
"""The measures named in MEASURES, by month, computed with polars (lazy API).

The same measures as measures.duckdb.py, written as a polars user would: typed
scan_csv, a working-day frame (a running count of working days) joined by date,
join_asof for "the previous referral" and "the latest visit before the month end", and
one collect_all at the end. The output has csc-audit's columns listed in
peerlib.OUT_COLUMNS (see README.md).

    measures.polars.py --data DIR --as-of 2025-03-31 --holidays holidays.csv --out out.csv
"""

import datetime as dt

import polars as pl

import peerlib

a = peerlib.parse_args(__doc__.splitlines()[0])
periods = peerlib.month_periods(a.as_of)
first_day, last_day = periods[0][1], periods[-1][2]
S = a.standards

S_, D_, T_ = pl.String, pl.Date, "datetime"


def scan(table, columns):
    """A typed scan: every column given its type by name, so the columns may come in any
    order (dates as Date; date-times read as text and cut to their date, because the
    measures compare dates)."""
    schema = {c: (pl.String if t == T_ else t) for c, t in columns.items()}
    lf = pl.scan_csv(a.data / f"{table}.csv", infer_schema=False, schema_overrides=schema)
    cut = [pl.col(c).str.slice(0, 10).str.to_date("%Y-%m-%d") for c, t in columns.items() if t == T_]
    return lf.with_columns(cut) if cut else lf


referrals = scan("referrals", dict(referral_id=S_, child_id=S_, received_at=T_, source=S_,
                                   decision_at=T_, outcome=S_, feedback_sent_at=T_, team=S_, worker=S_))
assessments = scan("assessments", dict(assessment_id=S_, child_id=S_, referral_id=S_, start_date=D_,
                                       child_seen_date=D_, authorised_date=D_, outcome=S_, team=S_,
                                       worker=S_))
strategy = scan("strategy_discussions", dict(strategy_id=S_, child_id=S_, referral_id=S_, held_date=D_,
                                             minutes_distributed_date=D_, police_present=S_,
                                             health_present=S_, outcome=S_, team=S_))
s47 = scan("s47_enquiries", dict(s47_id=S_, child_id=S_, strategy_id=S_, start_date=D_, end_date=D_,
                                 icpc_not_required=S_, outcome=S_, team=S_, worker=S_))
plans = scan("cp_plans", dict(plan_id=S_, child_id=S_, start_date=D_, end_date=D_, initial_category=S_,
                              latest_category=S_, end_reason=S_, team=S_, worker=S_))
conferences = scan("conferences", dict(conference_id=S_, child_id=S_, conference_type=S_, date=D_,
                                       s47_id=S_, plan_id=S_, outcome=S_))
core_groups = scan("core_groups", dict(core_group_id=S_, plan_id=S_, child_id=S_, date=D_))
visits = scan("visits", dict(visit_id=S_, child_id=S_, visit_date=D_, visit_type=S_, seen_alone=S_,
                             worker=S_))
supervisions = scan("supervisions", dict(supervision_id=S_, child_id=S_, date=D_, worker=S_,
                                         supervisor=S_, cp_plan_reviewed=S_))


def code(c):
    """Codes match ignoring case, spaces, - and _."""
    return pl.col(c).str.strip_chars().str.to_lowercase().str.replace_all(r"[ _-]+", "_")


def flag(c):
    return pl.col(c).str.strip_chars().str.to_lowercase().is_in(["y", "yes", "true", "1"]).fill_null(False)


# The working-day frame: wd = working days from the calendar's start up to and including
# d, so the working days d with a < d <= b number wd(b) - wd(a).
hol = pl.read_csv(a.holidays, schema={"date": pl.Date, "name": pl.String})["date"]
cal = (
    pl.DataFrame({"d": pl.date_range(dt.date(hol.min().year, 1, 1), dt.date(hol.max().year, 12, 31),
                                     "1d", eager=True)})
    .with_columns(wd=((pl.col("d").dt.weekday() <= 5) & ~pl.col("d").is_in(hol.implode())).cast(pl.Int32).cum_sum())
    .lazy()
)
wd_as_of = cal.filter(pl.col("d") == a.as_of).collect()["wd"][0]
per = pl.DataFrame(
    {"period": [p[0] for p in periods], "snap": [p[3] for p in periods]},
    schema={"period": pl.String, "snap": pl.Date},
).lazy()


def with_wd(lf, col, name):
    return lf.join(cal.rename({"d": col, "wd": name}), on=col, how="left")


def in_period(c):
    return pl.col(c).is_between(first_day, last_day)


def month(c):
    return pl.col(c).dt.strftime("%Y-%m").alias("period")


def deadline(start, end, limit):
    """Status of a case timed in working days, on a frame holding start, end and their
    working-day numbers wd_start, wd_end."""
    return (
        pl.when(pl.col("wd_start").is_null()).then(pl.lit("excluded"))
        .when(pl.col(end).is_null())
        .then(pl.when(wd_as_of - pl.col("wd_start") <= limit).then(pl.lit("pending")).otherwise(pl.lit("breach")))
        .when(pl.col(end) < pl.col(start)).then(pl.lit("excluded"))
        .when(pl.col("wd_end").is_null()).then(pl.lit("excluded"))
        .when(pl.col("wd_end") - pl.col("wd_start") <= limit).then(pl.lit("met"))
        .otherwise(pl.lit("breach"))
        .alias("status")
    )


def timed(lf, period_col, start, end, limit):
    lf = lf.filter(in_period(period_col))
    lf = with_wd(with_wd(lf, start, "wd_start"), end, "wd_end")
    return lf.select(month(period_col), deadline(start, end, limit))


def met_if(cond):
    return pl.when(cond).then(pl.lit("met")).otherwise(pl.lit("breach")).alias("status")


def counted(lf, period_col):
    return lf.filter(in_period(period_col)).select(month(period_col), status=pl.lit("met"))


# join_asof needs both sides sorted by the date; they are sorted as a whole (check_sortedness
# cannot look inside the `by` groups, hence False).

# Each measure: a lazy frame of (period, status) per row judged, status one of met,
# breach, pending, excluded. A count is all "met".
Q, KINDS = {}, {}

KINDS["referrals"] = "count"
Q["referrals"] = counted(referrals, "received_at")

KINDS["referral_decision_1wd"] = "ratio"
Q["referral_decision_1wd"] = timed(referrals, "received_at", "received_at", "decision_at", 1)

KINDS["referral_nfa"] = "ratio"
Q["referral_nfa"] = referrals.filter(in_period("received_at")).select(
    month("received_at"), met_if((code("outcome") == "nfa").fill_null(False)))

# The child's latest referral on a strictly earlier date, no more than 12 months before.
KINDS["re_referral_12m"] = "ratio"
ref_dates = (referrals.filter(pl.col("child_id").is_not_null() & pl.col("received_at").is_not_null())
             .select("child_id", prev=pl.col("received_at")).unique().sort("prev"))
Q["re_referral_12m"] = (
    referrals.filter(in_period("received_at")).sort("received_at")
    .join_asof(ref_dates, left_on="received_at", right_on="prev", by="child_id",
               strategy="backward", allow_exact_matches=False, check_sortedness=False)
    .select(month("received_at"),
            met_if((pl.col("prev") >= pl.col("received_at").dt.offset_by(f"-{int(S['re_referral_months'])}mo"))
                   .fill_null(False)))
)

KINDS["assessment_45wd"] = "ratio"
Q["assessment_45wd"] = timed(assessments, "authorised_date", "start_date", "authorised_date", 45)

KINDS["strategy_minutes_timely"] = "ratio"
Q["strategy_minutes_timely"] = timed(strategy, "held_date", "held_date", "minutes_distributed_date",
                                     int(S["strategy_minutes_working_days"]))

KINDS["s47_started"] = "count"
Q["s47_started"] = counted(s47, "start_date")

initial = conferences.filter(code("conference_type") == "initial")

KINDS["s47_to_icpc"] = "ratio"
with_icpc = initial.filter(pl.col("date").is_not_null()).select("s47_id").unique().with_columns(icpc=pl.lit(True))
Q["s47_to_icpc"] = (
    s47.filter(in_period("start_date")).join(with_icpc, on="s47_id", how="left")
    .select(month("start_date"), met_if(pl.col("icpc").fill_null(False)))
)

KINDS["icpc_15wd"] = "ratio"
Q["icpc_15wd"] = timed(
    initial.join(s47.select("s47_id", s47_start=pl.col("start_date")), on="s47_id", how="inner"),
    "date", "s47_start", "date", 15)

KINDS["core_group_10wd"] = "ratio"
first_cg = core_groups.group_by("plan_id").agg(first_cg=pl.col("date").min())
Q["core_group_10wd"] = timed(plans.join(first_cg, on="plan_id", how="left"),
                             "start_date", "start_date", "first_cg", 10)

KINDS["cp_repeat_plan"] = "ratio"
Q["cp_repeat_plan"] = (
    plans.filter(pl.col("child_id").is_not_null())
    .with_columns(first_start=pl.col("start_date").min().over("child_id"))
    .filter(in_period("start_date"))
    .select(month("start_date"), met_if((pl.col("first_start") < pl.col("start_date")).fill_null(False)))
)

# Plans open at each month end (or the as-of date): started by then, not ended by then.
open_plans = (
    plans.join(per, how="cross")
    .filter((pl.col("start_date") <= pl.col("snap"))
            & (pl.col("end_date").is_null() | (pl.col("end_date") > pl.col("snap"))))
)

KINDS["cp_plans_open"] = "count"
Q["cp_plans_open"] = open_plans.select("period", status=pl.lit("met"))

# Due: 3 months after the plan started for its first review, else 6 months after the
# plan's previous review (strictly earlier date).
KINDS["cp_review_on_time"] = "ratio"
reviews = conferences.filter((code("conference_type") == "review") & pl.col("plan_id").is_not_null()
                             & pl.col("date").is_not_null())
review_dates = reviews.select("plan_id", prev=pl.col("date")).unique().sort("prev")
Q["cp_review_on_time"] = (
    reviews.filter(in_period("date")).sort("date")
    .join_asof(review_dates, left_on="date", right_on="prev", by="plan_id",
               strategy="backward", allow_exact_matches=False, check_sortedness=False)
    .join(plans.select("plan_id", plan_start=pl.col("start_date")), on="plan_id", how="inner")
    .with_columns(
        from_date=pl.coalesce("prev", "plan_start"),
        due=pl.when(pl.col("prev").is_not_null()).then(pl.col("prev").dt.offset_by("6mo"))
        .otherwise(pl.col("plan_start").dt.offset_by("3mo")),
    )
    .select(month("date"),
            pl.when(pl.col("from_date").is_null() | (pl.col("date") < pl.col("from_date"))).then(pl.lit("excluded"))
            .when(pl.col("date") <= pl.col("due")).then(pl.lit("met"))
            .otherwise(pl.lit("breach")).alias("status"))
)

# The child's latest CP visit on or before the month end, at most N working days before it.
KINDS["cp_visits_timely"] = "ratio"
cp_visits = (visits.filter((code("visit_type") == "cp") & pl.col("visit_date").is_not_null())
             .select("child_id", "visit_date").sort("visit_date"))
Q["cp_visits_timely"] = (
    with_wd(
        with_wd(
            open_plans.select("period", "snap", "child_id").sort("snap")
            .join_asof(cp_visits, left_on="snap", right_on="visit_date", by="child_id", strategy="backward",
                       check_sortedness=False),
            "snap", "wd_snap"),
        "visit_date", "wd_visit")
    .select("period", met_if((pl.col("wd_snap") - pl.col("wd_visit") <= int(S["cp_visit_working_days"]))
                             .fill_null(False)))
)

# Plans open at the month end that started at least 2 months before it; the child's latest
# supervision with the plan reviewed, on or before the month end, after (end - 2 months)
# and not before the plan started.
KINDS["cp_supervision_2m"] = "ratio"
sm = f"{int(S['cp_supervision_months'])}mo"
reviewed = (supervisions.filter(flag("cp_plan_reviewed") & pl.col("date").is_not_null())
            .select("child_id", sup=pl.col("date")).sort("sup"))
Q["cp_supervision_2m"] = (
    open_plans.filter(pl.col("start_date") <= pl.col("snap").dt.offset_by(f"-{sm}"))
    .select("period", "snap", "child_id", "start_date").sort("snap")
    .join_asof(reviewed, left_on="snap", right_on="sup", by="child_id", strategy="backward",
                       check_sortedness=False)
    .select("period", met_if(((pl.col("sup") > pl.col("snap").dt.offset_by(f"-{sm}"))
                              & (pl.col("sup") >= pl.col("start_date"))).fill_null(False)))
)

unknown = [i for i in a.ids if i not in Q]
if unknown:
    raise SystemExit(f"MEASURES names measures this peer does not compute: {', '.join(unknown)}")

st = pl.col("status")
frames = pl.collect_all([
    Q[mid].group_by("period").agg(
        met=(st == "met").sum(), breach=(st == "breach").sum(),
        pending=(st == "pending").sum(), excluded=(st == "excluded").sum(),
    ).with_columns(metric_id=pl.lit(mid))
    for mid in a.ids
])
tallies = {}
for f in frames:
    for r in f.iter_rows(named=True):
        tallies[(r["metric_id"], r["period"])] = (r["met"], r["breach"], r["pending"], r["excluded"])
peerlib.write_rows(a.out, a.ids, KINDS, tallies, periods, a.as_of, a.child_population)
