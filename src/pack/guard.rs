//! The published pack's last check, fail-closed: before the pack is moved into place, every
//! file written is read back from disk (not from the tables in memory, so a mistake
//! upstream is caught) and the whole pack is refused, naming the file and the line or cell,
//! if it shows an identifier from the loaded data or a count from 1 to 5 in a count column.
//!
//! Identifiers are every value of every identifier column of the extracts (`schema::Kind::Id`:
//! table keys, `child_id`, `worker`, `supervisor`), matched as whole words (ignoring case
//! and the punctuation between words, so `Ben Green` is found in `Ben-Green`) in every text
//! of every file: HTML and SVG text, CSV cells, workbook cells, Parquet strings, PNG text
//! chunks and file names. An identifier of fewer than [`MIN_WORD_CHARS`] letters and digits,
//! or made of fewer than [`MIN_NUMBER_DIGITS`] digits only, cannot be told from a word or a
//! count in running text: it is matched as a whole table cell instead. The count columns
//! are the ones `disclosure::COUNT_COLUMNS` declares, the same declaration the writers
//! suppress by; the report's lists (`<li>`, but for the contents `<nav>`) and the
//! workbook's `note` column are prose in which no whole number from 1 to 5 may appear.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::disclosure;
use crate::ingest::Extracts;
use crate::schema::{self, Kind};

/// Identifiers shorter than this (in letters and digits) are matched as whole cells only.
pub const MIN_WORD_CHARS: usize = 3;
/// Identifiers made only of digits, with fewer digits than this, are matched as whole cells
/// only (a count or a year looks the same).
pub const MIN_NUMBER_DIGITS: usize = 6;
/// The most findings listed in the refusal.
const LISTED: usize = 12;
/// A PNG larger than this when decoded is refused rather than read.
const MAX_PNG_BYTES: usize = 256 << 20;

/// The identifiers a published pack must not show.
#[derive(Debug, Default, PartialEq)]
pub struct Identifiers {
    /// First word (lower case) -> the remaining words and the identifier as loaded.
    words: HashMap<String, Vec<(Vec<String>, String)>>,
    /// Every identifier, lower case, for whole-cell matches.
    cells: HashSet<String>,
}

fn words(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, text[s..i].to_lowercase()));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text[s..].to_lowercase()));
    }
    out
}

impl Identifiers {
    /// Every value of every identifier column of the loaded extracts.
    pub fn from_extracts(ex: &Extracts) -> Identifiers {
        let mut ids = Identifiers::default();
        for (table, df) in &ex.frames {
            let Some(spec) = schema::table(table) else {
                continue;
            };
            for col in spec.columns.iter().filter(|c| c.kind == Kind::Id) {
                let Ok(c) = df.column(col.name) else {
                    continue;
                };
                let Ok(c) = c.cast(&polars::prelude::DataType::String) else {
                    continue;
                };
                if let Ok(s) = c.str() {
                    for v in s.iter().flatten() {
                        ids.insert(v);
                    }
                }
            }
        }
        ids
    }

    pub fn insert(&mut self, id: &str) {
        let id = id.trim();
        if id.is_empty() {
            return;
        }
        let lower = id.to_lowercase();
        if !self.cells.insert(lower) {
            return;
        }
        let w: Vec<String> = words(id).into_iter().map(|(_, w)| w).collect();
        let chars: usize = w.iter().map(|w| w.chars().count()).sum();
        let number = w.iter().all(|w| w.chars().all(|c| c.is_ascii_digit()));
        if w.is_empty() || chars < MIN_WORD_CHARS || (number && chars < MIN_NUMBER_DIGITS) {
            return;
        }
        self.words
            .entry(w[0].clone())
            .or_default()
            .push((w[1..].to_vec(), id.to_string()));
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The first identifier found as whole words in `text`.
    pub fn in_text(&self, text: &str) -> Option<&str> {
        let w = words(text);
        for (i, (_, first)) in w.iter().enumerate() {
            for (rest, id) in self.words.get(first).into_iter().flatten() {
                let next = w.get(i + 1..i + 1 + rest.len());
                if next.is_some_and(|n| n.iter().map(|x| &x.1).eq(rest.iter())) {
                    return Some(id);
                }
            }
        }
        None
    }

    /// An identifier that is the whole cell, or found as words in it.
    pub fn in_cell<'a>(&'a self, cell: &'a str) -> Option<&'a str> {
        let t = cell.trim();
        if !t.is_empty() && self.cells.contains(&t.to_lowercase()) {
            return Some(t);
        }
        self.in_text(cell)
    }
}

/// A count from 1 to 5 shown in a count cell: the cell as a number, or any whole number in
/// its text.
fn small_count(cell: &str) -> Option<f64> {
    let t = cell.trim();
    if let Ok(v) = t.parse::<f64>() {
        return disclosure::is_small(v).then_some(v);
    }
    words(t)
        .into_iter()
        .filter_map(|(_, w)| w.parse::<f64>().ok())
        .find(|v| disclosure::is_small(*v))
}

/// What the guard found wrong, file by file.
#[derive(Debug, Default)]
pub struct Findings(pub Vec<String>);

impl Findings {
    fn id(&mut self, file: &str, place: &str, id: &str) {
        self.0.push(format!(
            "{file} {place}: `{id}`, an identifier from the extracts"
        ));
    }
    fn count(&mut self, file: &str, place: &str, column: &str, v: f64) {
        self.0.push(format!(
            "{file} {place}, column `{column}`: {v}, a count from 1 to 5 shown"
        ));
    }
}

/// Reads back every file under `dir` and refuses the pack (an error naming each finding)
/// if any shows an identifier or an unsuppressed count from 1 to 5, or cannot be read.
pub fn check_folder(dir: &Path, ids: &Identifiers) -> Result<(), String> {
    let mut files = Vec::new();
    list(dir, dir, &mut files)
        .map_err(|e| format!("the guard could not list {}: {e}", dir.display()))?;
    files.sort();
    let mut found = Findings::default();
    for rel in &files {
        if let Some(id) = ids.in_text(rel) {
            found.id(rel, "file name", id);
        }
        let bytes = match std::fs::read(dir.join(rel)) {
            Ok(b) => b,
            Err(e) => {
                found.0.push(format!("{rel}: could not be read back: {e}"));
                continue;
            }
        };
        check_file(rel, &bytes, ids, &mut found);
    }
    if found.0.is_empty() {
        return Ok(());
    }
    let n = found.0.len();
    let mut msg = format!(
        "the published pack was refused and nothing was moved into place: {n} finding{} \
         (an identifier or a count from 1 to 5 where none may be):",
        if n == 1 { "" } else { "s" }
    );
    for f in found.0.iter().take(LISTED) {
        msg.push_str("\n  ");
        msg.push_str(f);
    }
    if n > LISTED {
        msg.push_str(&format!("\n  and {} more", n - LISTED));
    }
    Err(msg)
}

fn list(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            list(root, &p, out)?;
        } else if dir == root && e.file_name() == crate::fsutil::STAGING_MARKER {
            // The staging folder's own marker, removed before the pack moves into place.
            continue;
        } else {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// Checks one file by its kind; a kind the guard cannot read is itself a finding.
pub fn check_file(rel: &str, bytes: &[u8], ids: &Identifiers, found: &mut Findings) {
    let ext = rel.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => {
            let text = String::from_utf8_lossy(bytes);
            lines(rel, &text, ids, found);
            html_counts(rel, &text, found);
        }
        "svg" | "txt" | "json" | "md" | "toml" => {
            lines(rel, &String::from_utf8_lossy(bytes), ids, found)
        }
        "csv" => csv_file(rel, bytes, ids, found),
        "xlsx" => xlsx_file(rel, bytes, ids, found),
        "parquet" => parquet_file(rel, bytes, ids, found),
        "png" => png_file(rel, bytes, ids, found),
        _ => found
            .0
            .push(format!("{rel}: a kind of file the guard cannot read back")),
    }
}

fn lines(rel: &str, text: &str, ids: &Identifiers, found: &mut Findings) {
    for (i, line) in text.lines().enumerate() {
        if let Some(id) = ids.in_text(line) {
            found.id(rel, &format!("line {}", i + 1), id);
        }
    }
}

/// Checks a table given as rows of text with a heading row: identifiers in every cell,
/// counts in the declared count columns (and a count measure's value).
fn table(rel: &str, where_: &str, rows: &[Vec<String>], ids: &Identifiers, found: &mut Findings) {
    let Some(head) = rows.first() else {
        return;
    };
    let unit = head
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case("unit"));
    for (i, row) in rows.iter().enumerate() {
        let place = |j: usize| format!("{where_}row {}, cell {}", i + 1, cell_name(j));
        for (j, cell) in row.iter().enumerate() {
            if let Some(id) = ids.in_cell(cell) {
                found.id(rel, &place(j), id);
            }
        }
        if i == 0 {
            continue;
        }
        let is_count_row = unit
            .and_then(|u| row.get(u))
            .is_some_and(|u| u.trim() == disclosure::COUNT_UNIT);
        for (j, h) in head.iter().enumerate() {
            let prose = row.get(j).filter(|_| disclosure::is_prose_column(h));
            if let Some(v) = prose.and_then(|c| disclosure::small_number_in(c)) {
                found.count(rel, &place(j), h, v);
            }
            let count = disclosure::is_count_column(h)
                || (is_count_row && disclosure::is_count_when_unit_is_count(h));
            if let Some(v) = row.get(j).filter(|_| count).and_then(|c| small_count(c)) {
                found.count(rel, &place(j), h, v);
            }
        }
    }
}

/// A spreadsheet column name: A, B, ..., Z, AA.
fn cell_name(j: usize) -> String {
    let mut n = j + 1;
    let mut s = Vec::new();
    while n > 0 {
        s.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    s.reverse();
    String::from_utf8_lossy(&s).into_owned()
}

fn csv_file(rel: &str, bytes: &[u8], ids: &Identifiers, found: &mut Findings) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rows = Vec::new();
    for rec in r.records() {
        match rec {
            Ok(rec) => rows.push(rec.iter().map(String::from).collect()),
            Err(e) => {
                found
                    .0
                    .push(format!("{rel}: could not be read back as CSV: {e}"));
                return;
            }
        }
    }
    table(rel, "", &rows, ids, found);
}

fn xlsx_file(rel: &str, bytes: &[u8], ids: &Identifiers, found: &mut Findings) {
    use calamine::{Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = match Xlsx::new(std::io::Cursor::new(bytes)) {
        Ok(w) => w,
        Err(e) => {
            found
                .0
                .push(format!("{rel}: could not be read back as a workbook: {e}"));
            return;
        }
    };
    for name in wb.sheet_names() {
        let range = match wb.worksheet_range(&name) {
            Ok(r) => r,
            Err(e) => {
                found
                    .0
                    .push(format!("{rel} sheet `{name}`: could not be read back: {e}"));
                continue;
            }
        };
        let rows: Vec<Vec<String>> = range
            .rows()
            .map(|row| {
                row.iter()
                    .map(|d| match d {
                        Data::Empty => String::new(),
                        Data::String(s) => s.clone(),
                        Data::Float(f) => f.to_string(),
                        Data::Int(i) => i.to_string(),
                        Data::Bool(b) => b.to_string(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect();
        table(rel, &format!("sheet `{name}` "), &rows, ids, found);
    }
}

fn parquet_file(rel: &str, bytes: &[u8], ids: &Identifiers, found: &mut Findings) {
    use polars::prelude::*;
    let df = match ParquetReader::new(std::io::Cursor::new(bytes)).finish() {
        Ok(df) => df,
        Err(e) => {
            found
                .0
                .push(format!("{rel}: could not be read back as Parquet: {e}"));
            return;
        }
    };
    let mut rows: Vec<Vec<String>> = vec![df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect()];
    rows.resize(df.height() + 1, Vec::new());
    for c in df.columns() {
        let text = match c.cast(&DataType::String) {
            Ok(t) => t,
            Err(e) => {
                found.0.push(format!(
                    "{rel} column `{}`: could not be read back: {e}",
                    c.name()
                ));
                return;
            }
        };
        let Ok(s) = text.str() else {
            return;
        };
        for (i, v) in s.iter().enumerate() {
            rows[i + 1].push(v.unwrap_or("").to_string());
        }
    }
    table(rel, "", &rows, ids, found);
}

fn png_file(rel: &str, bytes: &[u8], ids: &Identifiers, found: &mut Findings) {
    let mut texts: Vec<(String, String)> = Vec::new();
    let read = (|| -> Result<(), String> {
        let mut r = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .map_err(|e| e.to_string())?;
        let size = r.output_buffer_size();
        if size > MAX_PNG_BYTES {
            return Err(format!("{size} bytes decoded is more than the guard reads"));
        }
        let mut buf = vec![0; size];
        r.next_frame(&mut buf).map_err(|e| e.to_string())?;
        r.finish().map_err(|e| e.to_string())?;
        let info = r.info();
        for t in &info.uncompressed_latin1_text {
            texts.push((t.keyword.clone(), t.text.clone()));
        }
        for t in &info.compressed_latin1_text {
            texts.push((t.keyword.clone(), t.get_text().map_err(|e| e.to_string())?));
        }
        for t in &info.utf8_text {
            texts.push((t.keyword.clone(), t.get_text().map_err(|e| e.to_string())?));
        }
        Ok(())
    })();
    if let Err(e) = read {
        found
            .0
            .push(format!("{rel}: could not be read back as PNG: {e}"));
    }
    for (k, t) in texts {
        if let Some(id) = ids.in_text(&k).or_else(|| ids.in_text(&t)) {
            found.id(rel, &format!("text chunk `{k}`"), id);
        }
    }
}

/// The counts of a report: every cell of a table column whose heading is a count column,
/// and every element marked `data-count` (a count measure's value in the text).
fn html_counts(rel: &str, h: &str, found: &mut Findings) {
    let line = |at: usize| h[..at.min(h.len())].matches('\n').count() + 1;
    let mut at = 0;
    while let Some(start) = h[at..].find("<table").map(|i| i + at) {
        let end = h[start..].find("</table>").map_or(h.len(), |i| i + start);
        let mut head: Vec<String> = Vec::new();
        let mut pos = start;
        while let Some(tr) = h[pos..end].find("<tr").map(|i| i + pos) {
            let tr_end = h[tr..end].find("</tr>").map_or(end, |i| i + tr);
            let cells = html_cells(&h[tr..tr_end]);
            if cells.iter().all(|(th, _)| *th) && head.is_empty() {
                head = cells.into_iter().map(|(_, t)| t).collect();
            } else {
                for (j, (_, text)) in cells.iter().enumerate() {
                    let Some(col) = head.get(j).filter(|c| disclosure::is_count_column(c)) else {
                        continue;
                    };
                    if let Some(v) = small_count(text) {
                        found.count(rel, &format!("line {}", line(tr)), col, v);
                    }
                }
            }
            pos = tr_end.max(tr + 3);
        }
        at = end.max(start + 6);
    }
    // The notes: prose, with no whole number from 1 to 5. The contents list (`<nav>`, of
    // measure titles such as "within 1 working day") is the one list that is not a note.
    // Only the report's own contents list, before `<main`, is left out.
    let main = h.find("<main").unwrap_or(0);
    let navs: Vec<(usize, usize)> = h[..main]
        .find("<nav aria-label=\"Contents\">")
        .and_then(|i| h[i..main].find("</nav>").map(|j| (i, i + j)))
        .into_iter()
        .collect();
    let mut at = 0;
    while let Some(i) = h[at..].find("<li>").map(|i| i + at) {
        let end = h[i..].find("</li>").map_or(h.len(), |j| j + i);
        if navs.iter().any(|(a, b)| (*a..*b).contains(&i)) {
            at = end.max(i + 4);
            continue;
        }
        if let Some(v) = disclosure::small_number_in(&unescape(&strip_tags(&h[i + 4..end]))) {
            found.count(rel, &format!("line {}", line(i)), "note", v);
        }
        at = end.max(i + 4);
    }
    // The analyst's commentary: prose too.
    let mut at = 0;
    while let Some(i) = h[at..].find("<p class=\"commentary\">").map(|i| i + at) {
        let end = h[i..].find("</p>").map_or(h.len(), |j| j + i);
        if let Some(v) = disclosure::small_number_in(&unescape(&strip_tags(&h[i..end]))) {
            found.count(rel, &format!("line {}", line(i)), "commentary", v);
        }
        at = end.max(i + 4);
    }
    let mut at = 0;
    while let Some(i) = h[at..].find("data-count").map(|i| i + at) {
        let open = h[i..].find('>').map_or(h.len(), |j| j + i + 1);
        let close = h[open..].find('<').map_or(h.len(), |j| j + open);
        if let Some(v) = small_count(&unescape(&h[open..close])) {
            found.count(rel, &format!("line {}", line(i)), "data-count", v);
        }
        at = close.max(i + 10);
    }
}

/// The cells of a table row: whether a heading, and the text without tags.
fn html_cells(row: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let td = row[at..].find("<td").map(|i| (i + at, false));
        let th = row[at..].find("<th").map(|i| (i + at, true));
        let Some((start, is_th)) = [td, th].into_iter().flatten().min() else {
            return out;
        };
        let close = if is_th { "</th>" } else { "</td>" };
        let Some(open) = row[start..].find('>').map(|i| i + start + 1) else {
            return out;
        };
        let end = row[open..].find(close).map_or(row.len(), |i| i + open);
        out.push((is_th, unescape(&strip_tags(&row[open..end]))));
        at = end.max(start + 3);
    }
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Identifiers {
        let mut ids = Identifiers::default();
        for id in ["C0000001", "Ben Green", "42", "12345678"] {
            ids.insert(id);
        }
        ids
    }

    #[test]
    fn identifiers_match_as_whole_words() {
        let ids = ids();
        assert_eq!(ids.in_text("child C0000001 seen"), Some("C0000001"));
        assert_eq!(ids.in_text("XC0000001"), None);
        assert_eq!(ids.in_text("<td>ben-green</td>"), Some("Ben Green"));
        assert_eq!(ids.in_text("Ben Greene"), None);
        // A short number is a count in text, an identifier as a whole cell.
        assert_eq!(ids.in_text("42 referrals"), None);
        assert_eq!(ids.in_cell(" 42 "), Some("42"));
        assert_eq!(ids.in_text("id 12345678"), Some("12345678"));
    }

    #[test]
    fn counts_are_found_in_count_columns_and_marked_text() {
        let mut f = Findings::default();
        let csv =
            b"metric_id,unit,value,numerator,pending,target\nm,percent,4,10,0,3\nn,count,4,c,c,3\n";
        check_file("dataset.csv", csv, &ids(), &mut f);
        assert_eq!(f.0.len(), 1, "{:?}", f.0);
        assert!(f.0[0].contains("row 3, cell C") && f.0[0].contains("`value`: 4"));
        let mut f = Findings::default();
        let html = "<table><thead><tr><th>Stratum</th><th>Population</th></tr></thead>\n<tbody><tr><td>North</td><td class=\"num\">3</td></tr></tbody></table>\n<p><span data-count>2</span></p>\n<ul><li>m: 4 rows excluded</li></ul>";
        check_file("report.html", html.as_bytes(), &ids(), &mut f);
        assert_eq!(f.0.len(), 3, "{:?}", f.0);
        assert!(f.0[0].contains("line 2, column `Population`: 3"));
        assert!(f.0[1].contains("line 4, column `note`: 4"));
        assert!(f.0[2].contains("line 3, column `data-count`: 2"));
    }
}
