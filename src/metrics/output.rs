//! The long table of measures as CSV, JSON or an xlsx workbook.

use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde_json::json;

use crate::tabular::{self, num, Cell};

use super::{Evaluation, Library, OutRow};

/// The output columns, in order. The first fourteen are the documented contract.
pub const COLUMNS: &[&str] = &[
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
    "target",
    "rag",
    "ci_low",
    "ci_high",
    "category",
    "excluded",
    "rate_per_10k",
    "p25",
    "p75",
    "unit",
    "polarity",
    "complete",
];

/// The row's cells, in [`COLUMNS`] order.
fn cells(r: &OutRow) -> Vec<Cell<'_>> {
    use Cell::*;
    vec![
        Text(&r.metric_id),
        Text(&r.period),
        Date(Some(r.period_start)),
        Date(Some(r.period_end)),
        Text(&r.breakdown),
        Text(&r.group),
        Number(r.numerator),
        Number(r.denominator),
        Number(r.value),
        Number(Some(r.pending as f64)),
        Number(r.target),
        Text(r.rag.unwrap_or("")),
        Number(r.ci_low),
        Number(r.ci_high),
        Text(&r.category),
        Number(Some(r.excluded as f64)),
        Number(r.rate_per_10k),
        Number(r.p25),
        Number(r.p75),
        Text(&r.unit),
        Text(&r.polarity),
        Flag(r.complete),
    ]
}

pub fn to_csv(ev: &Evaluation) -> Vec<u8> {
    tabular::to_csv_par(COLUMNS, &ev.rows, cells)
}

pub fn to_json(ev: &Evaluation, lib: &Library) -> Vec<u8> {
    let metrics: Vec<_> = lib
        .metrics
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "title": m.title,
                "description": m.description,
                "source": m.source,
                "kind": m.kind.name(),
                "unit": m.kind.unit(),
                "polarity": m.polarity.name(),
                "target": m.target,
                "rag": m.rag.map(|r| json!({"green": r.green, "amber": r.amber})),
                "breakdowns": m.breakdowns.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
                "file": m.file,
            })
        })
        .collect();
    let rows: Vec<_> = ev
        .rows
        .iter()
        .map(|r| {
            let o: serde_json::Map<String, serde_json::Value> = COLUMNS
                .iter()
                .zip(cells(r))
                .map(|(name, c)| {
                    let v = match c {
                        Cell::Text("") => serde_json::Value::Null,
                        Cell::Text(s) => json!(s),
                        // Rounded as in the CSV, so both formats carry the same numbers.
                        // A value JSON cannot hold (not finite) is written as null.
                        Cell::Number(v) => v
                            .and_then(|_| serde_json::from_str(&num(v, 2)).ok())
                            .unwrap_or(serde_json::Value::Null),
                        Cell::Date(d) => json!(d.map(|d| d.to_string())),
                        Cell::Flag(b) => json!(b),
                    };
                    (name.to_string(), v)
                })
                .collect();
            serde_json::Value::Object(o)
        })
        .collect();
    let doc = json!({
        "as_of": ev.as_of.to_string(),
        "grain": ev.grain.name(),
        "periods": ev.periods.iter().map(|p| p.label()).collect::<Vec<_>>(),
        "metrics_from": lib.origin,
        "metrics": metrics,
        "notes": ev.notes,
        "rows": rows,
    });
    let mut out = serde_json::to_vec_pretty(&doc).expect("json");
    out.push(b'\n');
    out
}

/// A workbook with the long table (frozen header, filters, number formats) and a sheet
/// describing each measure.
pub fn to_xlsx(ev: &Evaluation, lib: &Library) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = wb.add_worksheet().set_name("measures")?;
    tabular::write_sheet(sheet, COLUMNS, ev.rows.iter().map(cells), "0.0")?;
    sheet.set_column_width(0, 26)?;
    sheet.set_column_width(1, 12)?;
    sheet.set_column_range_width(2, 3, 11)?;

    let defs = wb.add_worksheet().set_name("definitions")?;
    let heads = [
        "id",
        "title",
        "kind",
        "polarity",
        "target",
        "description",
        "source",
        "file",
    ];
    for (c, h) in heads.iter().enumerate() {
        defs.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, m) in lib.metrics.iter().enumerate() {
        let row = i as u32 + 1;
        defs.write_string(row, 0, &m.id)?;
        defs.write_string(row, 1, &m.title)?;
        defs.write_string(row, 2, m.kind.name())?;
        defs.write_string(row, 3, m.polarity.name())?;
        if let Some(t) = m.target {
            defs.write_number(row, 4, t)?;
        }
        defs.write_string(row, 5, m.description.trim())?;
        defs.write_string(row, 6, m.source.trim())?;
        defs.write_string(row, 7, &m.file)?;
    }
    defs.set_freeze_panes(1, 0)?;
    defs.set_column_width(0, 26)?;
    defs.set_column_width(1, 50)?;
    let notes = wb.add_worksheet().set_name("notes")?;
    notes.write_string_with_format(0, 0, "as of", &bold)?;
    notes.write_string(0, 1, ev.as_of.to_string())?;
    for (i, n) in ev.notes.iter().enumerate() {
        notes.write_string(i as u32 + 1, 0, "note")?;
        notes.write_string(i as u32 + 1, 1, n)?;
    }
    wb.save_to_buffer()
}
