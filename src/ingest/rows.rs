//! Physical lines and CSV records, read the same way by every CSV reader of the crate.
//!
//! A physical line ends at a CR, an LF or a CRLF, each one line end, whatever the rest of
//! the file uses: Excel on Windows writes CRLF, old Mac tools CR, and a value pasted from
//! elsewhere can hold a lone LF. Lines are numbered from 1, as an editor numbers them.
//!
//! A record is read as RFC 4180 and the `csv` crate read it: fields are separated by commas;
//! a field that starts with `"` is quoted up to the next lone `"` (`""` is a quote inside
//! it, and text after the closing quote is kept); a quoted field may run over line ends.
//! The reader says where each record starts and ends and whether its quote was closed;
//! what to do with a record that runs over lines is the caller's choice (see `ingest`).

/// The length of the line end at `i`: 2 for CRLF, 1 for a CR or an LF, 0 for anything else.
pub fn line_end_at(text: &[u8], i: usize) -> usize {
    match text.get(i) {
        Some(b'\r') if text.get(i + 1) == Some(&b'\n') => 2,
        Some(b'\r' | b'\n') => 1,
        _ => 0,
    }
}

/// Maps byte offsets to 1-based physical line numbers. Offsets asked in increasing order
/// cost one pass over the text in all; an earlier offset starts the count again.
pub struct LineCounter<'a> {
    text: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    pub fn new(text: &'a [u8]) -> Self {
        LineCounter {
            text,
            at: 0,
            line: 1,
        }
    }

    /// The line that holds the byte at `offset` (a line end belongs to the line it ends).
    pub fn line_at(&mut self, offset: usize) -> u64 {
        let offset = offset.min(self.text.len());
        if offset < self.at {
            (self.at, self.line) = (0, 1);
        }
        for i in self.at..offset {
            // A CRLF is counted at its LF, so an offset between the two stays on the line.
            match self.text[i] {
                b'\n' => self.line += 1,
                b'\r' if self.text.get(i + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
        }
        self.at = offset;
        self.line
    }
}

/// One record's fields. A field read as it stands is a span of the text (no copy); only a
/// quoted field, rewritten without its quotes, is copied, into one buffer reused from row
/// to row (no allocation per row once it has grown).
#[derive(Debug, Default, Clone)]
pub struct Record<'t> {
    text: &'t str,
    buf: String,
    kept: Vec<Field>,
    /// Fields seen, kept or not (see [`Records::max_fields`]).
    fields: usize,
    /// The lines where the record starts and ends.
    pub first_line: u64,
    pub last_line: u64,
    /// A quoted field reached the end of what was read without its closing quote.
    pub unclosed: bool,
    /// The first field that holds a line end.
    pub broken_field: Option<usize>,
    /// The record is an empty line (nothing before its line end).
    pub empty_line: bool,
}

/// Where a kept field is: in the text, or (quoted) in the record's buffer.
#[derive(Debug, Clone, Copy)]
struct Field {
    start: usize,
    end: usize,
    copied: bool,
    /// Unquoted, all printable ASCII, no space at either end, so that it needs no cleaning
    /// (almost every cell of an extract).
    plain: bool,
}

impl<'t> Record<'t> {
    /// The number of fields, including any not kept.
    pub fn len(&self) -> usize {
        self.fields
    }
    pub fn is_empty(&self) -> bool {
        self.fields == 0
    }
    pub fn get(&self, i: usize) -> Option<&str> {
        let f = self.kept.get(i)?;
        Some(match f.copied {
            true => &self.buf[f.start..f.end],
            false => &self.text[f.start..f.end],
        })
    }
    /// A field, and whether it is plain: unquoted, only printable ASCII, and no space at
    /// either end (nothing [`crate::values::clean`] would change or refuse but its length).
    pub fn get_plain(&self, i: usize) -> Option<(&str, bool)> {
        Some((self.get(i)?, self.kept[i].plain))
    }
    /// The fields kept.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.kept.len()).filter_map(|i| self.get(i))
    }
    /// Every field is empty once spaces are trimmed (an empty line, or `,,,` as Excel
    /// leaves below a table). Almost every row is found not blank at its first field.
    pub fn is_blank(&self) -> bool {
        self.iter().all(|f| f.trim().is_empty())
    }
    pub fn spans_lines(&self) -> bool {
        self.first_line != self.last_line || self.broken_field.is_some()
    }
    fn clear(&mut self, text: &'t str, line: u64) {
        self.text = text;
        self.buf.clear();
        self.kept.clear();
        self.fields = 0;
        self.first_line = line;
        self.last_line = line;
        self.unclosed = false;
        self.broken_field = None;
        self.empty_line = false;
    }
}

/// Where a reader stands, to come back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pos: usize,
    line: u64,
}

impl Mark {
    /// The place `pos` bytes in, on line `line`.
    pub fn at(pos: usize, line: u64) -> Mark {
        Mark { pos, line }
    }
    pub fn pos(&self) -> usize {
        self.pos
    }
    pub fn line(&self) -> u64 {
        self.line
    }
}

/// The number of line ends (CR, LF or CRLF, each one) in `b`. Vectorised: counted at the
/// speed of memory, to number the lines where a file is cut into chunks.
pub fn line_ends(b: &[u8]) -> u64 {
    let count = |byte: u8| -> usize {
        // Sums of small blocks, which the compiler turns into vector compares.
        b.chunks(255)
            .map(|c| c.iter().map(|x| (*x == byte) as u8).sum::<u8>() as usize)
            .sum()
    };
    let (lf, cr) = (count(b'\n'), count(b'\r'));
    let crlf = if cr == 0 {
        0
    } else {
        b.windows(2).filter(|w| *w == b"\r\n").count()
    };
    (lf + cr - crlf) as u64
}

/// Reads records from a text, counting physical lines as it goes.
#[derive(Clone)]
pub struct Records<'a> {
    text: &'a str,
    pos: usize,
    line: u64,
    /// Fields after this many are counted but not kept: a row of a million commas costs
    /// no more memory than the header allows.
    pub max_fields: usize,
}

impl<'a> Records<'a> {
    pub fn new(text: &'a str) -> Self {
        Records {
            text,
            pos: 0,
            line: 1,
            max_fields: usize::MAX,
        }
    }

    /// A reader of `text` standing at `mark` (a record start found by another reader, or
    /// made by [`Mark::at`]).
    pub fn at(text: &'a str, mark: Mark) -> Self {
        Records {
            pos: mark.pos,
            line: mark.line,
            ..Records::new(text)
        }
    }

    /// The byte offset the next record starts at.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The line the next record starts on.
    pub fn line(&self) -> u64 {
        self.line
    }

    pub fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            line: self.line,
        }
    }

    pub fn reset(&mut self, mark: Mark) {
        (self.pos, self.line) = (mark.pos, mark.line);
    }

    /// Reads the next record, its quoted fields running over line ends; `false` at the end.
    pub fn read(&mut self, rec: &mut Record<'a>) -> bool {
        self.read_to(self.text.len(), rec)
    }

    /// Reads the next physical line alone as a record: a quote still open at the line's end
    /// is closed there (and `unclosed` says so). `false` at the end of the text.
    pub fn read_line_alone(&mut self, rec: &mut Record<'a>) -> bool {
        let b = self.text.as_bytes();
        let mut end = self.pos;
        while end < b.len() && !matches!(b[end], b'\r' | b'\n') {
            end += 1;
        }
        self.read_to(end, rec)
    }

    /// The first line after `rec`'s first, up to its last, that read alone has `width`
    /// fields, as a row of its own would. `self` must stand where `rec` started.
    pub fn line_reading_as_row(&self, rec: &Record<'_>, width: usize) -> Option<u64> {
        let mut lines = self.clone();
        let mut scratch = Record::default();
        lines.read_line_alone(&mut scratch);
        while lines.line <= rec.last_line && lines.read_line_alone(&mut scratch) {
            if scratch.len() == width {
                return Some(scratch.first_line);
            }
        }
        None
    }

    fn read_to(&mut self, limit: usize, rec: &mut Record<'a>) -> bool {
        if self.pos >= self.text.len() {
            return false;
        }
        rec.clear(self.text, self.line);
        let start = self.pos;
        let mut i = self.pos;
        loop {
            i = self.read_field(i, limit, rec);
            if i < limit && self.text.as_bytes()[i] == b',' {
                i += 1;
                continue;
            }
            break;
        }
        rec.last_line = self.line;
        rec.empty_line = i == start && rec.fields == 1;
        let end = line_end_at(self.text.as_bytes(), i);
        if end > 0 {
            self.line += 1;
        }
        self.pos = i + end;
        true
    }

    /// Reads one field from `i`; returns where it stopped (a comma, a line end or `limit`).
    fn read_field(&mut self, i: usize, limit: usize, rec: &mut Record<'a>) -> usize {
        let b = self.text.as_bytes();
        let keep = rec.kept.len() < self.max_fields;
        rec.fields += 1;
        if i < limit && b[i] == b'"' {
            return self.read_quoted(i, limit, rec, keep);
        }
        let (end, printable) = scan_unquoted(b, i, limit);
        // Spaces inside a value are kept; at its ends they would be trimmed.
        let plain = printable && (end == i || (b[i] != b' ' && b[end - 1] != b' '));
        if keep {
            rec.kept.push(Field {
                start: i,
                end,
                copied: false,
                plain,
            });
        }
        end
    }

    /// Reads a quoted field from its opening quote at `i`, and any text after its closing
    /// quote, into the record's buffer.
    fn read_quoted(
        &mut self,
        mut i: usize,
        limit: usize,
        rec: &mut Record<'a>,
        keep: bool,
    ) -> usize {
        let (text, b) = (self.text, self.text.as_bytes());
        let field = rec.fields - 1;
        let start = rec.buf.len();
        let push = |rec: &mut Record, s: &str| {
            if keep {
                rec.buf.push_str(s);
            }
        };
        i += 1;
        loop {
            let s = i;
            while i < limit && !matches!(b[i], b'"' | b'\r' | b'\n') {
                i += 1;
            }
            push(rec, &text[s..i]);
            if i >= limit {
                rec.unclosed = true;
                break;
            }
            if b[i] == b'"' {
                if i + 1 < limit && b[i + 1] == b'"' {
                    push(rec, "\"");
                    i += 2;
                    continue;
                }
                i += 1;
                break;
            }
            let n = line_end_at(b, i);
            push(rec, &text[i..i + n]);
            i += n;
            self.line += 1;
            rec.broken_field.get_or_insert(field);
        }
        // The text after a closing quote: up to a comma or a line end.
        let (end, _) = scan_unquoted(b, i, limit);
        push(rec, &text[i..end]);
        if keep {
            rec.kept.push(Field {
                start,
                end: rec.buf.len(),
                copied: true,
                plain: false,
            });
        }
        end
    }
}

/// From `i`, the first comma or line end before `limit` (else `limit`), and whether every
/// byte before it is printable ASCII (0x20 to 0x7e).
fn scan_unquoted(b: &[u8], mut i: usize, limit: usize) -> (usize, bool) {
    let mut printable = true;
    loop {
        i = next_special(b, i, limit);
        if i >= limit {
            return (limit, printable);
        }
        match b[i] {
            b',' | b'\r' | b'\n' => return (i, printable),
            c => printable &= crate::values::printable_ascii(c),
        }
        i += 1;
    }
}

/// The first byte at or after `i` (before `limit`) that is a comma, a control character
/// (line ends among them), DEL or not ASCII; `limit` if none is. Eight bytes at a time:
/// in each byte lane, a borrow out of `x - n` with the lane's top bit clear means the byte
/// is below `n`. A borrow can flag a lane above a true one, never below it, so the lowest
/// flagged lane is exact.
fn next_special(b: &[u8], mut i: usize, limit: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(LO * n as u64) & !x & HI;
    while i + 8 <= limit {
        let x = u64::from_le_bytes(b[i..i + 8].try_into().expect("eight bytes"));
        let special = below(x, 0x20)
            | (x & HI)
            | below(x ^ (LO * 0x7f), 1)
            | below(x ^ (LO * b',' as u64), 1);
        if special != 0 {
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < limit && b[i] != b',' && crate::values::printable_ascii(b[i]) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<(u64, u64, Vec<String>, bool)> {
        let mut r = Records::new(text);
        let mut rec = Record::default();
        let mut out = Vec::new();
        while r.read(&mut rec) {
            let fields = rec.iter().map(str::to_string).collect();
            out.push((rec.first_line, rec.last_line, fields, rec.unclosed));
        }
        out
    }

    #[test]
    fn cr_lf_and_crlf_each_end_one_line() {
        let text = b"a\rb\nc\r\nd\n\re";
        let mut c = LineCounter::new(text);
        let lines: Vec<u64> = (0..text.len()).map(|i| c.line_at(i)).collect();
        assert_eq!(lines, [1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 6]);
        assert_eq!(line_ends(text), 5);
        assert_eq!(line_ends(b"a\r\nb\r\n"), 2);
        assert_eq!(line_ends(b""), 0);
        // Counted in blocks: the same over a long text as the line counter finds.
        let long: Vec<u8> = text.iter().copied().cycle().take(10_007).collect();
        let mut c = LineCounter::new(&long);
        assert_eq!(line_ends(&long) + 1, c.line_at(long.len()));
        // Asking for an earlier offset counts again from the top.
        assert_eq!(c.line_at(2), 2);
    }

    #[test]
    fn records_are_read_as_the_csv_crate_reads_them() {
        let got = all("a,\"b,\"\"c\"\"\",d\r\n\"x\"y,z\"w\r,\n\n");
        assert_eq!(
            got,
            [
                (1, 1, vec!["a".into(), "b,\"c\"".into(), "d".into()], false),
                (2, 2, vec!["xy".into(), "z\"w".into()], false),
                (3, 3, vec!["".into(), "".into()], false),
                (4, 4, vec!["".into()], false),
            ]
        );
    }

    #[test]
    fn a_quoted_line_end_joins_lines_and_an_unclosed_quote_says_so() {
        let got = all("1,\"a\r\nb\",2\n3,\"c\n4,d\n");
        assert_eq!(
            got[0],
            (1, 2, vec!["1".into(), "a\r\nb".into(), "2".into()], false)
        );
        assert_eq!(got[1], (3, 5, vec!["3".into(), "c\n4,d\n".into()], true));
        let mut r = Records::new("1,\"a\n2,b\n");
        let mut rec = Record::default();
        let start = r.clone();
        assert!(r.read(&mut rec) && rec.unclosed && rec.broken_field == Some(1));
        assert_eq!(start.line_reading_as_row(&rec, 2), Some(2));
        let mut r = start;
        assert!(r.read_line_alone(&mut rec));
        assert_eq!((rec.first_line, rec.len(), rec.unclosed), (1, 2, true));
        assert!(r.read(&mut rec));
        assert_eq!((rec.first_line, rec.get(1)), (2, Some("b")));
        assert!(!r.read(&mut rec));
    }

    /// Fields as a byte-at-a-time reader splits them: (text, plain) for each field of each
    /// record, read as the module's doc says. The reader must agree with it exactly.
    fn fields_one_byte_at_a_time(text: &str) -> Vec<Vec<(String, bool)>> {
        let b = text.as_bytes();
        let (mut out, mut i) = (Vec::new(), 0);
        while i < b.len() {
            let mut fields = Vec::new();
            loop {
                let (mut field, mut plain) = (Vec::new(), true);
                if b.get(i) == Some(&b'"') {
                    plain = false;
                    i += 1;
                    while i < b.len() {
                        match (b[i], b.get(i + 1)) {
                            (b'"', Some(b'"')) => (field.push(b'"'), i += 2).1,
                            (b'"', _) => {
                                i += 1;
                                break;
                            }
                            (c, _) => (field.push(c), i += 1).1,
                        }
                    }
                }
                let start = field.len();
                while i < b.len() && !matches!(b[i], b',' | b'\r' | b'\n') {
                    plain &= (0x20..0x7f).contains(&b[i]);
                    field.push(b[i]);
                    i += 1;
                }
                let tail = &field[start..];
                plain &= tail.first() != Some(&b' ') && tail.last() != Some(&b' ');
                fields.push((String::from_utf8(field).unwrap(), plain));
                if b.get(i) != Some(&b',') {
                    break;
                }
                i += 1;
            }
            i += line_end_at(b, i);
            out.push(fields);
        }
        out
    }

    proptest::proptest! {
        /// The reader, eight bytes at a time and copying only quoted fields, splits every
        /// text as a byte-at-a-time reader does: long runs cross its eight-byte steps.
        #[test]
        fn records_split_as_one_byte_at_a_time(
            parts in proptest::collection::vec(
                proptest::string::string_regex("[a-c ,\"\r\n\t\u{7f}\u{80}é0.]{0,3}|[a-z0-9 ]{5,19}").unwrap(),
                0..24,
            )
        ) {
            let text: String = parts.concat();
            let mut r = Records::new(&text);
            let mut rec = Record::default();
            let mut got = Vec::new();
            while r.read(&mut rec) {
                got.push((0..rec.len()).map(|i| {
                    let (f, plain) = rec.get_plain(i).unwrap();
                    (f.to_string(), plain)
                }).collect::<Vec<_>>());
            }
            proptest::prop_assert_eq!(got, fields_one_byte_at_a_time(&text));
        }

        /// A field the reader calls plain is one cleaning leaves exactly as it is and an ID
        /// check accepts, so the loader may skip both for it.
        #[test]
        fn a_plain_field_is_one_cleaning_leaves_alone(
            text in proptest::string::string_regex("[a-c ,\"\r\n\t\u{7f}\u{a0}\u{200b}\u{feff}é0.]{0,60}").unwrap()
        ) {
            let mut r = Records::new(&text);
            let mut rec = Record::default();
            while r.read(&mut rec) {
                for i in 0..rec.iter().count() {
                    let (field, plain) = rec.get_plain(i).unwrap();
                    if plain {
                        let cleaned = crate::values::clean(field).unwrap();
                        proptest::prop_assert_eq!(&*cleaned, field);
                        proptest::prop_assert!(crate::values::check_id(field).is_ok());
                    }
                }
            }
        }
    }

    #[test]
    fn plain_fields_are_unquoted_printable_ascii_with_no_space_at_either_end() {
        let mut r = Records::new("a1,\"b\",c d,é,,x\u{7f}, e,f ,g\th\n");
        let mut rec = Record::default();
        assert!(r.read(&mut rec));
        let plain: Vec<bool> = (0..9).map(|i| rec.get_plain(i).unwrap().1).collect();
        assert_eq!(
            plain,
            [true, false, true, false, true, false, false, false, false]
        );
    }

    #[test]
    fn fields_beyond_the_limit_are_counted_not_kept() {
        let mut r = Records::new("a,b,c,d\n");
        r.max_fields = 2;
        let mut rec = Record::default();
        assert!(r.read(&mut rec));
        assert_eq!((rec.len(), rec.iter().count()), (4, 2));
    }
}
