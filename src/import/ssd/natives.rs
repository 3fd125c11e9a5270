//! Native extracts beside the SSD tables, for what the SSD does not hold: strategy
//! discussions, core groups and supervision. Read as they are; the checks then link them
//! to the rows made from the SSD.

use std::path::{Path, PathBuf};

use super::convert::Conv;
use super::SsdError;
use crate::report::{Issue, Severity};
use crate::schema;

/// The native extracts of what the SSD lacks that `dir` holds.
pub fn present(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    crate::import::native::files_in(dir)
        .into_iter()
        .filter(|(t, _)| super::NATIVE_EXTRAS.contains(t))
        .collect()
}

/// A folder with SSD tables and a native file of a table the SSD fills is ambiguous.
pub fn refuse_overlap(dir: &Path) -> Result<(), SsdError> {
    let overlap: Vec<String> = crate::import::native::files_in(dir)
        .into_iter()
        .filter(|(t, _)| !super::NATIVE_EXTRAS.contains(t))
        .map(|(t, _)| format!("{t}.csv"))
        .collect();
    if overlap.is_empty() {
        return Ok(());
    }
    Err(SsdError::Folder(format!(
        "{} holds SSD tables and native {}, which the SSD also fills: keep the native files \
         in a folder of their own, or remove them (beside SSD tables only {} are read)",
        dir.display(),
        overlap.join(", "),
        super::NATIVE_EXTRAS
            .iter()
            .map(|t| format!("{t}.csv"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// Reads the native extracts beside the SSD tables into the output as they are.
pub fn read(dir: &Path, conv: &mut Conv) {
    for (table, path) in present(dir) {
        let file = path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        if let Err(message) = read_one(table, &path, &file, conv) {
            conv.report.issues.push(Issue {
                table: table.into(),
                file,
                line: None,
                column: None,
                rule: "unreadable".into(),
                severity: Severity::Fatal,
                message,
            });
        }
    }
}

fn read_one(table: &'static str, path: &Path, file: &str, conv: &mut Conv) -> Result<(), String> {
    let rows = crate::import::native::read_table(table, path, file, &mut conv.report)?;
    for (line, mut values) in rows {
        if table == schema::STRATEGY_DISCUSSIONS {
            note_strategy(&values, conv);
        }
        follow_shared_keys(&mut values, conv);
        conv.out.push_from(table, file, line, &values);
    }
    Ok(())
}

/// References to SSD rows whose ids siblings share (Mosaic) follow them to `id-child`.
fn follow_shared_keys(values: &mut [(&str, String)], conv: &Conv) {
    let child = values
        .iter()
        .find(|(c, _)| *c == "child_id")
        .map(|(_, v)| v.trim().to_string());
    for (column, v) in values.iter_mut() {
        let table = match *column {
            "referral_id" => "ssd_cin_episodes",
            "plan_id" => "ssd_cp_plans",
            _ => continue,
        };
        let raw = v.trim().to_string();
        if !raw.is_empty() {
            *v = conv.key(table, &raw, child.as_deref());
        }
    }
}

/// A strategy discussion an SSD S47 may have started from.
fn note_strategy(values: &[(&str, String)], conv: &mut Conv) {
    let get = |n: &str| values.iter().find(|(c, _)| *c == n).map(|(_, v)| v.trim());
    let (Some(id), Some(child), Some(referral), Some(held)) = (
        get("strategy_id"),
        get("child_id"),
        get("referral_id"),
        get("held_date"),
    ) else {
        return;
    };
    let Ok(Some(held)) = crate::values::parse_date(held) else {
        return;
    };
    if id.is_empty() || child.is_empty() || referral.is_empty() {
        return;
    }
    conv.strategies
        .entry((child.to_string(), referral.to_string()))
        .or_default()
        .push((held, id.to_string()));
}

/// What the SSD does not hold and no native extract beside it gave: said once, with the
/// extract that would switch the measures on.
pub fn report_missing(conv: &mut Conv) {
    let has = |t: &str| {
        conv.out.rows(t).len() > 0 || conv.report.blocks.contains_key(&format!("{t}.csv"))
    };
    let mut missing: Vec<String> = Vec::new();
    for (table, what) in [
        (schema::STRATEGY_DISCUSSIONS, "strategy discussions (one row per discussion, with the meeting date): add strategy_discussions.csv"),
        (schema::CORE_GROUPS, "core group meetings: add core_groups.csv"),
        (schema::SUPERVISIONS, "case supervision records: add supervisions.csv"),
    ] {
        if !has(table) {
            missing.push(format!("{table}: {what}"));
        }
    }
    for (column, what) in [
        (
            "referrals.decision_at",
            "the time each referral was decided",
        ),
        (
            "referrals.feedback_sent_at",
            "the date the referrer was told the outcome",
        ),
        (
            "assessments.child_seen_date",
            "the date the child was first seen in the assessment",
        ),
        ("cp_plans.end_reason", "the reason each plan ended"),
        ("visits.worker", "the worker who visited"),
        (
            "workers.start_date, workers.end_date",
            "each worker's start and leaving dates (HR)",
        ),
    ] {
        missing.push(format!("{column}: {what}"));
    }
    for m in missing {
        conv.report.issues.push(Issue {
            table: "ssd".into(),
            file: conv.report.source.clone(),
            line: None,
            column: None,
            rule: "not_in_ssd".into(),
            severity: Severity::Info,
            message: format!("not in the SSD, so the measures that need it are not available: {m}"),
        });
    }
}
