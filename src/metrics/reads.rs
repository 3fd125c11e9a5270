//! Which columns of which tables the measures read, so that a run that only evaluates them
//! builds no frame column they would not read (at national scale the identifiers of visits
//! and supervisions alone are 20 million cells). The measures are planned, exactly as
//! [`super::evaluate`] plans them, over a one-row stand-in for every table, and polars'
//! optimised plans say which columns each scan of a table keeps. Every cell is still read
//! and checked by the load; only the frames are narrower.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use polars::prelude::*;
use polars_plan::plans::IR;

use super::{engine::plan_all, EvalOptions, Library};
use crate::ingest::{stand_in_frames, Extracts, FrameColumns};
use crate::report::Report;
use crate::schema::{self, TABLES};

/// The columns [`super::evaluate`] reads of each table for `lib` with `opts`. Falls back
/// to every column when a plan cannot be read (never to fewer).
pub fn columns_read(lib: &Library, opts: &EvalOptions) -> FrameColumns {
    let day = NaiveDate::from_ymd_opt(2000, 1, 3).expect("a date");
    let ex = stand_in(day);
    let mut notes = Vec::new();
    let (plans, _, mut lazies) = plan_all(&ex, lib, opts, day, day, &mut notes);
    lazies.extend(plans.into_iter().map(|(_, p)| p.frame));
    let mut read: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    // Ages are read straight from the children's frame, beside the plans.
    let children = read.entry(schema::CHILDREN).or_default();
    children.insert(schema::CHILD_ID.to_string());
    children.insert(schema::DATE_OF_BIRTH.to_string());
    for lf in lazies {
        if scanned(lf, &mut read).is_none() {
            return FrameColumns::All;
        }
    }
    FrameColumns::Only(read)
}

/// The columns [`super::due::due`] reads of each table for `lib`: every query the worklist
/// makes, planned over the same stand-in. Falls back to every column when a plan cannot be
/// made or read (never to fewer).
pub fn due_columns_read(lib: &Library) -> FrameColumns {
    let day = NaiveDate::from_ymd_opt(2000, 1, 3).expect("a date");
    let ex = stand_in(day);
    let mut read: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for m in &lib.metrics {
        let Ok(lazies) = super::due::queries(m, &ex) else {
            return FrameColumns::All;
        };
        for lf in lazies {
            if scanned(lf, &mut read).is_none() {
                return FrameColumns::All;
            }
        }
    }
    FrameColumns::Only(read)
}

/// Extracts of one row a table, as of `day`.
fn stand_in(day: NaiveDate) -> Extracts {
    let shown = day.to_string();
    Extracts {
        dir: "stand-in".into(),
        as_of: day,
        event_dates: Some((day, day)),
        frames: stand_in_frames(),
        report: Report {
            as_of: shown.clone(),
            as_of_source: String::new(),
            first_event_date: Some(shown.clone()),
            last_event_date: Some(shown),
            calendar: None,
            data: String::new(),
            tables: Vec::new(),
            issues: Vec::new(),
        },
    }
}

/// Adds the columns each table scan of `lf` keeps once optimised; `None` when a scan is
/// not of a known table or the plan cannot be optimised.
fn scanned(lf: LazyFrame, read: &mut BTreeMap<&'static str, BTreeSet<String>>) -> Option<()> {
    // Without simplifying expressions: a filter such as `x OR TRUE` is folded away there,
    // yet the data's plan still resolves `x` in the frame before it is.
    let plan = lf.with_simplify_expr(false).to_alp_optimized().ok()?;
    let mut stack = vec![plan.lp_top];
    while let Some(node) = stack.pop() {
        let ir = plan.lp_arena.get(node);
        if let IR::DataFrameScan {
            df, output_schema, ..
        } = ir
        {
            // A table's frame starts with its key, and no two tables share a key.
            let first = df.columns().first()?.name().as_str();
            let table = TABLES.iter().find(|t| t.columns[0].name == first)?.name;
            let cols = read.entry(table).or_default();
            match output_schema {
                Some(s) => cols.extend(s.iter_names().map(|n| n.to_string())),
                None => cols.extend(df.columns().iter().map(|c| c.name().to_string())),
            }
        }
        stack.extend(ir.inputs());
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::periods::Grain;

    fn read_by(by: &[&str]) -> BTreeMap<&'static str, BTreeSet<String>> {
        let opts = EvalOptions {
            grain: Grain::Month,
            from: None,
            to: None,
            by: by.iter().map(|b| b.to_string()).collect(),
            cases: false,
        };
        match columns_read(&Library::builtin(), &opts) {
            FrameColumns::Only(read) => read,
            FrameColumns::All => panic!("every plan of the built-in measures can be read"),
        }
    }

    fn holds(read: &BTreeMap<&'static str, BTreeSet<String>>, table: &str, column: &str) -> bool {
        read.get(table).is_some_and(|c| c.contains(column))
    }

    #[test]
    fn every_table_starts_with_its_own_key_and_no_two_share_one() {
        let firsts: BTreeSet<&str> = TABLES.iter().map(|t| t.columns[0].name).collect();
        assert_eq!(firsts.len(), TABLES.len());
        assert!(TABLES.iter().all(|t| t.columns[0].name == t.key));
    }

    #[test]
    fn the_measures_read_what_they_time_filter_and_break_down_by_and_nothing_else() {
        let read = read_by(&[]);
        // Timed from and to, filtered on, linked by.
        assert!(holds(&read, schema::REFERRALS, "received_at"));
        assert!(holds(&read, schema::REFERRALS, "decision_at"));
        assert!(holds(&read, schema::REFERRALS, "outcome"));
        assert!(holds(&read, schema::S47_ENQUIRIES, "strategy_id"));
        assert!(holds(&read, schema::STRATEGY_DISCUSSIONS, "strategy_id"));
        // Ages, read beside the plans.
        assert!(holds(&read, schema::CHILDREN, schema::DATE_OF_BIRTH));
        // No measure reads a line number, a visit's own key or, unasked, a team.
        assert!(TABLES
            .iter()
            .all(|t| !holds(&read, t.name, crate::ingest::LINE_COLUMN)));
        assert!(!holds(&read, schema::VISITS, "visit_id"));
        assert!(!holds(&read, schema::REFERRALS, "team"));
        assert!(!holds(&read, schema::REFERRALS, "source"));
        // A breakdown asked for is read.
        let by_team = read_by(&["team", "source"]);
        assert!(holds(&by_team, schema::REFERRALS, "team"));
        assert!(holds(&by_team, schema::REFERRALS, "source"));
        assert!(read.iter().all(|(t, c)| c.is_subset(&by_team[t])));
    }

    #[test]
    fn the_worklist_reads_its_timing_and_its_people_and_not_every_column() {
        let FrameColumns::Only(read) = due_columns_read(&Library::builtin()) else {
            panic!("every query of the built-in worklist can be read");
        };
        // Timed from and to, the case's key, child, team and worker.
        assert!(holds(&read, schema::REFERRALS, "received_at"));
        assert!(holds(&read, schema::REFERRALS, "decision_at"));
        assert!(holds(&read, schema::REFERRALS, "referral_id"));
        assert!(holds(&read, schema::REFERRALS, schema::CHILD_ID));
        assert!(holds(&read, schema::REFERRALS, "team"));
        assert!(holds(&read, schema::REFERRALS, "worker"));
        // Not a referral's source, a line number or a child's ethnicity.
        assert!(!holds(&read, schema::REFERRALS, "source"));
        assert!(TABLES
            .iter()
            .all(|t| !holds(&read, t.name, crate::ingest::LINE_COLUMN)));
        assert!(!holds(&read, schema::CHILDREN, "ethnicity"));
    }

    #[test]
    fn columns_wanted_together_are_either_ones_and_all_is_all() {
        let only = |t: &'static str, c: &str| {
            FrameColumns::Only([(t, [c.to_string()].into())].into_iter().collect())
        };
        let both = only("a", "x").union(only("a", "y")).union(only("b", "z"));
        assert!(both.holds("a", "x") && both.holds("a", "y") && both.holds("b", "z"));
        assert!(!both.holds("b", "x"));
        assert_eq!(both.clone().union(FrameColumns::All), FrameColumns::All);
        assert_eq!(FrameColumns::All.union(both), FrameColumns::All);
    }
}
