//! Reading xlsx workbooks with the work sized by what the file holds, never by the
//! coordinates it claims: every workbook csc-audit reads (Annex A for `import`, `check`,
//! `metrics`, `pack --data`; audit results for `audit-results`) goes through [`read`].
//!
//! A sheet's cells are streamed one at a time into a sparse list (a cell at XFD1048576 costs
//! one cell, not the 17 billion of its bounding box), and the limits below are stated and
//! enforced: on the file, on what each part of the zip unpacks to (a "zip bomb" is refused
//! before it is unpacked), on the cells present and on the text they hold.

use std::collections::{HashMap, HashSet};
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Mutex};

use calamine::{DataRef, Reader, Xlsx};

/// The largest workbook file read (on disk).
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// The most one part of the workbook (a sheet's XML, the shared strings) may unpack to.
pub const MAX_PART_BYTES: u64 = 256 << 20;
/// The most all the parts read may unpack to together.
pub const MAX_UNPACKED_BYTES: u64 = 1 << 30;
/// The most non-empty cells a workbook may hold (an Annex A of a large council holds well
/// under a million).
pub const MAX_CELLS: usize = 4_000_000;
/// The most text all the cells of a workbook may hold together.
pub const MAX_TEXT_BYTES: usize = 512 << 20;
/// The most shared strings a workbook may declare (calamine sets memory aside for as many
/// as the shared strings' `uniqueCount` claims, before it reads one).
pub const MAX_SHARED_STRINGS: u64 = MAX_CELLS as u64;
/// How much of the shared strings is unpacked to read that claim.
const SHARED_STRINGS_HEAD: usize = 64 << 10;

/// One cell, as the importers need it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// An Excel date cell, as its serial number.
    Date(f64),
    /// `#N/A` and other Excel errors.
    Error,
}

/// A row that holds at least one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetRow {
    /// The row's number in the sheet (1 is the first): the line issues name.
    pub line: u64,
    /// Its cells that are not empty, left to right, each with its column (0 is A).
    pub cells: Vec<(u32, Cell)>,
}

impl SheetRow {
    /// The cell in column `col` (0 is A); empty when the row has none there.
    pub fn get(&self, col: u32) -> &Cell {
        match self.cells.binary_search_by_key(&col, |(c, _)| *c) {
            Ok(i) => &self.cells[i].1,
            Err(_) => &Cell::Empty,
        }
    }
}

/// A worksheet: its name and the rows that hold a cell, top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<SheetRow>,
}

impl Sheet {
    /// A sheet from rows given in full from row 1 (tests, CSV files): empty cells and rows
    /// are dropped, the rest keep their row and column.
    pub fn dense(name: impl Into<String>, rows: Vec<Vec<Cell>>) -> Sheet {
        let rows = rows
            .into_iter()
            .enumerate()
            .filter_map(|(r, cells)| {
                let cells: Vec<(u32, Cell)> = cells
                    .into_iter()
                    .enumerate()
                    .filter(|(_, c)| *c != Cell::Empty)
                    .map(|(c, cell)| (u32::try_from(c).unwrap_or(u32::MAX), cell))
                    .collect();
                (!cells.is_empty()).then_some(SheetRow {
                    line: r as u64 + 1,
                    cells,
                })
            })
            .collect();
        Sheet {
            name: name.into(),
            rows,
        }
    }

    /// The rows with every column up to each row's last cell filled in (empty cells as
    /// [`Cell::Empty`]), for readers that index columns; refused when that would make
    /// more than `max_cells` cells (stray cells far to the right of a table).
    pub fn dense_rows(&self, max_cells: usize) -> Result<Vec<(u64, Vec<&Cell>)>, String> {
        let mut total = 0usize;
        let mut out = Vec::with_capacity(self.rows.len());
        for row in &self.rows {
            let width = row.cells.last().map_or(0, |(c, _)| *c as usize + 1);
            total = total.saturating_add(width);
            if total > max_cells {
                let (col, _) = row.cells.last().map_or((0, &Cell::Empty), |(c, v)| (*c, v));
                return Err(format!(
                    "sheet '{}' has cells as far right as {}{} (row {}): read as a table it \
                     would be more than {max_cells} cells; delete the stray cells outside the \
                     table",
                    self.name,
                    column_name(col),
                    row.line,
                    row.line
                ));
            }
            let mut cells = vec![&Cell::Empty; width];
            for (c, v) in &row.cells {
                cells[*c as usize] = v;
            }
            out.push((row.line, cells));
        }
        Ok(out)
    }
}

/// `0` -> `A`, `16383` -> `XFD`.
pub fn column_name(col: u32) -> String {
    let mut n = u64::from(col) + 1;
    let mut s = Vec::new();
    while n > 0 {
        let r = ((n - 1) % 26) as u8;
        s.push(b'A' + r);
        n = (n - 1) / 26;
    }
    s.reverse();
    String::from_utf8_lossy(&s).into_owned()
}

/// Reads every sheet of an xlsx workbook, within the limits above. The error says which
/// limit, which sheet or part, and what to do.
pub fn read(path: &Path) -> Result<Vec<Sheet>, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "the file is {} MiB; csc-audit reads workbooks of at most {} MiB: save the lists \
             as CSV files in a folder and import the folder",
            size >> 20,
            MAX_FILE_BYTES >> 20
        ));
    }
    let bytes = crate::fsutil::read_input(path, MAX_FILE_BYTES).map_err(|e| e.to_string())?;
    if !bytes.starts_with(b"PK") {
        let what = if bytes.starts_with(b"\xD0\xCF\x11\xE0") {
            "an old-style .xls workbook"
        } else {
            "not a zip archive, as every .xlsx workbook is"
        };
        return Err(format!(
            "it is {what}: open it in Excel and save it as .xlsx"
        ));
    }
    check_shared_strings(&bytes)?;
    // calamine computes cell references and `<dimension>` in u32 without checks: a
    // reference beyond any sheet (`AAAAAAAAA1`, row 99999999999, `B2:A1`) overflows, which
    // panics where overflow is checked. That is an error of the file, said as one.
    let read =
        quietly(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_zip(bytes))));
    read.unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(format!(
            "a cell reference or dimension in it is beyond what any sheet holds (the \
                 reader stopped: {why}); open it in Excel and save it again"
        ))
    })
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the panic message of this thread kept off stderr (the panic is caught and
/// said as an error of the file); other threads' panics print as before.
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let out = f();
    QUIET.with(|q| q.set(false));
    out
}

/// Reads the sheets of a workbook's bytes through the [`Guard`].
fn read_zip(bytes: Vec<u8>) -> Result<Vec<Sheet>, String> {
    let guard = Guard::new(bytes);
    let refused = guard.refused.clone();
    let explain = |e: calamine::XlsxError, sheet: Option<&str>| -> String {
        match refused.lock().ok().and_then(|r| r.clone()) {
            Some(r) => r.message(sheet),
            None => e.to_string(),
        }
    };
    let mut wb: Xlsx<Guard> =
        calamine::open_workbook_from_rs(guard).map_err(|e| explain(e, None))?;
    let mut budget = Budget::default();
    let mut sheets = Vec::new();
    for name in wb.sheet_names() {
        let sheet = read_sheet(&mut wb, &name, &mut budget)
            .map_err(|e| e.unwrap_or_else(|e| explain(e, Some(&name))))?;
        sheets.push(sheet);
    }
    Ok(sheets)
}

/// What the cells read so far hold, against [`MAX_CELLS`] and [`MAX_TEXT_BYTES`].
#[derive(Default)]
struct Budget {
    cells: usize,
    text: usize,
}

/// Reads one sheet's cells as they are stored. `Err(Ok(message))` is a limit reached,
/// `Err(Err(e))` an error of the file.
fn read_sheet(
    wb: &mut Xlsx<Guard>,
    name: &str,
    budget: &mut Budget,
) -> Result<Sheet, Result<String, calamine::XlsxError>> {
    let mut reader = wb.worksheet_cells_reader(name).map_err(Err)?;
    let mut found: Vec<(u32, u32, Cell)> = Vec::new();
    while let Some(c) = reader.next_cell().map_err(Err)? {
        let (row, col) = c.get_position();
        let text_len = match c.get_value() {
            DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.len(),
            DataRef::SharedString(s) => s.len(),
            DataRef::Empty => continue,
            _ => 0,
        };
        budget.cells += 1;
        budget.text = budget.text.saturating_add(text_len);
        if budget.cells > MAX_CELLS || budget.text > MAX_TEXT_BYTES {
            return Err(Ok(format!(
                "sheet '{name}' reaches {} at {}{}: csc-audit reads workbooks of at most \
                 {MAX_CELLS} non-empty cells and {} MiB of text; delete the cells that are \
                 not part of the lists, or save the lists as CSV files in a folder and \
                 import the folder",
                if budget.cells > MAX_CELLS {
                    format!("{} cells", budget.cells)
                } else {
                    format!("{} MiB of text", budget.text >> 20)
                },
                column_name(col),
                u64::from(row) + 1,
                MAX_TEXT_BYTES >> 20
            )));
        }
        found.push((row, col, cell(c.get_value())));
    }
    Ok(Sheet {
        name: name.to_string(),
        rows: into_rows(found),
    })
}

fn cell(v: &DataRef) -> Cell {
    match v {
        DataRef::Empty => Cell::Empty,
        DataRef::String(s) => Cell::Text(s.clone()),
        DataRef::SharedString(s) => Cell::Text(s.to_string()),
        DataRef::Int(i) => Cell::Number(*i as f64),
        DataRef::Float(x) => Cell::Number(*x),
        DataRef::Bool(b) => Cell::Text(if *b { "Yes" } else { "No" }.into()),
        DataRef::DateTime(d) => Cell::Date(d.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::Error(_) => Cell::Error,
    }
}

/// Cells in any order into rows in order; a coordinate given twice keeps its last value.
fn into_rows(mut found: Vec<(u32, u32, Cell)>) -> Vec<SheetRow> {
    // A stable sort keeps the file's order among cells of the same coordinate.
    found.sort_by_key(|(r, c, _)| (*r, *c));
    let mut rows: Vec<SheetRow> = Vec::new();
    for (r, c, v) in found {
        let line = u64::from(r) + 1;
        match rows.last_mut() {
            Some(row) if row.line == line => match row.cells.last_mut() {
                Some((last, old)) if *last == c => *old = v,
                _ => row.cells.push((c, v)),
            },
            _ => rows.push(SheetRow {
                line,
                cells: vec![(c, v)],
            }),
        }
    }
    rows
}

/// A part of the zip the guard would not let be unpacked.
#[derive(Debug, Clone)]
struct Refusal {
    part: String,
    /// What the part declares it unpacks to (`None`: it declares nothing readable).
    size: Option<u64>,
    /// What the parts read so far declare, this one included.
    total: u64,
}

impl Refusal {
    fn message(&self, sheet: Option<&str>) -> String {
        let what = match sheet {
            Some(s) => format!("sheet '{s}' ({})", self.part),
            None => format!("its part {}", self.part),
        };
        let why = match self.size {
            None => "does not declare what it unpacks to".to_string(),
            Some(n) if n > MAX_PART_BYTES => format!(
                "would unpack to {} MiB, more than the {} MiB csc-audit unpacks for one part",
                n >> 20,
                MAX_PART_BYTES >> 20
            ),
            Some(_) => format!(
                "would take what the workbook unpacks to {} MiB, more than the {} MiB \
                 csc-audit unpacks for one workbook",
                self.total >> 20,
                MAX_UNPACKED_BYTES >> 20
            ),
        };
        format!(
            "{what} {why}; it was not unpacked (a workbook this large is not an Annex A, or \
             the file is built to exhaust memory): save the lists as CSV files in a folder \
             and import the folder"
        )
    }
}

/// The workbook's bytes as calamine reads them, through a guard that sees each part of the
/// zip as it is opened (its local header, read right after a seek) and refuses one that
/// declares more than [`MAX_PART_BYTES`] unpacked, or that takes the parts read over
/// [`MAX_UNPACKED_BYTES`]. The zip reader stops any part at the size its central directory
/// declares, so bounding the declared size bounds the work.
struct Guard {
    bytes: Cursor<Vec<u8>>,
    /// Declared unpacked size by part name: the largest of every central-directory record
    /// in the file of that name, so that no second directory can hide a larger size.
    declared: HashMap<Vec<u8>, u64>,
    opened: HashSet<u64>,
    unpacked: u64,
    after_seek: bool,
    refused: Arc<Mutex<Option<Refusal>>>,
}

impl Guard {
    fn new(bytes: Vec<u8>) -> Guard {
        let declared = declared_sizes(&bytes);
        Guard {
            bytes: Cursor::new(bytes),
            declared,
            opened: HashSet::new(),
            unpacked: 0,
            after_seek: false,
            refused: Arc::new(Mutex::new(None)),
        }
    }

    /// Checks the part whose local header starts at `at`, the first time it is opened.
    fn check_part_at(&mut self, at: u64) -> io::Result<()> {
        let data = self.bytes.get_ref();
        let Some(header) = usize::try_from(at)
            .ok()
            .and_then(|a| data.get(a..))
            .filter(|h| h.starts_with(b"PK\x03\x04"))
        else {
            return Ok(());
        };
        if !self.opened.insert(at) {
            return Ok(());
        }
        let name_len = u16_at(header, 26).map_or(0, usize::from);
        let name = header.get(30..30 + name_len).unwrap_or(&[]);
        let size = self.declared.get(name).copied();
        self.unpacked = self.unpacked.saturating_add(size.unwrap_or(u64::MAX));
        let too_big = size.is_none_or(|n| n > MAX_PART_BYTES);
        if too_big || self.unpacked > MAX_UNPACKED_BYTES {
            let refusal = Refusal {
                part: String::from_utf8_lossy(name).into_owned(),
                size,
                total: self.unpacked,
            };
            if let Ok(mut r) = self.refused.lock() {
                *r = Some(refusal);
            }
            return Err(io::Error::other(
                "a part of the workbook is too large to unpack",
            ));
        }
        Ok(())
    }
}

impl Read for Guard {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if std::mem::take(&mut self.after_seek) {
            self.check_part_at(self.bytes.position())?;
        }
        self.bytes.read(buf)
    }
}

impl Seek for Guard {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.after_seek = true;
        self.bytes.seek(pos)
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|x| u16::from_le_bytes([x[0], x[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let x: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(x))
}

/// The unpacked size every central-directory record in `bytes` declares, by part name (the
/// largest when a name appears more than once).
fn declared_sizes(bytes: &[u8]) -> HashMap<Vec<u8>, u64> {
    let mut sizes: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut from = 0;
    while let Some(i) = find(&bytes[from..], b"PK\x01\x02") {
        let at = from + i;
        from = at + 1;
        if let Some((name, size)) = central_record(&bytes[at..]) {
            let e = sizes.entry(name.to_vec()).or_insert(0);
            *e = (*e).max(size);
        }
    }
    sizes
}

/// A central-directory record's part name and declared unpacked size (ZIP64 included).
fn central_record(r: &[u8]) -> Option<(&[u8], u64)> {
    let size32 = u32_at(r, 24)?;
    let name_len = usize::from(u16_at(r, 28)?);
    let extra_len = usize::from(u16_at(r, 30)?);
    let name = r.get(46..46 + name_len)?;
    if size32 != u32::MAX {
        return Some((name, u64::from(size32)));
    }
    // ZIP64: the real size is the first value of the extra field 0x0001; a record without
    // one declares nothing readable, which the guard treats as too large.
    let mut extra = r.get(46 + name_len..46 + name_len + extra_len)?;
    while let (Some(id), Some(len)) = (u16_at(extra, 0), u16_at(extra, 2)) {
        if id == 1 {
            return Some((name, u64_at(extra, 4).unwrap_or(u64::MAX)));
        }
        extra = extra.get(4 + usize::from(len)..)?;
    }
    Some((name, u64::MAX))
}

/// Refuses shared strings that claim more strings than [`MAX_SHARED_STRINGS`], or whose
/// head cannot be read to see what they claim. Every local header named like the shared
/// strings is looked at, whichever one the zip reader would use.
fn check_shared_strings(bytes: &[u8]) -> Result<(), String> {
    let mut from = 0;
    while let Some(i) = find(&bytes[from..], b"PK\x03\x04") {
        let h = &bytes[from + i..];
        from += i + 1;
        let (Some(method), Some(name_len), Some(extra_len)) =
            (u16_at(h, 8), u16_at(h, 26), u16_at(h, 28))
        else {
            continue;
        };
        let (name_len, extra_len) = (usize::from(name_len), usize::from(extra_len));
        let Some(name) = h.get(30..30 + name_len) else {
            continue;
        };
        if !name.to_ascii_lowercase().ends_with(b"sharedstrings.xml") {
            continue;
        }
        let part = String::from_utf8_lossy(name).into_owned();
        let data = h.get(30 + name_len + extra_len..).unwrap_or(&[]);
        let head = match method {
            0 => Some(data[..data.len().min(SHARED_STRINGS_HEAD)].to_vec()),
            8 => super::inflate::inflate_head(data, SHARED_STRINGS_HEAD),
            _ => None,
        };
        let claim = head
            .as_deref()
            .ok_or_else(|| "cannot be unpacked".to_string())
            .and_then(unique_count)
            .map_err(|why| {
                format!(
                    "its shared strings ({part}) {why}: the workbook is damaged or not \
                     written by a spreadsheet program; open it in Excel and save it again"
                )
            })?;
        if let Some(n) = claim.filter(|n| *n > MAX_SHARED_STRINGS) {
            return Err(format!(
                "its shared strings ({part}) claim {n} different strings; csc-audit reads \
                 workbooks of at most {MAX_SHARED_STRINGS}: the workbook is damaged or built \
                 to exhaust memory; open it in Excel and save it again"
            ));
        }
    }
    Ok(())
}

/// The largest `uniqueCount` the `<sst>` start tag of shared strings claims (`None`: it
/// claims none calamine would read, which takes only digits).
fn unique_count(head: &[u8]) -> Result<Option<u64>, String> {
    let mut rest = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    // Past the prolog: the XML declaration, comments, a doctype, white space.
    loop {
        rest = &rest[rest.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
        let end = if rest.starts_with(b"<?") {
            find(rest, b"?>").map(|i| i + 2)
        } else if rest.starts_with(b"<!--") {
            find(rest, b"-->").map(|i| i + 3)
        } else if rest.starts_with(b"<!") {
            find(rest, b">").map(|i| i + 1)
        } else {
            break;
        };
        rest = &rest[end.ok_or("do not reach their first element in 64 KiB")?..];
    }
    let tag = rest
        .strip_prefix(b"<")
        .and_then(|r| find(r, b">").map(|i| &r[..i]))
        .ok_or("do not start with their <sst> element")?;
    let name_end = tag
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'/')
        .unwrap_or(tag.len());
    let name = &tag[..name_end];
    let local = name.rsplit(|b| *b == b':').next().unwrap_or(name);
    if local != b"sst" {
        return Err("do not start with their <sst> element".into());
    }
    let mut most: Option<u64> = None;
    let mut from = 0;
    while let Some(i) = find(&tag[from..], b"uniqueCount") {
        let after = &tag[from + i + b"uniqueCount".len()..];
        from += i + 1;
        let after = after.trim_ascii_start();
        let Some(after) = after.strip_prefix(b"=") else {
            continue;
        };
        let after = after.trim_ascii_start();
        let Some((&quote, value)) = after.split_first() else {
            continue;
        };
        let value = &value[..value
            .iter()
            .position(|b| *b == quote)
            .unwrap_or(value.len())];
        if !value.is_empty() && value.iter().all(u8::is_ascii_digit) {
            // Too many digits for a number is a claim too large.
            let n = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(u64::MAX);
            most = Some(most.map_or(n, |m| m.max(n)));
        }
    }
    Ok(most)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_named_as_excel_names_them() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(16383), "XFD");
    }

    #[test]
    fn cells_come_out_in_rows_in_order_and_a_repeated_cell_keeps_its_last_value() {
        let rows = into_rows(vec![
            (5, 2, Cell::Number(1.0)),
            (0, 16383, Cell::Text("far".into())),
            (5, 0, Cell::Number(2.0)),
            (5, 2, Cell::Number(3.0)),
        ]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 1);
        assert_eq!(rows[0].get(16383), &Cell::Text("far".into()));
        assert_eq!(rows[1].line, 6);
        assert_eq!(
            rows[1].cells,
            [(0, Cell::Number(2.0)), (2, Cell::Number(3.0))]
        );
        assert_eq!(rows[1].get(1), &Cell::Empty);
    }

    #[test]
    fn the_shared_strings_claim_is_read_from_their_start_tag() {
        let claim = |s: &str| unique_count(s.as_bytes());
        assert_eq!(
            claim("<?xml version=\"1.0\"?>\n<!-- x --><sst count=\"9\" uniqueCount=\"5\">"),
            Ok(Some(5))
        );
        assert_eq!(
            claim("<x:sst uniqueCount = '99999999999999999999999'>"),
            Ok(Some(u64::MAX))
        );
        assert_eq!(claim("<sst uniqueCount=\"&#49;\">"), Ok(None));
        assert_eq!(claim("<sst>"), Ok(None));
        assert!(claim("<other uniqueCount=\"5\">").is_err());
        assert!(claim("<!-- never closed").is_err());
        assert!(claim("<sst uniqueCount=\"5\"").is_err());
    }

    #[test]
    fn columns_are_filled_in_only_to_each_rows_last_cell_within_the_bound() {
        let far = |line| SheetRow {
            line,
            cells: vec![(0, Cell::Number(1.0)), (16_383, Cell::Number(2.0))],
        };
        let sheet = Sheet {
            name: "Results".into(),
            rows: vec![
                SheetRow {
                    line: 1,
                    cells: vec![(1, Cell::Number(0.0))],
                },
                far(7),
            ],
        };
        let rows = sheet.dense_rows(20_000).unwrap();
        assert_eq!(rows[0], (1, vec![&Cell::Empty, &Cell::Number(0.0)]));
        assert_eq!((rows[1].0, rows[1].1.len()), (7, 16_384));
        let mut wide = sheet.clone();
        wide.rows.push(far(8));
        assert_eq!(
            wide.dense_rows(20_000).unwrap_err(),
            "sheet 'Results' has cells as far right as XFD8 (row 8): read as a table it would \
             be more than 20000 cells; delete the stray cells outside the table"
        );
    }

    #[test]
    fn a_zip64_record_without_its_size_declares_too_much() {
        let mut r = vec![0u8; 46];
        r[..4].copy_from_slice(b"PK\x01\x02");
        r[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        r[28] = 1;
        r.push(b'x');
        assert_eq!(central_record(&r), Some((&b"x"[..], u64::MAX)));
    }
}
