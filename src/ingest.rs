//! Loading a folder of extracts: every row of every file is either loaded into a typed polars
//! frame or rejected with its file, line, column and reason (`rows_read = rows_loaded +
//! rows_rejected`, always). Load once; every later step reads the same frames.
//!
//! Rows are physical lines: a line ends at a CR, an LF or a CRLF ([`rows`], the one reader
//! of CSV lines in the crate), and every line after the header that is not blank starts a
//! row. A quoted value may run over lines; such a row is kept only if it reads as one row
//! (its quote closed, the header's width, no line inside it that is a whole row of its own,
//! every value readable) and is named with its first and last line. Otherwise the quote
//! ran away: its line is rejected and reading starts again on the next line, so a stray
//! `"` never hides the rows below it.
//!
//! Two passes. The first reads each file, parses each cell and applies the checks that need
//! only the row itself. The as-of date is then known (given, or the latest event date). The
//! second walks the schema a level at a time (parents before the tables that link to them)
//! and applies the checks that need the as-of date or another table: dates after the as-of
//! date, events before the event they follow, and links to rows that do not exist.

use crate::report::{CalendarNote, Issue, Report, Severity, TableStats};
use crate::schema::{self, ColumnSpec, DateRole, Earlier, Kind, TableSpec, TABLES};
use crate::values::{self, CellError, Stamp};
use chrono::{Datelike, NaiveDate};
use polars::prelude::{
    BooleanChunked, ChunkTake, ChunkedBuilder, Column, DataFrame, Float64Chunked, IdxCa, IdxSize,
    IdxType, Int32Chunked, Int64Chunked, IntoSeries, NamedFrom, NewChunkedArray, PlHashMap,
    PlSmallStr, PrimitiveChunkedBuilder, Series, StringChunked, TimeUnit,
};
use rows::{Mark, Record, Records};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub mod rows;

use crate::par::par_map;

/// Name of the column, added to every frame, that holds the row's line in its file.
pub const LINE_COLUMN: &str = "_line";

/// Event dates before this are rejected as typing errors.
pub fn earliest_plausible_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1990, 1, 1).expect("valid date")
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("data folder {0} does not exist or is not a folder: pass --data with the folder that holds the extract CSV files")]
    NoFolder(String),
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The extract date; `None` means the latest event date not after `today`.
    pub as_of: Option<NaiveDate>,
    pub today: NaiveDate,
    /// Which columns the frames hold. Every cell of every column is read and checked
    /// whatever this says; it only spares building frame columns nothing will read.
    pub columns: FrameColumns,
}

/// The columns of the loaded frames: all of them, or (for a command that reads only some,
/// as `metrics` reads only what its measures need) the named columns of each table.
/// A table's frame keeps its height when it holds fewer columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum FrameColumns {
    #[default]
    All,
    /// By table name, the columns to build (schema columns, extra columns or [`LINE_COLUMN`]).
    Only(BTreeMap<&'static str, std::collections::BTreeSet<String>>),
}

impl FrameColumns {
    /// Whether the frame of `table` holds `column`.
    pub fn holds(&self, table: &str, column: &str) -> bool {
        match self {
            FrameColumns::All => true,
            FrameColumns::Only(by_table) => by_table.get(table).is_some_and(|c| c.contains(column)),
        }
    }

    /// The columns either holds: what two readers of one load need together.
    pub fn union(self, other: FrameColumns) -> FrameColumns {
        match (self, other) {
            (FrameColumns::Only(mut a), FrameColumns::Only(b)) => {
                for (table, cols) in b {
                    a.entry(table).or_default().extend(cols);
                }
                FrameColumns::Only(a)
            }
            _ => FrameColumns::All,
        }
    }
}

/// Every table, loaded once.
pub struct Extracts {
    pub dir: PathBuf,
    pub as_of: NaiveDate,
    /// The first and last event dates of the loaded rows.
    pub event_dates: Option<(NaiveDate, NaiveDate)>,
    /// Frames of the tables whose file was present and usable.
    pub frames: BTreeMap<&'static str, DataFrame>,
    pub report: Report,
}

impl Extracts {
    /// About how many bytes the frames hold (less their string cells' 16 bytes each).
    pub fn frames_bytes(&self) -> usize {
        self.frames.values().map(DataFrame::estimated_size).sum()
    }

    /// Records in the report which working-day calendar the measures will use, and whether
    /// it covers every event date of the data (from its first event to the as-of date).
    pub fn note_calendar(&mut self, cal: &crate::calendar::Calendar, source: &str) {
        let covers = self.event_dates.is_none_or(|(first, _)| {
            first.year() >= cal.first_year() && self.as_of.year() <= cal.last_year()
        });
        self.report.calendar = Some(CalendarNote {
            name: cal.name.clone(),
            source: source.to_string(),
            first_year: cal.first_year(),
            last_year: cal.last_year(),
            covers_data: covers,
        });
    }

    pub fn frame(&self, table: &str) -> Option<&DataFrame> {
        self.frames.get(table)
    }
}

/// One column's parsed values, row-aligned with the file's data rows.
#[derive(Debug)]
enum Values {
    Text(TextCol),
    /// A code column: 0 for an empty cell, else 1 + the code's place in its list.
    Code(&'static [&'static str], Vec<u8>),
    Date(Vec<Option<NaiveDate>>),
    Stamp(Stamps),
    Flag(Vec<Option<bool>>),
    Number(Vec<Option<f64>>),
}

impl Values {
    /// The empty values of a schema column.
    fn for_column(c: &ColumnSpec) -> Values {
        match c.repeats() {
            true => Values::Text(TextCol::words()),
            false => Values::for_kind(c.kind),
        }
    }

    fn for_kind(kind: Kind) -> Values {
        match kind {
            Kind::Id | Kind::Text => Values::Text(TextCol::default()),
            Kind::Code(codes) => Values::Code(codes, Vec::new()),
            Kind::Date => Values::Date(Vec::new()),
            Kind::DateTime => Values::Stamp(Stamps::default()),
            Kind::Flag => Values::Flag(Vec::new()),
            Kind::Number => Values::Number(Vec::new()),
        }
    }

    /// Room for `rows` values (and `bytes` of text), so columns grow without copying.
    fn reserve(&mut self, rows: usize, bytes: usize) {
        match self {
            Values::Text(v) => v.reserve(rows, bytes),
            Values::Code(_, v) => v.reserve(rows),
            Values::Date(v) => v.reserve(rows),
            Values::Stamp(v) => v.0.reserve(rows),
            Values::Flag(v) => v.reserve(rows),
            Values::Number(v) => v.reserve(rows),
        }
    }

    fn push_none(&mut self) {
        match self {
            Values::Text(v) => v.push(None),
            Values::Code(_, v) => v.push(0),
            Values::Date(v) => v.push(None),
            Values::Stamp(v) => v.push(None),
            Values::Flag(v) => v.push(None),
            Values::Number(v) => v.push(None),
        }
    }

    /// Adds the values of the rows that follow.
    fn append(&mut self, more: Values) {
        match (self, more) {
            (Values::Text(v), Values::Text(more)) => v.append(more),
            (Values::Code(_, v), Values::Code(_, more)) => v.extend(more),
            (Values::Date(v), Values::Date(more)) => v.extend(more),
            (Values::Stamp(v), Values::Stamp(more)) => v.0.extend(more.0),
            (Values::Flag(v), Values::Flag(more)) => v.extend(more),
            (Values::Number(v), Values::Number(more)) => v.extend(more),
            _ => unreachable!("chunks of one table have one layout"),
        }
    }

    /// The pieces of one column, in order, as one: sized once, so nothing is copied twice.
    fn concat(mut pieces: Vec<Values>) -> Values {
        // Whether a column of words pays is judged on whole chunks, not on their first rows.
        for piece in &mut pieces {
            if let Values::Text(v) = piece {
                v.plain_if_varied();
            }
        }
        let mut pieces = pieces.into_iter();
        let Some(mut all) = pieces.next() else {
            unreachable!("a table has a chunk")
        };
        let rest: Vec<Values> = pieces.collect();
        let rows = rest.iter().map(Values::len).sum();
        let bytes = rest.iter().map(Values::text_bytes).sum();
        all.reserve(rows, bytes);
        for more in rest {
            all.append(more);
        }
        all
    }

    fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::Code(_, v) => v.len(),
            Values::Date(v) => v.len(),
            Values::Stamp(v) => v.0.len(),
            Values::Flag(v) => v.len(),
            Values::Number(v) => v.len(),
        }
    }

    /// The bytes of text held (0 for typed values).
    fn text_bytes(&self) -> usize {
        match self {
            Values::Text(v) => v.text_bytes(),
            _ => 0,
        }
    }

    /// About how many bytes the values take, to share work out by.
    fn weight(&self) -> u64 {
        match self {
            Values::Text(v) => v.weight(),
            _ => self.len() as u64 * 8,
        }
    }

    /// Keeps the first `rows` values.
    fn truncate(&mut self, rows: usize) {
        match self {
            Values::Text(v) => v.truncate(rows),
            Values::Code(_, v) => v.truncate(rows),
            Values::Date(v) => v.truncate(rows),
            Values::Stamp(v) => v.0.truncate(rows),
            Values::Flag(v) => v.truncate(rows),
            Values::Number(v) => v.truncate(rows),
        }
    }

    fn is_none(&self, row: usize) -> bool {
        match self {
            Values::Text(v) => v.get(row).is_none(),
            Values::Code(_, v) => v[row] == 0,
            Values::Date(v) => v[row].is_none(),
            Values::Stamp(v) => v.0[row] == Stamps::NONE,
            Values::Flag(v) => v[row].is_none(),
            Values::Number(v) => v[row].is_none(),
        }
    }

    fn text(&self, row: usize) -> Option<&str> {
        match self {
            Values::Text(v) => v.get(row),
            Values::Code(codes, v) => v[row].checked_sub(1).map(|i| codes[i as usize]),
            _ => None,
        }
    }

    /// A date or datetime as the checks compare it (a date has no time).
    fn moment(&self, row: usize) -> Option<Moment> {
        match self {
            Values::Date(v) => v[row].map(Moment::of_date),
            Values::Stamp(v) => (v.0[row] != Stamps::NONE).then_some(Moment(v.0[row])),
            _ => None,
        }
    }

    /// The kept rows as a polars column, built straight from the parsed values.
    fn to_series(
        &self,
        name: &str,
        keep: &Keep,
        key: bool,
    ) -> polars::prelude::PolarsResult<Series> {
        fn kept<'a, T: Copy + 'a>(v: &'a [T], keep: &'a Keep) -> impl Iterator<Item = T> + 'a {
            keep.rows().map(|i| v[i])
        }
        let name: PlSmallStr = name.into();
        Ok(match self {
            Values::Text(v) => v.kept(name, keep, key).into_series(),
            Values::Code(codes, v) => shared_strings(
                name,
                codes.iter().copied(),
                IdxCa::from_iter_options(
                    PlSmallStr::EMPTY,
                    kept(v, keep).map(|c| c.checked_sub(1).map(IdxSize::from)),
                ),
            )?
            .into_series(),
            Values::Flag(v) => BooleanChunked::from_iter_options(name, kept(v, keep)).into_series(),
            Values::Number(v) => {
                Float64Chunked::from_iter_options(name, kept(v, keep)).into_series()
            }
            Values::Date(v) => Int32Chunked::from_iter_options(
                name,
                kept(v, keep).map(|d| d.map(values::epoch_days)),
            )
            .into_date()
            .into_series(),
            Values::Stamp(v) => {
                Int64Chunked::from_iter_options(name, kept(&v.0, keep).map(Stamps::millis))
                    .into_datetime(TimeUnit::Milliseconds, None)
                    .into_series()
            }
        })
    }
}

/// A column of datetimes, eight bytes a cell (an `Option<Stamp>` takes sixteen): the
/// milliseconds since 1970, as the frame holds them, doubled, plus one when the file gave
/// a time; [`Stamps::NONE`] for an empty cell. Exact: a parsed datetime is in whole seconds
/// (fractions are dropped), and chrono's dates are far inside the range.
#[derive(Debug, Default)]
struct Stamps(Vec<i64>);

impl Stamps {
    /// An empty cell: no date chrono holds packs to it (its milliseconds would be -2^62).
    const NONE: i64 = i64::MIN;

    fn pack(s: Option<Stamp>) -> i64 {
        match s {
            None => Stamps::NONE,
            Some(s) => s.at.and_utc().timestamp_millis() * 2 + i64::from(s.has_time),
        }
    }

    fn unpack(v: i64) -> Option<Stamp> {
        if v == Stamps::NONE {
            return None;
        }
        // The shift floors, so a time before 1970 unpacks as it was packed.
        let at = chrono::DateTime::from_timestamp_millis(v >> 1)?.naive_utc();
        Some(Stamp {
            at,
            has_time: v & 1 == 1,
        })
    }

    /// A cell as the frame holds it: milliseconds since 1970.
    fn millis(v: i64) -> Option<i64> {
        (v != Stamps::NONE).then_some(v >> 1)
    }

    fn push(&mut self, s: Option<Stamp>) {
        self.0.push(Stamps::pack(s));
    }
}

/// A date or datetime as the checks compare them, packed as [`Stamps`] packs a cell (a
/// date has no time): compared without building a chrono datetime for every cell.
#[derive(Debug, Clone, Copy)]
struct Moment(i64);

impl Moment {
    fn of_date(d: NaiveDate) -> Moment {
        Moment(i64::from(values::epoch_days(d)) * values::MS_PER_DAY * 2)
    }
    /// Days since 1970.
    fn day(self) -> i64 {
        (self.0 >> 1).div_euclid(values::MS_PER_DAY)
    }
    fn has_time(self) -> bool {
        self.0 & 1 == 1
    }
    /// As [`Stamp::before`]: strictly before, on dates when either has no time.
    fn before(self, other: Moment) -> bool {
        match self.has_time() && other.has_time() {
            true => self.0 >> 1 < other.0 >> 1,
            false => self.day() < other.day(),
        }
    }
    fn stamp(self) -> Stamp {
        Stamps::unpack(self.0).expect("a moment is a packed cell")
    }
}

/// The longest string a polars string cell holds in its own 16 bytes; a longer one is held
/// in a buffer beside the column.
const INLINE_BYTES: usize = 12;

/// A string column of values given by their places in `distinct` (none: an empty cell).
/// Its cells point into one copy of the distinct values, which a column of repeated long
/// values (names, code labels) would otherwise hold once a cell.
fn shared_strings<'a>(
    name: PlSmallStr,
    distinct: impl Iterator<Item = &'a str>,
    places: IdxCa,
) -> polars::prelude::PolarsResult<StringChunked> {
    let distinct = StringChunked::from_iter_values(PlSmallStr::EMPTY, distinct);
    let mut col = distinct.take(&places)?;
    col.rename(name);
    Ok(col)
}

/// Text cells of one column: a national extract has hundreds of millions of cells, and a
/// `String` each would not fit in memory. A column whose values repeat down it (workers,
/// teams, sources: [`ColumnSpec::repeats`]) holds each distinct value once; it turns into
/// plain text if its values turn out too varied for that to pay.
#[derive(Debug)]
enum TextCol {
    Plain(Plain),
    Words(Words),
}

impl Default for TextCol {
    fn default() -> TextCol {
        TextCol::Plain(Plain::default())
    }
}

/// Every cell's text in one buffer.
#[derive(Debug, Default)]
struct Plain {
    buf: String,
    ends: Ends,
    present: Vec<bool>,
}

/// Each cell as the place of its value among the column's distinct values (0 for an empty
/// cell, else 1 + the place), each value held once.
#[derive(Debug, Default)]
struct Words {
    codes: Vec<u32>,
    values: Plain,
    places: PlHashMap<Box<str>, u32>,
}

/// A column of words holding more distinct values than this, and more than a quarter of
/// its cells, is held as plain text instead (a free-text column gains nothing). This is
/// judged as cells are read ([`WORDS_JUDGED_EVERY`]), on each chunk of a file as a whole,
/// and again as chunks are joined.
#[cfg(not(test))]
const WORDS_MOST: usize = 1 << 10;
/// Small in tests, so that generated columns cross it.
#[cfg(test)]
const WORDS_MOST: usize = 16;

/// A column of words is judged too every this many cells as it is read, so a file read
/// whole holds no more distinct values of a free-text column than a chunk of it would.
#[cfg(not(test))]
const WORDS_JUDGED_EVERY: usize = 1 << 16;
#[cfg(test)]
const WORDS_JUDGED_EVERY: usize = 256;

/// Where each cell of a [`TextCol`] ends in its buffer (or the line each row of a table
/// starts on): four bytes a cell while the buffer is under 4 GiB (every column of a file
/// the size limit lets in, unless decoding grows it), eight after. Half the size of `usize`
/// ends for the tens of millions of cells of a large folder.
#[derive(Debug)]
enum Ends {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl FromIterator<usize> for Ends {
    fn from_iter<I: IntoIterator<Item = usize>>(values: I) -> Ends {
        let mut ends = Ends::default();
        values.into_iter().for_each(|v| ends.push(v));
        ends
    }
}

impl Default for Ends {
    fn default() -> Ends {
        Ends::Narrow(Vec::new())
    }
}

impl Ends {
    fn push(&mut self, end: usize) {
        if let Ends::Narrow(v) = self {
            match u32::try_from(end) {
                Ok(e) => return v.push(e),
                Err(_) => self.widen(),
            }
        }
        if let Ends::Wide(v) = self {
            v.push(end as u64);
        }
    }
    fn widen(&mut self) {
        if let Ends::Narrow(v) = self {
            // The room reserved for the column is kept: it is sized once.
            let mut wide = Vec::with_capacity(v.capacity());
            wide.extend(v.iter().map(|e| u64::from(*e)));
            *self = Ends::Wide(wide);
        }
    }
    #[inline]
    fn at(&self, i: usize) -> usize {
        match self {
            Ends::Narrow(v) => v[i] as usize,
            Ends::Wide(v) => v[i] as usize,
        }
    }
    fn len(&self) -> usize {
        match self {
            Ends::Narrow(v) => v.len(),
            Ends::Wide(v) => v.len(),
        }
    }
    fn last(&self) -> Option<usize> {
        self.len().checked_sub(1).map(|i| self.at(i))
    }
    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len()).map(|i| self.at(i) as u64)
    }
    fn reserve(&mut self, n: usize) {
        match self {
            Ends::Narrow(v) => v.reserve(n),
            Ends::Wide(v) => v.reserve(n),
        }
    }
    fn truncate(&mut self, n: usize) {
        match self {
            Ends::Narrow(v) => v.truncate(n),
            Ends::Wide(v) => v.truncate(n),
        }
    }
    /// Adds `more`'s ends, each moved on by `at` (where its buffer starts in this one).
    fn append(&mut self, more: &Ends, at: usize) {
        if u32::try_from(at + more.last().unwrap_or(0)).is_err() {
            self.widen();
        }
        match (self, more) {
            (Ends::Narrow(v), Ends::Narrow(m)) => v.extend(m.iter().map(|e| e + at as u32)),
            (Ends::Wide(v), m) => v.extend((0..m.len()).map(|i| (m.at(i) + at) as u64)),
            (v, m) => (0..m.len()).for_each(|i| v.push(m.at(i) + at)),
        }
    }
}

impl Plain {
    fn push(&mut self, value: Option<&str>) {
        if let Some(v) = value {
            self.buf.push_str(v);
        }
        self.ends.push(self.buf.len());
        self.present.push(value.is_some());
    }
    fn len(&self) -> usize {
        self.ends.len()
    }
    fn append(&mut self, more: Plain) {
        let at = self.buf.len();
        self.buf.push_str(&more.buf);
        self.ends.append(&more.ends, at);
        self.present.extend(more.present);
    }
    fn truncate(&mut self, rows: usize) {
        self.ends.truncate(rows);
        self.present.truncate(rows);
        self.buf.truncate(self.ends.last().unwrap_or(0));
    }
    #[inline]
    fn get(&self, i: usize) -> Option<&str> {
        if !self.present[i] {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends.at(i - 1) };
        Some(&self.buf[start..self.ends.at(i)])
    }
}

impl Words {
    /// The place of `value` among the distinct values, added if new.
    fn place(&mut self, value: &str) -> u32 {
        if let Some(&p) = self.places.get(value) {
            return p;
        }
        let p = self.values.len() as u32;
        self.values.push(Some(value));
        self.places.insert(value.into(), p);
        p
    }
    fn push(&mut self, value: Option<&str>) {
        let code = match (value, self.codes.last()) {
            (None, _) => 0,
            // A value mostly repeats the cell before (a child's visits by one worker).
            (Some(v), Some(&c)) if c > 0 && self.values.get(c as usize - 1) == Some(v) => c,
            (Some(v), _) => self.place(v) + 1,
        };
        self.codes.push(code);
    }
    #[inline]
    fn get(&self, i: usize) -> Option<&str> {
        match self.codes[i] {
            0 => None,
            c => self.values.get(c as usize - 1),
        }
    }
    fn too_varied(&self) -> bool {
        let n = self.values.len();
        n > WORDS_MOST && n > self.codes.len() / 4
    }
    /// The bytes of the cells' text, were each held on its own.
    fn text_len(&self) -> usize {
        let lens: Vec<usize> = (0..self.values.len())
            .map(|i| self.values.get(i).map_or(0, str::len))
            .collect();
        (self.codes.iter())
            .map(|&c| c.checked_sub(1).map_or(0, |c| lens[c as usize]))
            .sum()
    }
    fn to_plain(&self) -> Plain {
        let mut plain = Plain::default();
        plain.buf.reserve(self.text_len());
        plain.ends.reserve(self.codes.len());
        plain.present.reserve(self.codes.len());
        for i in 0..self.codes.len() {
            plain.push(self.get(i));
        }
        plain
    }
    /// Adds the cells of `more`, its values looked up once each.
    fn append(&mut self, more: &Words) {
        let to: Vec<u32> = (0..more.values.len())
            .map(|i| self.place(more.values.get(i).expect("values are present")) + 1)
            .collect();
        let moved = |c: u32| if c == 0 { 0 } else { to[c as usize - 1] };
        self.codes.extend(more.codes.iter().map(|&c| moved(c)));
    }
}

impl TextCol {
    /// An empty column for values that repeat down it.
    fn words() -> TextCol {
        TextCol::Words(Words::default())
    }
    fn push(&mut self, value: Option<&str>) {
        match self {
            TextCol::Plain(p) => p.push(value),
            TextCol::Words(w) => {
                w.push(value);
                if w.codes.len() % WORDS_JUDGED_EVERY == 0 {
                    self.plain_if_varied();
                }
            }
        }
    }
    /// Turns a column of words too varied to pay into plain text.
    fn plain_if_varied(&mut self) {
        if let TextCol::Words(w) = self {
            if w.too_varied() {
                *self = TextCol::Plain(w.to_plain());
            }
        }
    }
    fn len(&self) -> usize {
        match self {
            TextCol::Plain(p) => p.len(),
            TextCol::Words(w) => w.codes.len(),
        }
    }
    /// Room for `rows` more cells and `bytes` more text.
    fn reserve(&mut self, rows: usize, bytes: usize) {
        match self {
            TextCol::Plain(p) => {
                p.buf.reserve(bytes);
                p.ends.reserve(rows);
                p.present.reserve(rows);
            }
            TextCol::Words(w) => w.codes.reserve(rows),
        }
    }
    /// The bytes of text held a cell at a time (none for words).
    fn text_bytes(&self) -> usize {
        match self {
            TextCol::Plain(p) => p.buf.len(),
            TextCol::Words(_) => 0,
        }
    }
    fn append(&mut self, more: TextCol) {
        match (&mut *self, more) {
            (TextCol::Plain(p), TextCol::Plain(more)) => p.append(more),
            (TextCol::Words(w), TextCol::Words(more)) => {
                w.append(&more);
                self.plain_if_varied();
            }
            (TextCol::Plain(p), TextCol::Words(more)) => {
                p.buf.reserve(more.text_len());
                (0..more.codes.len()).for_each(|i| p.push(more.get(i)));
            }
            (TextCol::Words(w), more) => {
                let mut plain = w.to_plain();
                if let TextCol::Plain(more) = more {
                    plain.append(more);
                }
                *self = TextCol::Plain(plain);
            }
        }
    }
    /// Keeps the first `rows` cells.
    fn truncate(&mut self, rows: usize) {
        match self {
            TextCol::Plain(p) => p.truncate(rows),
            TextCol::Words(w) => w.codes.truncate(rows),
        }
    }
    #[inline]
    fn get(&self, i: usize) -> Option<&str> {
        match self {
            TextCol::Plain(p) => p.get(i),
            TextCol::Words(w) => w.get(i),
        }
    }
    fn set_none(&mut self, i: usize) {
        match self {
            TextCol::Plain(p) => p.present[i] = false,
            TextCol::Words(w) => w.codes[i] = 0,
        }
    }
    /// About how many bytes the cells take, to share work out by.
    fn weight(&self) -> u64 {
        match self {
            TextCol::Plain(p) => (p.len() * 5 + p.buf.len()) as u64,
            TextCol::Words(w) => (w.codes.len() * 4 + w.values.buf.len()) as u64,
        }
    }

    /// Whether the cells present are in strictly increasing order.
    #[cfg(test)]
    fn strictly_increasing(&self) -> bool {
        self.increasing_order().is_some()
    }

    /// The order the cells present are strictly increasing in, if any: as text, else as
    /// numbers written without leading zeros (shorter first). Then no two are equal.
    /// Extracts are mostly written in key order, so the duplicate check is then one pass,
    /// with no hash table of millions of keys, and links search a parent's keys in order.
    fn increasing_order(&self) -> Option<KeyOrder> {
        let (mut as_text, mut shorter_first) = (true, true);
        let mut prev: Option<&str> = None;
        for i in 0..self.len() {
            let Some(k) = self.get(i) else { continue };
            if let Some(p) = prev {
                as_text &= KeyOrder::Text.cmp(p, k).is_lt();
                shorter_first &= KeyOrder::ShorterFirst.cmp(p, k).is_lt();
                if !as_text && !shorter_first {
                    return None;
                }
            }
            prev = Some(k);
        }
        Some(if as_text {
            KeyOrder::Text
        } else {
            KeyOrder::ShorterFirst
        })
    }
    /// The kept cells as a polars string column. A column with cells too long to be held
    /// in their views (names of workers and teams) is built from its distinct values, so
    /// each long value is held once, not once a cell.
    ///
    /// A table's own key column (`distinct`) is never shared: its keys are distinct.
    fn kept(&self, name: PlSmallStr, keep: &Keep, distinct: bool) -> StringChunked {
        if let TextCol::Words(w) = self {
            let values = (0..w.values.len()).map(|i| w.values.get(i).expect("present"));
            let places = keep
                .rows()
                .map(|i| w.codes[i].checked_sub(1).map(IdxSize::from));
            let places = IdxCa::from_iter_options(PlSmallStr::EMPTY, places);
            let col = shared_strings(name.clone(), values, places);
            return col.expect("every place is a value's");
        }
        let cells = || keep.rows().map(|i| self.get(i));
        let long = |s: &str| s.len() > INLINE_BYTES;
        if !distinct && cells().any(|c| c.is_some_and(long)) {
            if let Some(col) = self.kept_shared(name.clone(), cells()) {
                return col;
            }
        }
        StringChunked::from_iter_options(name, cells())
    }

    /// [`TextCol::kept`] from distinct values; none when the column's values are so varied
    /// (a free-text column) that sharing them would save little.
    fn kept_shared<'a>(
        &'a self,
        name: PlSmallStr,
        cells: impl ExactSizeIterator<Item = Option<&'a str>>,
    ) -> Option<StringChunked> {
        let most = (cells.len() / 4).max(1 << 10);
        let mut places: PlHashMap<&str, IdxSize> = PlHashMap::default();
        let mut distinct: Vec<&str> = Vec::new();
        let mut at = PrimitiveChunkedBuilder::<IdxType>::new(PlSmallStr::EMPTY, cells.len());
        // A value mostly repeats the cell before (a child's visits by one worker).
        let mut last: Option<(&str, IdxSize)> = None;
        for cell in cells {
            at.append_option(match (cell, last) {
                (None, _) => None,
                (Some(s), Some((l, p))) if l == s => Some(p),
                (Some(s), _) => {
                    let p = match places.get(s) {
                        Some(p) => *p,
                        None => {
                            let p = IdxSize::try_from(distinct.len()).ok()?;
                            places.insert(s, p);
                            distinct.push(s);
                            p
                        }
                    };
                    last = Some((s, p));
                    Some(p)
                }
            });
            if distinct.len() > most {
                return None;
            }
        }
        drop(places);
        shared_strings(name, distinct.into_iter(), at.finish()).ok()
    }
}

/// An order a key column's cells were seen to be strictly increasing in.
#[derive(Clone, Copy, Debug, PartialEq)]
enum KeyOrder {
    /// As text, byte by byte.
    Text,
    /// Shorter first, then as text: numbers written without leading zeros.
    ShorterFirst,
}

impl KeyOrder {
    fn cmp(self, a: &str, b: &str) -> std::cmp::Ordering {
        match self {
            KeyOrder::Text => a.cmp(b),
            KeyOrder::ShorterFirst => (a.len(), a).cmp(&(b.len(), b)),
        }
    }
}

/// A table after the first pass.
struct Parsed {
    spec: &'static TableSpec,
    file: String,
    stats: TableStats,
    /// One per schema column, in schema order.
    columns: Vec<Values>,
    /// Columns the schema does not know, kept as text.
    extra: Vec<(String, TextCol)>,
    /// The line each row starts on: four bytes a row while line numbers fit.
    lines: Ends,
    rejected: Vec<bool>,
    /// Loaded keys -> row, filled in the second pass for the tables after it to link to.
    index: KeyIndex,
    /// The order its keys (present, loaded or not) are strictly increasing in, if any.
    order: Option<KeyOrder>,
    /// Keys that appear only on rejected rows -> the first such line.
    rejected_keys: PlHashMap<Box<str>, u64>,
}

/// A table's loaded keys -> their row: a hash table of row numbers alone (five bytes a
/// slot, where a table of hashes and keys took thirty-three: a national children table
/// has millions), found by the key's hash and confirmed against the key column, so a
/// lookup is always exact whatever the hashes.
#[derive(Default)]
struct KeyIndex<H = polars::prelude::PlRandomState> {
    rows: hashbrown::HashTable<u32>,
    hasher: H,
}

impl<H: std::hash::BuildHasher + Default> KeyIndex<H> {
    /// Indexes the keys of the rows `keep` says; a key on two rows is found on the first.
    fn build(keys: &TextCol, keep: impl Fn(usize) -> bool) -> KeyIndex<H> {
        let hasher = H::default();
        let mut rows = hashbrown::HashTable::with_capacity(keys.len());
        let rehash = |r: &u32| hasher.hash_one(keys.get(*r as usize).unwrap_or_default());
        for row in (0..keys.len()).filter(|r| keep(*r)) {
            let Some(key) = keys.get(row) else { continue };
            let on_row = |r: &u32| keys.get(*r as usize) == Some(key);
            if let hashbrown::hash_table::Entry::Vacant(slot) =
                rows.entry(hasher.hash_one(key), on_row, rehash)
            {
                slot.insert(row as u32);
            }
        }
        KeyIndex { rows, hasher }
    }

    /// The row holding `key`, given the key column the index was built from.
    fn get(&self, keys: &TextCol, key: &str) -> Option<usize> {
        let on_row = |r: &u32| keys.get(*r as usize) == Some(key);
        let row = self.rows.find(self.hasher.hash_one(key), on_row)?;
        Some(*row as usize)
    }
}

struct Issues<'a> {
    table: &'a str,
    file: &'a str,
    out: &'a mut Vec<Issue>,
}

impl Issues<'_> {
    fn push(
        &mut self,
        line: Option<u64>,
        column: Option<&str>,
        rule: &str,
        severity: Severity,
        message: String,
    ) {
        self.out.push(Issue {
            table: self.table.to_string(),
            file: self.file.to_string(),
            line,
            column: column.map(str::to_string),
            rule: rule.to_string(),
            severity,
            message,
        });
    }
}

pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Extracts, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError::NoFolder(dir.display().to_string()));
    }
    load_files(Files::Dir(dir), dir, opts, Cut::Auto)
}

/// [`load`], always cutting files into chunks of about `chunk_bytes` to read them on every
/// core (where [`load`] reads the files of a folder no one file dominates whole, side by
/// side). Any size gives the same result (tested down to one byte); only the speed differs.
pub fn load_in_chunks(
    dir: &Path,
    opts: &LoadOptions,
    chunk_bytes: usize,
) -> Result<Extracts, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError::NoFolder(dir.display().to_string()));
    }
    load_files(Files::Dir(dir), dir, opts, Cut::Chunks(chunk_bytes.max(1)))
}

/// Loads extract files held in memory (an import's tables); `label` names their source in
/// the report.
pub fn load_memory(
    files: &BTreeMap<String, Vec<u8>>,
    label: &Path,
    opts: &LoadOptions,
) -> Extracts {
    load_files(Files::Memory(files), label, opts, Cut::Auto).expect("memory files need no folder")
}

/// How the files are shared out between the cores.
#[derive(Clone, Copy)]
enum Cut {
    /// Whole files side by side when no one file dominates ([`side_by_side`]), else
    /// chunks of [`CHUNK_BYTES`].
    Auto,
    /// Always chunks of about this many bytes.
    Chunks(usize),
}

fn load_files(
    files: Files,
    dir: &Path,
    opts: &LoadOptions,
    cut: Cut,
) -> Result<Extracts, LoadError> {
    let clock = std::time::Instant::now();
    let trace = |what: &str| trace_step(clock, what);
    let (mut parsed, mut issues) = read_all(files, dir, cut);
    trace("read");

    let (as_of, as_of_source) = match opts.as_of {
        Some(d) => (d, "given with --as-of".to_string()),
        None => match event_date_range(&parsed, opts.today) {
            Some((_, d)) => (d, "the latest event date in the extracts".to_string()),
            None => (
                opts.today,
                "today: the extracts hold no event dates".to_string(),
            ),
        },
    };

    // The second pass, a level of the schema at a time: a table's parents are finished
    // before it starts, and the tables of one level (contacts, referrals, visits, ... all
    // link only to children and workers) are checked side by side.
    let mut finished: Vec<Option<Parsed>> = TABLES.iter().map(|_| None).collect();
    for level in 0..=TABLES.len() {
        let batch: Vec<(usize, Parsed)> = (0..TABLES.len())
            .filter(|i| schema::link_depth(&TABLES[*i]) == level)
            .filter_map(|i| parsed[i].take().map(|t| (i, t)))
            .collect();
        let checked = par_map(
            batch,
            |(_, t)| t.lines.len() as u64,
            |(i, mut t)| {
                let (mut table_issues, started) = (Vec::new(), std::time::Instant::now());
                check_against_others(&mut t, &finished, as_of, &mut table_issues);
                trace_step(started, &format!("  + checked {}", t.spec.name));
                (i, t, table_issues)
            },
        );
        for (i, t, mut table_issues) in checked {
            finished[i] = Some(t);
            issues.append(&mut table_issues);
        }
    }
    let parsed = finished;
    trace("checked");

    let event_dates = event_date_range(&parsed, as_of);
    trace("event dates");
    // What building the frames frees: every parsed column, whichever the frames keep.
    let parsed_bytes: u64 = (parsed.iter().flatten())
        .flat_map(|t| &t.columns)
        .map(Values::weight)
        .sum();
    let built = build_frames(parsed, &opts.columns);
    trace("frames");
    crate::memory::release(usize::try_from(parsed_bytes).unwrap_or(usize::MAX));
    if tracing() {
        let bytes: usize = (built.iter().flatten())
            .filter_map(|(_, _, f)| f.as_ref().ok())
            .map(DataFrame::estimated_size)
            .sum();
        eprintln!(
            "          frames hold about {} MB, less their string cells' 16 bytes each; the parsed tables freed about {} MB",
            bytes >> 20,
            parsed_bytes >> 20
        );
    }
    let mut frames = BTreeMap::new();
    let mut stats = Vec::new();
    for (spec, table) in TABLES.iter().zip(built) {
        match table {
            Some((table_stats, file, frame)) => {
                match frame {
                    Ok(df) => {
                        frames.insert(spec.name, df);
                    }
                    Err(e) => issues.push(Issue {
                        table: spec.name.into(),
                        file,
                        line: None,
                        column: None,
                        rule: "internal".into(),
                        severity: Severity::Fatal,
                        message: format!("could not build the table: {e}"),
                    }),
                }
                stats.push(table_stats);
            }
            None => stats.push(TableStats {
                table: spec.name.into(),
                file: spec.file_name(),
                present: !matches!(files.presence(&spec.file_name()), Presence::Absent),
                encoding: String::new(),
                ..Default::default()
            }),
        }
    }
    issues.sort_by_key(|i| {
        (
            schema::position(&i.table).unwrap_or(usize::MAX),
            i.line.unwrap_or(0),
        )
    });

    Ok(Extracts {
        dir: dir.to_path_buf(),
        as_of,
        event_dates,
        frames,
        report: Report {
            as_of: as_of.to_string(),
            as_of_source,
            first_event_date: event_dates.map(|(d, _)| d.to_string()),
            last_event_date: event_dates.map(|(_, d)| d.to_string()),
            calendar: None,
            data: dir.display().to_string(),
            tables: stats,
            issues,
        },
    })
}

/// Whether `CSC_AUDIT_TRACE` asks for the load's steps to be printed.
pub(crate) fn tracing() -> bool {
    std::env::var_os("CSC_AUDIT_TRACE").is_some()
}

/// With `CSC_AUDIT_TRACE` set, prints when a step ended, in seconds from `clock`, and the
/// memory then. Lines marked `+` time a part of a step from that part's own start.
pub fn trace_step(clock: std::time::Instant, what: &str) {
    if tracing() {
        eprintln!(
            "{:>8.3}s {what} ({})",
            clock.elapsed().as_secs_f64(),
            memory()
        );
    }
}

/// Resident and peak memory of this process, for `CSC_AUDIT_TRACE` (Linux only).
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map_or("?".to_string(), |v| v.trim().to_string())
    };
    format!("rss {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}

/// Where the extract files come from: a folder, or files made in memory by an import.
#[derive(Clone, Copy)]
pub enum Files<'a> {
    Dir(&'a Path),
    Memory(&'a BTreeMap<String, Vec<u8>>),
}

impl<'f> Files<'f> {
    fn size(&self, name: &str) -> u64 {
        match self {
            Files::Dir(d) => std::fs::metadata(d.join(name)).map_or(0, |m| m.len()),
            Files::Memory(m) => m.get(name).map_or(0, |b| b.len() as u64),
        }
    }
    fn presence(&self, name: &str) -> Presence {
        match self {
            Files::Dir(d) => presence_of(&d.join(name)),
            Files::Memory(m) if m.contains_key(name) => Presence::File,
            Files::Memory(_) => Presence::Absent,
        }
    }
    fn read(&self, name: &str) -> std::io::Result<std::borrow::Cow<'f, [u8]>> {
        match self {
            Files::Dir(d) => {
                crate::fsutil::read_input(&d.join(name), crate::fsutil::MAX_INPUT_BYTES)
                    .map(std::borrow::Cow::Owned)
            }
            Files::Memory(m) => Ok(std::borrow::Cow::Borrowed(
                m.get(name).map_or(&[][..], Vec::as_slice),
            )),
        }
    }
}

/// Whether an extract file is there: absent (an optional table not supplied), a regular
/// file, or something else under its name (a folder, a dangling link, a FIFO), which is
/// not "not supplied": it is a file the user meant to give that cannot be read.
enum Presence {
    Absent,
    File,
    /// What is there instead, in words: "a folder", "a symbolic link to x, which ...".
    Unusable(String),
}

fn presence_of(path: &Path) -> Presence {
    let link = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Presence::Absent,
        Err(e) => return Presence::Unusable(format!("not readable ({e})")),
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Presence::File,
        Ok(m) if m.is_dir() => Presence::Unusable("a folder".into()),
        Ok(m) => Presence::Unusable(special_kind(&m.file_type()).into()),
        Err(e) if link.file_type().is_symlink() => {
            let target = std::fs::read_link(path)
                .map_or_else(|_| "?".to_string(), |t| t.display().to_string());
            Presence::Unusable(format!(
                "a symbolic link to {target}, which cannot be opened ({e})"
            ))
        }
        Err(e) => Presence::Unusable(format!("not readable ({e})")),
    }
}

#[cfg(unix)]
fn special_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "not a regular file"
}

/// The first pass over every table (tables are independent until the second pass): each
/// file is opened and its header mapped, then its rows are read in chunks on every core
/// and the chunks put back together in file order. Tables are read a batch at a time, so
/// the text of only a batch of files is held at once.
fn read_all(files: Files, label: &Path, cut: Cut) -> (Vec<Option<Parsed>>, Vec<Issue>) {
    let size = |t: usize| files.size(&TABLES[t].file_name());
    // The largest file first: a file's text is held only while it is read, so the largest
    // text is held beside the fewest parsed tables. The report is the same in any order
    // (its issues are put in table order at the end).
    let mut order: Vec<usize> = (0..TABLES.len()).collect();
    order.sort_by_key(|t| std::cmp::Reverse(size(*t)));
    let sizes: Vec<u64> = order.iter().map(|t| size(*t)).collect();
    let chunk_bytes = match cut {
        Cut::Auto if side_by_side(&sizes, crate::par::cores()) => {
            return read_whole(files, label, order);
        }
        Cut::Auto => CHUNK_BYTES,
        Cut::Chunks(n) => n,
    };
    let mut parsed: Vec<Option<Parsed>> = TABLES.iter().map(|_| None).collect();
    let mut issues = Vec::new();
    let mut batch: Vec<usize> = Vec::new();
    let mut bytes = 0;
    for (n, t) in order.iter().enumerate() {
        bytes += size(*t);
        batch.push(*t);
        let next = order.get(n + 1).map_or(u64::MAX, |t| size(*t));
        if bytes.saturating_add(next) > BATCH_BYTES {
            let tables = std::mem::take(&mut batch);
            read_batch(files, label, tables, chunk_bytes, &mut parsed, &mut issues);
            bytes = 0;
        }
    }
    crate::fsutil::drop_spare();
    (parsed, issues)
}

/// Whether the files (`sizes`, largest first) keep every core busy read whole, one file a
/// core, largest first: when the largest is no more than the others share out between the
/// other cores. Then no file is cut into chunks, and no chunks are joined: a table's
/// columns are filled once, in place (England's joins copied about 50 bytes a row into
/// fresh memory, 2.1 s of its 10.5 s read). A folder one file dominates is cut into chunks
/// read on every core.
fn side_by_side(sizes: &[u64], cores: usize) -> bool {
    let Some((&largest, rest)) = sizes.split_first() else {
        return false;
    };
    let others = cores.saturating_sub(1) as u64;
    others == 0 || largest.saturating_mul(others) <= rest.iter().sum::<u64>()
}

/// Reads every table whole, the tables side by side, the largest first: each core opens a
/// file, reads its rows in one pass (its line ends counted first, so the columns are made
/// room for once) and lets its text go, so at most a file a core is held at once.
fn read_whole(files: Files, label: &Path, order: Vec<usize>) -> (Vec<Option<Parsed>>, Vec<Issue>) {
    let size = |t: &usize| files.size(&TABLES[*t].file_name());
    let read = par_map(order, size, |t| {
        let (clock, spec) = (std::time::Instant::now(), &TABLES[t]);
        let mut issues = Vec::new();
        let table = open_table(files, label, spec, &mut issues).map(|o| {
            let rows = rows::line_ends(&o.text.as_bytes()[o.body.pos()..]);
            let whole = read_rows(&o, o.body, o.text.len(), rows as usize);
            join_chunks(o, vec![whole], &mut issues)
        });
        trace_step(clock, &format!("  + read whole {}", spec.name));
        (t, table, issues)
    });
    let mut parsed: Vec<Option<Parsed>> = TABLES.iter().map(|_| None).collect();
    let mut issues = Vec::new();
    for (t, table, mut table_issues) in read {
        parsed[t] = table;
        issues.append(&mut table_issues);
    }
    crate::fsutil::drop_spare();
    (parsed, issues)
}

/// Files are read in batches of about this many bytes (a larger file is a batch alone).
const BATCH_BYTES: u64 = 64 << 20;

/// Reads a batch of tables (places in [`TABLES`]), putting each in its place in `parsed`.
fn read_batch(
    files: Files,
    label: &Path,
    batch: Vec<usize>,
    chunk_bytes: usize,
    parsed: &mut Vec<Option<Parsed>>,
    issues: &mut Vec<Issue>,
) {
    let size = |spec: &&'static TableSpec| files.size(&spec.file_name());
    let clock = std::time::Instant::now();
    let names: Vec<&str> = batch.iter().map(|t| TABLES[*t].name).collect();
    let names = names.join(",");
    let places = batch.clone();
    let specs: Vec<&'static TableSpec> = batch.into_iter().map(|t| &TABLES[t]).collect();
    let opened = par_map(specs, size, |spec| {
        let mut issues = Vec::new();
        (open_table(files, label, spec, &mut issues), issues)
    });
    let jobs = chunk_jobs(&opened, chunk_bytes);
    trace_step(clock, &format!("  + opened {names}"));
    let mut chunks: Vec<Vec<Chunk>> = opened.iter().map(|_| Vec::new()).collect();
    let read = par_map(
        jobs,
        |(_, from, to, _)| (to - from.pos()) as u64,
        |(i, from, to, lines)| {
            let o = opened[i].0.as_ref().expect("jobs only for opened tables");
            (i, read_rows(o, from, to, lines))
        },
    );
    for (i, chunk) in read {
        chunks[i].push(chunk);
    }
    trace_step(clock, &format!("  + parsed {names}"));
    // Tables are joined side by side; each file's text is freed once its table is joined.
    let tables: Vec<_> = opened.into_iter().zip(chunks).collect();
    let joined = par_map(
        tables,
        |((o, _), _)| o.as_ref().map_or(0, |o| o.text.len() as u64),
        |((o, mut table_issues), chunks)| {
            let table = o.map(|o| join_chunks(o, chunks, &mut table_issues));
            (table, table_issues)
        },
    );
    for (place, (table, mut table_issues)) in places.into_iter().zip(joined) {
        issues.append(&mut table_issues);
        parsed[place] = table;
    }
    trace_step(clock, &format!("  + joined {names}"));
}

/// Rows are read in chunks of about this many bytes, so a large file is read on every core.
pub const CHUNK_BYTES: usize = 4 << 20;

/// Every table's chunks: (table, where the chunk starts, where it ends, its line ends). A chunk is cut
/// after a line end; if that falls inside a quoted value, [`join_chunks`] finds out and
/// reads the chunk again from where its predecessor really stopped.
fn chunk_jobs(
    opened: &[(Option<Opened>, Vec<Issue>)],
    chunk_bytes: usize,
) -> Vec<(usize, Mark, usize, usize)> {
    let cuts: Vec<(usize, Vec<usize>)> = opened
        .iter()
        .enumerate()
        .filter_map(|(i, (o, _))| o.as_ref().map(|o| (i, chunk_cuts(o, chunk_bytes))))
        .collect();
    // Line ends are counted chunk by chunk (on every core) to number each chunk's first line.
    let spans: Vec<(usize, usize, usize)> = cuts
        .iter()
        .flat_map(|(i, c)| c.windows(2).map(move |w| (*i, w[0], w[1])))
        .collect();
    let ends = par_map(
        spans.clone(),
        |(_, a, b)| (b - a) as u64,
        |(i, a, b)| {
            let text = opened[i].0.as_ref().expect("opened").text.as_bytes();
            rows::line_ends(&text[a..b])
        },
    );
    let mut jobs = Vec::with_capacity(spans.len());
    let mut line = 0;
    for ((i, a, b), n) in spans.into_iter().zip(ends) {
        let o = opened[i].0.as_ref().expect("opened");
        if a == o.body.pos() {
            line = o.body.line();
        }
        jobs.push((i, Mark::at(a, line), b, n as usize));
        line += n;
    }
    jobs
}

/// Where a table's chunks start, and its end: after the first line end at or past every
/// `chunk_bytes`.
fn chunk_cuts(o: &Opened, chunk_bytes: usize) -> Vec<usize> {
    let text = o.text.as_bytes();
    let mut cuts = vec![o.body.pos()];
    let mut at = o.body.pos() + chunk_bytes;
    while at < text.len() {
        match text[at..].iter().position(|b| *b == b'\n') {
            Some(i) if at + i + 1 < text.len() => {
                cuts.push(at + i + 1);
                at += i + 1 + chunk_bytes;
            }
            _ => break,
        }
    }
    cuts.push(text.len().max(o.body.pos()));
    cuts
}

/// A table's file, read and decoded, its header mapped: its rows are read next.
struct Opened<'f> {
    spec: &'static TableSpec,
    file: String,
    encoding: &'static str,
    text: std::borrow::Cow<'f, str>,
    /// The header's width, and the line it is on.
    width: usize,
    header_line: u64,
    layout: Layout,
    /// Where the first row starts.
    body: Mark,
}

/// The rows of one chunk of a file.
struct Chunk {
    from: Mark,
    to: usize,
    rows: TableReader,
    issues: Vec<Issue>,
    /// Where the reader stopped: the first record that starts at or after `to`.
    stop: Mark,
}

/// Puts a table's chunks back together in file order. A chunk whose start is not where
/// the chunk before it stopped (its cut fell inside a quoted value that runs over lines)
/// is read again from there, so the rows are exactly those one reader would read. The
/// file's text is freed before the columns are put together (a national table's text is a
/// gigabyte).
fn join_chunks(o: Opened, chunks: Vec<Chunk>, out: &mut Vec<Issue>) -> Parsed {
    let mut readers = Vec::with_capacity(chunks.len());
    let mut stop: Option<Mark> = None;
    for chunk in chunks {
        let chunk = match stop {
            Some(at) if chunk.from != at => read_rows(&o, at, chunk.to, chunk.rows.lines.len()),
            _ => chunk,
        };
        out.extend(chunk.issues);
        stop = Some(chunk.stop);
        readers.push(chunk.rows);
    }
    let (spec, file) = (o.spec, o.file);
    // The next large file is read into this one's memory, already faulted in.
    if let std::borrow::Cow::Owned(text) = o.text {
        crate::fsutil::recycle(text.into_bytes());
    }
    let t = TableReader::concat(readers);
    let mut issues = Issues {
        table: spec.name,
        file: &file,
        out,
    };
    t.finish(&mut issues)
}

/// The first and last event dates of the rows not rejected, ignoring dates after `up_to`.
fn event_date_range(parsed: &[Option<Parsed>], up_to: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let tables: Vec<&Parsed> = parsed.iter().flatten().collect();
    let ranges = par_map(
        tables,
        |t| t.lines.len() as u64,
        |t| table_event_range(t, up_to),
    );
    ranges
        .into_iter()
        .flatten()
        .reduce(|(lo, hi), (a, b)| (lo.min(a), hi.max(b)))
}

fn table_event_range(t: &Parsed, up_to: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let mut range: Option<(NaiveDate, NaiveDate)> = None;
    let mut see = |d: NaiveDate| {
        if d <= up_to {
            range = Some(range.map_or((d, d), |(lo, hi)| (lo.min(d), hi.max(d))));
        }
    };
    for (spec, values) in t.spec.columns.iter().zip(&t.columns) {
        if spec.date_role != DateRole::Event {
            continue;
        }
        let kept = t.rejected.iter().map(|r| !r);
        match values {
            Values::Date(v) => v.iter().zip(kept).for_each(|(d, k)| match d {
                Some(d) if k => see(*d),
                _ => {}
            }),
            Values::Stamp(v) => {
                v.0.iter()
                    .zip(kept)
                    .for_each(|(s, k)| match Stamps::unpack(*s) {
                        Some(s) if k => see(s.date()),
                        _ => {}
                    })
            }
            _ => {}
        }
    }
    range
}

const UTF16: &str = "the file is UTF-16 (Excel's \"Unicode text\"): save it as \"CSV UTF-8\" or \"CSV (Comma delimited)\"";

/// Reads bytes as UTF-8 (a BOM is dropped) or, failing that, Windows-1252 as Excel saves it.
pub(crate) fn decode(bytes: &[u8]) -> Result<(std::borrow::Cow<'_, str>, &'static str), String> {
    decode_cow(std::borrow::Cow::Borrowed(bytes))
}

/// [`decode`] of bytes that may be owned: a UTF-8 file read from disk becomes its text
/// without a copy.
fn decode_cow(
    bytes: std::borrow::Cow<'_, [u8]>,
) -> Result<(std::borrow::Cow<'_, str>, &'static str), String> {
    use std::borrow::Cow;
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(UTF16.into());
    }
    let bom = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let cp1252 = |b: &[u8]| encoding_rs::WINDOWS_1252.decode(b).0.into_owned();
    Ok(match bytes {
        Cow::Borrowed(b) => match std::str::from_utf8(&b[bom..]) {
            Ok(s) => (Cow::Borrowed(s), "utf-8"),
            Err(_) => (Cow::Owned(cp1252(&b[bom..])), "windows-1252"),
        },
        Cow::Owned(mut v) => {
            v.drain(..bom);
            match String::from_utf8(v) {
                Ok(s) => (Cow::Owned(s), "utf-8"),
                Err(e) => (Cow::Owned(cp1252(e.as_bytes())), "windows-1252"),
            }
        }
    })
}

/// The widest header read: Excel's widest sheet (column XFD). A wider file is not an
/// extract saved from a spreadsheet, and every extra column is kept in memory.
pub const MAX_COLUMNS: usize = 16_384;

/// At most this many unknown columns are listed one issue each; the rest in one issue.
const UNKNOWN_COLUMNS_LISTED: usize = 20;

/// Opens a table's file: found, read, decoded, its header read and mapped. `None` (with the
/// reason in `out`) when there are no rows to read.
fn open_table<'f>(
    files: Files<'f>,
    dir: &Path,
    spec: &'static TableSpec,
    out: &mut Vec<Issue>,
) -> Option<Opened<'f>> {
    let file = spec.file_name();
    let path = dir.join(&file);
    let mut issues = Issues {
        table: spec.name,
        file: &file,
        out,
    };
    match files.presence(&file) {
        Presence::File => {}
        Presence::Absent => {
            report_missing(spec, &file, dir, &mut issues);
            return None;
        }
        Presence::Unusable(what) => {
            issues.push(
                None,
                None,
                "unreadable_file",
                Severity::Fatal,
                format!(
                    "{} is {what}, not a file that can be read: put the extract file there, or remove it",
                    path.display()
                ),
            );
            return None;
        }
    }
    // Traced apart from the decode and the header: a file read from disk, not the page
    // cache, shows in its read line.
    let clock = std::time::Instant::now();
    let decoded = match files.read(&file) {
        Ok(bytes) => {
            trace_step(clock, &format!("    + read {file}"));
            let decoded = decode_cow(bytes);
            trace_step(clock, &format!("    + read and decoded {file}"));
            decoded
        }
        Err(e) => {
            issues.push(
                None,
                None,
                "unreadable_file",
                Severity::Fatal,
                format!("cannot read {}: {e}", path.display()),
            );
            return None;
        }
    };
    let (text, encoding) = match decoded {
        Ok(x) => x,
        Err(why) => {
            issues.push(None, None, "encoding", Severity::Fatal, why);
            return None;
        }
    };
    if encoding != "utf-8" {
        issues.push(None, None, "encoding", Severity::Info, "not UTF-8: read as Windows-1252 (Excel's \"CSV (Comma delimited)\"); check accented names read correctly, or save as \"CSV UTF-8\"".into());
    }
    let mut records = Records::new(&text);
    let header = read_header(&mut records, &file, &mut issues)?;
    let layout = map_header(spec, &header, &mut issues)?;
    let (width, header_line) = (header.len(), header.first_line);
    let body = records.mark();
    Some(Opened {
        spec,
        file,
        encoding,
        text,
        width,
        header_line,
        layout,
        body,
    })
}

/// Reads the rows that start from `from` up to `to` (a record that starts before `to` is
/// read to its end, wherever that is).
fn read_rows(o: &Opened, from: Mark, to: usize, guess: usize) -> Chunk {
    let mut out = Vec::new();
    let mut issues = Issues {
        table: o.spec.name,
        file: &o.file,
        out: &mut out,
    };
    let text = &o.text[..];
    let bytes = to.saturating_sub(from.pos());
    let mut t = TableReader::new(o, guess, bytes);
    let mut records = Records::at(text, from);
    // Fields past the header's width are counted, not kept.
    records.max_fields = t.width.saturating_add(1);

    // One record, reused: no allocation per row.
    let mut rec = Record::default();
    while records.pos() < to {
        let start = records.clone();
        if !records.read(&mut rec) {
            break;
        }
        if rec.is_blank() {
            // Excel's rows of empty fields are counted; empty lines are not rows at all.
            if !rec.empty_line {
                t.stats.blank_lines += 1;
            }
            continue;
        }
        if !rec.spans_lines() {
            t.push_row(&rec, &mut issues);
            continue;
        }
        if let Err(why) = t.push_row_over_lines(&rec, &start, &mut issues) {
            // The quote ran away: this line is a row of its own, rejected, and reading
            // starts again on the next line, so every line it swallowed is still read.
            records = start;
            records.read_line_alone(&mut rec);
            t.push_row(&rec, &mut issues);
            t.reject_last();
            issues.push(
                Some(rec.first_line),
                None,
                "unclosed_quote",
                Severity::Error,
                format!("{why}: this line is rejected and each line after it is read as a row of its own; check the quotes on this line"),
            );
        }
    }
    Chunk {
        from,
        to,
        rows: t,
        issues: out,
        stop: records.mark(),
    }
}

fn report_missing(spec: &TableSpec, file: &str, dir: &Path, issues: &mut Issues) {
    if spec.required {
        issues.push(
            None,
            None,
            "missing_file",
            Severity::Fatal,
            format!("{file} is required and was not found in {}", dir.display()),
        );
    } else {
        issues.push(
            None,
            None,
            "missing_file",
            Severity::Info,
            format!(
                "{file} not supplied: measures that need {} are not available",
                spec.name
            ),
        );
    }
}

/// The header: the first line that is not blank. It must be one line (a quote opened in it
/// and closed lines below would swallow rows into column names) and at most
/// [`MAX_COLUMNS`] wide.
fn read_header<'t>(
    records: &mut Records<'t>,
    file: &str,
    issues: &mut Issues,
) -> Option<Record<'t>> {
    let mut header = Record::default();
    // Enough kept to know the header is too wide, without keeping it all.
    records.max_fields = MAX_COLUMNS + 1;
    loop {
        if !records.read(&mut header) {
            issues.push(
                None,
                None,
                "missing_header",
                Severity::Fatal,
                format!("{file} is empty: it needs a header row naming its columns"),
            );
            return None;
        }
        if !header.is_blank() {
            break;
        }
    }
    let line = header.first_line;
    if header.spans_lines() || header.unclosed {
        let to = if header.unclosed {
            "is never closed".to_string()
        } else {
            format!("runs on to line {}", header.last_line)
        };
        issues.push(
            Some(line),
            None,
            "unreadable_file",
            Severity::Fatal,
            format!("a quote opened in the header row {to}: the header must be one line of column names; remove the quote"),
        );
        return None;
    }
    if header.len() > MAX_COLUMNS {
        issues.push(
            Some(line),
            None,
            "too_wide",
            Severity::Fatal,
            format!(
                "the header has {} columns; at most {MAX_COLUMNS} (Excel's widest sheet) are read: is this an extract, and is it comma-separated?",
                header.len()
            ),
        );
        return None;
    }
    Some(header)
}

/// Which header cell feeds each schema column, and the columns the schema does not know.
#[derive(Clone)]
struct Layout {
    /// Per schema column, its position in the header.
    source: Vec<Option<usize>>,
    /// Unknown columns: position and the (unique) name they are kept under.
    extra: Vec<(usize, String)>,
}

/// Maps each header cell to a schema column, or keeps it as an extra column. Linear in the
/// header's width. `None` when the header is unusable (a schema column named twice or a
/// required one missing), with the reason in the report.
fn map_header(spec: &TableSpec, header: &Record, issues: &mut Issues) -> Option<Layout> {
    let line = Some(header.first_line);
    let names: Vec<String> = header.iter().map(schema::normalise_header).collect();
    let mut source: Vec<Option<usize>> = vec![None; spec.columns.len()];
    let mut unknown = Vec::new();
    let mut fatal = false;
    for (pos, name) in names.iter().enumerate() {
        match spec.column_index(name) {
            Some(c) => match source[c] {
                Some(first) => {
                    issues.push(line, Some(name), "duplicate_column", Severity::Fatal, format!("column '{name}' appears twice in the header (positions {} and {}); remove one", first + 1, pos + 1));
                    fatal = true;
                }
                None => source[c] = Some(pos),
            },
            None => unknown.push(pos),
        }
    }
    for (c, col) in spec.columns.iter().enumerate() {
        if col.required && source[c].is_none() {
            // One column holding tabs or semicolons: the file is not comma-separated.
            let hint = match header.get(0) {
                Some(h) if header.len() == 1 && (h.contains('\t') || h.contains(';')) => {
                    "; the file looks tab- or semicolon-separated: save it as CSV (comma delimited)"
                }
                _ => "",
            };
            issues.push(
                line,
                Some(col.name),
                "missing_column",
                Severity::Fatal,
                format!(
                    "required column '{}' is not in the header (found: {}){hint}",
                    col.name,
                    listed(&names, 30)
                ),
            );
            fatal = true;
        }
    }
    if fatal {
        return None;
    }
    Some(Layout {
        extra: extra_names(spec, &names, &unknown),
        source,
    })
}

/// Names for the unknown columns: their own, the first time it appears; otherwise (blank,
/// repeated, or `_line`) one made from the position that is unique against every name in
/// the header, every schema column and every name made before it. Unknown columns are
/// never an error, so two of them must never end up with one name.
fn extra_names(spec: &TableSpec, names: &[String], unknown: &[usize]) -> Vec<(usize, String)> {
    let mut taken: HashSet<&str> = names.iter().map(String::as_str).collect();
    taken.extend(spec.columns.iter().map(|c| c.name));
    taken.insert(LINE_COLUMN);
    let mut kept: HashSet<&str> = HashSet::with_capacity(unknown.len());
    let mut made: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(unknown.len());
    for &pos in unknown {
        let name = names[pos].as_str();
        if !name.is_empty() && name != LINE_COLUMN && kept.insert(name) {
            out.push((pos, name.to_string()));
            continue;
        }
        let base = format!("{name}_column_{}", pos + 1);
        let mut candidate = base.clone();
        let mut n = 2;
        while taken.contains(candidate.as_str()) || made.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        made.insert(candidate.clone());
        out.push((pos, candidate));
    }
    out
}

/// The first `n` names, and how many more.
fn listed(names: &[String], n: usize) -> String {
    let mut s = names[..names.len().min(n)].join(", ");
    if names.len() > n {
        let _ = write!(s, " and {} more", names.len() - n);
    }
    s
}

/// A table being read: one row pushed at a time into its columns.
struct TableReader {
    spec: &'static TableSpec,
    file: String,
    stats: TableStats,
    width: usize,
    source: Vec<Option<usize>>,
    extra_at: Vec<usize>,
    columns: Vec<Values>,
    extra: Vec<(String, TextCol)>,
    /// The line each row starts on: four bytes a row while line numbers fit.
    lines: Ends,
    rejected: Vec<bool>,
    /// IDs written as Excel numbers, per column: the first line and how many.
    ids_fixed: BTreeMap<&'static str, (u64, u64)>,
    header_line: u64,
    checks: RowChecks,
}

impl TableReader {
    /// An empty reader of an opened table, with room for about `rows` rows of `bytes`.
    fn new(o: &Opened, rows: usize, bytes: usize) -> TableReader {
        let (spec, layout) = (o.spec, o.layout.clone());
        let columns: Vec<Values> = spec.columns.iter().map(Values::for_column).collect();
        let stats = TableStats {
            table: spec.name.into(),
            file: o.file.clone(),
            present: true,
            encoding: o.encoding.into(),
            unknown_columns: layout.extra.iter().map(|(_, n)| n.clone()).collect(),
            ..Default::default()
        };
        let mut t = TableReader {
            spec,
            file: o.file.clone(),
            stats,
            width: o.width,
            source: layout.source,
            extra_at: layout.extra.iter().map(|(p, _)| *p).collect(),
            extra: layout
                .extra
                .into_iter()
                .map(|(_, n)| (n, TextCol::default()))
                .collect(),
            columns,
            lines: Ends::default(),
            rejected: Vec::new(),
            ids_fixed: BTreeMap::new(),
            header_line: o.header_line,
            checks: RowChecks::of(spec),
        };
        t.reserve(rows, bytes);
        t
    }

    /// Room for `rows` more rows; text columns share about `bytes` of text.
    fn reserve(&mut self, rows: usize, bytes: usize) {
        let width = self.width.max(1);
        // A row of `width` fields takes at least `width` bytes (its commas and line end),
        // so a file of blank lines or of quoted line ends reserves no more than its rows.
        let rows = rows.min(bytes / width + 1);
        for v in self.columns.iter_mut() {
            v.reserve(rows, bytes / width);
        }
        self.lines.reserve(rows);
        self.rejected.reserve(rows);
    }

    /// The readers of a file's chunks, in file order, as one; its columns are put together
    /// side by side.
    fn concat(chunks: Vec<TableReader>) -> TableReader {
        let mut chunks = chunks.into_iter();
        let Some(mut t) = chunks.next() else {
            unreachable!("a table has a chunk")
        };
        let rest: Vec<TableReader> = chunks.collect();
        let rows: usize = rest.iter().map(|c| c.lines.len()).sum();
        t.lines.reserve(rows);
        t.rejected.reserve(rows);
        let mut columns: Vec<Vec<Values>> = std::mem::take(&mut t.columns)
            .into_iter()
            .map(|v| vec![v])
            .collect();
        let (names, extra): (Vec<String>, Vec<TextCol>) =
            std::mem::take(&mut t.extra).into_iter().unzip();
        let mut extra: Vec<Vec<Values>> =
            extra.into_iter().map(|v| vec![Values::Text(v)]).collect();
        for next in rest {
            t.stats.rows_read += next.stats.rows_read;
            t.stats.blank_lines += next.stats.blank_lines;
            t.lines.append(&next.lines, 0);
            t.rejected.extend(next.rejected);
            for (pieces, more) in columns.iter_mut().zip(next.columns) {
                pieces.push(more);
            }
            for (pieces, (_, more)) in extra.iter_mut().zip(next.extra) {
                pieces.push(Values::Text(more));
            }
            for (col, (first, n)) in next.ids_fixed {
                t.ids_fixed.entry(col).or_insert((first, 0)).1 += n;
            }
        }
        let n = columns.len();
        columns.append(&mut extra);
        let weight = |pieces: &Vec<Values>| pieces.iter().map(Values::weight).sum();
        let mut joined = par_map(columns, weight, Values::concat);
        let extra = joined.split_off(n);
        t.columns = joined;
        t.extra = names
            .into_iter()
            .zip(extra)
            .map(|(name, v)| match v {
                Values::Text(v) => (name, v),
                _ => unreachable!("extra columns are text"),
            })
            .collect();
        t
    }

    /// Reads one record as a row: parsed, checked on its own, and rejected or kept.
    /// Returns the first column whose value could not be read, if any.
    fn push_row(&mut self, rec: &Record, issues: &mut Issues) -> Option<&'static str> {
        let line = rec.first_line;
        self.stats.rows_read += 1;
        self.lines.push(line as usize);
        if rec.len() != self.width {
            issues.push(Some(line), None, "field_count", Severity::Error, format!("the row has {} fields but the header has {}: a stray comma or an unquoted value?", rec.len(), self.width));
            for v in self.columns.iter_mut() {
                v.push_none();
            }
            for (_, v) in self.extra.iter_mut() {
                v.push(None);
            }
            self.rejected.push(true);
            return None;
        }
        let spec = self.spec;
        let row = self.lines.len() - 1;
        let mut bad = false;
        let mut unreadable = None;
        for (c, col) in spec.columns.iter().enumerate() {
            let (raw, plain) = self.source[c]
                .and_then(|p| rec.get_plain(p))
                .unwrap_or(("", true));
            match parse_cell(col, raw, plain, &mut self.columns[c]) {
                Ok(true) => self.ids_fixed.entry(col.name).or_insert((line, 0)).1 += 1,
                Ok(false) => {}
                Err(e) => {
                    self.columns[c].push_none();
                    issues.push(
                        Some(line),
                        Some(col.name),
                        e.rule,
                        Severity::Error,
                        e.message,
                    );
                    bad = true;
                    unreadable.get_or_insert(col.name);
                    continue;
                }
            }
            if col.required && self.columns[c].is_none(row) {
                issues.push(
                    Some(line),
                    Some(col.name),
                    "missing_required",
                    Severity::Error,
                    format!("'{}' is required and is empty", col.name),
                );
                bad = true;
            }
        }
        for (pos, (_, v)) in self.extra_at.iter().zip(self.extra.iter_mut()) {
            let s = values::tidy(rec.get(*pos).unwrap_or(""));
            v.push((!s.is_empty()).then_some(&*s));
        }
        bad |= check_row(&self.checks, spec, &self.columns, row, line, issues);
        self.rejected.push(bad);
        unreadable
    }

    /// A record whose quoted value runs over lines is one row only if it reads as one: its
    /// quote is closed, it has the header's width, no line inside it reads as a whole row
    /// of its own, and every value can be read. Then it loads (or is rejected for its own
    /// faults) and the report names its first and last line. Otherwise nothing of it is
    /// kept and the reason is returned.
    fn push_row_over_lines(
        &mut self,
        rec: &Record,
        start: &Records,
        issues: &mut Issues,
    ) -> Result<(), String> {
        let (first, last) = (rec.first_line, rec.last_line);
        if rec.unclosed {
            return Err(
                "a quote opened on this line is never closed, so every line after it would be read as part of one value"
                    .into(),
            );
        }
        let runs = format!("a quoted value opened on this line runs on to line {last}");
        if rec.len() != self.width {
            return Err(format!(
                "{runs}, and the row then has {} fields where the header has {}",
                rec.len(),
                self.width
            ));
        }
        if let Some(l) = start.line_reading_as_row(rec, self.width) {
            return Err(format!(
                "{runs}, and line {l} inside it has the header's {} fields, as a row of its own",
                self.width
            ));
        }
        let (rows, kept_issues, ids_fixed) =
            (self.lines.len(), issues.out.len(), self.ids_fixed.clone());
        if let Some(col) = self.push_row(rec, issues) {
            self.truncate(rows);
            issues.out.truncate(kept_issues);
            self.ids_fixed = ids_fixed;
            return Err(format!("{runs}, and '{col}' then cannot be read"));
        }
        let column = rec.broken_field.and_then(|f| self.column_at(f));
        let held = column.map_or(String::new(), |c| format!(" of '{c}'"));
        issues.push(
            Some(first),
            column,
            "multiline_row",
            Severity::Info,
            format!("the row runs over lines {first} to {last}: a line break inside the quoted value{held}, read as one row"),
        );
        Ok(())
    }

    /// The name a header position is loaded under.
    fn column_at(&self, pos: usize) -> Option<&str> {
        if let Some(c) = self.source.iter().position(|s| *s == Some(pos)) {
            return Some(self.spec.columns[c].name);
        }
        let e = self.extra_at.iter().position(|p| *p == pos)?;
        Some(self.extra[e].0.as_str())
    }

    fn reject_last(&mut self) {
        if let Some(r) = self.rejected.last_mut() {
            *r = true;
        }
    }

    /// Forgets every row from `rows` on.
    fn truncate(&mut self, rows: usize) {
        self.stats.rows_read = rows as u64;
        self.lines.truncate(rows);
        self.rejected.truncate(rows);
        for v in self.columns.iter_mut() {
            v.truncate(rows);
        }
        for (_, v) in self.extra.iter_mut() {
            v.truncate(rows);
        }
    }

    /// Duplicate keys: the first row holds the key; later ones are rejected. Returns the
    /// order the keys are in, if they are strictly increasing (then none is a duplicate).
    fn reject_duplicate_keys(&mut self, issues: &mut Issues) -> Option<KeyOrder> {
        let Values::Text(keys) = &self.columns[0] else {
            return None;
        };
        if let Some(order) = keys.increasing_order() {
            return Some(order);
        }
        let mut first_line: PlHashMap<&str, u64> = PlHashMap::default();
        first_line.reserve(keys.len());
        for (row, line) in self.lines.iter().enumerate() {
            let Some(key) = keys.get(row) else { continue };
            match first_line.get(key) {
                Some(first) => {
                    issues.push(
                        Some(line),
                        Some(self.spec.key),
                        "duplicate_key",
                        Severity::Error,
                        format!("{} '{key}' already appears on line {first}", self.spec.key),
                    );
                    self.rejected[row] = true;
                }
                None => {
                    first_line.insert(key, line);
                }
            }
        }
        None
    }

    fn finish(mut self, issues: &mut Issues) -> Parsed {
        let order = self.reject_duplicate_keys(issues);
        let names = &self.stats.unknown_columns;
        for name in names.iter().take(UNKNOWN_COLUMNS_LISTED) {
            issues.push(
                Some(self.header_line),
                Some(name),
                "unknown_column",
                Severity::Info,
                format!("column '{name}' is not part of the extract format: kept, not used"),
            );
        }
        if names.len() > UNKNOWN_COLUMNS_LISTED {
            issues.push(
                Some(self.header_line),
                None,
                "unknown_column",
                Severity::Info,
                format!(
                    "{} more columns are not part of the extract format ({}): kept, not used",
                    names.len() - UNKNOWN_COLUMNS_LISTED,
                    listed(&names[UNKNOWN_COLUMNS_LISTED..], 10)
                ),
            );
        }
        for (col, (first, n)) in &self.ids_fixed {
            issues.push(Some(*first), Some(col), "id_normalised", Severity::Warning, format!("{n} ID(s) written as Excel numbers like '10.0' were read without the '.0' (first on line {first}); export IDs as text"));
        }
        Parsed {
            spec: self.spec,
            file: self.file,
            stats: self.stats,
            columns: self.columns,
            extra: self.extra,
            lines: self.lines,
            rejected: self.rejected,
            index: KeyIndex::default(),
            order,
            rejected_keys: PlHashMap::default(),
        }
    }
}
/// Parses one cell into its column. Returns whether an ID was normalised. `plain`: the
/// reader saw only printable ASCII and no space at either end, which cleaning leaves as it is.
fn parse_cell(
    col: &ColumnSpec,
    raw: &str,
    plain: bool,
    into: &mut Values,
) -> Result<bool, CellError> {
    // Every cell is tidied in one place first (invisible characters, odd spaces, ends),
    // unless the reader saw it needs none.
    let plain = plain && raw.len() <= values::MAX_VALUE_CHARS;
    let s = if plain {
        std::borrow::Cow::Borrowed(raw)
    } else {
        values::clean(raw)?
    };
    let s = &*s;
    let mut fixed = false;
    match (col.kind, into) {
        (Kind::Id, Values::Text(v)) => {
            let id = if plain { s } else { values::check_id(s)? };
            let (id, changed) = values::normalise_id(id);
            fixed = changed;
            v.push((!id.is_empty()).then_some(id));
        }
        (Kind::Text, Values::Text(v)) => v.push((!s.is_empty()).then_some(s)),
        (Kind::Code(codes), Values::Code(_, v)) => {
            if s.is_empty() {
                v.push(0);
            } else {
                let code = schema::match_code(codes, s).ok_or_else(|| CellError {
                    rule: "bad_code",
                    message: format!(
                        "'{s}' is not a valid {}: expected one of {}",
                        col.name,
                        codes.join(", ")
                    ),
                })?;
                let at = codes
                    .iter()
                    .position(|c| *c == code)
                    .expect("a code of the list");
                v.push(u8::try_from(at + 1).expect("code lists are short (tested)"));
            }
        }
        (Kind::Date, Values::Date(v)) => v.push(values::parse_date(s)?),
        (Kind::DateTime, Values::Stamp(v)) => v.push(values::parse_stamp(s)?),
        (Kind::Flag, Values::Flag(v)) => v.push(values::parse_flag(s)?),
        (Kind::Number, Values::Number(v)) => v.push(values::parse_number(s)?),
        _ => unreachable!("Values::for_kind matches Kind"),
    }
    Ok(fixed)
}

type SameRowRule = (
    &'static schema::OrderRule,
    usize,
    (usize, &'static str),
    Option<(usize, &'static str)>,
);

/// What [`check_row`] looks at in a table, found once: its dates, and its same-row order
/// rules as column positions.
struct RowChecks {
    floor: NaiveDate,
    /// Columns holding event dates (staff dates are not events).
    dates: Vec<usize>,
    /// (rule, later column, earlier column and its name, the column and code it applies
    /// to).
    order: Vec<SameRowRule>,
}

impl RowChecks {
    fn of(spec: &'static TableSpec) -> RowChecks {
        let at = |name| spec.column_index(name).expect("schema tested");
        let dates = (spec.columns.iter().enumerate())
            .filter(|(_, c)| matches!(c.kind, Kind::Date | Kind::DateTime))
            .filter(|(_, c)| c.date_role != DateRole::Staff)
            .map(|(i, _)| i)
            .collect();
        let order = (spec.order.iter())
            .filter_map(|rule| match rule.earlier {
                Earlier::SameRow(earlier) => Some((
                    rule,
                    at(rule.later),
                    (at(earlier), earlier),
                    rule.when.map(|(col, code)| (at(col), code)),
                )),
                Earlier::Via { .. } => None,
            })
            .collect();
        RowChecks {
            floor: earliest_plausible_date(),
            dates,
            order,
        }
    }
}

/// Checks that need only this row: dates before 1990 and same-row event order.
/// Returns whether the row is rejected.
fn check_row(
    checks: &RowChecks,
    spec: &TableSpec,
    columns: &[Values],
    row: usize,
    line: u64,
    issues: &mut Issues,
) -> bool {
    let mut bad = false;
    let floor = checks.floor;
    let floor_day = i64::from(values::epoch_days(floor));
    for &c in &checks.dates {
        let col = &spec.columns[c];
        if let Some(m) = columns[c].moment(row) {
            if m.day() < floor_day {
                issues.push(
                    Some(line),
                    Some(col.name),
                    "too_old",
                    Severity::Error,
                    format!(
                        "{} {} is before {floor}: a typing error?",
                        col.name,
                        m.stamp().date()
                    ),
                );
                bad = true;
            }
        }
    }
    for &(rule, later_c, (earlier_c, earlier), when) in &checks.order {
        if when.is_some_and(|(c, code)| columns[c].text(row) != Some(code)) {
            continue;
        }
        let later = columns[later_c].moment(row);
        let first = columns[earlier_c].moment(row);
        bad |= out_of_order(issues, line, rule, later, first, || earlier.to_string());
    }
    bad
}

/// Reports `later` before `first` (an order rule broken); `earlier` names what came first.
/// Returns whether the row is rejected.
fn out_of_order(
    issues: &mut Issues,
    line: u64,
    rule: &schema::OrderRule,
    later: Option<Moment>,
    first: Option<Moment>,
    earlier: impl FnOnce() -> String,
) -> bool {
    let (Some(l), Some(f)) = (later, first) else {
        return false;
    };
    if !l.before(f) {
        return false;
    }
    let (l, f) = (l.stamp(), f.stamp());
    let message = format!(
        "{}: {} {} is before {} {}",
        rule.what,
        rule.later,
        show(&l),
        earlier(),
        show(&f)
    );
    issues.push(
        Some(line),
        Some(rule.later),
        "order",
        Severity::Error,
        message,
    );
    true
}

fn rule_applies(
    spec: &TableSpec,
    columns: &[Values],
    row: usize,
    when: Option<(&str, &str)>,
) -> bool {
    match when {
        None => true,
        Some((col, code)) => {
            spec.column_index(col).and_then(|c| columns[c].text(row)) == Some(code)
        }
    }
}

fn show(s: &Stamp) -> String {
    if s.has_time {
        s.at.format("%Y-%m-%d %H:%M").to_string()
    } else {
        s.date().to_string()
    }
}

/// Second pass for one table, with every table before it finished.
fn check_against_others(
    t: &mut Parsed,
    done: &[Option<Parsed>],
    as_of: NaiveDate,
    out: &mut Vec<Issue>,
) {
    let spec = t.spec;
    let mut issues = Issues {
        table: spec.name,
        file: &t.file,
        out,
    };
    let parent = |name: &str| done.iter().flatten().find(|p| p.spec.name == name);

    // Links to tables that were not supplied cannot be checked: say so once.
    for col in spec.columns {
        match col.refers_to {
            Some((target, _)) if parent(target).is_none() => issues.push(
                None,
                Some(col.name),
                "unchecked_link",
                Severity::Info,
                format!(
                    "{} links to {target}.csv, which was not loaded: links not checked",
                    col.name
                ),
            ),
            _ => {}
        }
    }

    // Column by column: each check looks its columns and parent table up once.
    let mut bad = future_dates(t, as_of, &mut issues);
    let links = parent_rows(t, done);
    for rule in spec.order {
        let Earlier::Via { via, column } = rule.earlier else {
            continue;
        };
        let via_c = spec.column_index(via).expect("schema tested");
        let (target, _) = spec.columns[via_c].refers_to.expect("schema tested");
        let Some(p) = parent(target) else { continue };
        let first_c = p.spec.column_index(column).expect("schema tested");
        let later_c = spec.column_index(rule.later).expect("schema tested");
        let Some(via_rows) = &links[via_c] else {
            continue;
        };
        for (row, line) in t.lines.iter().enumerate() {
            if t.rejected[row] || !rule_applies(spec, &t.columns, row, rule.when) {
                continue;
            }
            let prow = via_rows[row];
            if prow == NO_ROW {
                continue;
            }
            let prow = prow as usize;
            let key = t.columns[via_c].text(row).unwrap_or_default();
            let first = p.columns[first_c].moment(prow);
            let later = t.columns[later_c].moment(row);
            bad[row] |= out_of_order(&mut issues, line, rule, later, first, || {
                format!(
                    "{target}.{column} ({via} {key}, {}:{})",
                    p.file,
                    p.lines.at(prow)
                )
            });
        }
    }
    for (rejected, bad) in t.rejected.iter_mut().zip(bad) {
        *rejected |= bad;
    }
    for (c, col) in spec.columns.iter().enumerate() {
        let Some((target, target_col)) = col.refers_to else {
            continue;
        };
        let Some(p) = parent(target) else { continue };
        let (Values::Text(v), Some(found)) = (&mut t.columns[c], &links[c]) else {
            continue;
        };
        let what = if col.required {
            "row kept"
        } else {
            "link dropped"
        };
        for (row, line) in t.lines.iter().enumerate() {
            if t.rejected[row] || found[row] != NO_ROW {
                continue;
            }
            let Some(key) = v.get(row) else { continue };
            let (rule, message) = match p.rejected_keys.get(key) {
                Some(l) => (
                    "link_to_rejected",
                    format!(
                        "{} '{key}' links to a row of {target}.csv that was rejected (line {l}): {what}",
                        col.name
                    ),
                ),
                None => (
                    "dangling_link",
                    format!(
                        "{} '{key}' is not in {target}.csv ({target_col}): {what}",
                        col.name
                    ),
                ),
            };
            issues.push(Some(line), Some(col.name), rule, Severity::Warning, message);
            if !col.required {
                v.set_none(row);
            }
        }
    }
    index_keys(t);
}

/// No parent row: a link is four bytes a row (an `Option<u32>` takes eight). No row is
/// this: a file is at most [`crate::fsutil::MAX_INPUT_BYTES`], so it has under 2^31 rows.
const NO_ROW: u32 = u32::MAX;

/// For each column linking to a loaded table, the parent row each row's key is on
/// ([`NO_ROW`]: no key, or not there). A column gets `None` as a whole when its parent was not loaded or
/// the table has no rows. Looked up once for every check that needs it, on every core: a
/// table links at random into its parents' millions of rows.
fn parent_rows(t: &Parsed, done: &[Option<Parsed>]) -> Vec<Option<Vec<u32>>> {
    let rows = t.lines.len();
    let threads = crate::par::cores();
    let mut jobs = Vec::new();
    // Each column's links (or its values' links) in all.
    let mut sizes = vec![0; t.spec.columns.len()];
    for (c, col) in t.spec.columns.iter().enumerate() {
        let Some((target, _)) = col.refers_to else {
            continue;
        };
        let Some(p) = done.iter().flatten().find(|p| p.spec.name == target) else {
            continue;
        };
        let (Values::Text(keys), true) = (&t.columns[c], rows > 0) else {
            continue;
        };
        // A column of repeated values (the worker of each visit) looks each distinct
        // value up once, not once a cell.
        let (keys, n) = match keys {
            TextCol::Words(w) => (Keys::Values(&w.values), w.values.len()),
            cells => (Keys::Cells(cells), rows),
        };
        sizes[c] = n;
        let step = n.div_ceil(threads).max(1);
        // At least one job, so that a column of empty cells still gets its row of links.
        jobs.extend(
            (0..n.max(1))
                .step_by(step)
                .map(|a| (c, p, keys, a..(a + step).min(n))),
        );
    }
    let found = par_map(
        jobs,
        |(.., range)| range.len() as u64,
        |(c, p, keys, range)| {
            let found: Vec<u32> = match keys {
                Keys::Cells(cells) => {
                    let mut lookup = Lookup::new(p);
                    let parent = |row| cells.get(row).and_then(|k| lookup.row(k));
                    range
                        .map(parent)
                        .map(|r| r.map_or(NO_ROW, |r| r as u32))
                        .collect()
                }
                Keys::Values(values) => range
                    .map(|i| values.get(i).and_then(|k| p.key_row(k)))
                    .map(|r| r.map_or(NO_ROW, |r| r as u32))
                    .collect(),
            };
            (c, found)
        },
    );
    let mut links: Vec<Option<Vec<u32>>> = t.spec.columns.iter().map(|_| None).collect();
    // In the order of the jobs: a column's row (or value) ranges first to last.
    for (c, part) in found {
        links[c]
            .get_or_insert_with(|| Vec::with_capacity(sizes[c]))
            .extend(part);
    }
    // A column of values: each cell's parent is its value's.
    for (c, link) in links.iter_mut().enumerate() {
        if let (Some(of_value), Values::Text(TextCol::Words(w))) = (link.as_mut(), &t.columns[c]) {
            let cell = |&code: &u32| match code {
                0 => NO_ROW,
                v => of_value[v as usize - 1],
            };
            *of_value = w.codes.iter().map(cell).collect();
        }
    }
    links
}

/// The keys a linking column's parents are looked up by: its cells one by one, or the
/// distinct values of a column held as values and places.
#[derive(Clone, Copy)]
enum Keys<'a> {
    Cells(&'a TextCol),
    Values(&'a Plain),
}

/// Event dates after the as-of date, reported on every row (rejected already or not), so
/// that a date typed a decade ahead is named for what it is. Returns the rows they reject.
fn future_dates(t: &Parsed, as_of: NaiveDate, issues: &mut Issues) -> Vec<bool> {
    let mut bad = vec![false; t.rejected.len()];
    let last_day = i64::from(values::epoch_days(as_of));
    for (c, col) in t.spec.columns.iter().enumerate() {
        if col.date_role != DateRole::Event {
            continue;
        }
        for (row, line) in t.lines.iter().enumerate() {
            let Some(m) = t.columns[c].moment(row) else {
                continue;
            };
            if m.day() > last_day {
                let d = m.stamp().date();
                let message = format!("{} {d} is after the as-of date {as_of}", col.name);
                issues.push(
                    Some(line),
                    Some(col.name),
                    "future_date",
                    Severity::Error,
                    message,
                );
                bad[row] = true;
            }
        }
    }
    bad
}

/// Only tables that others link to need an index of their keys.
fn index_keys(t: &mut Parsed) {
    if let (true, Values::Text(keys)) = (schema::is_linked_to(t.spec.name), &t.columns[0]) {
        let rejected = &t.rejected;
        t.index = KeyIndex::build(keys, |i| !rejected[i]);
        // Keys only on rejected rows, so a link to one can say so rather than "missing".
        for i in (0..keys.len()).filter(|i| t.rejected[*i]) {
            let Some(k) = keys.get(i) else { continue };
            if t.index.get(keys, k).is_none() {
                t.rejected_keys
                    .entry(Box::from(k))
                    .or_insert(t.lines.at(i) as u64);
            }
        }
    }
}

/// Keys looked up in a parent table, the last one remembered: rows are mostly grouped by
/// the row they link to (a child's visits together), so most lookups repeat the one before;
/// and extracts mostly list both tables in the same order, so most others are a few rows
/// after the last one found, searched there when the parent's keys are in order (see
/// [`Parsed::key_row_after`]; where that cannot tell, the next row is tried) before the
/// index, whose every lookup is a jump into memory the size of the parent.
struct Lookup<'p> {
    parent: &'p Parsed,
    last: Option<(String, Option<usize>)>,
}

impl<'p> Lookup<'p> {
    fn new(parent: &'p Parsed) -> Self {
        Lookup { parent, last: None }
    }

    fn row(&mut self, key: &str) -> Option<usize> {
        match &mut self.last {
            Some((k, row)) if k == key => *row,
            last => {
                let found = last.as_ref().and_then(|(_, r)| *r);
                let near = match last {
                    Some((k, Some(r))) => self.parent.key_row_after(*r, k, key),
                    _ => None,
                };
                // Where the search cannot tell: the parent's next row, then the index.
                let next = || {
                    found
                        .map(|r| r + 1)
                        .filter(|n| self.parent.loaded_key(*n) == Some(key))
                };
                let row = near.unwrap_or_else(|| next().or_else(|| self.parent.key_row(key)));
                match last {
                    Some((k, r)) => {
                        k.clear();
                        k.push_str(key);
                        *r = row;
                    }
                    None => *last = Some((key.to_string(), row)),
                }
                row
            }
        }
    }
}

/// How far past the last row found [`Parsed::key_row_after`] searches: a few cache lines
/// of keys, where a farther row is as far off as any the index finds.
const NEAR_ROWS: usize = 128;

impl Parsed {
    /// [`Parsed::key_row`] of `key`, searched for in the rows just after `row`, whose key
    /// is `at_row`, when the table's keys are in order: `None` when that cannot tell (the
    /// keys are not in order, `key` is not after `at_row` or farther than [`NEAR_ROWS`],
    /// or an empty key is in the way). Keys in order are distinct, so the one row holding
    /// `key` is the answer if it is loaded, and a key that falls between two neighbours is
    /// in no row.
    fn key_row_after(&self, row: usize, at_row: &str, key: &str) -> Option<Option<usize>> {
        let (Some(order), Values::Text(keys)) = (self.order, &self.columns[0]) else {
            return None;
        };
        if !order.cmp(at_row, key).is_lt() {
            return None;
        }
        let loaded = |r: usize| Some((!self.rejected[r]).then_some(r));
        // Galloping out from `row` (whose key is below `key`) to a key above it or the end.
        let (mut below, mut step) = (row, 1);
        let mut above = loop {
            let probe = row + step;
            if probe >= keys.len() {
                break keys.len();
            }
            match order.cmp(key, keys.get(probe)?) {
                std::cmp::Ordering::Equal => return loaded(probe),
                std::cmp::Ordering::Less => break probe,
                std::cmp::Ordering::Greater if step >= NEAR_ROWS => return None,
                std::cmp::Ordering::Greater => (below, step) = (probe, step * 2),
            }
        };
        while above - below > 1 {
            let mid = below + (above - below) / 2;
            match order.cmp(key, keys.get(mid)?) {
                std::cmp::Ordering::Equal => return loaded(mid),
                std::cmp::Ordering::Less => above = mid,
                std::cmp::Ordering::Greater => below = mid,
            }
        }
        Some(None)
    }

    /// The loaded row whose key is `key`.
    fn key_row(&self, key: &str) -> Option<usize> {
        let Values::Text(keys) = &self.columns[0] else {
            return None;
        };
        self.index.get(keys, key)
    }

    /// The key of `row` if the row is loaded: then [`Parsed::key_row`] of that key is
    /// `row`, since a table's loaded keys are distinct (a repeated key is rejected) and a
    /// table is finished, its rejections final, before another links to it.
    fn loaded_key(&self, row: usize) -> Option<&str> {
        let Values::Text(keys) = &self.columns[0] else {
            return None;
        };
        if row >= keys.len() || self.rejected[row] {
            return None;
        }
        keys.get(row)
    }
}

/// The rows of a table a frame keeps, and how many: its columns are built from an
/// iterator that gives its exact length, so each column's cells are allocated once (polars
/// sizes a string column by the iterator's lower bound, which a filter puts at nothing: the
/// column would grow by doubling and hold up to half its room unused).
struct Keep {
    keep: Vec<bool>,
    count: usize,
}

impl Keep {
    fn new(keep: Vec<bool>) -> Keep {
        let count = keep.iter().filter(|k| **k).count();
        Keep { keep, count }
    }

    /// The kept rows, first to last.
    fn rows(&self) -> impl ExactSizeIterator<Item = usize> + '_ {
        KeptRows {
            keep: &self.keep,
            at: 0,
            left: self.count,
        }
    }
}

struct KeptRows<'a> {
    keep: &'a [bool],
    at: usize,
    left: usize,
}

impl Iterator for KeptRows<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let i = self.at + self.keep.get(self.at..)?.iter().position(|k| *k)?;
        self.at = i + 1;
        self.left -= 1;
        Some(i)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for KeptRows<'_> {}

/// A table's loaded rows as a frame: its stats, its file, and the frame or why not.
type Built = Option<(TableStats, String, polars::prelude::PolarsResult<DataFrame>)>;

/// One column of a frame to build: a schema column, a column the schema does not know, or
/// the line numbers.
enum FrameColumn {
    /// A schema column, and whether it is the table's own key.
    Schema(&'static str, Values, bool),
    Extra(String, TextCol),
    Lines(Ends),
}

impl FrameColumn {
    fn weight(&self) -> u64 {
        match self {
            FrameColumn::Schema(_, v, _) => v.weight(),
            FrameColumn::Extra(_, v) => v.weight(),
            FrameColumn::Lines(v) => v.len() as u64 * 8,
        }
    }

    /// The kept rows as a polars column; the parsed values are freed here.
    fn build(self, keep: &Keep) -> polars::prelude::PolarsResult<Column> {
        Ok(match self {
            FrameColumn::Schema(name, values, key) => values.to_series(name, keep, key)?.into(),
            FrameColumn::Extra(name, v) => v.kept(name.into(), keep, false).into_series().into(),
            FrameColumn::Lines(lines) => {
                let kept: Vec<u32> = keep.rows().map(|i| lines.at(i) as u32).collect();
                Series::new(LINE_COLUMN.into(), kept).into()
            }
        })
    }
}

/// Every table's loaded rows as a frame, built a column at a time on every core (one large
/// table would otherwise hold one core); each parsed column is freed once its frame column is
/// built, so the parsed copy and the frames are never both whole in memory.
fn build_frames(parsed: Vec<Option<Parsed>>, wanted: &FrameColumns) -> Vec<Built> {
    let mut keeps: Vec<Keep> = Vec::with_capacity(parsed.len());
    let mut heads = Vec::with_capacity(parsed.len());
    let mut jobs: Vec<(usize, FrameColumn)> = Vec::new();
    for (i, t) in parsed.into_iter().enumerate() {
        let Some(mut t) = t else {
            keeps.push(Keep::new(Vec::new()));
            heads.push(None);
            continue;
        };
        t.stats.rows_rejected = t.rejected.iter().filter(|r| **r).count() as u64;
        t.stats.rows_loaded = t.stats.rows_read - t.stats.rows_rejected;
        let keep = Keep::new(t.rejected.iter().map(|r| !r).collect());
        heads.push(Some((t.stats, t.file, keep.count)));
        keeps.push(keep);
        // A column nothing will read is dropped here, its parsed values freed at once.
        let table = t.spec.name;
        for (spec, values) in t.spec.columns.iter().zip(t.columns) {
            if wanted.holds(table, spec.name) {
                let key = spec.name == t.spec.key;
                jobs.push((i, FrameColumn::Schema(spec.name, values, key)));
            }
        }
        for (name, v) in t.extra {
            if wanted.holds(table, &name) {
                jobs.push((i, FrameColumn::Extra(name, v)));
            }
        }
        if wanted.holds(table, LINE_COLUMN) {
            jobs.push((i, FrameColumn::Lines(t.lines)));
        }
    }
    let keeps = &keeps;
    let columns = par_map(jobs, |(_, c)| c.weight(), |(i, c)| (i, c.build(&keeps[i])));
    let mut tables: Vec<Vec<polars::prelude::PolarsResult<Column>>> =
        heads.iter().map(|_| Vec::new()).collect();
    for (i, c) in columns {
        tables[i].push(c);
    }
    heads
        .into_iter()
        .zip(tables)
        .map(|(head, cols)| {
            head.map(|(stats, file, height)| {
                let frame = cols
                    .into_iter()
                    .collect::<polars::prelude::PolarsResult<Vec<Column>>>()
                    .and_then(|cols| DataFrame::new(height, cols));
                (stats, file, frame)
            })
        })
        .collect()
}

/// One row of every table, each cell filled with a value of the type it loads as: what a
/// command plans its queries over to learn which columns they read, before any data is loaded.
pub fn stand_in_frames() -> BTreeMap<&'static str, DataFrame> {
    let day = NaiveDate::from_ymd_opt(2000, 1, 3).expect("a date");
    let one = Keep::new(vec![true]);
    let filled = |kind: Kind| -> Values {
        match Values::for_kind(kind) {
            Values::Text(mut v) => {
                v.push(Some("x"));
                Values::Text(v)
            }
            Values::Code(codes, _) => Values::Code(codes, vec![1]),
            Values::Date(_) => Values::Date(vec![Some(day)]),
            Values::Stamp(mut v) => {
                v.push(Some(Stamp {
                    at: day.and_hms_opt(9, 0, 0).expect("a time"),
                    has_time: true,
                }));
                Values::Stamp(v)
            }
            Values::Flag(_) => Values::Flag(vec![Some(true)]),
            Values::Number(_) => Values::Number(vec![Some(1.0)]),
        }
    };
    TABLES
        .iter()
        .map(|t| {
            let mut cols: Vec<Column> = (t.columns.iter())
                .map(|c| {
                    let v = filled(c.kind);
                    let s = v.to_series(c.name, &one, c.name == t.key);
                    s.expect("one cell builds").into()
                })
                .collect();
            cols.push(
                FrameColumn::Lines([2].into_iter().collect())
                    .build(&one)
                    .expect("one line builds"),
            );
            (t.name, DataFrame::new(1, cols).expect("distinct names"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// England's files (largest first, in MB) keep two cores busy read whole; a folder one
    /// file dominates is cut into chunks; one core never cuts.
    #[test]
    fn files_are_read_whole_side_by_side_unless_one_dominates() {
        let england = [997, 593, 471, 446, 393, 176, 169, 164, 109, 106, 56, 1];
        assert!(side_by_side(&england, 2));
        assert!(
            !side_by_side(&england, 8),
            "3.68 GB: more than 997 MB for each of 7 cores"
        );
        assert!(
            side_by_side(&[10, 6, 4], 2),
            "the largest is no more than the rest"
        );
        assert!(!side_by_side(&[11, 6, 4], 2));
        assert!(!side_by_side(&[900, 0, 0], 2));
        assert!(side_by_side(&[900, 1], 1));
        assert!(!side_by_side(&[], 2));
        assert!(!side_by_side(&[u64::MAX, 1], 3), "no overflow");
    }

    /// A file of blank lines reserves room for the rows its bytes can hold, not for its
    /// line ends: 200,000 line ends after a header of 5 columns make room for 40,001 rows
    /// at most (a row of 5 fields takes at least 5 bytes), not 200,000.
    #[test]
    fn room_is_reserved_for_the_rows_the_bytes_can_hold() {
        let spec = TABLES
            .iter()
            .find(|t| t.name == schema::CHILDREN)
            .expect("children");
        let header: Vec<&str> = spec.columns.iter().map(|c| c.name).collect();
        let text = format!("{}\n{}", header.join(","), "\n".repeat(200_000));
        let files = BTreeMap::from([(spec.file_name(), text.into_bytes())]);
        let mut issues = Vec::new();
        let o =
            open_table(Files::Memory(&files), Path::new("mem"), spec, &mut issues).expect("opened");
        let lines = rows::line_ends(&o.text.as_bytes()[o.body.pos()..]) as usize;
        assert_eq!(lines, 200_000);
        let bytes = o.text.len() - o.body.pos();
        let t = TableReader::new(&o, lines, bytes);
        let most = bytes / header.len() + 1;
        assert!(
            t.rejected.capacity() <= most * 2,
            "{}",
            t.rejected.capacity()
        );
        assert!(t.rejected.capacity() < lines / 2);
        // A file of real rows still gets room for all of them.
        let t = TableReader::new(&o, 10, bytes);
        assert!(t.rejected.capacity() >= 10);
    }

    /// A column of words read whole turns into plain text once too varied, not at its end,
    /// and reads the same either way.
    #[test]
    fn a_varied_column_of_words_turns_plain_as_it_is_read() {
        let mut col = TextCol::words();
        let cells: Vec<String> = (0..WORDS_JUDGED_EVERY * 4)
            .map(|i| format!("w{i}"))
            .collect();
        for (i, c) in cells.iter().enumerate() {
            col.push(Some(c));
            let plain = matches!(col, TextCol::Plain(_));
            assert_eq!(plain, i + 1 >= WORDS_JUDGED_EVERY, "cell {i}");
        }
        assert!((0..cells.len()).all(|i| col.get(i) == Some(cells[i].as_str())));
        let mut repeated = TextCol::words();
        (0..WORDS_JUDGED_EVERY * 4).for_each(|i| repeated.push(Some(&cells[i % 3])));
        assert!(matches!(repeated, TextCol::Words(_)));
    }

    proptest::proptest! {
        /// Every datetime the parser reads (years 0 to 9999, whole seconds, with or without
        /// a time) is packed into eight bytes and back unchanged, and the frame gets its
        /// milliseconds.
        #[test]
        fn stamps_pack_into_eight_bytes_and_back(
            days in 0i64..3_652_425, secs in 0u32..86_400, has_time: bool
        ) {
            let base = NaiveDate::from_ymd_opt(0, 1, 1).unwrap();
            let date = base + chrono::Duration::days(days);
            let at = date.and_time(chrono::NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap());
            let s = Stamp { at, has_time };
            let mut v = Stamps::default();
            v.push(Some(s));
            v.push(None);
            proptest::prop_assert_eq!(Stamps::unpack(v.0[0]), Some(s));
            proptest::prop_assert_eq!(Stamps::millis(v.0[0]), Some(at.and_utc().timestamp_millis()));
            proptest::prop_assert_eq!((Stamps::unpack(v.0[1]), Stamps::millis(v.0[1])), (None, None));
        }
    }

    fn stamp_of(days: i64, secs: u32, has_time: bool) -> Stamp {
        let base = NaiveDate::from_ymd_opt(0, 1, 1).unwrap();
        let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap();
        Stamp {
            at: (base + chrono::Duration::days(days)).and_time(time),
            has_time,
        }
    }

    proptest::proptest! {
        /// The checks compare packed cells as they compared stamps: the same order, the
        /// same day, with or without a time, and a date column's cell as a date.
        #[test]
        fn moments_compare_as_stamps_do(
            a in (0i64..3_652_425, 0u32..86_400, proptest::bool::ANY),
            b in (0i64..3_652_425, 0u32..86_400, proptest::bool::ANY),
            near in 0i64..3,
        ) {
            let (x, y) = (stamp_of(a.0, a.1, a.2), stamp_of((a.0 + near).min(3_652_424), b.1, b.2));
            let z = stamp_of(b.0, b.1, b.2);
            for (p, q) in [(x, y), (y, x), (x, z), (z, x)] {
                let (mp, mq) = (Moment(Stamps::pack(Some(p))), Moment(Stamps::pack(Some(q))));
                proptest::prop_assert_eq!(mp.before(mq), p.before(&q));
                proptest::prop_assert_eq!(mp.stamp(), p);
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
                proptest::prop_assert_eq!(mp.day(), (p.date() - epoch).num_days());
                let as_date = Moment::of_date(p.date());
                proptest::prop_assert_eq!(as_date.stamp(), Stamp { at: p.date().and_time(chrono::NaiveTime::MIN), has_time: false });
            }
        }
    }

    #[test]
    fn stamps_before_1970_keep_their_time_flag() {
        let at = NaiveDate::from_ymd_opt(1969, 12, 31)
            .unwrap()
            .and_hms_opt(23, 59, 59)
            .unwrap();
        for has_time in [false, true] {
            let packed = Stamps::pack(Some(Stamp { at, has_time }));
            assert_eq!(packed, -1000 * 2 + i64::from(has_time));
            assert_eq!(Stamps::unpack(packed), Some(Stamp { at, has_time }));
        }
    }

    /// A hasher that gives every key the same hash: every key after the first clashes.
    #[derive(Default)]
    struct Same;
    impl std::hash::Hasher for Same {
        fn finish(&self) -> u64 {
            7
        }
        fn write(&mut self, _: &[u8]) {}
    }
    type Clashing = std::hash::BuildHasherDefault<Same>;

    fn text_col(keys: &[Option<&str>]) -> TextCol {
        let mut col = TextCol::default();
        for k in keys {
            col.push(*k);
        }
        col
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn cell_ends_widen_past_four_gib_and_keep_their_values() {
        let big = u32::MAX as usize;
        let mut ends = Ends::default();
        ends.push(3);
        ends.push(big);
        assert!(matches!(ends, Ends::Narrow(_)));
        ends.push(big + 7);
        assert!(matches!(ends, Ends::Wide(_)));
        assert_eq!(
            (0..3).map(|i| ends.at(i)).collect::<Vec<_>>(),
            [3, big, big + 7]
        );
        // Appending moves the new ends on, widening when they would not fit.
        let mut narrow = Ends::default();
        narrow.push(10);
        let mut more = Ends::default();
        more.push(2);
        more.push(5);
        narrow.append(&more, 10);
        assert!(matches!(narrow, Ends::Narrow(_)));
        narrow.append(&more, big - 3);
        assert!(matches!(narrow, Ends::Wide(_)));
        let got: Vec<usize> = (0..narrow.len()).map(|i| narrow.at(i)).collect();
        assert_eq!(got, [10, 12, 15, big - 1, big + 2]);
        ends.append(&more, big + 7);
        assert_eq!(ends.last(), Some(big + 12));
        // A narrow column given wide ends widens, and keeps the room reserved for it.
        let mut room = Ends::default();
        room.reserve(100);
        room.append(&ends, 0);
        assert!(matches!(&room, Ends::Wide(v) if v.capacity() >= 100));
        assert_eq!(room.last(), Some(big + 12));
        ends.truncate(2);
        assert_eq!(ends.last(), Some(big));
    }

    #[test]
    fn kept_rows_are_the_rows_not_rejected_and_say_how_many_are_left() {
        let keep = Keep::new(vec![false, true, true, false, false, true, false]);
        assert_eq!(keep.count, 3);
        let mut rows = keep.rows();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows.next(), Some(1));
        assert_eq!(rows.size_hint(), (2, Some(2)));
        assert_eq!(rows.collect::<Vec<_>>(), [2, 5]);
        assert_eq!(Keep::new(vec![false; 4]).rows().next(), None);
        assert_eq!(Keep::new(Vec::new()).rows().len(), 0);
        let text = text_col(&[
            Some("a"),
            Some("bb"),
            None,
            Some("ccc"),
            Some("d"),
            None,
            None,
        ]);
        let col = text.kept("t".into(), &keep, false);
        let got: Vec<Option<&str>> = col.iter().collect();
        assert_eq!(got, [Some("bb"), None, None]);
    }

    /// The bytes a string column holds beside its cells' own 16.
    fn beside(col: &StringChunked) -> usize {
        col.downcast_iter().map(|a| a.total_buffer_len()).sum()
    }

    #[test]
    fn long_values_repeated_down_a_column_are_held_once() {
        let long = "Assessment Team North";
        let other = "Children in Need Team 2";
        let mut cells = Vec::new();
        // In runs of two, as a child's rows repeat a worker.
        for i in 0..3000 {
            cells.push(match (i / 2) % 4 {
                0 => Some(long),
                1 => None,
                2 => Some("Short"),
                _ => Some(other),
            });
        }
        let col = text_col(&cells);
        let keep = Keep::new((0..cells.len()).map(|i| i != 2).collect());
        let kept = col.kept("team".into(), &keep, false);
        let want: Vec<Option<&str>> = (cells.iter().enumerate())
            .filter(|(i, _)| *i != 2)
            .map(|(_, c)| *c)
            .collect();
        assert_eq!(kept.iter().collect::<Vec<_>>(), want);
        assert_eq!(kept.null_count(), 749);
        assert_eq!(beside(&kept), long.len() + other.len());
        // A table's own keys are distinct: built as they come, each held once a cell.
        let own = col.kept("team".into(), &keep, true);
        assert_eq!(own.iter().collect::<Vec<_>>(), want);
        assert_eq!(beside(&own), 750 * (long.len() + other.len()));
        // Values too varied to share are not hashed to the end: built as they come.
        let names: Vec<String> = (0..3000).map(|i| format!("Social Worker {i:05}")).collect();
        let col = text_col(&names.iter().map(|n| Some(n.as_str())).collect::<Vec<_>>());
        let all = Keep::new(vec![true; 3000]);
        assert!(col
            .kept_shared("worker".into(), all.rows().map(|i| col.get(i)))
            .is_none());
        let kept = col.kept("worker".into(), &all, false);
        assert_eq!(kept.get(2999), Some("Social Worker 02999"));
        assert_eq!(beside(&kept), 3000 * 19);
        // A code column points into one copy of its codes.
        let codes: &'static [&'static str] = &["information and advice", "referral"];
        let values = Values::Code(codes, vec![1, 0, 2, 1, 1]);
        let keep = Keep::new(vec![true, true, true, false, true]);
        let series = values.to_series("outcome", &keep, false).unwrap();
        let got: Vec<Option<&str>> = series.str().unwrap().iter().collect();
        assert_eq!(
            got,
            [Some(codes[0]), None, Some("referral"), Some(codes[0])]
        );
        assert_eq!(beside(series.str().unwrap()), codes[0].len());
    }

    fn words_col(cells: &[Option<&str>]) -> TextCol {
        let mut col = TextCol::words();
        for c in cells {
            col.push(*c);
        }
        col
    }

    fn cells_of(col: &TextCol) -> Vec<Option<&str>> {
        (0..col.len()).map(|i| col.get(i)).collect()
    }

    #[test]
    fn a_column_of_words_holds_each_value_once_and_gives_back_every_cell() {
        let cells = [
            Some("Area 001 East"),
            Some("Area 001 East"),
            None,
            Some("Area 002 West"),
            Some("Area 001 East"),
            Some(""),
            None,
        ];
        let mut col = words_col(&cells);
        let TextCol::Words(w) = &col else {
            panic!("a few repeated values stay words")
        };
        assert_eq!(w.codes, [1, 1, 0, 2, 1, 3, 0]);
        assert_eq!(w.values.buf, "Area 001 EastArea 002 West");
        assert_eq!(cells_of(&col), cells);
        // As a frame column: the same cells, the long values held once.
        let keep = Keep::new(vec![true, true, true, true, true, true, false]);
        let kept = col.kept("team".into(), &keep, false);
        assert_eq!(kept.iter().collect::<Vec<_>>(), cells[..6]);
        assert_eq!(beside(&kept), 26);
        // Joined with a later chunk: its values are found among these or added.
        col.append(words_col(&[
            Some("Area 003 North"),
            None,
            Some("Area 002 West"),
        ]));
        let TextCol::Words(w) = &col else {
            panic!("still words")
        };
        assert_eq!(w.codes[7..], [4, 0, 2]);
        col.set_none(0);
        col.truncate(9);
        let mut want = cells.to_vec();
        want[0] = None;
        want.extend([Some("Area 003 North"), None]);
        assert_eq!(cells_of(&col), want);
    }

    #[test]
    fn a_column_of_words_too_varied_to_pay_turns_into_plain_text() {
        let text = |v: Values| match v {
            Values::Text(t) => t,
            _ => unreachable!("text in, text out"),
        };
        let joined = |pieces: Vec<TextCol>| {
            text(Values::concat(
                pieces.into_iter().map(Values::Text).collect(),
            ))
        };
        // A chunk of values all distinct: more than WORDS_MOST, more than a quarter.
        let names: Vec<String> = (0..=WORDS_MOST).map(|i| format!("Worker {i}")).collect();
        let cells: Vec<Option<&str>> = names.iter().map(|n| Some(n.as_str())).collect();
        let col = joined(vec![words_col(&cells)]);
        assert!(matches!(col, TextCol::Plain(_)));
        assert_eq!(cells_of(&col), cells);
        // As many values over four times the rows stays words, even if its first rows are
        // all different: the whole chunk is judged.
        let mut many = cells.clone();
        many.extend(std::iter::repeat_n(Some("Worker 0"), 4 * WORDS_MOST));
        let col = joined(vec![words_col(&many)]);
        assert!(matches!(col, TextCol::Words(_)));
        assert_eq!(cells_of(&col), many);
        // Chunks of few values each stay words; joined, too varied a column turns plain.
        let names: Vec<String> = (0..3 * WORDS_MOST).map(|i| format!("Name {i}")).collect();
        let all: Vec<Option<&str>> = names.iter().map(|n| Some(n.as_str())).collect();
        let pieces: Vec<&[Option<&str>]> = all.chunks(WORDS_MOST).collect();
        for piece in &pieces {
            assert!(matches!(joined(vec![words_col(piece)]), TextCol::Words(_)));
        }
        let col = joined(pieces.iter().map(|p| words_col(p)).collect());
        assert!(matches!(col, TextCol::Plain(_)));
        assert_eq!(cells_of(&col), all);
    }

    proptest::proptest! {
        /// However a column is cut into chunks and whichever way each chunk holds its text,
        /// the joined column gives back every cell, and as a frame column the same cells.
        #[test]
        fn chunks_of_words_and_plain_text_join_to_the_same_cells(
            raw in proptest::collection::vec(proptest::option::of("[a-d]{0,14}"), 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..6),
            words in proptest::collection::vec(proptest::bool::ANY, 7),
        ) {
            let cells: Vec<Option<&str>> = raw.iter().map(|c| c.as_deref()).collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(cells.len())).collect();
            cuts.extend([0, cells.len()]);
            cuts.sort_unstable();
            let mut col: Option<TextCol> = None;
            for (i, w) in cuts.windows(2).enumerate() {
                let part = &cells[w[0]..w[1]];
                let piece = if words[i] { words_col(part) } else { text_col(part) };
                match &mut col {
                    Some(c) => c.append(piece),
                    None => col = Some(piece),
                }
            }
            let col = col.expect("one piece at least");
            proptest::prop_assert_eq!(cells_of(&col), cells.clone());
            let all = Keep::new(vec![true; cells.len()]);
            let kept = col.kept("c".into(), &all, false);
            proptest::prop_assert_eq!(kept.iter().collect::<Vec<_>>(), cells);
        }
    }

    #[test]
    fn keys_in_order_as_text_or_as_numbers_are_seen_to_be_distinct() {
        let increasing = |keys: &[Option<&str>]| text_col(keys).strictly_increasing();
        assert!(increasing(&[
            Some("C0000001"),
            None,
            Some("C0000002"),
            Some("C0000010")
        ]));
        // Numbers without leading zeros: shorter first.
        assert!(increasing(&[
            Some("9"),
            Some("10"),
            Some("11"),
            Some("100")
        ]));
        assert!(increasing(&[Some("10"), Some("9")]));
        assert!(increasing(&[]));
        assert!(!increasing(&[Some("A1"), Some("A1")]));
        assert!(!increasing(&[Some("1"), Some("2"), Some("10"), Some("3")]));
        assert!(!increasing(&[Some("B"), Some("A"), Some("C")]));
    }

    proptest::proptest! {
        /// The one-pass check never calls keys distinct that are not, and keys sorted
        /// and distinct are always seen to be.
        #[test]
        fn keys_said_distinct_are_distinct(
            keys in proptest::collection::vec(proptest::option::of("[0-9A-C]{0,3}"), 0..40)
        ) {
            let keys: Vec<Option<&str>> =
                keys.iter().map(|k| k.as_deref().filter(|k| !k.is_empty())).collect();
            let present: Vec<&str> = keys.iter().flatten().copied().collect();
            let distinct: std::collections::BTreeSet<&str> = present.iter().copied().collect();
            if text_col(&keys).strictly_increasing() {
                proptest::prop_assert_eq!(distinct.len(), present.len());
            }
            let sorted: Vec<Option<&str>> = distinct.iter().map(|k| Some(*k)).collect();
            proptest::prop_assert!(text_col(&sorted).strictly_increasing());
        }
    }

    /// A parent table of `keys`, `rejected` as given, indexed as the second pass does.
    fn parent(keys: &[Option<&str>], rejected: Vec<bool>) -> Parsed {
        let col = text_col(keys);
        let index = KeyIndex::build(&col, |i| !rejected[i]);
        let order = col.increasing_order();
        Parsed {
            spec: &TABLES[0],
            file: "children.csv".into(),
            stats: TableStats::default(),
            columns: vec![Values::Text(col)],
            extra: Vec::new(),
            lines: (2..2 + keys.len()).collect(),
            rejected,
            index,
            order,
            rejected_keys: PlHashMap::default(),
        }
    }

    proptest::proptest! {
        /// Remembering the last key and trying the parent's next row never changes a
        /// lookup: every one gives what the index gives.
        #[test]
        fn lookups_give_what_the_index_gives(
            cells in proptest::collection::vec((0u8..12, proptest::bool::ANY, 0u8..4), 0..30),
            asked in proptest::collection::vec(0u8..14, 0..60),
        ) {
            // Loaded keys are distinct (the load rejects a repeated key): a repeat is
            // rejected here too, and some rows are rejected for other reasons.
            let names: Vec<String> = cells.iter().map(|(k, ..)| format!("C{k}")).collect();
            let mut seen = std::collections::HashSet::new();
            let keys: Vec<Option<&str>> = (names.iter().zip(&cells))
                .map(|(n, (.., empty))| (*empty != 0).then_some(n.as_str()))
                .collect();
            let rejected: Vec<bool> = (keys.iter().zip(&cells))
                .map(|(k, (_, other, _))| *other || k.is_some_and(|k| !seen.insert(k)))
                .collect();
            let p = parent(&keys, rejected);
            let mut lookup = Lookup::new(&p);
            for a in asked {
                let key = format!("C{a}");
                proptest::prop_assert_eq!(lookup.row(&key), p.key_row(&key), "{}", key);
            }
        }
    }

    proptest::proptest! {
        /// Keys in order (as text, or numbers shorter first), with gaps, empty keys and
        /// rejected rows, searched for near the last one found: every lookup gives what
        /// the index gives, keys asked for in order or not, present or not.
        #[test]
        fn lookups_near_the_last_in_ordered_keys_give_what_the_index_gives(
            gaps in proptest::collection::vec((1u32..300, 0u8..8), 0..400),
            dense in proptest::bool::ANY,
            zeros in proptest::bool::ANY,
            asked in proptest::collection::vec((0u32..400, 0u8..4), 0..300),
        ) {
            let mut n = 0;
            let name = |n: u32| if zeros { format!("C{n:07}") } else { format!("C{n}") };
            // Gaps of a key or two (a step asked for runs past the 128 rows searched near)
            // or of hundreds.
            let names: Vec<String> = (gaps.iter())
                .map(|(gap, _)| { n += if dense { gap % 3 + 1 } else { *gap }; name(n) })
                .collect();
            let keys: Vec<Option<&str>> = (names.iter().zip(&gaps))
                .map(|(k, (_, what))| (*what != 0).then_some(k.as_str()))
                .collect();
            let rejected: Vec<bool> = gaps.iter().map(|(_, what)| *what == 1).collect();
            let p = parent(&keys, rejected);
            // As text where that holds too (C1, C10), else numbers shorter first (C9, C10).
            let present: Vec<&str> = keys.iter().flatten().copied().collect();
            let order = match present.windows(2).all(|w| w[0] < w[1]) {
                true => KeyOrder::Text,
                false => KeyOrder::ShorterFirst,
            };
            proptest::prop_assert_eq!(p.order, Some(order));
            let mut lookup = Lookup::new(&p);
            // Mostly forward through the parent, by small and large steps and repeats,
            // sometimes back; half the keys asked for fall in its gaps.
            let (mut at, top) = (0u32, n + 10);
            for (step, how) in asked {
                at = match how {
                    0 => at.saturating_sub(step),
                    1 => at,
                    2 => at + step / 40,
                    _ => at + step,
                } % top.max(1);
                let key = name(at);
                proptest::prop_assert_eq!(lookup.row(&key), p.key_row(&key), "{}", key);
            }
        }
    }

    #[test]
    fn keys_in_order_say_which_order() {
        let order = |keys: &[Option<&str>]| text_col(keys).increasing_order();
        assert_eq!(
            order(&[Some("C01"), None, Some("C02")]),
            Some(KeyOrder::Text)
        );
        assert_eq!(
            order(&[Some("9"), Some("10")]),
            Some(KeyOrder::ShorterFirst)
        );
        // Both hold: as text is taken.
        assert_eq!(order(&[Some("1"), Some("2")]), Some(KeyOrder::Text));
        assert_eq!(order(&[Some("2"), Some("10"), Some("3")]), None);
    }

    proptest::proptest! {
        /// A linking column held as distinct values and places (each value looked up
        /// once) finds every cell's parent row as the same column held cell by cell does,
        /// and as the index does for each cell.
        #[test]
        fn links_by_distinct_value_are_links_by_cell(
            parents in proptest::collection::vec((0u8..12, proptest::bool::ANY), 0..20),
            cells in proptest::collection::vec(proptest::option::of(0u8..14), 0..80),
            kept in 0usize..90,
        ) {
            let names: Vec<String> = parents.iter().map(|(k, _)| format!("C{k}")).collect();
            let mut seen = std::collections::HashSet::new();
            let keys: Vec<Option<&str>> = names.iter().map(|n| Some(n.as_str())).collect();
            let rejected: Vec<bool> = (names.iter().zip(&parents))
                .map(|(n, (_, other))| *other || !seen.insert(n.clone()))
                .collect();
            let p = parent(&keys, rejected);
            let asked: Vec<Option<String>> = cells.iter().map(|c| c.map(|k| format!("C{k}"))).collect();
            let visits = schema::table(schema::VISITS).expect("a table");
            let child = visits.column_index(schema::CHILD_ID).expect("visits name the child");
            // Rows cut off after they were read (a cell's value outlives it in a column of
            // values and places).
            let kept = kept.min(asked.len());
            let held = |mut col: TextCol| {
                for a in &asked {
                    col.push(a.as_deref());
                }
                col.truncate(kept);
                let mut columns: Vec<Values> =
                    visits.columns.iter().map(|_| Values::Text(TextCol::default())).collect();
                columns[child] = Values::Text(col);
                Parsed {
                    spec: visits,
                    file: "visits.csv".into(),
                    stats: TableStats::default(),
                    columns,
                    extra: Vec::new(),
                    lines: (2..2 + kept).collect(),
                    rejected: vec![false; kept],
                    index: KeyIndex::build(&TextCol::default(), |_| true),
                    order: None,
                    rejected_keys: PlHashMap::default(),
                }
            };
            let (plain, words) = (held(TextCol::default()), held(TextCol::words()));
            proptest::prop_assert!(matches!(&words.columns[child], Values::Text(TextCol::Words(_))));
            let done = [Some(p)];
            let by_cell = parent_rows(&plain, &done);
            let by_value = parent_rows(&words, &done);
            proptest::prop_assert_eq!(&by_cell, &by_value);
            let p = done[0].as_ref().expect("the parent");
            let expected: Vec<u32> = asked[..kept]
                .iter()
                .map(|a| a.as_deref().and_then(|k| p.key_row(k)).map_or(NO_ROW, |r| r as u32))
                .collect();
            let got = by_value[child].clone().unwrap_or_default();
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn a_parent_listed_in_the_same_order_is_found_row_after_row() {
        let keys = [Some("C1"), Some("C2"), Some("C3"), Some("C4"), Some("C5")];
        let p = parent(&keys, vec![false, false, true, false, false]);
        let mut lookup = Lookup::new(&p);
        let got: Vec<Option<usize>> = ["C1", "C1", "C2", "C3", "C4", "C5", "C9", "C2"]
            .iter()
            .map(|k| lookup.row(k))
            .collect();
        assert_eq!(
            got,
            [
                Some(0),
                Some(0),
                Some(1),
                None,
                Some(3),
                Some(4),
                None,
                Some(1)
            ]
        );
    }

    #[test]
    fn key_lookups_are_exact_when_hashes_clash() {
        let mut keys = TextCol::default();
        for k in [Some("C1"), Some("C2"), None, Some("C3"), Some("C4")] {
            keys.push(k);
        }
        let long = "CHILD-000000000000000001";
        keys.push(Some(long));
        // Row 3 (C3) is rejected: it is not indexed.
        let index = KeyIndex::<Clashing>::build(&keys, |r| r != 3);
        assert_eq!(index.get(&keys, "C1"), Some(0));
        assert_eq!(index.get(&keys, "C2"), Some(1));
        assert_eq!(index.get(&keys, "C3"), None);
        assert_eq!(index.get(&keys, "C4"), Some(4));
        assert_eq!(index.get(&keys, "C5"), None);
        assert_eq!(index.get(&keys, long), Some(5));
        assert_eq!(index.get(&keys, "CHILD-000000000000000002"), None);
        let normal = KeyIndex::<polars::prelude::PlRandomState>::build(&keys, |r| r != 3);
        for k in [
            "C1",
            "C2",
            "C3",
            "C4",
            "C5",
            long,
            "CHILD-000000000000000002",
            "C",
        ] {
            assert_eq!(normal.get(&keys, k), index.get(&keys, k), "{k}");
        }
    }
}
