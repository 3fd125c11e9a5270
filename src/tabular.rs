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
    match v {
        None => String::new(),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
        Some(x) => format!("{x:.decimals$}"),
    }
}

impl Cell<'_> {
    /// The cell as CSV text (numbers to 2 decimal places).
    pub fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.to_string(),
            Cell::Number(v) => num(*v, 2),
            Cell::Date(d) => d.map(|d| d.to_string()).unwrap_or_default(),
            Cell::Flag(b) => if *b { "yes" } else { "no" }.to_string(),
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
    for r in rows {
        w.write_record(r.iter().map(Cell::text))
            .expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
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
