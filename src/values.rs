//! Parsing one cell of an extract: dates (ISO or UK order, never US), datetimes, flags,
//! identifiers and numbers. Each failure says what was expected, in words an analyst who
//! exported the file from Excel can act on.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use std::borrow::Cow;

/// Why a cell could not be read. `rule` is the stable name used in reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    pub rule: &'static str,
    pub message: String,
}

fn err(rule: &'static str, message: String) -> CellError {
    CellError { rule, message }
}

/// A datetime that remembers whether the file gave a time: a date given where a datetime
/// is expected is a date with no time, and comparisons with it are made on dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub at: NaiveDateTime,
    pub has_time: bool,
}

impl Stamp {
    pub fn date(&self) -> NaiveDate {
        self.at.date()
    }
    /// True when `self` is strictly before `other`: on dates when either has no time.
    pub fn before(&self, other: &Stamp) -> bool {
        if self.has_time && other.has_time {
            self.at < other.at
        } else {
            self.date() < other.date()
        }
    }
}

const DATE_FORMS: &str = "YYYY-MM-DD or DD/MM/YYYY (UK order)";

/// Reads `YYYY-MM-DD` or `D/M/YYYY`, optionally followed by a time (` HH:MM`, ` HH:MM:SS`
/// or ISO `THH:MM:SS`). Returns `None` for an empty cell.
pub fn parse_stamp(raw: &str) -> Result<Option<Stamp>, CellError> {
    let s = trim(raw);
    if s.is_empty() {
        return Ok(None);
    }
    if let Some(stamp) = fast_stamp(s.as_bytes()) {
        return Ok(Some(stamp));
    }
    let (date_part, time_part) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], Some(s[i + 1..].trim())),
        None => (s, None),
    };
    let date = parse_date_part(date_part, s)?;
    let time = match time_part {
        None | Some("") => None,
        Some(t) => Some(parse_time(t).ok_or_else(|| {
            err(
                "bad_datetime",
                format!("'{s}' has a time that is not HH:MM or HH:MM:SS"),
            )
        })?),
    };
    Ok(Some(Stamp {
        at: date.and_time(time.unwrap_or(NaiveTime::MIN)),
        has_time: time.is_some(),
    }))
}

/// Reads a date. A time after it (as Excel adds, ` 00:00:00`) is accepted and dropped.
pub fn parse_date(raw: &str) -> Result<Option<NaiveDate>, CellError> {
    Ok(parse_stamp(raw)?.map(|s| s.date()))
}

fn parse_time(t: &str) -> Option<NaiveTime> {
    // HH:MM or HH:MM:SS (one-digit hours too, as Excel's h:mm writes them); fractions of a
    // second and a trailing Z are dropped.
    let t = t.trim_end_matches('Z');
    let t = t.split('.').next().unwrap_or(t);
    let mut parts = t.split(':').map(|p| match p.as_bytes() {
        [a @ b'0'..=b'9'] => Some((a - b'0') as u32),
        two => two_digits(two),
    });
    let h = parts.next()??;
    let m = parts.next()??;
    let sec = parts.next().unwrap_or(Some(0))?;
    if parts.next().is_some() {
        return None;
    }
    NaiveTime::from_hms_opt(h, m, sec)
}

fn two_digits(b: &[u8]) -> Option<u32> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9'] => Some(((a - b'0') * 10 + (c - b'0')) as u32),
        _ => None,
    }
}

/// The common shapes, read without allocating: `YYYY-MM-DD` and `DD/MM/YYYY`, optionally
/// with ` HH:MM[:SS]` or `THH:MM[:SS]`. Anything else (or an impossible date) goes the slow
/// way, which also explains what is wrong.
fn fast_stamp(b: &[u8]) -> Option<Stamp> {
    if b.len() < 10 {
        return None;
    }
    let (y, m, d) = if b[4] == b'-' && b[7] == b'-' {
        let y = two_digits(&b[0..2])? * 100 + two_digits(&b[2..4])?;
        (y, two_digits(&b[5..7])?, two_digits(&b[8..10])?)
    } else if b[2] == b'/' && b[5] == b'/' {
        let y = two_digits(&b[6..8])? * 100 + two_digits(&b[8..10])?;
        (y, two_digits(&b[3..5])?, two_digits(&b[0..2])?)
    } else {
        return None;
    };
    let date = NaiveDate::from_ymd_opt(y as i32, m, d)?;
    let time = match b.len() {
        10 => None,
        _ if b[10] != b' ' && b[10] != b'T' => return None,
        // HH:MM and HH:MM:SS read by hand; other times as parse_time reads them.
        16 | 19 if b[13] == b':' && (b.len() == 16 || b[16] == b':') => {
            let sec = if b.len() == 19 {
                two_digits(&b[17..19])?
            } else {
                0
            };
            Some(NaiveTime::from_hms_opt(
                two_digits(&b[11..13])?,
                two_digits(&b[14..16])?,
                sec,
            )?)
        }
        _ => Some(parse_time(std::str::from_utf8(&b[11..]).ok()?)?),
    };
    Some(Stamp {
        at: date.and_time(time.unwrap_or(NaiveTime::MIN)),
        has_time: time.is_some(),
    })
}

fn parse_date_part(d: &str, whole: &str) -> Result<NaiveDate, CellError> {
    let bad = |why: String| err("bad_date", format!("'{whole}' is not a date: {why}"));
    if let Some(parts) = split3(d, '-') {
        let [y, m, day] = parts;
        if y.len() == 4 {
            return ymd(y, m, day).ok_or_else(|| bad(format!("expected {DATE_FORMS}")));
        }
        return Err(bad(format!("expected {DATE_FORMS}")));
    }
    if let Some(parts) = split3(d, '/') {
        let [day, m, y] = parts;
        if day.len() == 4 {
            return Err(bad(format!(
                "year first needs dashes (YYYY-MM-DD); expected {DATE_FORMS}"
            )));
        }
        if y.len() != 4 {
            return Err(bad(format!(
                "the year must have four digits; expected {DATE_FORMS}"
            )));
        }
        if let Some(date) = ymd(y, m, day) {
            return Ok(date);
        }
        // 11/25/2024 cannot be UK order; say so rather than "invalid".
        if let (Ok(a), Ok(b)) = (day.parse::<u32>(), m.parse::<u32>()) {
            if b > 12 && (1..=12).contains(&a) && ymd(y, day, m).is_some() {
                return Err(err(
                    "us_date",
                    format!(
                        "'{whole}' looks like a US date (month/day/year); dates must be \
                         DD/MM/YYYY (UK order) or YYYY-MM-DD"
                    ),
                ));
            }
        }
        return Err(bad(format!("no such day; expected {DATE_FORMS}")));
    }
    if let Ok(serial) = d.parse::<f64>() {
        // Only numbers that are dates from 1990 to 2100 in Excel's count are called serials;
        // `2024` alone is a year, not 16 July 1905.
        if (32_874.0..=73_051.0).contains(&serial) {
            let hint = NaiveDate::from_ymd_opt(1899, 12, 30)
                .and_then(|base| base.checked_add_signed(Duration::days(serial.trunc() as i64)))
                .map(|x| format!(" (Excel day {} is {x})", serial.trunc()))
                .unwrap_or_default();
            return Err(err(
                "excel_serial",
                format!(
                    "'{whole}' is an Excel serial number, not a date{hint}; format the \
                     column as a date before exporting ({DATE_FORMS})"
                ),
            ));
        }
    }
    Err(bad(format!("expected {DATE_FORMS}")))
}

fn split3(s: &str, sep: char) -> Option<[&str; 3]> {
    let mut it = s.split(sep);
    let parts = [it.next()?, it.next()?, it.next()?];
    if it.next().is_some()
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(parts)
}

fn ymd(y: &str, m: &str, d: &str) -> Option<NaiveDate> {
    if m.len() > 2 || d.len() > 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// `Y`/`N`, `yes`/`no`, `true`/`false`, `1`/`0` in any case; empty is unknown.
pub fn parse_flag(raw: &str) -> Result<Option<bool>, CellError> {
    let s = trim(raw);
    let is = |w: &str| s.eq_ignore_ascii_case(w);
    match s {
        "" => Ok(None),
        _ if is("y") || is("yes") || is("true") || s == "1" => Ok(Some(true)),
        _ if is("n") || is("no") || is("false") || s == "0" => Ok(Some(false)),
        _ => Err(err(
            "bad_flag",
            format!("'{s}' is not a flag: expected Y/N, yes/no, true/false or 1/0"),
        )),
    }
}

pub fn parse_number(raw: &str) -> Result<Option<f64>, CellError> {
    let s = trim(raw);
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(err(
            "bad_number",
            format!("'{s}' is not a number: expected digits with an optional decimal point"),
        )),
    }
}

/// Characters that print as nothing: a byte-order mark, a zero-width space or a direction
/// mark pasted into a cell would otherwise make `North` and `North\u{feff}` two teams that
/// print the same. They are removed wherever they are.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{feff}'
            | '\u{200b}'
            | '\u{2060}'
            | '\u{180e}'
            | '\u{00ad}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// Joiners shape the letters around them in some scripts, so they are kept inside a value;
/// at its ends they join nothing and are removed.
fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200c}' | '\u{200d}')
}

/// A control character that has no place in an extract (tab, CR and LF do: a quoted value
/// may hold a line break).
fn is_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The one tidying of a cell's text: invisible characters removed, spaces of every kind
/// (no-break, thin, ideographic) read as a plain space, and spaces trimmed from both ends.
/// Borrows when nothing changes, as for almost every cell.
pub fn tidy(raw: &str) -> Cow<'_, str> {
    if raw.is_ascii() {
        return Cow::Borrowed(raw.trim());
    }
    let needs_work = raw
        .chars()
        .any(|c| is_invisible(c) || (c.is_whitespace() && c != ' ' && !c.is_ascii()));
    let trim = |s: &str| -> String {
        s.trim_matches(|c: char| c.is_whitespace() || is_joiner(c))
            .to_string()
    };
    if !needs_work {
        let t = raw.trim_matches(|c: char| c.is_whitespace() || is_joiner(c));
        return Cow::Borrowed(t);
    }
    let spaced: String = raw
        .chars()
        .filter(|c| !is_invisible(*c))
        .map(|c| {
            if c.is_whitespace() && !matches!(c, '\t' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect();
    Cow::Owned(trim(&spaced))
}

/// The longest value a cell may hold: every column of the extract format is an ID, a code,
/// a date, a number or a short label (a team, a source, an outcome). A longer value (a
/// pasted document, 50 MB in a team name) would be copied into every output row and chart.
pub const MAX_VALUE_CHARS: usize = 500;

/// [`tidy`], and a value longer than [`MAX_VALUE_CHARS`] or holding a control character (a NUL, an escape, a C1 code from a
/// mis-saved file) is refused: it would print as nothing or as garbage.
pub fn clean(raw: &str) -> Result<Cow<'_, str>, CellError> {
    // Almost every cell is printable ASCII: it needs only its spaces trimmed.
    if raw.len() <= MAX_VALUE_CHARS && raw.bytes().all(printable_ascii) {
        return Ok(Cow::Borrowed(trim_spaces(raw)));
    }
    // Checked before any other rule, whose message would quote the value.
    if raw.len() > MAX_VALUE_CHARS && raw.chars().count() > MAX_VALUE_CHARS {
        return Err(err(
            "too_long",
            format!(
                "the value is {} characters long; a cell of an extract holds at most {MAX_VALUE_CHARS} (a name, a code, a date): is a quote missing, or a document pasted into the cell?",
                raw.chars().count()
            ),
        ));
    }
    let s = tidy(raw);
    if let Some(c) = s.chars().find(|c| is_control(*c)) {
        return Err(err(
            "control_character",
            format!(
                "'{}' holds the invisible control character U+{:04X}: remove it and export again",
                s.escape_debug(),
                c as u32
            ),
        ));
    }
    Ok(s)
}

/// `str::trim`, without its cost for a value that is trimmed already (every cleaned cell).
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// `s` without the ASCII spaces at its ends.
fn trim_spaces(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|c| *c != b' ').unwrap_or(b.len());
    let end = b.iter().rposition(|c| *c != b' ').map_or(start, |i| i + 1);
    &s[start..end]
}

/// An identifier holds no line break or tab: one that does cannot link to anything.
pub fn check_id(s: &str) -> Result<&str, CellError> {
    if s.bytes().any(|b| matches!(b, b'\n' | b'\r' | b'\t')) {
        return Err(err(
            "bad_id",
            format!(
                "'{}' holds a line break or tab: an ID must be one word of text",
                s.escape_debug()
            ),
        ));
    }
    Ok(s)
}

/// Identifiers stay text. Excel turns `10` into `10.0` when a column was numeric: that
/// trailing `.0` is removed (and reported) so the ID still links to other tables.
/// Returns the ID and whether it was changed.
pub fn normalise_id(raw: &str) -> (&str, bool) {
    let s = trim(raw);
    if let Some(dot) = s.bytes().position(|b| b == b'.') {
        let (int, frac) = (&s[..dot], &s[dot + 1..]);
        if !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && !frac.is_empty()
            && frac.bytes().all(|b| b == b'0')
        {
            return (int, true);
        }
    }
    (s, false)
}

/// Milliseconds in a day: polars' datetimes are milliseconds since 1970-01-01.
pub const MS_PER_DAY: i64 = 86_400_000;

/// Printable ASCII, a space to `~`: what a value needs no cleaning for (see [`clean`]).
#[inline]
pub fn printable_ascii(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
}

/// Days since 1970-01-01 (polars' Date representation).
pub fn epoch_days(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - 719_163
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn reads_iso_and_uk_dates_never_us() {
        assert_eq!(parse_date("2024-02-29").unwrap(), Some(d(2024, 2, 29)));
        assert_eq!(parse_date("03/04/2024").unwrap(), Some(d(2024, 4, 3)));
        assert_eq!(parse_date("3/4/2024").unwrap(), Some(d(2024, 4, 3)));
        assert_eq!(
            parse_date(" 31/12/2023 00:00:00").unwrap(),
            Some(d(2023, 12, 31))
        );
        assert_eq!(parse_date("").unwrap(), None);
        assert_eq!(parse_date("11/25/2024").unwrap_err().rule, "us_date");
        assert_eq!(parse_date("29/02/2023").unwrap_err().rule, "bad_date");
        assert_eq!(parse_date("2023-02-29").unwrap_err().rule, "bad_date");
        assert_eq!(parse_date("01/02/24").unwrap_err().rule, "bad_date");
        assert_eq!(parse_date("yesterday").unwrap_err().rule, "bad_date");
        assert_eq!(parse_date("2024").unwrap_err().rule, "bad_date");
        let slashes = parse_date("2024/03/05").unwrap_err();
        assert!(
            slashes.message.contains("year first needs dashes"),
            "{}",
            slashes.message
        );
        let serial = parse_date("45231").unwrap_err();
        assert_eq!(serial.rule, "excel_serial");
        // 45231 days after 1899-12-30 is 2023-11-01 (Excel's DATEVALUE("01/11/2023")).
        assert!(serial.message.contains("2023-11-01"), "{}", serial.message);
    }

    #[test]
    fn reads_datetimes_and_remembers_missing_times() {
        let s = parse_stamp("05/03/2024 14:30").unwrap().unwrap();
        assert!(s.has_time);
        assert_eq!(s.at, d(2024, 3, 5).and_hms_opt(14, 30, 0).unwrap());
        let iso = parse_stamp("2024-03-05T09:15:07").unwrap().unwrap();
        assert_eq!(iso.at, d(2024, 3, 5).and_hms_opt(9, 15, 7).unwrap());
        let day = parse_stamp("2024-03-05").unwrap().unwrap();
        assert!(!day.has_time);
        // Same day, one without a time: not "before".
        assert!(!day.before(&s) && !s.before(&day));
        assert!(iso.before(&s));
        assert_eq!(
            parse_stamp("2024-03-05 25:00").unwrap_err().rule,
            "bad_datetime"
        );
    }

    #[test]
    fn flags_ids_and_numbers() {
        assert_eq!(parse_flag("Yes").unwrap(), Some(true));
        assert_eq!(parse_flag("FALSE").unwrap(), Some(false));
        assert_eq!(parse_flag(" 0 ").unwrap(), Some(false));
        assert_eq!(parse_flag("").unwrap(), None);
        assert_eq!(parse_flag("maybe").unwrap_err().rule, "bad_flag");
        assert_eq!(normalise_id("10.0"), ("10", true));
        assert_eq!(normalise_id("007"), ("007", false));
        assert_eq!(normalise_id("10.5"), ("10.5", false));
        assert_eq!(normalise_id("A.0"), ("A.0", false));
        assert_eq!(parse_number("0.8").unwrap(), Some(0.8));
        assert_eq!(parse_number("1,0").unwrap_err().rule, "bad_number");
        assert_eq!(epoch_days(d(1970, 1, 1)), 0);
        assert_eq!(epoch_days(d(2024, 2, 29)), 19782);
    }

    #[test]
    fn cells_are_tidied_in_one_place() {
        assert_eq!(tidy("\u{feff}North"), "North");
        assert_eq!(tidy(" North\u{200b} "), "North");
        assert_eq!(tidy("\u{a0}North\u{a0}East\u{a0}"), "North East");
        assert_eq!(tidy("\u{200d}Zo\u{200d}\u{eb}\u{200d}"), "Zo\u{200d}\u{eb}");
        assert_eq!(tidy("Zoë Hughes"), "Zoë Hughes");
        assert!(matches!(tidy(" plain "), Cow::Borrowed("plain")));
        assert_eq!(clean("Health\nvisitor").unwrap(), "Health\nvisitor");
        assert_eq!(clean("a\u{7}b").unwrap_err().rule, "control_character");
        assert_eq!(clean("\u{81}x").unwrap_err().rule, "control_character");
        assert_eq!(check_id("R1\n2").unwrap_err().rule, "bad_id");
        assert_eq!(check_id("R12"), Ok("R12"));
    }
}
