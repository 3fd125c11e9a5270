//! Hostile inputs: imports (see mod.rs). The CIN census: every `<Child>` element anywhere is
//! loaded or reported with its line (B7). Annex A: a copy of a list in a second sheet is
//! reported, never merged under the same keys, so `import` and `check` agree (B7). Any
//! workbook: the work is sized by the cells present and what the zip unpacks to, never by
//! the coordinates a cell or `<dimension>` claims (D11). Workbooks are built in the tests:
//! with rust_xlsxwriter, or zipped by hand (below) where a file must say what Excel never
//! writes.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use csc_audit::import::annex_a::{self, Cell};
use csc_audit::import::cin_census::parse;
use csc_audit::import::{load_data, ImportReport};
use csc_audit::ingest::LoadOptions;
use csc_audit::report::Severity;
use proptest::prelude::*;

use super::assert_no_crash;

fn csc() -> Command {
    Command::cargo_bin("csc-audit").unwrap()
}

/// `check --data PATH`, which must end on its own terms.
fn check(path: &Path) -> std::process::Output {
    let out = csc().arg("check").arg("--data").arg(path).output().unwrap();
    assert_no_crash(&out);
    out
}

fn options() -> LoadOptions {
    LoadOptions {
        as_of: None,
        today: crate::today(),
        columns: Default::default(),
    }
}

/// Every block of an import: read = loaded + rejected.
#[track_caller]
fn assert_blocks_add_up(report: &ImportReport) {
    for (name, c) in &report.blocks {
        assert_eq!(c.read, c.loaded + c.rejected, "{name}: {c:?}");
    }
}

// ---------------------------------------------------------------------------------------
// The CIN census (B7)

const HEADER: &str = "<Header><CollectionDetails><Collection>CIN</Collection><Year>2024</Year>\
    <ReferenceDate>2024-03-31</ReferenceDate></CollectionDetails></Header>";

fn child(id: &str, referral: &str) -> String {
    format!(
        "<Child><ChildIdentifiers><LAchildID>{id}</LAchildID></ChildIdentifiers>\
         <CINdetails><CINreferralDate>{referral}</CINreferralDate></CINdetails></Child>"
    )
}

fn census(children: &str) -> String {
    format!("<?xml version=\"1.0\"?>\n<Message>{HEADER}\n<Children>\n{children}\n</Children></Message>\n")
}

#[test]
fn a_child_nested_inside_a_child_is_reported_and_the_outer_child_is_loaded() {
    // Line 4 opens the outer child; the nested <Children><Child> is on line 5. The old
    // importer replaced the outer child with the inner one (one child, the inner).
    let xml = census(&format!(
        "<Child><ChildIdentifiers><LAchildID>OUTER</LAchildID></ChildIdentifiers>\n<Children>{}</Children>\n\
         <CINdetails><CINreferralDate>2023-05-01</CINreferralDate></CINdetails></Child>",
        child("INNER", "2023-06-01")
    ));
    let (t, report) = parse(&xml, "census.xml").unwrap();
    assert_eq!(t.rows("children").len(), 1);
    assert_eq!(t.rows("children")[0][0], "OUTER");
    assert_eq!(
        t.rows("referrals")
            .iter()
            .map(|r| r[0].as_str())
            .collect::<Vec<_>>(),
        ["OUTER-R1"]
    );
    let c = &report.blocks["Child"];
    assert_eq!((c.read, c.loaded, c.rejected), (2, 1, 1));
    // The inner child's referral is counted as rejected with it.
    let e = &report.blocks["CINdetails"];
    assert_eq!((e.read, e.loaded, e.rejected), (2, 1, 1));
    let issue = report
        .issues
        .iter()
        .find(|i| i.rule == "misplaced_block")
        .expect("the nested child is reported");
    assert_eq!(issue.line, Some(5));
    assert_eq!(issue.severity, Severity::Error);
    assert!(
        issue
            .message
            .starts_with("a Child nested inside another Child (the one on line 4)"),
        "{}",
        issue.message
    );
    assert_blocks_add_up(&report);
}

#[test]
fn a_child_outside_children_is_reported_not_lost() {
    // The old importer did not count it at all: 1 child read, 1 loaded.
    let xml = format!(
        "<Message>{HEADER}\n{}\n<Children>{}</Children></Message>",
        child("STRAY", "2023-05-01"),
        child("A1", "2023-05-02")
    );
    let (t, report) = parse(&xml, "census.xml").unwrap();
    assert_eq!(t.rows("children").len(), 1);
    let c = &report.blocks["Child"];
    assert_eq!((c.read, c.loaded, c.rejected), (2, 1, 1));
    let issue = report
        .issues
        .iter()
        .find(|i| i.rule == "misplaced_block")
        .unwrap();
    assert_eq!(issue.line, Some(2));
    assert!(
        issue
            .message
            .starts_with("a Child inside <Message>, not directly inside <Children>"),
        "{}",
        issue.message
    );
    assert_blocks_add_up(&report);
}

#[test]
fn empty_and_repeated_children_are_counted_and_rejected_so_check_agrees() {
    // `<Child/>` was not counted; a second LAchildID 10 (written 10.0, as Excel does) was
    // loaded by the import and rejected by the checks as a duplicate key.
    let xml = census(&format!(
        "<Child/>\n{}\n{}\n{}",
        child("10", "2023-05-01"),
        child("10.0", "2023-05-02"),
        child("11", "2023-05-03")
    ));
    let (t, report) = parse(&xml, "census.xml").unwrap();
    let c = &report.blocks["Child"];
    assert_eq!((c.read, c.loaded, c.rejected), (4, 2, 2));
    let rules: Vec<(Option<u64>, &str)> = report
        .issues
        .iter()
        .map(|i| (i.line, i.rule.as_str()))
        .collect();
    assert_eq!(
        rules,
        [(Some(4), "missing_required"), (Some(6), "duplicate_key")]
    );
    assert!(report.issues[1].message.contains("the first is on line 5"));
    assert_eq!(t.rows("referrals").len(), 2);
    // What the import loaded, the checks load.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("census.xml");
    std::fs::write(&path, &xml).unwrap();
    let (ex, _) = load_data(&path, &options()).unwrap();
    for table in ["children", "referrals"] {
        let s = ex.report.tables.iter().find(|s| s.table == table).unwrap();
        assert_eq!(
            (s.rows_read, s.rows_loaded),
            (2, 2),
            "{table}: {:?}",
            ex.report.issues
        );
    }
}

#[test]
fn a_census_cut_short_or_with_an_undefined_entity_is_refused_with_the_line() {
    let whole = census(&child("A1", "2023-05-01"));
    let cut = &whole[..whole.find("</CINdetails>").unwrap()];
    let e = parse(cut, "census.xml").unwrap_err();
    assert!(e.contains("the file ends inside <"), "{e}");
    assert!(e.contains("cut short"), "{e}");
    let garbled = census(&child("A&bogus;1", "2023-05-01"));
    let e = parse(&garbled, "census.xml").unwrap_err();
    assert!(
        e.starts_with("line 4: not well-formed XML: '&bogus;'"),
        "{e}"
    );
    // The five entities XML defines are values, not errors.
    let (t, _) = parse(&census(&child("A&amp;1", "2023-05-01")), "c.xml").unwrap();
    assert_eq!(t.rows("children")[0][0], "A&1");
}

/// One generated child: how it is placed and what it holds.
#[derive(Debug, Clone)]
enum GenChild {
    Valid {
        id: u8,
        referral: String,
    },
    /// A Child inside the previous child (wrapped in `<Children>` or not).
    Nested {
        id: u8,
        wrapped: bool,
    },
    /// A Child directly inside `<Message>`, outside `<Children>`.
    Outside {
        id: u8,
    },
    Empty,
    NoId,
    /// A CINdetails directly inside `<Children>`.
    LooseEpisode,
}

fn date_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("2023-05-01".to_string()),
        Just("01/05/2023".to_string()),
        Just(String::new()),
        Just("2023-02-30".to_string()),
        Just("yesterday".to_string()),
        Just("&#x32;023-05-01".to_string()),
        Just("<![CDATA[2023-05-01]]>".to_string()),
    ]
}

fn gen_child() -> impl Strategy<Value = GenChild> {
    prop_oneof![
        4 => (0u8..6, date_text()).prop_map(|(id, referral)| GenChild::Valid { id, referral }),
        1 => (0u8..6, any::<bool>()).prop_map(|(id, wrapped)| GenChild::Nested { id, wrapped }),
        1 => (0u8..6).prop_map(|id| GenChild::Outside { id }),
        1 => Just(GenChild::Empty),
        1 => Just(GenChild::NoId),
        1 => Just(GenChild::LooseEpisode),
    ]
}

/// The census text of generated children.
fn gen_census(children: &[GenChild]) -> String {
    let mut inside = String::new();
    let mut outside = String::new();
    for c in children {
        match c {
            GenChild::Valid { id, referral } => inside.push_str(&child(&format!("C{id}"), referral)),
            GenChild::Nested { id, wrapped } => {
                let inner = child(&format!("N{id}"), "2023-01-01");
                let inner = if *wrapped {
                    format!("<Children>{inner}</Children>")
                } else {
                    inner
                };
                inside.push_str(&format!(
                    "<Child><ChildIdentifiers><LAchildID>P{id}</LAchildID></ChildIdentifiers>\n{inner}\n</Child>"
                ));
            }
            GenChild::Outside { id } => outside.push_str(&child(&format!("O{id}"), "2023-01-01")),
            GenChild::Empty => inside.push_str("<Child/>"),
            GenChild::NoId => inside.push_str(
                "<Child><CINdetails><CINreferralDate>2023-01-01</CINreferralDate></CINdetails></Child>",
            ),
            GenChild::LooseEpisode => {
                inside.push_str("<CINdetails><CINreferralDate>2023-01-01</CINreferralDate></CINdetails>")
            }
        }
        inside.push('\n');
    }
    format!("<Message>{HEADER}\n{outside}<Children>\n{inside}</Children></Message>\n")
}

fn occurrences(text: &str, tag: &str) -> u64 {
    (text.matches(&format!("<{tag}>")).count() + text.matches(&format!("<{tag}/>")).count()) as u64
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(200), ..ProptestConfig::default() })]

    /// Every Child and CINdetails element in the file is loaded or rejected, and each child
    /// loaded is one row; a file cut anywhere is refused, never half read.
    #[test]
    fn every_child_element_is_loaded_or_reported(
        children in prop::collection::vec(gen_child(), 0..8),
        cut in prop::option::weighted(0.2, any::<prop::sample::Index>()),
    ) {
        let xml = gen_census(&children);
        match cut {
            None => {
                let (t, report) = parse(&xml, "census.xml").unwrap();
                assert_blocks_add_up(&report);
                let count = |b: &str| report.blocks.get(b).map_or(0, |c| c.read);
                prop_assert_eq!(count("Child"), occurrences(&xml, "Child"));
                prop_assert_eq!(count("CINdetails"), occurrences(&xml, "CINdetails"));
                let loaded = report.blocks.get("Child").map_or(0, |c| c.loaded);
                prop_assert_eq!(t.rows("children").len() as u64, loaded);
                // Each child rejected has an error naming its line.
                let rejected = report.blocks.get("Child").map_or(0, |c| c.rejected);
                let child_errors = report.issues.iter()
                    .filter(|i| i.table == "Child" && i.severity == Severity::Error && i.line.is_some())
                    .count() as u64;
                prop_assert_eq!(child_errors, rejected);
            }
            Some(at) => {
                // Cut inside the body (a cut after the last end tag is a whole file).
                let end = xml.trim_end().len() - 1;
                let at = at.index(end);
                let cut = &xml[..at];
                match parse(cut, "census.xml") {
                    Ok((_, report)) => prop_assert!(false, "a cut file was read: {report:?}"),
                    Err(e) => prop_assert!(e.starts_with("line ") || e.starts_with("no <Message>"), "{}", e),
                }
            }
        }
    }

    /// Any bytes: an error or a report that adds up, never a panic.
    #[test]
    fn any_text_is_read_or_refused_without_a_panic(
        text in "(<Message>|<Children>|<Child>|</Child>|<CINdetails>|</CINdetails>|<LAchildID>|</LAchildID>|<Child/>|&amp;|&#0;|&#xD800;|&x;|<!--|-->|<![CDATA[|]]>|[a-z0-9 /<>&;]){0,40}",
    ) {
        if let Ok((_, report)) = parse(&text, "census.xml") {
            assert_blocks_add_up(&report);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Annex A: a list in two sheets (B7)

const LIST3_HEADER: [&str; 4] = [
    "Child Unique ID",
    "Date of referral",
    "Referral Source",
    "Allocated Team",
];

fn write_list(sheet: &mut rust_xlsxwriter::Worksheet, rows: &[[&str; 4]]) {
    for (c, h) in LIST3_HEADER.iter().enumerate() {
        sheet.write_string(1, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 2, c as u16, *v).unwrap();
        }
    }
}

#[test]
fn a_copy_of_a_list_in_a_second_sheet_is_reported_and_import_and_check_agree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("annex_a.xlsx");
    let rows = [
        ["101", "01/05/2023", "Police", "North"],
        ["102", "02/05/2023", "School", "South"],
    ];
    let mut wb = rust_xlsxwriter::Workbook::new();
    write_list(wb.add_worksheet().set_name("List 3").unwrap(), &rows);
    write_list(wb.add_worksheet().set_name("List 3 (2)").unwrap(), &rows);
    wb.save(&path).unwrap();

    let (t, report) = annex_a::import(&path).unwrap();
    let c = &report.blocks["List 3"];
    assert_eq!((c.read, c.loaded, c.rejected), (4, 2, 2));
    let keys: Vec<&str> = t.rows("referrals").iter().map(|r| r[0].as_str()).collect();
    assert_eq!(keys, ["L3-3", "L3-4"]);
    let issue = report
        .issues
        .iter()
        .find(|i| i.rule == "duplicate_list")
        .unwrap();
    assert_eq!(
        issue.message,
        "sheet 'List 3 (2)' is a second List 3 (the list was read from sheet 'List 3'): its 2 \
         row(s) (lines 3-4) are not loaded, so that nothing is counted twice; if they are rows \
         the first sheet lacks, move them into 'List 3', delete 'List 3 (2)' and import again"
    );
    assert_eq!(issue.severity, Severity::Error);

    // `check` on the workbook loads exactly what `import` said it loaded.
    let (ex, _) = load_data(&path, &options()).unwrap();
    assert!(
        !ex.report.issues.iter().any(|i| i.rule == "duplicate_key"),
        "{:?}",
        ex.report.issues
    );
    for (table, n) in &report.rows_written {
        let s = ex.report.tables.iter().find(|s| &s.table == table).unwrap();
        assert_eq!((s.rows_read, s.rows_loaded), (*n, *n), "{table}");
    }
    let out = check(&path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("is a second List 3"), "{stdout}");
}

// ---------------------------------------------------------------------------------------
// Workbooks whose cells claim a huge sheet (D11)

/// A workbook with a List 3 of one referral, plus whatever `more` writes.
fn list3_workbook(path: &Path, more: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet().set_name("List 3").unwrap();
    write_list(sheet, &[["101", "01/05/2023", "Police", "North"]]);
    more(sheet);
    wb.save(path).unwrap();
}

#[test]
fn a_cell_at_xfd1048576_costs_one_cell_not_512_gib() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("far.xlsx");
    list3_workbook(&path, |s| {
        s.write_string(1_048_575, 16_383, "stray").unwrap();
    });
    assert!(std::fs::metadata(&path).unwrap().len() < 10_000);
    let (_, report) = annex_a::import(&path).unwrap();
    let c = &report.blocks["List 3"];
    assert_eq!((c.read, c.loaded, c.rejected), (2, 1, 1));
    let stray = report
        .issues
        .iter()
        .find(|i| i.rule == "missing_required")
        .unwrap();
    assert_eq!(stray.line, Some(1_048_576));
    // Every command that reads a workbook: no abort, the same answer.
    check(&path);
    // (In a folder of its own, away from the repository's audit plan.)
    let out = csc()
        .current_dir(dir.path())
        .args(["pack", "--data"])
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("pack"))
        .output()
        .unwrap();
    assert_no_crash(&out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let import_dir = dir.path().join("imported");
    let out = csc()
        .args(["import", "annex-a"])
        .arg(&path)
        .arg("--out")
        .arg(&import_dir)
        .output()
        .unwrap();
    assert_no_crash(&out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = format!("{:<24} {:>9} {:>9} {:>9}", "List 3", 2, 1, 1);
    assert!(stdout.contains(&line), "{stdout}");
}

#[test]
fn sixty_thousand_rows_in_column_xfd_are_read_as_sixty_thousand_cells() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("column.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    write_list(
        wb.add_worksheet().set_name("List 3").unwrap(),
        &[["101", "01/05/2023", "Police", "North"]],
    );
    let notes = wb.add_worksheet().set_name("Notes").unwrap();
    for r in 0..60_000 {
        notes.write_number(r, 16_383, f64::from(r)).unwrap();
    }
    wb.save(&path).unwrap();
    let sheets = annex_a::read_workbook(&path).unwrap();
    let notes = sheets.iter().find(|s| s.name == "Notes").unwrap();
    assert_eq!(notes.rows.len(), 60_000);
    assert_eq!(notes.rows[59_999].line, 60_000);
    assert_eq!(notes.rows[59_999].cells, [(16_383, Cell::Number(59_999.0))]);
    let (_, report) = annex_a::import(&path).unwrap();
    assert_eq!(report.blocks["List 3"].loaded, 1);
}

/// A sheet part of a hand-made workbook: XML stored as it is, or a "zip bomb": `unpacked`
/// bytes of spaces after `<sheetData>`, deflated to a few bytes per kilobyte.
enum Part {
    Xml(String),
    /// XML deflated (one fixed-Huffman block of literals), as spreadsheet programs store it.
    Deflated(String),
    Bomb {
        unpacked: u64,
    },
}

/// An xlsx file zipped by hand, with one worksheet part per sheet, for what Excel never
/// writes (a forged `<dimension>`, a row past Excel's last, a part that unpacks to more
/// than a workbook holds).
fn hand_made_workbook(path: &Path, sheets: &[(&str, Part)], shared_strings: Option<Part>) {
    let mut workbook = String::from(
        "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
         xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>",
    );
    let mut rels = String::from(
        "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
    );
    let mut types = String::from(
        "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
         <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
         <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
         <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>",
    );
    let mut entries: Vec<(String, Entry)> = Vec::new();
    for (i, (name, part)) in sheets.iter().enumerate() {
        let n = i + 1;
        workbook.push_str(&format!(
            "<sheet name=\"{name}\" sheetId=\"{n}\" r:id=\"rId{n}\"/>"
        ));
        rels.push_str(&format!(
            "<Relationship Id=\"rId{n}\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet{n}.xml\"/>"
        ));
        types.push_str(&format!(
            "<Override PartName=\"/xl/worksheets/sheet{n}.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
        ));
        entries.push((format!("xl/worksheets/sheet{n}.xml"), Entry::of(part)));
    }
    workbook.push_str("</sheets></workbook>");
    rels.push_str("</Relationships>");
    types.push_str("</Types>");
    let root_rels = "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
        <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>";
    let mut all = vec![
        (
            "[Content_Types].xml".to_string(),
            Entry::stored(types.as_bytes()),
        ),
        (
            "_rels/.rels".to_string(),
            Entry::stored(root_rels.as_bytes()),
        ),
        (
            "xl/workbook.xml".to_string(),
            Entry::stored(workbook.as_bytes()),
        ),
        (
            "xl/_rels/workbook.xml.rels".to_string(),
            Entry::stored(rels.as_bytes()),
        ),
    ];
    all.extend(entries);
    if let Some(part) = &shared_strings {
        all.push(("xl/sharedStrings.xml".to_string(), Entry::of(part)));
    }
    std::fs::write(path, zip(&all)).unwrap();
}

/// One zip entry: its method (0 stored, 8 deflated), bytes as stored, CRC and unpacked size.
struct Entry {
    method: u16,
    data: Vec<u8>,
    crc: u32,
    unpacked: u64,
}

impl Entry {
    fn of(part: &Part) -> Entry {
        match part {
            Part::Xml(x) => Entry::stored(x.as_bytes()),
            Part::Deflated(x) => Entry::deflated(x.as_bytes()),
            Part::Bomb { unpacked } => Entry::bomb(*unpacked),
        }
    }

    fn deflated(bytes: &[u8]) -> Entry {
        let mut bits = Bits::default();
        bits.put(1, 1); // the last block
        bits.put(1, 2); // fixed Huffman codes
        for b in bytes {
            match b {
                0..=143 => bits.code(0x30 + u32::from(*b), 8),
                _ => bits.code(0x190 + u32::from(*b) - 144, 9),
            }
        }
        bits.code(0, 7); // end of block
        Entry {
            method: 8,
            data: bits.finish(),
            crc: crc32(bytes),
            unpacked: bytes.len() as u64,
        }
    }

    fn stored(bytes: &[u8]) -> Entry {
        Entry {
            method: 0,
            data: bytes.to_vec(),
            crc: crc32(bytes),
            unpacked: bytes.len() as u64,
        }
    }

    /// A sheet of `<worksheet><sheetData>`, then spaces, then the end tags, `unpacked`
    /// bytes in all, as one fixed-Huffman deflate block of 258-byte back-references. The
    /// CRC is left 0: a reader finds out only after unpacking it all.
    fn bomb(unpacked: u64) -> Entry {
        let head = b"<worksheet><sheetData>";
        let tail = b"</sheetData></worksheet>";
        let mut bits = Bits::default();
        bits.put(1, 1); // the last block
        bits.put(1, 2); // fixed Huffman codes
        let literal = |bits: &mut Bits, b: u8| bits.code(0x30 + u32::from(b), 8);
        for b in head {
            literal(&mut bits, *b);
        }
        literal(&mut bits, b' ');
        let spaces = unpacked - (head.len() + tail.len()) as u64 - 1;
        for _ in 0..spaces / 258 {
            bits.code(0b1100_0101, 8); // length 258
            bits.code(0, 5); // distance 1
        }
        for _ in 0..spaces % 258 {
            literal(&mut bits, b' ');
        }
        for b in tail {
            literal(&mut bits, *b);
        }
        bits.code(0, 7); // end of block
        Entry {
            method: 8,
            data: bits.finish(),
            crc: 0,
            unpacked,
        }
    }
}

#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    /// `n` bits of `v`, least significant first (deflate's order for values).
    fn put(&mut self, v: u32, n: u32) {
        self.acc |= u64::from(v) << self.n;
        self.n += n;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u32, n: u32) {
        self.put(code.reverse_bits() >> (32 - n), n);
    }
    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// A zip archive of the entries (sizes under 4 GiB: no ZIP64).
fn zip(entries: &[(String, Entry)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, e) in entries {
        let offset = out.len() as u32;
        let fields = |v: &mut Vec<u8>| {
            v.extend(20u16.to_le_bytes()); // version needed
            v.extend(0u16.to_le_bytes()); // flags
            v.extend(e.method.to_le_bytes());
            v.extend(0u32.to_le_bytes()); // time and date
            v.extend(e.crc.to_le_bytes());
            v.extend((e.data.len() as u32).to_le_bytes());
            v.extend((e.unpacked as u32).to_le_bytes());
            v.extend((name.len() as u16).to_le_bytes());
            v.extend(0u16.to_le_bytes()); // extra field
        };
        out.extend(b"PK\x03\x04");
        fields(&mut out);
        out.extend(name.as_bytes());
        out.extend(&e.data);
        central.extend(b"PK\x01\x02");
        central.extend(20u16.to_le_bytes()); // made by
        fields(&mut central);
        central.extend([0u8; 6]); // comment, disk, internal attributes
        central.extend(0u32.to_le_bytes()); // external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let at = out.len() as u32;
    out.extend(&central);
    out.extend(b"PK\x05\x06");
    out.extend([0u8; 4]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(at.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

fn sheet_xml(dimension: &str, rows: &str) -> String {
    format!(
        "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">\
         <dimension ref=\"{dimension}\"/><sheetData>{rows}</sheetData></worksheet>"
    )
}

fn inline(cell: &str, text: &str) -> String {
    format!("<c r=\"{cell}\" t=\"inlineStr\"><is><t>{text}</t></is></c>")
}

fn list3_rows() -> String {
    let header: String = ["A", "B", "C"]
        .iter()
        .zip(LIST3_HEADER)
        .map(|(c, h)| inline(&format!("{c}2"), h))
        .collect();
    let row = inline("A3", "101") + &inline("B3", "01/05/2023") + &inline("C3", "Police");
    format!("<row r=\"2\">{header}</row><row r=\"3\">{row}</row>")
}

#[test]
fn a_forged_dimension_and_a_row_numbered_999999999_cost_their_cells() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forged.xlsx");
    let rows = list3_rows() + "<row r=\"999999999\">" + &inline("A999999999", "stray") + "</row>";
    hand_made_workbook(
        &path,
        &[("List 3", Part::Xml(sheet_xml("A1:XFD1048576", &rows)))],
        None,
    );
    let (t, report) = annex_a::import(&path).unwrap();
    assert_eq!(t.rows("referrals").len(), 1);
    let c = &report.blocks["List 3"];
    assert_eq!((c.read, c.loaded, c.rejected), (2, 1, 1));
    let lines: Vec<Option<u64>> = report
        .issues
        .iter()
        .filter(|i| i.rule == "missing_required")
        .map(|i| i.line)
        .collect();
    assert_eq!(lines, [Some(999_999_999)]);
    for args in [&["check", "--data"][..], &["metrics", "--data"][..]] {
        let out = csc().args(args).arg(&path).output().unwrap();
        assert_no_crash(&out);
    }
}

#[test]
fn a_sheet_that_unpacks_to_300_mib_is_refused_before_it_is_unpacked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.xlsx");
    hand_made_workbook(
        &path,
        &[
            ("List 1", Part::Xml(sheet_xml("A1", ""))),
            (
                "List 3",
                Part::Bomb {
                    unpacked: 300 << 20,
                },
            ),
        ],
        None,
    );
    assert!(std::fs::metadata(&path).unwrap().len() < 3 << 20);
    let started = std::time::Instant::now();
    let e = annex_a::import(&path).unwrap_err().to_string();
    assert!(started.elapsed().as_secs() < 10);
    assert!(
        e.starts_with(&format!(
            "cannot read {} as an xlsx workbook: sheet 'List 3' (xl/worksheets/sheet2.xml) \
             would unpack to 300 MiB, more than the 256 MiB csc-audit unpacks for one part",
            path.display()
        )),
        "{e}"
    );
    let out = check(&path);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sheet 'List 3'"));
}

#[test]
fn shared_strings_that_claim_a_trillion_strings_are_refused_before_memory_is_set_aside() {
    // calamine reserves room for `uniqueCount` strings before reading one: the old reader
    // asked for 24 TB here and aborted.
    let dir = tempfile::tempdir().unwrap();
    let rows = "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>0</v></c></row>";
    let sst = |claim: &str| {
        Part::Deflated(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<sst \
             xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" count=\"1\" \
             uniqueCount=\"{claim}\"><si><t>Child Unique ID</t></si></sst>"
        ))
    };
    let honest = dir.path().join("honest.xlsx");
    let sheets = || [("List 3", Part::Xml(sheet_xml("A2", rows)))];
    hand_made_workbook(&honest, &sheets(), Some(sst("1")));
    let read = annex_a::read_workbook(&honest).unwrap();
    assert_eq!(
        read[0].rows[0].get(0),
        &Cell::Text("Child Unique ID".into())
    );

    let path = dir.path().join("claims.xlsx");
    hand_made_workbook(&path, &sheets(), Some(sst("1000000000000")));
    let e = annex_a::read_workbook(&path).unwrap_err().to_string();
    assert!(
        e.ends_with(
            "its shared strings (xl/sharedStrings.xml) claim 1000000000000 different strings; \
             csc-audit reads workbooks of at most 4000000: the workbook is damaged or built to \
             exhaust memory; open it in Excel and save it again"
        ),
        "{e}"
    );
    check(&path);
}

#[test]
fn one_long_shared_string_in_many_cells_is_bounded_by_the_text_it_makes() {
    // A 1 MiB string written once and used in 600 cells: 600 MiB of text from a 1 MiB
    // part. Refused when the cells reach 512 MiB, before the copy is made.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.xlsx");
    let rows: String = (1..=600)
        .map(|r| format!("<row r=\"{r}\"><c r=\"A{r}\" t=\"s\"><v>0</v></c></row>"))
        .collect();
    let sst = format!(
        "<sst uniqueCount=\"1\"><si><t>{}</t></si></sst>",
        "x".repeat(1 << 20)
    );
    hand_made_workbook(
        &path,
        &[("List 3", Part::Xml(sheet_xml("A1:A600", &rows)))],
        Some(Part::Deflated(sst)),
    );
    let e = annex_a::read_workbook(&path).unwrap_err().to_string();
    assert!(
        e.ends_with(
            "sheet 'List 3' reaches 513 MiB of text at A513: csc-audit reads workbooks of at \
             most 4000000 non-empty cells and 512 MiB of text; delete the cells that are not \
             part of the lists, or save the lists as CSV files in a folder and import the folder"
        ),
        "{e}"
    );
}

#[test]
fn references_beyond_any_sheet_are_an_error_of_the_file_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (dimension, rows)) in [
        ("B2:A1", list3_rows()),
        (
            "A1",
            format!("<row r=\"3\">{}</row>", inline("AAAAAAAAAAAA3", "x")),
        ),
        (
            "A1",
            format!("<row r=\"99999999999\">{}</row>", inline("A1", "x")),
        ),
        ("A1", inline("A99999999999", "x")),
        ("A1", inline("A0", "x")),
        ("A1", inline("3", "x")),
    ]
    .into_iter()
    .enumerate()
    {
        let path = dir.path().join(format!("beyond{i}.xlsx"));
        hand_made_workbook(
            &path,
            &[("List 3", Part::Xml(sheet_xml(dimension, &rows)))],
            None,
        );
        // Read, or refused with the file named; never a panic.
        if let Err(e) = annex_a::import(&path) {
            let e = e.to_string();
            assert!(
                e.starts_with(&format!("cannot read {}", path.display())),
                "{e}"
            );
        }
        let out = csc()
            .arg("check")
            .arg("--data")
            .arg(&path)
            .output()
            .unwrap();
        assert_no_crash(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(64), ..ProptestConfig::default() })]

    /// Any cell reference, row number and `<dimension>`: read or refused, never a panic.
    #[test]
    fn any_reference_is_read_or_refused(
        dimension in "[A-Z]{0,4}[0-9]{0,12}(:[A-Z]{0,4}[0-9]{0,12})?",
        cells in prop::collection::vec(("[A-Za-z]{0,14}[0-9]{0,12}", prop::option::of("[0-9]{0,12}")), 0..6),
    ) {
        let rows: String = cells
            .iter()
            .map(|(r, row)| {
                let attr = row.as_ref().map_or(String::new(), |n| format!(" r=\"{n}\""));
                format!("<row{attr}>{}</row>", inline(r, "Child Unique ID"))
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refs.xlsx");
        hand_made_workbook(&path, &[("List 3", Part::Xml(sheet_xml(&dimension, &rows)))], None);
        if let Ok((_, report)) = annex_a::import(&path) {
            assert_blocks_add_up(&report);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Generated workbooks

/// A generated sheet: its name, the header row (0-based, if any), data rows at rows after
/// it, and stray cells anywhere.
#[derive(Debug, Clone)]
struct GenSheet {
    name: &'static str,
    header_row: Option<u32>,
    headers: Vec<&'static str>,
    rows: Vec<Vec<Option<&'static str>>>,
    strays: Vec<(u32, u16, &'static str)>,
}

const SHEET_NAMES: &[&str] = &[
    "List 1",
    "List 3",
    "List 3 (2)",
    "list_3",
    "List 4",
    "List 10",
    "Notes",
    "List 7",
];
const HEADERS: &[&str] = &[
    "Child Unique ID",
    "Date of referral",
    "Date of Contact",
    "Continuous Assessment Start Date",
    "Child Protection Plan Start Date",
    "Allocated Team",
    "Gender",
    "Child ID",
    "",
    "  ",
    "Date of referral",
    "\u{a0}#N/A",
];
const VALUES: &[&str] = &[
    "101",
    "102",
    "10.0",
    "01/05/2023",
    "2023-05-01",
    "31/02/2023",
    "North",
    "#N/A",
    " ",
    "b) Female",
];

fn gen_sheet() -> impl Strategy<Value = GenSheet> {
    (
        prop::sample::select(SHEET_NAMES),
        prop::option::of(0u32..4),
        prop::collection::vec(prop::sample::select(HEADERS), 1..6),
        prop::collection::vec(
            prop::collection::vec(prop::option::of(prop::sample::select(VALUES)), 0..6),
            0..5,
        ),
        prop::collection::vec(
            (0u32..1_048_576, 0u16..16_384, prop::sample::select(VALUES)),
            0..3,
        ),
    )
        .prop_map(|(name, header_row, headers, rows, strays)| GenSheet {
            name,
            header_row,
            headers,
            rows,
            strays,
        })
}

/// Writes the sheets (sheet names made unique as Excel needs), and says, per list, how many
/// rows with text each sheet holds below its header (all of them when it has none).
fn write_gen(path: &Path, sheets: &[GenSheet]) -> Vec<(String, u64)> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let mut used: Vec<String> = Vec::new();
    let mut expected = Vec::new();
    for (i, g) in sheets.iter().enumerate() {
        let name = if used.iter().any(|u| u.eq_ignore_ascii_case(g.name)) {
            format!("{} ({})", g.name, i + 2)
        } else {
            g.name.to_string()
        };
        used.push(name.clone());
        let ws = wb.add_worksheet().set_name(&name).unwrap();
        let mut cells: std::collections::BTreeMap<(u32, u16), &str> = Default::default();
        let start = match g.header_row {
            Some(h) => {
                for (c, v) in g.headers.iter().enumerate() {
                    cells.insert((h, c as u16), v);
                }
                h + 1
            }
            None => 0,
        };
        for (r, row) in g.rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                if let Some(v) = v {
                    cells.insert((start + r as u32, c as u16), v);
                }
            }
        }
        for (r, c, v) in &g.strays {
            cells.insert((*r, *c), v);
        }
        for ((r, c), v) in &cells {
            ws.write_string(*r, *c, *v).unwrap();
        }
        // What the importer counts: rows with text (not blank, not an Excel error) after
        // the header it finds, the first of rows 1-10 naming the child's ID.
        let has_text = |v: &str| {
            let v = v.replace('\u{a0}', " ");
            let v = v.trim();
            !v.is_empty() && v != "#N/A"
        };
        let mut by_row: std::collections::BTreeMap<u32, bool> = Default::default();
        for ((r, _), v) in &cells {
            *by_row.entry(*r).or_default() |= has_text(v);
        }
        let header = cells
            .iter()
            .filter(|((r, _), v)| {
                *r < 10
                    && matches!(
                        annex_a::normalise(v).as_str(),
                        "child unique id" | "child id" | "childs unique id"
                    )
            })
            .map(|((r, _), _)| *r)
            .min();
        let rows = by_row
            .iter()
            .filter(|(r, t)| **t && header.is_none_or(|h| **r > h))
            .count() as u64;
        expected.push((name, rows));
    }
    wb.save(path).unwrap();
    expected
}

fn list_of(sheet: &str) -> Option<u8> {
    let n = annex_a::normalise(sheet);
    let rest = n.strip_prefix("list")?.trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok().filter(|n| (1..=8).contains(n))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(24), ..ProptestConfig::default() })]

    /// Random sheets with far-away cells, repeated lists and odd headers: read without a
    /// panic or a dense allocation, every row of Lists 1-8 loaded or rejected, and the
    /// checks load exactly the rows the import wrote (no generated key made twice).
    #[test]
    fn every_row_of_a_generated_workbook_is_accounted_for(
        sheets in prop::collection::vec(gen_sheet(), 1..5),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join("annex_a.xlsx");
        let expected = write_gen(&path, &sheets);
        let (_, report) = annex_a::import(&path).unwrap();
        assert_blocks_add_up(&report);
        for n in 1..=8u8 {
            let want: u64 = expected
                .iter()
                .filter(|(name, _)| list_of(name) == Some(n))
                .map(|(_, rows)| rows)
                .sum();
            let got = report.blocks.get(&format!("List {n}")).map_or(0, |c| c.read);
            prop_assert_eq!(got, want, "List {}: {:?}", n, report.issues);
        }
        let (ex, _) = load_data(&path, &options()).unwrap();
        prop_assert!(!ex.report.issues.iter().any(|i| i.rule == "duplicate_key"), "{:?}", ex.report.issues);
        for (table, n) in &report.rows_written {
            let s = ex.report.tables.iter().find(|s| &s.table == table);
            prop_assert_eq!(s.map_or(0, |s| s.rows_read), *n, "{}", table);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The SSD (issue #13): every record of an SSD table is loaded or reported, whatever its
// cells hold, and the load that follows ends on its own terms.

fn ssd_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("NULL".to_string()),
        Just(String::new()),
        Just("1900-01-01 00:00:00.000".to_string()),
        Just("2024-02-29 23:59:59.997".to_string()),
        Just("31/12/2024".to_string()),
        Just(r#"{"NFA_FLAG":"Y","COMMENTS":"a, b"}"#.to_string()),
        Just("Strategy Discussion, No Further Action".to_string()),
        "[ -~\u{e9}\u{feff}\n,\"]{0,24}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(64), ..ProptestConfig::default() })]

    #[test]
    fn every_ssd_record_is_loaded_or_reported(
        rows in proptest::collection::vec((proptest::collection::vec(ssd_cell(), 8), any::<bool>()), 0..12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ssd_person.csv"), "pers_person_id\nC1\n").unwrap();
        let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
        w.write_record([
            "cine_referral_id", "cine_person_id", "cine_referral_date", "cine_referral_source_code",
            "cine_referral_outcome_json", "cine_referral_nfa", "cine_referral_team",
            "cine_referral_worker_id",
        ]).unwrap();
        for (cells, short) in &rows {
            let n = if *short { 3 } else { 8 };
            w.write_record(&cells[..n]).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        std::fs::write(dir.path().join("ssd_cin_episodes.csv"), &bytes).unwrap();
        let (t, report) = csc_audit::import::ssd::import(dir.path()).unwrap();
        let c = &report.blocks["ssd_cin_episodes"];
        prop_assert_eq!(c.read, rows.len() as u64);
        prop_assert_eq!(c.read, c.loaded + c.rejected);
        prop_assert_eq!(t.rows("referrals").len() as u64, c.loaded);
        let short = rows.iter().filter(|(_, s)| *s).count();
        prop_assert_eq!(c.rejected, short as u64);
        assert_blocks_add_up(&report);
        check(dir.path());
    }
}

// A column map (issue #13): whatever an export's cells hold, every record is loaded or
// reported, and dates in the map's format come out in the native form.
proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(64), ..ProptestConfig::default() })]

    #[test]
    fn every_record_of_a_mapped_export_is_loaded_or_reported(
        rows in proptest::collection::vec((proptest::collection::vec(ssd_cell(), 3), any::<bool>()), 0..12),
        days in proptest::collection::vec(0u32..20000, 12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
        w.write_record(["Ref", "Who", "When", "Note"]).unwrap();
        for (i, (cells, short)) in rows.iter().enumerate() {
            let day = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + chrono::Days::new(days[i].into());
            let mut r = vec![cells[0].clone(), cells[1].clone(), day.format("%Y%m%d").to_string(), cells[2].clone()];
            if *short {
                r.truncate(2);
            }
            w.write_record(&r).unwrap();
        }
        std::fs::write(dir.path().join("refs.csv"), w.into_inner().unwrap()).unwrap();
        let map = csc_audit::import::map::ColumnMap::from_toml(
            "[referrals]\nfile = \"REFS.csv\"\ndate_format = \"YYYYMMDD\"\n[referrals.columns]\nreferral_id = \"Ref\"\nchild_id = \"Who\"\nreceived_at = \"When\"\n",
        ).unwrap();
        let (t, report) = csc_audit::import::map::import(dir.path(), &map);
        let c = &report.blocks["refs.csv"];
        prop_assert_eq!(c.read, rows.len() as u64);
        prop_assert_eq!(c.rejected, rows.iter().filter(|(_, s)| *s).count() as u64);
        prop_assert_eq!(t.rows("referrals").len() as u64, c.loaded);
        for (r, (_, short)) in t.rows("referrals").iter().zip(rows.iter().filter(|(_, s)| !*s)) {
            prop_assert!(!short);
            prop_assert!(r[2].len() == 10 && r[2].as_bytes()[4] == b'-', "{}", r[2]);
        }
        let ex = csc_audit::import::load_mapped(dir.path(), &map, &options());
        prop_assert!(ex.report.tables.iter().all(|s| s.rows_read == s.rows_loaded + s.rows_rejected));
    }
}
