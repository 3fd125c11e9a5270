//! Typed cells written the same way to CSV, JSON and xlsx by every output (the measures'
//! long table, the audit sample, the estimates).

use rust_xlsxwriter::{Color, ExcelDateTime, Format, Worksheet, XlsxError};

/// One cell of an output table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Text(&'a str),
    Number(Option<f64>),
    Date(Option<chrono::NaiveDate>),
    Flag(bool),
}

/// A number as text: whole numbers without decimals, others to `decimals` places.
pub fn num(v: Option<f64>, decimals: usize) -> String {
    let mut s = String::new();
    write_num(&mut s, v, decimals);
    s
}

fn write_num(out: &mut String, v: Option<f64>, decimals: usize) {
    use std::fmt::Write;
    // Writing to a String cannot fail.
    let _ = match v {
        None => Ok(()),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => write!(out, "{}", x as i64),
        Some(x) => write!(out, "{x:.decimals$}"),
    };
}

impl Cell<'_> {
    /// The cell as CSV text (numbers to 2 decimal places).
    pub fn text(&self) -> String {
        let mut s = String::new();
        self.write_text(&mut s);
        s
    }

    /// Appends the cell's CSV text to `out`.
    fn write_text(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Cell::Text(s) => out.push_str(s),
            Cell::Number(v) => write_num(out, *v, 2),
            Cell::Date(Some(d)) => {
                let _ = write!(out, "{d}");
            }
            Cell::Date(None) => {}
            Cell::Flag(b) => out.push_str(if *b { "yes" } else { "no" }),
        }
    }
}

/// `s` cut to at most `max` UTF-16 units (Excel's limits on names, prompts and messages
/// count those).
pub fn utf16_cut(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if out.encode_utf16().count() + c.len_utf16() > max {
            break;
        }
        out.push(c);
    }
    out
}

/// A CSV file of a header and rows.
pub fn to_csv<'a, I>(headers: &[&str], rows: I) -> Vec<u8>
where
    I: IntoIterator<Item = Vec<Cell<'a>>>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(headers).expect("writing to memory");
    write_rows(&mut w, rows);
    w.into_inner().expect("writing to memory")
}

/// As [`to_csv`], a row of cells per item, with blocks of items written side by side on
/// the cores: a long table (every team's measures, 721,608 rows over 24 months) took 0.8 s
/// of one core at the end of a run. The bytes are those of one writer.
pub fn to_csv_par<'a, T: Sync>(
    headers: &[&str],
    items: &'a [T],
    cells: impl Fn(&'a T) -> Vec<Cell<'a>> + Sync,
) -> Vec<u8> {
    to_csv_blocks(headers, items, cells, 16_384)
}

fn to_csv_blocks<'a, T: Sync>(
    headers: &[&str],
    items: &'a [T],
    cells: impl Fn(&'a T) -> Vec<Cell<'a>> + Sync,
    block: usize,
) -> Vec<u8> {
    let blocks: Vec<&'a [T]> = items.chunks(block.max(1)).collect();
    let parts = crate::par::par_map(
        blocks,
        |b| b.len() as u64,
        |b| {
            let mut w = csv::Writer::from_writer(Vec::new());
            write_rows(&mut w, b.iter().map(&cells));
            w.into_inner().expect("writing to memory")
        },
    );
    let mut out = to_csv(headers, std::iter::empty());
    out.reserve(parts.iter().map(Vec::len).sum());
    for p in parts {
        out.extend_from_slice(&p);
    }
    out
}

/// Writes each row's cells through one reused buffer, not a new string a cell.
fn write_rows<'a>(w: &mut csv::Writer<Vec<u8>>, rows: impl IntoIterator<Item = Vec<Cell<'a>>>) {
    let mut text = String::new();
    for r in rows {
        for c in &r {
            text.clear();
            c.write_text(&mut text);
            w.write_field(&text).expect("writing to memory");
        }
        w.write_record(None::<&[u8]>).expect("writing to memory");
    }
}

/// Writes a bold, frozen, filtered header and typed rows on a worksheet; numbers that are
/// not whole get `decimal` format, dates `yyyy-mm-dd`.
pub fn write_sheet<'a, I>(
    sheet: &mut Worksheet,
    headers: &[&str],
    rows: I,
    decimal: &str,
) -> Result<(), XlsxError>
where
    I: IntoIterator<Item = Vec<Cell<'a>>>,
{
    write_sheet_marked(sheet, headers, rows, decimal, None)
}

/// As [`write_sheet`], with the rows `mark` picks filled in `mark`'s colour (every cell of
/// the row, so that the mark moves with the row when it is sorted or filtered).
pub fn write_sheet_marked<'a, I>(
    sheet: &mut Worksheet,
    headers: &[&str],
    rows: I,
    decimal: &str,
    mark: Option<(&dyn Fn(&[Cell]) -> bool, Color)>,
) -> Result<(), XlsxError>
where
    I: IntoIterator<Item = Vec<Cell<'a>>>,
{
    let bold = Format::new().set_bold();
    let plain = [
        Format::new(),
        Format::new().set_num_format(decimal),
        Format::new().set_num_format("yyyy-mm-dd"),
    ];
    let filled = mark.map(|(_, c)| plain.clone().map(|f| f.set_background_color(c)));
    for (c, name) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *name, &bold)?;
    }
    let mut n = 0u32;
    for (i, r) in rows.into_iter().enumerate() {
        let row = i as u32 + 1;
        n = row;
        let [text, dec, date] = match (&filled, mark) {
            (Some(f), Some((pick, _))) if pick(&r) => f,
            _ => &plain,
        };
        for (c, cell) in r.iter().enumerate() {
            let col = c as u16;
            match cell {
                Cell::Text("") | Cell::Number(None) | Cell::Date(None) => {
                    if filled.is_some() {
                        sheet.write_blank(row, col, text)?;
                    }
                }
                Cell::Text(s) => {
                    sheet.write_string_with_format(row, col, *s, text)?;
                }
                Cell::Number(Some(v)) if v.fract() == 0.0 => {
                    sheet.write_number_with_format(row, col, *v, text)?;
                }
                Cell::Number(Some(v)) => {
                    sheet.write_number_with_format(row, col, *v, dec)?;
                }
                Cell::Date(Some(d)) => {
                    let xd = ExcelDateTime::parse_from_str(&d.to_string())?;
                    sheet.write_datetime_with_format(row, col, &xd, date)?;
                }
                Cell::Flag(b) => {
                    sheet.write_boolean_with_format(row, col, *b, text)?;
                }
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    if !headers.is_empty() {
        sheet.autofilter(0, 0, n, headers.len() as u16 - 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The old way: one writer, a new string a cell.
    fn one_writer(headers: &[&str], rows: &[Vec<Cell>]) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(headers).unwrap();
        for r in rows {
            w.write_record(r.iter().map(Cell::text)).unwrap();
        }
        w.into_inner().unwrap()
    }

    #[test]
    fn cells_are_written_as_the_outputs_show_them() {
        let d = chrono::NaiveDate::from_ymd_opt(2024, 2, 29);
        let rows = vec![vec![
            Cell::Text("a,b \"c\""),
            Cell::Number(Some(1.5)),
            Cell::Number(Some(-3.0)),
            Cell::Number(None),
            Cell::Date(d),
            Cell::Date(None),
            Cell::Flag(true),
            Cell::Flag(false),
        ]];
        let h = ["t", "n", "w", "e", "d", "m", "y", "f"];
        let text = "t,n,w,e,d,m,y,f\n\"a,b \"\"c\"\"\",1.50,-3,,2024-02-29,,yes,no\n";
        assert_eq!(String::from_utf8(to_csv(&h, rows.clone())).unwrap(), text);
        assert_eq!(
            String::from_utf8(to_csv_par(&h, &rows, |r| r.clone())).unwrap(),
            text
        );
        assert_eq!(
            to_csv_par(&h, &[] as &[Vec<Cell>], |r| r.clone()),
            b"t,n,w,e,d,m,y,f\n"
        );
    }

    fn cell() -> impl Strategy<Value = (u8, String, f64, bool)> {
        (0u8..5, "[a-c,\"\n\r ]{0,6}", -1e6f64..1e6, any::<bool>())
    }

    proptest! {
        /// Blocks of any size written side by side give the bytes of one writer.
        #[test]
        fn blocks_side_by_side_write_what_one_writer_does(
            raw in prop::collection::vec(prop::collection::vec(cell(), 3), 0..40),
            block in 1usize..7,
        ) {
            let d = chrono::NaiveDate::from_ymd_opt(2025, 3, 31);
            let rows: Vec<Vec<Cell>> = raw.iter().map(|r| r.iter().map(|(k, s, x, b)| match k {
                0 => Cell::Text(s),
                1 => Cell::Number(Some(*x)),
                2 => Cell::Number(Some(x.round())),
                3 => Cell::Date(if *b { d } else { None }),
                _ => Cell::Flag(*b),
            }).collect()).collect();
            let h = ["a", "b", "c"];
            prop_assert_eq!(to_csv_blocks(&h, &rows, |r| r.clone(), block), one_writer(&h, &rows));
            prop_assert_eq!(to_csv(&h, rows.clone()), one_writer(&h, &rows));
        }
    }
}
