//! Data to Insight's Standard Safeguarding Dataset (SSD, v1.4.x field names), its tables
//! exported to CSV (`ssd_person.csv`, ...), into the native tables. The field-by-field
//! mapping is `ssd-mapping.md` of the project's sources; every quirk of a real export is
//! handled here and counted in the report: `NULL` literals, datetimes, `1900-01-01`
//! placeholders, ids shared by siblings (Mosaic), colliding conference ids, CIN visits that
//! repeat CP visits, other authorities' plans, teams as department ids, worker references
//! that are an id, a staff id or a name.
//!
//! What the SSD does not hold (strategy discussions, core groups, supervision, decision and
//! feedback times) is never invented: the folder may also hold those native extracts.

mod convert;
mod natives;
pub mod outcome;
mod people;
mod read;

use std::path::Path;

pub use read::is_ssd_folder;

use super::{ImportReport, Tables};
use crate::schema::{self, TableSpec};

pub const FORMAT: &str = "Standard Safeguarding Dataset (SSD) tables as CSV";

#[derive(Debug, thiserror::Error)]
pub enum SsdError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Folder(String),
}

/// The native tables the SSD fills.
const FROM_SSD: &[&str] = &[
    schema::CHILDREN,
    schema::WORKERS,
    schema::CONTACTS,
    schema::REFERRALS,
    schema::ASSESSMENTS,
    schema::S47_ENQUIRIES,
    schema::CP_PLANS,
    schema::CONFERENCES,
    schema::VISITS,
];

/// Native extracts a folder of SSD tables may also hold: what the SSD lacks.
pub const NATIVE_EXTRAS: &[&str] = &[
    schema::STRATEGY_DISCUSSIONS,
    schema::CORE_GROUPS,
    schema::SUPERVISIONS,
];

/// The native tables an SSD folder gives: the SSD's and the native extracts beside them.
pub fn tables(dir: &Path) -> Vec<&'static TableSpec> {
    let extras = natives::present(dir);
    schema::TABLES
        .iter()
        .filter(|t| FROM_SSD.contains(&t.name) || extras.iter().any(|(n, _)| *n == t.name))
        .collect()
}

/// Reads a folder of SSD tables (and any native extracts of what the SSD lacks).
pub fn import(dir: &Path) -> Result<(Tables, ImportReport), SsdError> {
    let shown = dir.display().to_string();
    natives::refuse_overlap(dir)?;
    let mut report = ImportReport {
        source: shown.clone(),
        format: FORMAT.into(),
        ..Default::default()
    };
    let (files, unused) =
        read::read_folder(dir, &mut report.issues).map_err(|source| SsdError::Io {
            path: shown.clone(),
            source,
        })?;
    if !files.iter().any(|f| f.table == "ssd_person") {
        return Err(SsdError::Folder(format!(
            "{shown} has SSD tables but no ssd_person.csv: export ssd_person (the children) \
             with the other tables"
        )));
    }
    for name in unused {
        report
            .ignored
            .insert(format!("{name} (an SSD table csc-audit does not use)"), 1);
    }
    let mut conv = convert::Conv::new(&files, report);
    natives::read(dir, &mut conv);
    conv.run();
    Ok(conv.finish())
}
