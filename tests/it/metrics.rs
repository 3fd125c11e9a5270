//! Golden tests of the metric library on `tests/fixtures/metrics/`, a hand-made council whose
//! every numerator, denominator and pending count was worked out by hand (the working is in
//! the comments and in tests/fixtures/metrics/README.md). As-of date: Wednesday 10 April 2024.
//!
//! Calendar facts used below: 2024 is a leap year (Thursday 29 February); Good Friday
//! 29 March 2024 and Easter Monday 1 April 2024 are bank holidays, as are Good Friday
//! 7 April 2023 and Easter Monday 10 April 2023; 31 March 2024 is a Sunday and the end of
//! the financial year 2023-24.

use std::path::PathBuf;

use chrono::NaiveDate;
use csc_audit::calendar::Calendar;
use csc_audit::ingest::{load, Extracts, FrameColumns, LoadOptions};
use csc_audit::metrics::{columns_read, evaluate, output, EvalOptions, Evaluation, Library};
use csc_audit::periods::{Grain, Period};

use crate::{fixture, today};

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 4, 10).unwrap()
}

/// The hand-worked council, its frames holding `columns`.
fn extracts_with(columns: FrameColumns) -> Extracts {
    load(
        &fixture("metrics"),
        &LoadOptions {
            as_of: Some(as_of()),
            today: today(),
            columns,
        },
    )
    .unwrap()
}

fn extracts() -> Extracts {
    extracts_with(FrameColumns::All)
}

fn metrics_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metrics")
}

fn run(grain: Grain, from: &str, to: &str, by: &[&str]) -> Evaluation {
    let lib = Library::load_dir(&metrics_dir()).unwrap();
    let opts = options(grain, from, to, by, false);
    // As the `metrics` command does: the frames hold only what the measures read.
    let ex = extracts_with(columns_read(&lib, &opts));
    evaluate(&ex, &lib, &Calendar::england_and_wales(), &opts).unwrap()
}

/// (numerator, denominator, pending) of a row; a count has no denominator (-1 here).
fn ndp(
    ev: &Evaluation,
    metric: &str,
    period: &str,
    bd: &str,
    group: &str,
    cat: &str,
) -> (i64, i64, u64) {
    let r = ev
        .find(metric, period, bd, group, cat)
        .unwrap_or_else(|| panic!("no row {metric} {period} {bd}={group} {cat}"));
    (
        r.numerator.map_or(-1, |x| x as i64),
        r.denominator.map_or(-1, |x| x as i64),
        r.pending,
    )
}

#[test]
fn every_measure_matches_the_hand_worked_months() {
    let ev = run(Grain::Month, "2024-01", "2024-04", &[]);
    assert!(ev.notes.is_empty(), "{:?}", ev.notes);
    #[rustfmt::skip]
    let expected: &[(&str, &str, (i64, i64, u64))] = &[
        // R2 received Thu 29 Feb (leap day), decided Fri 1 Mar: 1 working day.
        ("referral_decision_1wd", "2024-02", (1, 1, 0)),
        // R1 Thu 28 Mar 16:00 -> Tue 2 Apr: Good Friday, the weekend and Easter Monday do
        // not count, so 1 working day (within). R3 Fri -> Mon: 1 (within). R4 Fri 8 -> Tue
        // 12 Mar: 2 (breach). R11 same day: 0 (within).
        ("referral_decision_1wd", "2024-03", (3, 4, 0)),
        // R5 received Tue 9 Apr, no decision: 1 working day to the as-of date, so pending.
        // R6 received Fri 5 Apr, no decision: 3 working days gone, so a breach.
        ("referral_decision_1wd", "2024-04", (0, 1, 1)),
        // Feedback: R2 29 Feb -> Mon 4 Mar is 2 (breach).
        ("referral_feedback_1wd", "2024-02", (0, 1, 0)),
        // R1 -> Wed 3 Apr: 2 (breach); R3 same day; R4 -> Mon 11 Mar: 1; R11 none and long
        // overdue (breach).
        ("referral_feedback_1wd", "2024-03", (2, 4, 0)),
        ("referral_feedback_1wd", "2024-04", (0, 1, 1)),
        ("referral_nfa", "2024-03", (2, 4, 0)),
        ("referral_nfa", "2024-04", (0, 2, 0)),
        // R2 (29 Feb 2024): 29 Feb 2024 minus 12 months is 28 Feb 2023, the date of R9, so
        // it is a re-referral.
        ("re_referral_12m", "2024-02", (1, 1, 0)),
        // R1: C1 had R4 and R11 on 8 Mar. R3 (1 Mar 2024): R8 on 1 Mar 2023 is exactly 12
        // months before (counts). R4 and R11 share a date: neither is earlier than the other.
        ("re_referral_12m", "2024-03", (2, 4, 0)),
        // R5 (9 Apr 2024): R7 on 6 Apr 2023 is before 9 Apr 2023. R6 (5 Apr 2024): R10 on
        // 4 Apr 2023 is one day too early.
        ("re_referral_12m", "2024-04", (0, 2, 0)),
        ("referrals", "2024-02", (1, -1, 0)),
        ("referrals", "2024-03", (4, -1, 0)),
        ("referrals", "2024-04", (2, -1, 0)),
        // A3 Tue 2 Jan -> Tue 5 Mar 2024 is exactly 45 working days (within); A4 -> Wed
        // 6 Mar is 46 (breach). A1 is not authorised, so in no period.
        ("assessment_45wd", "2024-03", (1, 2, 0)),
        // A5 Thu 1 Feb -> Wed 3 Apr: 42 working days (Easter not counted).
        ("assessment_45wd", "2024-04", (1, 1, 0)),
        // S3 (28 Mar) follows S2 (8 Mar) for the same child.
        ("multiple_strategy", "2024-03", (1, 3, 0)),
        ("multiple_strategy", "2024-04", (0, 1, 0)),
        // S1 Thu 29 Feb -> Fri 1 Mar: 1 working day.
        ("strategy_minutes_timely", "2024-02", (1, 1, 0)),
        // S2 Fri 8 -> Tue 12 Mar: 2 (breach); S5 Fri 1 -> Mon 4 Mar: 1; S3 none, 7 working
        // days gone (breach).
        ("strategy_minutes_timely", "2024-03", (1, 3, 0)),
        // S4 held Tue 9 Apr, no minutes yet: pending.
        ("strategy_minutes_timely", "2024-04", (0, 0, 1)),
        // Police: S2 yes, S3 no, S5 empty (not recorded as present).
        ("strategy_police_present", "2024-03", (1, 3, 0)),
        ("strategy_health_present", "2024-03", (1, 3, 0)),
        ("s47_started", "2024-03", (4, -1, 0)),
        ("s47_started", "2024-04", (1, -1, 0)),
        // E5 names strategy S99, which is not in the extract: the link is dropped.
        ("s47_with_strategy", "2024-03", (3, 4, 0)),
        ("s47_with_strategy", "2024-04", (1, 1, 0)),
        ("s47_to_icpc", "2024-03", (4, 4, 0)),
        ("s47_to_icpc", "2024-04", (0, 1, 0)),
        // I1 Thu 21 Mar from E1 Fri 1 Mar: 14 working days.
        ("icpc_15wd", "2024-03", (1, 1, 0)),
        // I2 Tue 2 Apr from E2 Fri 8 Mar: exactly 15 over Easter (within); I3 from 28 Mar: 4;
        // I4 Mon 8 Apr from E5 Mon 11 Mar: 18 (breach).
        ("icpc_15wd", "2024-04", (2, 3, 0)),
        // I1 from S1 Thu 29 Feb: exactly 15.
        ("icpc_15wd_strategy", "2024-03", (1, 1, 0)),
        // I4's S47 has no strategy discussion in the extract: not in the population.
        ("icpc_15wd_strategy", "2024-04", (2, 2, 0)),
        // I5 has no S47 but is an initial conference held.
        ("icpc_held", "2024-03", (2, -1, 0)),
        ("icpc_held", "2024-04", (3, -1, 0)),
        ("icpc_to_plan", "2024-03", (1, 2, 0)),
        ("icpc_to_plan", "2024-04", (2, 3, 0)),
        // P1 Thu 21 Mar: first core group G1 Fri 5 Apr is 9 working days (Easter not
        // counted); the later G0 is ignored.
        ("core_group_10wd", "2024-03", (1, 1, 0)),
        // P3: G2 the next day. P2 (Tue 2 Apr) has none, 6 working days gone: pending.
        ("core_group_10wd", "2024-04", (1, 1, 1)),
        // V6 is P5's first review: P5 started 30 Nov 2023, due 3 months later = 29 Feb 2024
        // (the 30th clamped to the leap day); held on 29 Feb: on time.
        ("cp_review_on_time", "2024-02", (1, 1, 0)),
        // V5 (10 Apr 2024): previous review V4 28 Nov 2023, due 28 May 2024.
        ("cp_review_on_time", "2024-04", (1, 1, 0)),
        ("cp_repeat_plan", "2024-03", (1, 1, 0)),
        ("cp_repeat_plan", "2024-04", (1, 2, 0)),
        ("cp_plans_started", "2024-03", (1, -1, 0)),
        ("cp_plans_started", "2024-04", (2, -1, 0)),
        // Open at 31 Jan: P4 and P5. P4 started 28 Feb 2022: 2 years at 29 Feb 2024 (29 Feb
        // 2024 minus 24 months is 28 Feb 2022), not at 31 Jan 2024.
        ("cp_open_2y", "2024-01", (0, 2, 0)),
        ("cp_open_2y", "2024-02", (1, 2, 0)),
        // P5 ends on 31 Mar, so is not open at the end of March; P1 is.
        ("cp_open_2y", "2024-03", (1, 2, 0)),
        // April is not over: its snapshot is at the as-of date (P4, P1, P2, P3 open).
        ("cp_open_2y", "2024-04", (1, 4, 0)),
        ("cp_plans_open", "2024-01", (2, -1, 0)),
        ("cp_plans_open", "2024-03", (2, -1, 0)),
        ("cp_plans_open", "2024-04", (4, -1, 0)),
        // 31 Jan: window after 30 Nov 2023. P4: U3 on 31 Jan. P5 (started 30 Nov, exactly
        // 2 months before): U4 on 31 Jan (U2 is before the plan started).
        ("cp_supervision_2m", "2024-01", (2, 2, 0)),
        // 29 Feb: window after 29 Dec 2023: U3 and U4 (31 Jan) both count.
        ("cp_supervision_2m", "2024-02", (2, 2, 0)),
        // 31 Mar: window after 31 Jan; U3 on 31 Jan is not after it. P1 is too new.
        ("cp_supervision_2m", "2024-03", (0, 1, 0)),
        ("cp_supervision_2m", "2024-04", (0, 1, 0)),
        // 31 Jan: X1 Wed 17 Jan is exactly 10 working days before (within); X2 16 Jan is 11.
        ("cp_visits_timely", "2024-01", (1, 2, 0)),
        // 29 Feb: C4's last CP visit is X1 (X3 is a CIN visit); C3's X6 on 28 Feb.
        ("cp_visits_timely", "2024-02", (1, 2, 0)),
        // 31 Mar (Sunday): X4 Fri 15 Mar is 9 working days before (Good Friday not counted).
        ("cp_visits_timely", "2024-03", (2, 2, 0)),
        // 10 Apr: X4 is now 16 working days ago; X5 28 Mar is 7; P2 and P3 have none.
        ("cp_visits_timely", "2024-04", (1, 4, 0)),
        // Open S47s not marked icpc_not_required and still waiting for an ICPC. E6 (1 Dec
        // 2023, no end, no conference) is overdue at every month end. 31 Mar: E5 (Mon 11
        // Mar) is 13 working days old (Good Friday not counted), E3 started on 28 Mar.
        // 10 Apr: E3 had I3 on 5 Apr, so it no longer waits (though it has no end date, as
        // in a CIN census); E4 started the day before.
        ("s47_icpc_overdue", "2024-01", (1, 1, 0)),
        ("s47_icpc_overdue", "2024-02", (1, 1, 0)),
        ("s47_icpc_overdue", "2024-03", (1, 3, 0)),
        ("s47_icpc_overdue", "2024-04", (1, 2, 0)),
        ("supervision_recorded", "2024-01", (2, 2, 0)),
        // 31 Mar: window after 29 Feb (31 Mar minus a month, clamped); U7 15 Mar counts.
        ("supervision_recorded", "2024-03", (1, 1, 0)),
        ("supervision_recorded", "2024-04", (1, 1, 0)),
    ];
    for (metric, period, want) in expected {
        assert_eq!(
            ndp(&ev, metric, period, "all", "all", "all"),
            *want,
            "{metric} {period}"
        );
    }
}

#[test]
fn distributions_and_summaries_match_the_hand_worked_months() {
    let ev = run(Grain::Month, "2024-01", "2024-04", &[]);
    let dist = |m: &str, p: &str, cat: &str| ndp(&ev, m, p, "all", "all", cat);
    // Contacts in the 12 months up to the referral date: R1 (28 Mar) has K1; R3 (1 Mar)
    // none (K4 is the day after); R4 and R11 (8 Mar) have K1 and K2 (exactly 12 months
    // before); K3 is a day older than the window.
    assert_eq!(
        dist("contacts_before_referral", "2024-03", "no contact"),
        (1, 4, 0)
    );
    assert_eq!(
        dist("contacts_before_referral", "2024-03", "1 contact"),
        (1, 4, 0)
    );
    assert_eq!(
        dist("contacts_before_referral", "2024-03", "2 contacts"),
        (2, 4, 0)
    );
    assert_eq!(
        dist("contacts_before_referral", "2024-03", "3 contacts"),
        (0, 4, 0)
    );
    // 31 Jan: P4 (28 Feb 2022) is 23 whole months old, P5 2; at 29 Feb P4 is 24.
    assert_eq!(
        dist("cp_open_duration", "2024-01", "18 to under 24 months"),
        (1, 2, 0)
    );
    assert_eq!(
        dist("cp_open_duration", "2024-01", "under 12 months"),
        (1, 2, 0)
    );
    assert_eq!(
        dist("cp_open_duration", "2024-02", "24 months and over"),
        (1, 2, 0)
    );
    assert_eq!(
        dist("cp_open_duration", "2024-04", "under 12 months"),
        (3, 4, 0)
    );
    assert_eq!(dist("cp_plan_number", "2024-03", "2nd"), (1, 1, 0));
    assert_eq!(dist("cp_plan_number", "2024-04", "1st"), (1, 2, 0));
    assert_eq!(dist("cp_plan_number", "2024-04", "2nd"), (1, 2, 0));
    // Minutes: S2 2 working days, S5 1; S3 has none yet and is left out.
    assert_eq!(
        dist(
            "strategy_minutes_working_days",
            "2024-03",
            "2 to 5 working days"
        ),
        (1, 2, 0)
    );
    assert_eq!(
        dist("strategy_minutes_working_days", "2024-03", "1 working day"),
        (1, 2, 0)
    );

    // Assessment durations in March: 45 and 46 working days.
    let r = ev
        .find("assessment_working_days", "2024-03", "all", "all", "all")
        .unwrap();
    assert_eq!(
        (r.value, r.p25, r.p75, r.denominator),
        (Some(45.5), Some(45.25), Some(45.75), Some(2.0))
    );
    // Caseloads (open assessments, S47s and plans; distinct children per worker). W3 holds
    // only E6 (C3), open since 1 Dec 2023: 1 child in every month.
    // 31 Jan: W1 holds P4 (C4) and P5 (C3), W2 assessments A3 (C2) and A4 (C3): 1, 2, 2.
    // 29 Feb: W2 also holds A5 (C5): 1, 2, 3 -> median 2, quartiles 1.5 and 2.5.
    // 31 Mar: W1 E3 (C1) and P4 (C4); W2 A5 and E5 (both C5, once) and P1 (C2): 1, 2, 2.
    // 10 Apr: W1 A1, E3, P2 (all C1) and E4, P4 (C4); W2 P1 (C2), P3 (C5): 1, 2, 2.
    let cl = |p: &str| {
        let r = ev
            .find("caseload_per_worker", p, "all", "all", "all")
            .unwrap();
        (r.value, r.p25, r.p75, r.denominator)
    };
    assert_eq!(cl("2024-01"), (Some(2.0), Some(1.5), Some(2.0), Some(3.0)));
    assert_eq!(cl("2024-02"), (Some(2.0), Some(1.5), Some(2.5), Some(3.0)));
    assert_eq!(cl("2024-03"), (Some(2.0), Some(1.5), Some(2.0), Some(3.0)));
    assert_eq!(cl("2024-04"), (Some(2.0), Some(1.5), Some(2.0), Some(3.0)));
}

#[test]
fn values_intervals_rag_and_rates() {
    let ev = run(Grain::Month, "2024-03", "2024-04", &[]);
    let r = ev
        .find("referral_decision_1wd", "2024-03", "all", "all", "all")
        .unwrap();
    assert_eq!(r.value, Some(75.0));
    // Wilson 95% for 3/4: 30.06% to 95.44% (R: prop.test(3, 4, correct = FALSE)).
    assert!((r.ci_low.unwrap() - 30.06).abs() < 0.005, "{:?}", r.ci_low);
    assert!(
        (r.ci_high.unwrap() - 95.44).abs() < 0.005,
        "{:?}",
        r.ci_high
    );
    // Higher is better: 75 is below amber (85): red.
    assert_eq!((r.target, r.rag), (Some(95.0), Some("red")));
    assert!(r.complete);
    // April is not over on 10 April; 0 of 1 with 1 pending.
    let a = ev
        .find("referral_decision_1wd", "2024-04", "all", "all", "all")
        .unwrap();
    assert_eq!(
        (a.value, a.rag, a.complete),
        (Some(0.0), Some("red"), false)
    );
    // Lower is better: re-referrals 50% (red), 0% (green).
    assert_eq!(
        ev.find("re_referral_12m", "2024-03", "all", "all", "all")
            .unwrap()
            .rag,
        Some("red")
    );
    assert_eq!(
        ev.find("re_referral_12m", "2024-04", "all", "all", "all")
            .unwrap()
            .rag,
        Some("green")
    );
    // No denominator: no value, no interval, no RAG.
    let s = ev
        .find("strategy_minutes_timely", "2024-04", "all", "all", "all")
        .unwrap();
    assert_eq!((s.value, s.ci_low, s.rag, s.pending), (None, None, None, 1));
    // Rates per 10,000 children: standards.toml says 60,000 children; 4 referrals.
    let c = ev
        .find("referrals", "2024-03", "all", "all", "all")
        .unwrap();
    assert!((c.rate_per_10k.unwrap() - 4.0 / 6.0).abs() < 1e-9);
    // Neutral measures have no RAG.
    assert_eq!(
        ev.find("icpc_to_plan", "2024-03", "all", "all", "all")
            .unwrap()
            .rag,
        None
    );
}

#[test]
fn breakdowns_by_team_and_age_band() {
    let ev = run(Grain::Month, "2024-03", "2024-04", &["team", "age_band"]);
    let g = |m: &str, p: &str, bd: &str, grp: &str| ndp(&ev, m, p, bd, grp, "all");
    // March decisions: North R1 (within), R4 (breach), R11 (within); South R3 (within).
    assert_eq!(
        g("referral_decision_1wd", "2024-03", "team", "North"),
        (2, 3, 0)
    );
    assert_eq!(
        g("referral_decision_1wd", "2024-03", "team", "South"),
        (1, 1, 0)
    );
    // A group seen in another period is listed with zeros: South had no pending in April.
    assert_eq!(
        g("referral_decision_1wd", "2024-04", "team", "North"),
        (0, 0, 1)
    );
    assert_eq!(
        g("referral_decision_1wd", "2024-04", "team", "South"),
        (0, 1, 0)
    );
    // C1 (born 1 May 2010) is 13; C3 (born 1 June 2023) under 1 on 1 March 2024.
    assert_eq!(
        g("referral_decision_1wd", "2024-03", "age_band", "10 to 15"),
        (2, 3, 0)
    );
    assert_eq!(
        g("referral_decision_1wd", "2024-03", "age_band", "under 1"),
        (1, 1, 0)
    );
    // Bands are listed youngest first, "unknown" last, in every period.
    let bands: Vec<&str> = ev
        .rows
        .iter()
        .filter(|r| {
            r.metric_id == "referral_decision_1wd"
                && r.period == "2024-03"
                && r.breakdown == "age_band"
        })
        .map(|r| r.group.as_str())
        .collect();
    assert_eq!(bands, ["under 1", "10 to 15", "16 and over", "unknown"]);
    // C5 has no date of birth.
    assert_eq!(
        g("referral_decision_1wd", "2024-04", "age_band", "unknown"),
        (0, 1, 0)
    );
    // An ICPC's team is its S47's team: I2, I3 (North, within), I4 (South, breach).
    assert_eq!(g("icpc_15wd", "2024-04", "team", "North"), (2, 2, 0));
    assert_eq!(g("icpc_15wd", "2024-04", "team", "South"), (0, 1, 0));
    // Team rows add up to the total.
    for m in [
        "referral_decision_1wd",
        "icpc_15wd",
        "cp_visits_timely",
        "re_referral_12m",
    ] {
        for p in ["2024-03", "2024-04"] {
            let all = g(m, p, "all", "all");
            let teams = ["North", "South", "unknown"]
                .iter()
                .filter_map(|t| ev.find(m, p, "team", t, "all"))
                .fold((0, 0, 0), |acc, r| {
                    (
                        acc.0 + r.numerator.unwrap() as i64,
                        acc.1 + r.denominator.unwrap() as i64,
                        acc.2 + r.pending,
                    )
                });
            assert_eq!(teams, all, "{m} {p}");
        }
    }
    // Measures that do not allow a breakdown say so.
    assert!(ev
        .notes
        .iter()
        .any(|n| n.contains("age_band") && n.contains("caseload_per_worker")));
}

#[test]
fn financial_quarters_and_years() {
    let q = run(Grain::Quarter, "2023-24 Q4", "2024-25 Q1", &[]);
    // Jan-Mar 2024: R1, R2, R3, R11 within, R4 breach. The quarter ends on 31 March.
    assert_eq!(
        ndp(
            &q,
            "referral_decision_1wd",
            "2023-24 Q4",
            "all",
            "all",
            "all"
        ),
        (4, 5, 0)
    );
    assert_eq!(
        ndp(
            &q,
            "referral_decision_1wd",
            "2024-25 Q1",
            "all",
            "all",
            "all"
        ),
        (0, 1, 1)
    );
    let r = q
        .find("referral_decision_1wd", "2023-24 Q4", "all", "all", "all")
        .unwrap();
    assert_eq!(
        (r.period_start.to_string(), r.period_end.to_string()),
        ("2024-01-01".into(), "2024-03-31".into())
    );
    // Snapshot at the end of the quarter (31 March): as the month.
    assert_eq!(
        ndp(&q, "cp_open_2y", "2023-24 Q4", "all", "all", "all"),
        (1, 2, 0)
    );

    let y = run(Grain::Year, "2022-23", "2024-25", &[]);
    // 2023-24 adds R7 (Thu 6 Apr 2023 17:00 -> Tue 11 Apr: Good Friday, weekend and Easter
    // Monday 2023 not counted, 1 working day) and R10 (Tue 4 -> Thu 6 Apr 2023: 2, breach).
    assert_eq!(
        ndp(&y, "referral_decision_1wd", "2023-24", "all", "all", "all"),
        (5, 7, 0)
    );
    // R8 (1 Mar 2023) and R9 (28 Feb 2023) fall in 2022-23.
    assert_eq!(
        ndp(&y, "referral_decision_1wd", "2022-23", "all", "all", "all"),
        (2, 2, 0)
    );
    assert_eq!(
        ndp(&y, "re_referral_12m", "2023-24", "all", "all", "all"),
        (3, 7, 0)
    );
    // Reviews of P4: V1 27 May 2022 (due 28 May, 3 months after 28 Feb: on time), V2
    // 28 Nov 2022 (due 27 Nov, 6 months after V1: late); V3 and V4 on time, and V6.
    assert_eq!(
        ndp(&y, "cp_review_on_time", "2022-23", "all", "all", "all"),
        (1, 2, 0)
    );
    assert_eq!(
        ndp(&y, "cp_review_on_time", "2023-24", "all", "all", "all"),
        (3, 3, 0)
    );
}

#[test]
fn the_built_in_library_is_the_metrics_folder() {
    let mut on_disk: Vec<String> = std::fs::read_dir(metrics_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    on_disk.sort();
    let built: Vec<String> = csc_audit::metrics::library::FILES
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    assert_eq!(
        built, on_disk,
        "update src/metrics/library.rs when adding a metric file"
    );
    for (name, text) in csc_audit::metrics::library::FILES {
        assert_eq!(
            std::fs::read_to_string(metrics_dir().join(name)).unwrap(),
            *text
        );
    }
    let lib = Library::builtin();
    // Every id the issue names is there.
    for id in [
        "referral_decision_1wd",
        "referral_feedback_1wd",
        "referral_nfa",
        "re_referral_12m",
        "assessment_45wd",
        "s47_with_strategy",
        "s47_to_icpc",
        "icpc_15wd",
        "icpc_15wd_strategy",
        "icpc_to_plan",
        "core_group_10wd",
        "cp_review_on_time",
        "cp_repeat_plan",
        "cp_open_2y",
        "cp_open_duration",
        "cp_supervision_2m",
        "cp_visits_timely",
        "strategy_minutes_timely",
        "strategy_police_present",
        "multiple_strategy",
        "contacts_before_referral",
        "caseload_per_worker",
        "supervision_recorded",
        "referrals",
        "s47_started",
        "icpc_held",
        "cp_plans_started",
        "cp_plans_open",
    ] {
        assert!(lib.metrics.iter().any(|m| m.id == id), "{id}");
    }
}

fn definition_error(files: &[(&str, &str)]) -> String {
    let mut texts: Vec<(String, String)> = vec![(
        "m/standards.toml".into(),
        "[standards]\ncp_visit_working_days = 10\n".into(),
    )];
    texts.extend(files.iter().map(|(n, t)| (format!("m/{n}"), t.to_string())));
    Library::from_texts(&texts, "m").unwrap_err().to_string()
}

const HEAD: &str = "id = \"x\"\nkind = \"ratio\"\ntitle = \"t\"\ndescription = \"d\"\nsource = \"s\"\npolarity = \"higher\"\n";

#[test]
fn a_wrong_metric_file_names_the_file_line_field_and_what_is_valid() {
    let e = definition_error(&[(
        "x.toml",
        &format!("{HEAD}[population]\ntable = \"referals\"\ndate = \"received_at\"\n"),
    )]);
    assert!(
        e.contains(
            "m/x.toml:8: population.table: unknown table `referals`; valid tables: children"
        ),
        "{e}"
    );

    let e = definition_error(&[("x.toml", &format!("{HEAD}[population]\ntable = \"referrals\"\ndate = \"received_at\"\n\n[numerator]\nfilter = \"outcome = 'nfa' AND sorce = 'police'\"\n"))]);
    assert!(e.contains("m/x.toml:12: numerator.filter: `sorce` is not a column of referrals; valid columns: referral_id"), "{e}");

    let e = definition_error(&[("x.toml", &format!("{HEAD}[population]\ntable = \"referrals\"\ndate = \"received_at\"\n\n[within]\nfrom = \"received_at\"\nto = \"decision_at\"\nlimit = {{ workdays = 1 }}\n"))]);
    assert!(e.contains("m/x.toml:14: within.limit: unknown unit `workdays`; valid units: working_days, days, hours, months"), "{e}");

    let e = definition_error(&[("x.toml", &format!("{HEAD}[population]\ntable = \"referrals\"\ndate = \"received_at\"\n\n[within]\nfrom = \"received_at\"\nto = \"decision_at\"\nlimit = {{ working_days = \"decision_days\" }}\n"))]);
    assert!(
        e.contains("no local standard named `decision_days`")
            && e.contains("known standards: cp_visit_working_days"),
        "{e}"
    );

    let e = definition_error(&[(
        "x.toml",
        &format!(
            "{HEAD}colour = \"red\"\n[population]\ntable = \"referrals\"\ndate = \"received_at\"\n"
        ),
    )]);
    assert!(
        e.contains("m/x.toml:7: colour: unknown field `colour`"),
        "{e}"
    );

    let e = definition_error(&[(
        "x.toml",
        &format!("{HEAD}[population]\ntable = \"referrals\"\ndate = \"decision\"\n"),
    )]);
    assert!(
        e.contains("m/x.toml:9: population.date: `decision` is not a column of referrals"),
        "{e}"
    );

    let e = definition_error(&[(
        "x.toml",
        &format!("{HEAD}[population]\ntable = \"referrals\"\ndate = \"received_at\"\n")
            .replace("ratio", "rate"),
    )]);
    assert!(e.contains("m/x.toml:2: kind: unknown kind `rate`; valid kinds: ratio, repeat, snapshot, distribution, count, summary"), "{e}");

    let e = definition_error(&[(
        "y.toml",
        &format!("{HEAD}[population]\ntable = \"referrals\"\ndate = \"received_at\"\n"),
    )]);
    assert!(
        e.contains("m/y.toml:1: id: the id `x` differs from the file name `y.toml`"),
        "{e}"
    );

    let e = definition_error(&[("x.toml", &format!("{HEAD}rag = {{ green = 80, amber = 90 }}\n[population]\ntable = \"referrals\"\ndate = \"received_at\"\n[numerator]\nfilter = \"outcome = 'nfa'\"\n"))]);
    assert!(
        e.contains("m/x.toml:7: rag: higher is better, so green (80) must be at least amber (90)"),
        "{e}"
    );

    let e = definition_error(&[("x.toml", &format!("{HEAD}[population]\ntable = \"conferences\"\ndate = \"date\"\n[within]\nfrom = \"s47.start_date\"\nto = \"date\"\nlimit = {{ working_days = 15 }}\n"))]);
    assert!(e.contains("m/x.toml:11: within.from: no related table named `s47` in this file; declare it as [related.s47]"), "{e}");

    let e = definition_error(&[(
        "x.toml",
        &format!("{HEAD}[population]\ntable = \"referrals\"\ndate = \"received_at\"\n[[population.also]]\ntable = \"contacts\"\nopen = {{ start = \"contact_date\" }}\n"),
    )]);
    assert!(
        e.contains(
            "m/x.toml:10: population.also: `also` joins open cases: the population needs `open`"
        ),
        "{e}"
    );

    // Several broken files: every error is reported at once.
    let e = definition_error(&[
        ("x.toml", "id = \n"),
        (
            "z.toml",
            &format!("{HEAD}[population]\ntable = \"referrals\"\ndate = \"received_at\"\n")
                .replace("\"x\"", "\"z\"")
                .replace("higher", "up"),
        ),
    ]);
    assert!(e.starts_with("2 metric file error(s)"), "{e}");
    assert!(
        e.contains("m/x.toml:1: id: string values must be quoted"),
        "{e}"
    );
    assert!(
        e.contains("m/z.toml:6: polarity: unknown polarity `up`; valid: higher, lower, neutral"),
        "{e}"
    );
}

#[test]
fn a_new_metric_file_of_an_existing_kind_needs_no_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(metrics_dir()).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().unwrap() == "standards.toml"
            || p.file_name().unwrap() == "assessment_45wd.toml"
        {
            std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    // Not in the library: the child seen within 5 working days of the assessment's start.
    std::fs::write(
        dir.path().join("assessment_child_seen_5wd.toml"),
        r#"
id = "assessment_child_seen_5wd"
kind = "ratio"
title = "Children seen within 5 working days of the assessment starting"
description = "Assessments started in the period; within = child seen no more than 5 working days after the start."
source = "Local practice standard"
polarity = "higher"
target = 90
rag = { green = 90, amber = 80 }
breakdowns = ["team"]

[population]
table = "assessments"
date = "start_date"

[within]
from = "start_date"
to = "child_seen_date"
limit = { working_days = 5 }
"#,
    )
    .unwrap();
    // Not into the definitions folder: no command writes inside its own inputs.
    let outs = tempfile::tempdir().unwrap();
    let out = outs.path().join("out.csv");
    assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .args(["metrics", "--data"])
        .arg(fixture("metrics"))
        .arg("--metrics")
        .arg(dir.path())
        .args([
            "--as-of",
            "2024-04-10",
            "--from",
            "2024-01",
            "--to",
            "2024-04",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("assessment_child_seen_5wd,"))
        .collect();
    // January: A3 and A4 started Tue 2 Jan, seen on 3 and 5 Jan (1 and 3 working days).
    // February: A5 started Thu 1 Feb, seen Fri 2 Feb. April: A1 started Tue 2 Apr, not seen,
    // 6 working days gone by 10 April: a breach.
    assert_eq!(
        rows.iter()
            .map(|r| r.split(',').take(10).collect::<Vec<_>>().join(","))
            .collect::<Vec<_>>(),
        [
            "assessment_child_seen_5wd,2024-01,2024-01-01,2024-01-31,all,all,2,2,100,0",
            "assessment_child_seen_5wd,2024-02,2024-02-01,2024-02-29,all,all,1,1,100,0",
            "assessment_child_seen_5wd,2024-03,2024-03-01,2024-03-31,all,all,0,0,,0",
            "assessment_child_seen_5wd,2024-04,2024-04-01,2024-04-30,all,all,0,1,0,0",
        ]
    );
    assert!(text
        .lines()
        .any(|l| l.starts_with("assessment_45wd,2024-03,")));
}

#[test]
fn the_metrics_command_writes_csv_json_and_xlsx() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("csc-audit")
            .unwrap()
            .current_dir(dir.path())
            .args(["metrics", "--data"])
            .arg(fixture("metrics"))
            .args([
                "--as-of",
                "2024-04-10",
                "--grain",
                "quarter",
                "--from",
                "2023-24 Q4",
            ])
            .args(args)
            .assert()
    };
    let out = run(&["--only", "icpc_15wd"])
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "metric_id,period,period_start,period_end,breakdown,group,numerator,denominator,value,pending,target,rag,ci_low,ci_high,category,excluded,rate_per_10k,p25,p75,unit,polarity,complete"
    );
    assert_eq!(
        text.lines().nth(2).unwrap(),
        "icpc_15wd,2024-25 Q1,2024-04-01,2024-06-30,all,all,2,3,66.67,0,85,red,20.77,93.85,all,0,,,,percent,higher_is_better,no"
    );
    run(&["--only", "icpc_15wd,cp_open_2y", "--out", "m.json"]).success();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("m.json")).unwrap()).unwrap();
    assert_eq!(json["as_of"], "2024-04-10");
    assert_eq!(
        json["periods"],
        serde_json::json!(["2023-24 Q4", "2024-25 Q1"])
    );
    assert_eq!(json["rows"][0]["metric_id"], "cp_open_2y");
    assert_eq!(json["rows"][0]["numerator"], 1);
    assert!(json["metrics"][0]["source"]
        .as_str()
        .unwrap()
        .contains("DfE"));
    run(&["--out", "m.xlsx"]).success();
    let xlsx = std::fs::read(dir.path().join("m.xlsx")).unwrap();
    assert_eq!(&xlsx[..2], b"PK");
    run(&["--format", "xlsx"])
        .failure()
        .stderr(predicates::str::contains("--out"));
    run(&["--to", "2025-26 Q1"])
        .failure()
        .stderr(predicates::str::contains(
            "after the period of the as-of date",
        ));
    run(&["--by", "colour"])
        .failure()
        .stderr(predicates::str::contains(
            "breakdowns in use: age_band, category",
        ));
    run(&["--only", "nope"])
        .failure()
        .stderr(predicates::str::contains("known: contacts_before_referral"));
}

/// Every breakdown any measure of `lib` offers.
fn every_breakdown(lib: &Library) -> Vec<String> {
    let mut by: Vec<String> = (lib.metrics.iter())
        .flat_map(|m| m.breakdowns.iter().map(|(name, _)| name.clone()))
        .collect();
    by.sort();
    by.dedup();
    by
}

/// Frames narrowed to the columns the measures read give the numbers, notes and excluded
/// rows of full frames, for every grain and every breakdown, on the hand-worked council
/// and on the sample council; and they do leave columns out.
#[test]
fn frames_of_only_the_columns_read_give_the_same_measures() {
    let lib = Library::builtin();
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    let cases = [
        (fixture("metrics"), Grain::Month, Some(as_of())),
        (fixture("metrics"), Grain::Year, Some(as_of())),
        (sample, Grain::Quarter, None),
    ];
    for (dir, grain, as_of) in cases {
        for by in [Vec::new(), every_breakdown(&lib)] {
            let opts = EvalOptions {
                grain,
                from: None,
                to: None,
                by: by.clone(),
                cases: false,
            };
            let columns = columns_read(&lib, &opts);
            let FrameColumns::Only(read) = &columns else {
                panic!("the built-in measures' columns are known");
            };
            let [full, narrow] = [FrameColumns::All, columns.clone()].map(|columns| {
                let opts = LoadOptions {
                    as_of,
                    today: today(),
                    columns,
                };
                load(&dir, &opts).unwrap()
            });
            let held = |ex: &Extracts| -> usize { ex.frames.values().map(|f| f.width()).sum() };
            assert!(held(&narrow) < held(&full), "{}", dir.display());
            assert_eq!(narrow.report, full.report, "{}", dir.display());
            for (table, f) in &narrow.frames {
                assert_eq!(f.height(), full.frames[table].height(), "{table}");
                let names: Vec<String> = f.columns().iter().map(|c| c.name().to_string()).collect();
                assert!(
                    names.iter().all(|n| read[table].contains(n)),
                    "{table}: {names:?}"
                );
            }
            let cal = Calendar::england_and_wales();
            let [a, b] = [&full, &narrow].map(|ex| evaluate(ex, &lib, &cal, &opts).unwrap());
            assert!(!a.rows.is_empty());
            assert_eq!(
                output::to_csv(&a),
                output::to_csv(&b),
                "{} {by:?}",
                dir.display()
            );
            assert_eq!(a.notes, b.notes);
        }
    }
}

/// A column a filter names is read even where the filter's outcome does not depend on it,
/// so that the filter still finds it in the frame.
#[test]
fn a_column_only_a_filter_names_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        metrics_dir().join("standards.toml"),
        dir.path().join("standards.toml"),
    )
    .unwrap();
    let metric = "id = \"all_referrals\"\nkind = \"ratio\"\ntitle = \"t\"\ndescription = \"d\"\n\
                  source = \"s\"\npolarity = \"lower\"\n\n[population]\ntable = \"referrals\"\n\
                  date = \"received_at\"\nfilter = \"source = 'nobody' OR TRUE\"\n\n\
                  [numerator]\nfilter = \"outcome = 'nfa'\"\n";
    std::fs::write(dir.path().join("all_referrals.toml"), metric).unwrap();
    let lib = Library::load_dir(dir.path()).unwrap();
    let opts = EvalOptions {
        grain: Grain::Month,
        from: None,
        to: None,
        by: Vec::new(),
        cases: false,
    };
    let FrameColumns::Only(read) = columns_read(&lib, &opts) else {
        panic!("the plan can be read");
    };
    assert!(read["referrals"].contains("source"), "{read:?}");
    assert!(!read["referrals"].contains("team"), "{read:?}");
    let ex = extracts_with(FrameColumns::Only(read));
    let ev = evaluate(&ex, &lib, &Calendar::england_and_wales(), &opts).unwrap();
    assert!(ev
        .rows
        .iter()
        .any(|r| r.denominator.is_some_and(|d| d > 0.0)));
}

#[test]
fn sample_data_gives_every_measure() {
    let ex = crate::load_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data"));
    let lib = Library::builtin();
    let ev = evaluate(
        &ex,
        &lib,
        &Calendar::england_and_wales(),
        &EvalOptions {
            grain: Grain::Quarter,
            from: None,
            to: None,
            by: vec!["team".into()],
            cases: false,
        },
    )
    .unwrap();
    assert_eq!(ev.periods.len(), 8);
    assert_eq!(ev.periods.last().unwrap().label(), "2024-25 Q4");
    for m in &lib.metrics {
        let r = ev
            .find(
                &m.id,
                "2024-25 Q4",
                "all",
                "all",
                if m.buckets.is_empty() {
                    "all"
                } else {
                    &m.buckets[0].label
                },
            )
            .unwrap();
        assert!(r.value.is_some(), "{} has no value", m.id);
    }
    // Nothing of the synthetic council falls outside the calendar or runs backwards.
    assert!(ev.rows.iter().all(|r| r.excluded == 0));
}

#[test]
fn rows_that_cannot_be_timed_are_excluded_and_named() {
    let standards = ("m/standards.toml".to_string(), String::new());
    // No `require`: I5 has no S47, so nothing to time it from.
    let metric = (
        "m/icpc_any_15wd.toml".to_string(),
        r#"
id = "icpc_any_15wd"
kind = "ratio"
title = "t"
description = "d"
source = "s"
polarity = "higher"

[population]
table = "conferences"
date = "date"
filter = "conference_type = 'initial'"

[related.s47]
table = "s47_enquiries"
on = "s47_id"

[within]
from = "s47.start_date"
to = "date"
limit = { working_days = 15 }
"#
        .to_string(),
    );
    let lib = Library::from_texts(&[standards, metric], "m").unwrap();
    let run = |cal: &Calendar, grain: Grain, from: &str, to: &str| {
        let opts = EvalOptions {
            grain,
            from: Some(Period::parse(grain, from).unwrap()),
            to: Some(Period::parse(grain, to).unwrap()),
            by: vec![],
            cases: false,
        };
        evaluate(&extracts(), &lib, cal, &opts).unwrap()
    };
    let ev = run(
        &Calendar::england_and_wales(),
        Grain::Month,
        "2024-03",
        "2024-03",
    );
    let r = ev
        .find("icpc_any_15wd", "2024-03", "all", "all", "all")
        .unwrap();
    assert_eq!(
        (r.numerator, r.denominator, r.excluded),
        (Some(1.0), Some(1.0), 1)
    );
    assert_eq!(
        ev.notes,
        ["icpc_any_15wd: 1 rows have no start date to time from; counted as excluded"]
    );

    // A calendar that ends before the March conferences cannot time I1: excluded and named,
    // never counted as within or as a breach.
    let short = Calendar::from_toml(
        "name = \"2023 only\"\nfirst_year = 2023\nlast_year = 2023\nweekend = [\"Sat\", \"Sun\"]\n",
        "short.toml",
    )
    .unwrap();
    let ev = run(&short, Grain::Month, "2024-03", "2024-03");
    let r = ev
        .find("icpc_any_15wd", "2024-03", "all", "all", "all")
        .unwrap();
    assert_eq!(
        (r.numerator, r.denominator, r.excluded),
        (Some(0.0), Some(0.0), 2)
    );
    assert!(
        ev.notes.iter().any(|n| n
            == "icpc_any_15wd: 1 rows could not be timed because a date falls outside the \
                calendar (2023-01-01 to 2023-12-31); counted as excluded. Pass --calendar \
                with a calendar that covers them"),
        "{:?}",
        ev.notes
    );
}

/// A chart looks rows up by key (`rows_of`); it finds the row `find` finds, for every key
/// of every measure, and nothing for a key no row has.
#[test]
fn rows_looked_up_by_key_are_the_rows_find_gives() {
    let ev = run(Grain::Month, "2024-01", "2024-04", &["team", "source"]);
    assert!(ev.rows.len() > 100, "{} rows", ev.rows.len());
    for r in &ev.rows {
        let by_key = ev.rows_of(&r.metric_id);
        let found = ev.find(&r.metric_id, &r.period, &r.breakdown, &r.group, &r.category);
        let got = by_key.get(&r.period, &r.breakdown, &r.group, &r.category);
        assert!(
            std::ptr::eq(found.unwrap(), got.unwrap()),
            "{}",
            r.metric_id
        );
    }
    assert!(ev
        .rows_of("referrals")
        .get("2024-01", "team", "nobody", "all")
        .is_none());
}

/// Each of `set` evaluated together and alone: the same periods, rows, notes and cases.
fn together_as_alone(ex: &Extracts, lib: &Library, set: &[EvalOptions]) -> Result<(), String> {
    let cal = Calendar::england_and_wales();
    let together = csc_audit::metrics::evaluate_each(ex, lib, &cal, set).unwrap();
    if together.len() != set.len() {
        return Err(format!("{} evaluations for {}", together.len(), set.len()));
    }
    for (o, t) in set.iter().zip(&together) {
        let alone = evaluate(ex, lib, &cal, o).unwrap();
        let what = format!("{:?} {:?}..{:?} by {:?}", o.grain, o.from, o.to, o.by);
        if t.rows.is_empty() || t.grain != o.grain || t.periods != alone.periods {
            return Err(format!("{what}: no rows, or not its periods"));
        }
        if output::to_csv(t) != output::to_csv(&alone) {
            return Err(format!("{what}: the rows differ"));
        }
        if t.notes != alone.notes || t.cases != alone.cases {
            return Err(format!("{what}: {:?} != {:?}", t.notes, alone.notes));
        }
    }
    Ok(())
}

fn options(grain: Grain, from: &str, to: &str, by: &[&str], cases: bool) -> EvalOptions {
    EvalOptions {
        grain,
        from: Some(Period::parse(grain, from).unwrap()),
        to: Some(Period::parse(grain, to).unwrap()),
        by: by.iter().map(|s| s.to_string()).collect(),
        cases,
    }
}

/// The pack evaluates its months, quarters and year in one pass over the rows: each comes
/// out exactly as it does alone, whether the ranges nest, lie apart or run to the as-of
/// date, with a breakdown and with cases.
#[test]
fn evaluations_made_together_are_each_what_it_is_alone() {
    let lib = Library::load_dir(&metrics_dir()).unwrap();
    let ex = extracts();
    // As the pack on 10 April 2024: 27 months to March, 5 quarters, the year 2023-24.
    let pack = [
        options(Grain::Month, "2022-01", "2024-03", &["team"], false),
        options(Grain::Quarter, "2022-23 Q4", "2023-24 Q4", &["team"], false),
        options(Grain::Year, "2023-24", "2023-24", &["team"], false),
    ];
    together_as_alone(&ex, &lib, &pack).unwrap();
    // Apart, out of order, the running month and year, with the cases counted against.
    let apart = [
        options(Grain::Year, "2024-25", "2024-25", &[], true),
        options(Grain::Month, "2023-05", "2023-06", &[], true),
        options(Grain::Quarter, "2022-23 Q1", "2022-23 Q2", &[], true),
        options(Grain::Month, "2024-04", "2024-04", &[], true),
    ];
    together_as_alone(&ex, &lib, &apart).unwrap();
    let cal = Calendar::england_and_wales();
    let mixed = [pack[0].clone(), apart[1].clone()];
    let err = csc_audit::metrics::evaluate_each(&ex, &lib, &cal, &mixed).unwrap_err();
    assert!(err.to_string().contains("same columns"), "{err}");
    assert!(csc_audit::metrics::evaluate_each(&ex, &lib, &cal, &[])
        .unwrap()
        .is_empty());
}

mod together {
    use super::*;
    use proptest::prelude::*;

    fn period(grain: Grain) -> impl Strategy<Value = (i32, i32)> {
        // Periods of the hand-worked council up to the as-of date's (2024-04, 2024-25 Q1,
        // 2024-25), as (index back from it, length).
        let reach = match grain {
            Grain::Month => 30,
            Grain::Quarter => 10,
            Grain::Year => 3,
        };
        (0..reach, 1..=reach)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: crate::hostile::cases(12), ..ProptestConfig::default() })]

        /// Any ranges of the three grains, evaluated together, are each what they are alone.
        #[test]
        fn any_ranges_together_are_each_what_they_are_alone(
            m in period(Grain::Month),
            q in period(Grain::Quarter),
            y in period(Grain::Year),
            team in any::<bool>(),
            cases in any::<bool>(),
        ) {
            let lib = Library::load_dir(&metrics_dir()).unwrap();
            let ex = extracts();
            let by: Vec<String> = if team { vec!["team".into()] } else { vec![] };
            let set: Vec<EvalOptions> = [(Grain::Month, m), (Grain::Quarter, q), (Grain::Year, y)]
                .into_iter()
                .map(|(grain, (back, len))| {
                    let last = Period::containing(grain, as_of());
                    let to = Period { grain, index: last.index - back };
                    EvalOptions {
                        grain,
                        from: Some(Period { grain, index: to.index - len + 1 }),
                        to: Some(to),
                        by: by.clone(),
                        cases,
                    }
                })
                .collect();
            prop_assert_eq!(together_as_alone(&ex, &lib, &set), Ok(()));
        }
    }
}
