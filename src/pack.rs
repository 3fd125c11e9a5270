//! The quarterly pack for the performance committee and the safeguarding board: the
//! data-quality summary, every measure for the quarter and the 24 months before it, the
//! charts, the quarter's data set (xlsx with a sheet per area, CSV), and one self-contained
//! HTML report, under an `internal` or `published` disclosure profile.

mod due;
mod findings;
pub mod folder;
pub mod guard;
pub mod icons;
pub mod words;

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};

use crate::charts::{self, Chart, Kind, Request};
use crate::disclosure::{self, Counts, Hidden};
use crate::ingest::{Extracts, FrameColumns};
use crate::metrics::definition::{Breakdown, Source};
use crate::metrics::{self, EvalOptions, Evaluation, Library, Metric, MetricKind, OutRow};
use crate::periods::{Grain, Period};
use crate::sampling::plan::StratumBy;
use crate::schema;
use crate::tabular::{self, Cell};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Everything, for the council's own committees; child-level lists in their own files.
    Internal,
    /// Counts 1-5 suppressed (with secondary suppression), no team-level charts, no
    /// child-level file: fit to publish.
    Published,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Internal => "internal",
            Profile::Published => "published",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{0}")]
    Eval(#[from] metrics::EvalError),
    #[error("{0}")]
    Chart(#[from] charts::ChartError),
    #[error("writing the workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("{0}")]
    Invalid(String),
}

/// The columns a published pack may break down or stratify by: groups large enough to count,
/// never a person. Any other column, and any identifier column (`schema::Kind::Id`: table
/// keys, `child_id`, `worker`), is left out of a published pack with a note saying why.
pub const PUBLISHED_COLUMNS: &[&str] = &[
    "team",
    "source",
    "sex",
    "ethnicity",
    "disability",
    "age_band",
    "initial_category",
    "latest_category",
    "conference_type",
    "visit_type",
];

/// Whether a published pack may show groups of `column` (`rel.column` for a looked-up
/// parent's column), of the given kind; if not, why.
pub fn published_column(column: &str, kind: Option<schema::Kind>) -> Result<(), String> {
    let base = column.rsplit('.').next().unwrap_or(column);
    if kind == Some(schema::Kind::Id) {
        return Err(format!(
            "`{column}`, which holds identifiers a published pack never shows"
        ));
    }
    if !PUBLISHED_COLUMNS.contains(&base) {
        return Err(format!(
            "`{column}`, which is not a column a published pack may show groups of (allowed: {})",
            PUBLISHED_COLUMNS.join(", ")
        ));
    }
    Ok(())
}

/// Whether a published pack may show a measure's breakdown `name`; if not, why.
pub fn published_breakdown(m: &Metric, name: &str) -> Result<(), String> {
    match m.breakdowns.iter().find(|(n, _)| n == name).map(|(_, b)| b) {
        None => Ok(()),
        Some(Breakdown::AgeBand) => Ok(()),
        Some(Breakdown::Column(Source::Column { name: col, kind })) => {
            published_column(col, Some(*kind))
                .map_err(|why| format!("{}: the breakdown `{name}` reads {why}", m.id))
        }
        Some(Breakdown::Column(Source::Series(_))) => Err(format!(
            "{}: the breakdown `{name}` reads a date, not a group",
            m.id
        )),
    }
}

/// Whether a published pack may show a sample's strata; if not, why.
pub fn published_strata(plan: &crate::sampling::SamplePlan) -> Result<(), String> {
    for s in &plan.strata {
        if let StratumBy::Column(c) = s {
            let kind = plan.population.table.column(c).map(|c| c.kind);
            published_column(c, kind).map_err(|why| {
                format!(
                    "the audit plan {} stratifies by {why}: its strata are left out",
                    plan.file
                )
            })?;
        }
    }
    Ok(())
}

/// Cuts every free-text value of the extracts longer than [`charts::MAX_LABEL_CHARS`] (a
/// team, a source) to its display form before anything is worked out from it, so that no
/// measure, stratum, chart or cell of the pack is sized by one hostile value. Returns a note
/// per column cut.
pub fn bound_labels(ex: &mut Extracts) -> Vec<String> {
    use polars::prelude::*;
    let mut notes = Vec::new();
    for (table, df) in ex.frames.iter_mut() {
        let Some(spec) = schema::table(table) else {
            continue;
        };
        for col in spec.columns.iter().filter(|c| c.kind == schema::Kind::Text) {
            let Ok(s) = df.column(col.name).and_then(|c| c.str().cloned()) else {
                continue;
            };
            let long = s
                .iter()
                .flatten()
                .filter(|v| {
                    v.len() > charts::MAX_LABEL_CHARS && v.chars().count() > charts::MAX_LABEL_CHARS
                })
                .map(|v| v.chars().count())
                .max();
            let Some(longest) = long else {
                continue;
            };
            let cut: StringChunked = s
                .iter()
                .map(|v| v.map(|v| charts::display_label(v).into_owned()))
                .collect();
            let cut = cut.with_name(col.name.into());
            if df.replace(col.name, cut.into_series().into()).is_ok() {
                notes.push(format!(
                    "{table}.{}: values longer than {} characters (the longest {longest}) are \
                     shown cut; correct them in the extract",
                    col.name,
                    charts::MAX_LABEL_CHARS
                ));
            }
        }
    }
    notes
}

/// The areas of the data set, in the child's journey order, each a sheet.
pub const AREAS: &[(&str, &str)] = &[
    ("front door", "Contacts, referrals and assessments"),
    (
        "S47 and conferences",
        "Strategy discussions, Section 47 enquiries and conferences",
    ),
    (
        "child protection",
        "Child protection plans, core groups and visits",
    ),
    (
        "workforce and supervision",
        "Case supervision and caseloads",
    ),
];

/// The area of a measure, by the table it counts.
pub fn area(m: &Metric) -> &'static str {
    match m.population.table.name {
        schema::CONTACTS | schema::REFERRALS | schema::ASSESSMENTS | schema::CHILDREN => AREAS[0].0,
        schema::STRATEGY_DISCUSSIONS | schema::S47_ENQUIRIES | schema::CONFERENCES => AREAS[1].0,
        schema::CP_PLANS | schema::CORE_GROUPS | schema::VISITS => AREAS[2].0,
        _ => AREAS[3].0,
    }
}

pub struct PackInputs<'a> {
    pub extracts: &'a Extracts,
    pub library: &'a Library,
    pub calendar: &'a crate::calendar::Calendar,
    pub quarter: Period,
    pub profile: Profile,
    /// The month's audit sample, when a plan exists: its strata go in the audit sheet.
    pub sample: Option<&'a crate::sampling::Sample>,
    /// How the SPC charts are made (screening, rebase periods).
    pub spc: SpcChoices,
    /// The analyst's words, shown as given.
    pub commentary: words::Commentary,
    /// The month's audits, from the returned forms of a sample that verified.
    pub findings: Option<(
        &'a crate::sampling::Sample,
        &'a crate::sampling::returns::FormsResults,
    )>,
}

/// The pack's SPC options.
#[derive(Debug, Clone)]
pub struct SpcChoices {
    pub screen_outliers: bool,
    pub rebase: Vec<String>,
    /// The funnels' two limit levels in percent, the inner first.
    pub funnel_levels: [f64; 2],
}

impl Default for SpcChoices {
    fn default() -> SpcChoices {
        SpcChoices {
            screen_outliers: false,
            rebase: Vec::new(),
            funnel_levels: crate::spc::FUNNEL_LEVELS,
        }
    }
}

/// One line of the at-a-glance table.
#[derive(Debug, Clone, PartialEq)]
pub struct Glance {
    pub metric: String,
    pub title: String,
    pub area: &'static str,
    pub unit: String,
    pub value: Option<f64>,
    pub previous: Option<f64>,
    pub target: Option<f64>,
    pub rag: Option<&'static str>,
    pub spc: String,
    /// Suppressed (published profile): shown as `c`.
    pub hidden: bool,
    /// A distribution: its bands are in the data set and the chart.
    pub bands: bool,
    /// The analyst's commentary on the measure.
    pub commentary: Option<String>,
    /// England's figure beside the council's financial year, in words.
    pub england: Option<String>,
    /// The variation and assurance icons (SVG), for the report.
    pub icons: String,
}

/// The pack in memory: files by relative path, and what went into it.
pub struct Pack {
    pub files: Vec<(String, Vec<u8>)>,
    pub glance: Vec<Glance>,
    pub notes: Vec<String>,
}

/// The rows of an evaluation with their suppression (none in the internal profile).
struct Shown<'a> {
    rows: Vec<&'a OutRow>,
    hidden: Vec<Hidden>,
}

fn shown<'a>(ev: &'a Evaluation, hidden: &[Hidden], keep: impl Fn(&OutRow) -> bool) -> Shown<'a> {
    let (rows, hidden) = ev
        .rows
        .iter()
        .zip(hidden)
        .filter(|(r, _)| keep(r))
        .map(|(r, h)| (r, *h))
        .unzip();
    Shown { rows, hidden }
}

/// The suppression of the monthly and quarterly measures, settled together: a quarter's
/// counts are the sum of its months', so a month hidden in one table must not follow from
/// the other. Nothing is hidden in the internal profile.
fn suppression(
    monthly: &Evaluation,
    quarterly: &Evaluation,
    lib: &Library,
    profile: Profile,
    tied: &[disclosure::Tied],
) -> (Vec<Hidden>, Vec<Hidden>, Vec<Vec<bool>>) {
    if profile == Profile::Internal {
        return (
            vec![Hidden::default(); monthly.rows.len()],
            vec![Hidden::default(); quarterly.rows.len()],
            Vec::new(),
        );
    }
    let periods: Vec<(String, Vec<String>)> = quarterly
        .periods
        .iter()
        .map(|q| {
            let months = monthly
                .periods
                .iter()
                .filter(|m| m.start() >= q.start() && m.end() <= q.end())
                .map(|m| m.label())
                .collect();
            (q.label(), months)
        })
        .collect();
    let rows: Vec<OutRow> = monthly
        .rows
        .iter()
        .chain(&quarterly.rows)
        .cloned()
        .collect();
    let (mut hidden, tied_hidden) = disclosure::suppress_tied(
        &rows,
        |id| lib.metrics.iter().find(|m| m.id == id).map(|m| m.kind),
        &periods,
        tied,
    );
    let q = hidden.split_off(monthly.rows.len());
    (hidden, q, tied_hidden)
}

/// Leaves out of a published pack the breakdowns it may not show, with a note for each.
fn drop_unpublishable(
    evs: &mut [&mut Evaluation],
    lib: &Library,
    by: &[String],
    notes: &mut Vec<String>,
) {
    for m in &lib.metrics {
        for b in by {
            if let Err(why) = published_breakdown(m, b) {
                for ev in evs.iter_mut() {
                    ev.rows
                        .retain(|r| !(r.metric_id == m.id && r.breakdown == *b));
                }
                notes.push(format!("{why}: left out of the published pack"));
            }
        }
    }
}

/// A row of a small published table of counts: its label, and each count or `None` where
/// suppressed.
#[derive(Debug, Clone, PartialEq)]
pub struct CountRow {
    pub label: String,
    pub counts: Vec<Option<u64>>,
    pub flag: bool,
}

/// The label of the audit table's totals row.
pub const ALL_STRATA: &str = "all strata";

/// The audit sample's strata (population, sample) with a totals row, through the same
/// suppression as every count: a stratum's population is its sample plus the cases not
/// drawn (derived), and the strata add up to the totals.
fn audit_rows(s: &crate::sampling::Sample, profile: Profile) -> Vec<CountRow> {
    let mut c = Counts::default();
    let mut cells = Vec::new();
    let (mut pops, mut sizes, mut rests) = (Vec::new(), Vec::new(), Vec::new());
    let (mut pop_all, mut size_all) = (0u64, 0u64);
    for st in &s.strata {
        let (pop, size) = (st.population(), st.size());
        let (p, n) = (c.count(pop as f64), c.count(size as f64));
        let rest = c.derived(pop.saturating_sub(size) as f64);
        c.sum(p, vec![n, rest]);
        pops.push(p);
        sizes.push(n);
        rests.push(rest);
        cells.push((st.name.clone(), pop, size, st.census, p, n));
        pop_all += pop;
        size_all += size;
    }
    let (p, n) = (c.count(pop_all as f64), c.count(size_all as f64));
    let rest = c.derived(pop_all.saturating_sub(size_all) as f64);
    c.sum(p, vec![n, rest]);
    c.sum(p, pops);
    c.sum(n, sizes);
    c.sum(rest, rests);
    cells.push((ALL_STRATA.to_string(), pop_all, size_all, false, p, n));
    if profile == Profile::Published {
        c.suppress();
    }
    let show = |v: u64, id| (!c.hidden(id) || profile == Profile::Internal).then_some(v);
    cells
        .into_iter()
        .map(|(label, pop, size, census, p, n)| CountRow {
            label,
            counts: vec![show(pop, p), show(size, n)],
            flag: census,
        })
        .collect()
}

/// The data-quality table (rows read, loaded, rejected per extract present), its counts
/// suppressed like every other: rows read are rows loaded plus rows rejected.
fn quality_rows(ex: &Extracts, profile: Profile) -> Vec<CountRow> {
    let mut c = Counts::default();
    let mut rows = Vec::new();
    for t in ex.report.tables.iter().filter(|t| t.present) {
        let v = [t.rows_read, t.rows_loaded, t.rows_rejected];
        let ids: Vec<usize> = v.iter().map(|&x| c.count(x as f64)).collect();
        c.sum(ids[0], vec![ids[1], ids[2]]);
        rows.push((t.file.clone(), v, ids));
    }
    if profile == Profile::Published {
        c.suppress();
    }
    rows.into_iter()
        .map(|(label, v, ids)| CountRow {
            label,
            counts: v
                .iter()
                .zip(&ids)
                .map(|(&x, &id)| (profile == Profile::Internal || !c.hidden(id)).then_some(x))
                .collect(),
            flag: true,
        })
        .collect()
}

/// The quarter's data set columns.
pub const DATASET_COLUMNS: &[&str] = &[
    "area",
    "metric_id",
    "title",
    "period",
    "breakdown",
    "group",
    "category",
    "numerator",
    "denominator",
    "value",
    "unit",
    "target",
    "rag",
    "ci_low",
    "ci_high",
    "pending",
    "excluded",
];

fn dataset_cells<'a>(m: &'a Metric, r: &'a OutRow, h: Hidden, area: &'static str) -> Vec<Cell<'a>> {
    let c = |hide: bool, v: Option<f64>| {
        if hide {
            Cell::Text("c")
        } else {
            Cell::Number(v)
        }
    };
    vec![
        Cell::Text(area),
        Cell::Text(&r.metric_id),
        Cell::Text(&m.title),
        Cell::Text(&r.period),
        Cell::Text(&r.breakdown),
        Cell::Text(&r.group),
        Cell::Text(&r.category),
        c(h.numerator, r.numerator),
        c(h.denominator, r.denominator),
        c(h.value, r.value),
        Cell::Text(&r.unit),
        Cell::Number(r.target),
        Cell::Text(if h.value { "" } else { r.rag.unwrap_or("") }),
        c(h.value, r.ci_low),
        c(h.value, r.ci_high),
        c(h.pending, Some(r.pending as f64)),
        c(h.excluded, Some(r.excluded as f64)),
    ]
}

/// What the pack's measures are broken down by.
fn breakdowns(profile: Profile) -> Vec<String> {
    // Public tables break down by team only: a worker is a person.
    // The internal pack also breaks the front door down by referral source: its team is
    // usually the front door alone, so teams side by side say nothing.
    let mut by = vec!["team".to_string()];
    if profile == Profile::Internal {
        by.push("source".to_string());
    }
    by
}

/// The columns of each table [`build`] reads for `lib` and `profile` (without an audit
/// sample, whose plan may name any column): the measures by the pack's breakdowns at each
/// grain, the cases due and, published, every identifier column, which the guard looks for
/// in every file written. Loading only these spares building the frames of the rest.
pub fn columns_read(lib: &Library, profile: Profile) -> FrameColumns {
    let mut read = metrics::due_columns_read(lib);
    for grain in [Grain::Month, Grain::Quarter, Grain::Year] {
        let opts = EvalOptions {
            grain,
            from: None,
            to: None,
            by: breakdowns(profile),
            cases: false,
        };
        read = read.union(metrics::columns_read(lib, &opts));
    }
    if profile == Profile::Published {
        let ids = schema::TABLES.iter().map(|t| {
            let cols = t.columns.iter().filter(|c| c.kind == schema::Kind::Id);
            (t.name, cols.map(|c| c.name.to_string()).collect())
        });
        read = read.union(FrameColumns::Only(ids.collect()));
    }
    read
}

/// Builds the pack. `progress` is told each step.
pub fn build(inp: &PackInputs, progress: &dyn Fn(&str)) -> Result<Pack, PackError> {
    let ex = inp.extracts;
    let lib = inp.library;
    let q = inp.quarter;
    if q.grain != Grain::Quarter {
        return Err(PackError::Invalid(
            "the pack is made for a financial quarter".into(),
        ));
    }
    let mut notes = Vec::new();
    if q.end() > ex.as_of {
        notes.push(format!(
            "{} had not ended on the as-of date {}: its figures are to that date",
            q.label(),
            ex.as_of
        ));
    }
    let by = breakdowns(inp.profile);
    // The months, the quarters and the financial year (England beside) in one evaluation:
    // the rows are planned, read and judged once.
    progress("measures by month, quarter and year");
    let last_month = Period::containing(Grain::Month, q.end().min(ex.as_of));
    let year = Period::containing(Grain::Year, q.end());
    let range = |grain, from: Period, to: Period| EvalOptions {
        grain,
        from: Some(from),
        to: Some(to),
        by: by.clone(),
        cases: false,
    };
    let month_from = Period {
        grain: Grain::Month,
        index: last_month.index - 26,
    };
    let quarter_from = Period {
        grain: Grain::Quarter,
        index: q.index - 4,
    };
    let [mut monthly, mut quarterly, yearly]: [metrics::Evaluation; 3] = metrics::evaluate_each(
        ex,
        lib,
        inp.calendar,
        &[
            range(Grain::Month, month_from, last_month),
            range(Grain::Quarter, quarter_from, q),
            range(Grain::Year, year, year),
        ],
    )?
    .try_into()
    .expect("three evaluations asked for");
    // The rows frames the evaluations gathered are freed now: handed back before the
    // cases due gather their own.
    crate::memory::release(ex.frames_bytes());
    notes.extend(quarterly.notes.iter().cloned());
    if inp.profile == Profile::Published {
        drop_unpublishable(
            &mut [&mut monthly, &mut quarterly],
            lib,
            &["team".to_string()],
            &mut notes,
        );
    }
    progress("cases due");
    let worklist = cases_due(inp, &mut notes)?;
    // Published: the overdue cases are a snapshot's failed cases on the as-of date, so
    // they are suppressed together with the data set.
    let as_of_periods = [Grain::Month, Grain::Quarter]
        .map(|g| Period::containing(g, ex.as_of).label())
        .to_vec();
    let tied = match inp.profile {
        Profile::Published => due::tied(&worklist, &as_of_periods),
        Profile::Internal => Vec::new(),
    };
    let (monthly_hidden, quarterly_hidden, due_hidden) =
        suppression(&monthly, &quarterly, lib, inp.profile, &tied);
    let label = q.label();
    let prev_label = Period {
        grain: Grain::Quarter,
        index: q.index - 1,
    }
    .label();
    let data = shown(&quarterly, &quarterly_hidden, |r| r.period == label);
    let prev = shown(&quarterly, &quarterly_hidden, |r| r.period == prev_label);
    let months = shown(&monthly, &monthly_hidden, |_| true);
    let metric = |id: &str| lib.metrics.iter().find(|m| m.id == id).expect("evaluated");

    // Charts, and each measure's SPC reading.
    progress("charts");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut svgs: BTreeMap<String, Vec<Figure>> = BTreeMap::new();
    let mut readings: BTreeMap<String, String> = BTreeMap::new();
    let mut icon_html: BTreeMap<String, String> = BTreeMap::new();
    let mut to_draw: Vec<(String, String, Chart)> = Vec::new();
    // Monthly values with suppressed months removed (published).
    let mut masked = monthly.clone();
    masked.rows = months
        .rows
        .iter()
        .zip(&months.hidden)
        .map(|(r, h)| {
            let mut r = (*r).clone();
            if h.value {
                r.value = None;
                r.numerator = None;
                r.denominator = None;
            }
            r
        })
        .collect();
    for m in &lib.metrics {
        if !quarterly.rows.iter().any(|r| r.metric_id == m.id) {
            continue;
        }
        let ratio = m.kind.is_rate();
        let mut kinds = vec![];
        match m.kind {
            MetricKind::Distribution => kinds.push(Kind::Distribution),
            _ if ratio => {
                kinds.push(Kind::Spc);
                if inp.profile == Profile::Internal
                    && m.breakdowns.iter().any(|(b, _)| b == side_by_side(m))
                {
                    // Teams side by side: the funnel for the quarter, small multiples over time.
                    kinds.push(Kind::Funnel);
                    kinds.push(Kind::Multiples);
                }
            }
            _ => kinds.push(Kind::Trend),
        }
        for kind in kinds {
            let (ev, period) = match kind {
                Kind::Funnel | Kind::Distribution => (&quarterly, Some(label.as_str())),
                _ => (&masked, None),
            };
            let req = Request {
                metric: m,
                kind,
                by: side_by_side(m),
                period,
                p_chart: false,
                baseline: None,
                screen_outliers: inp.spc.screen_outliers,
                rebase: &inp.spc.rebase,
                funnel_levels: inp.spc.funnel_levels,
                panels: Some(MOST_PANELS),
            };
            let chart = match kind {
                // A distribution's bands of the quarter, with suppressed bands left out.
                Kind::Distribution => charts::build(ev, &req).map(|c| match c {
                    Chart::Distribution(mut d) => {
                        d.bars.retain(|(cat, _)| {
                            !data.rows.iter().zip(&data.hidden).any(|(r, h)| {
                                r.metric_id == m.id
                                    && r.breakdown == "all"
                                    && &r.category == cat
                                    && h.numerator
                            })
                        });
                        Chart::Distribution(d)
                    }
                    other => other,
                }),
                _ => charts::build(ev, &req),
            };
            let chart = match chart {
                Ok(c) => c,
                Err(why) => {
                    let name = match kind {
                        Kind::Spc => "SPC chart",
                        Kind::Funnel => "funnel",
                        Kind::Distribution => "distribution",
                        Kind::Multiples => "chart by team",
                        _ => "chart",
                    };
                    notes.push(format!("{}: no {name}: {why}", m.id));
                    continue;
                }
            };
            // No chart that says nothing: a funnel compares three groups or more, small
            // multiples need two panels (said in words, without a count, for the guard).
            match &chart {
                Chart::Funnel(f) if f.points.len() < 3 => {
                    notes.push(format!(
                        "{}: no funnel: fewer than three groups have cases this quarter",
                        m.id
                    ));
                    continue;
                }
                Chart::Multiples { charts, .. } if charts.len() < 2 => {
                    notes.push(format!(
                        "{}: no small multiples: only one group has cases",
                        m.id
                    ));
                    continue;
                }
                _ => {}
            }
            if let Chart::Spc(s) = &chart {
                readings.insert(m.id.clone(), s.reading.clone());
                icon_html.insert(
                    m.id.clone(),
                    format!("{}{}", icons::variation(s), icons::assurance(s)),
                );
            }
            let kind_name = match kind {
                Kind::Spc => "spc",
                Kind::Funnel => "funnel",
                Kind::Distribution => "distribution",
                Kind::Multiples => "by-team",
                _ => "trend",
            };
            to_draw.push((m.id.clone(), format!("charts/{}-{kind_name}", m.id), chart));
        }
    }
    // Drawn side by side, those of most panels first (a small council's pack spent a fifth
    // of its time drawing), then kept in the order they were built.
    let panels = |c: &Chart| match c {
        Chart::Multiples { charts, .. } => charts.len() as u64,
        _ => 1,
    };
    let drawn = crate::par::par_map(
        to_draw,
        |(.., c)| panels(c),
        |(id, base, chart)| {
            let svg = charts::render(&chart, charts::Format::Svg)?;
            let png = charts::render(&chart, charts::Format::Png)?;
            let figure = Figure {
                svg: String::from_utf8_lossy(&svg).into_owned(),
                text: crate::chart_text::describe(&chart),
                outliers: match &chart {
                    Chart::Funnel(f) => Some((crate::chart_text::funnel_outliers(f), f.levels[0])),
                    _ => None,
                },
            };
            Ok::<_, PackError>((id, base, figure, svg, png))
        },
    );
    for d in drawn {
        let (id, base, figure, svg, png) = d?;
        svgs.entry(id).or_default().push(figure);
        files.push((format!("{base}.svg"), svg));
        files.push((format!("{base}.png"), png));
    }

    // At a glance.
    // The overall row of a measure: its value and RAG, or whether it is suppressed.
    let find = |s: &Shown, id: &str| -> (Option<(f64, Option<&'static str>)>, bool) {
        s.rows
            .iter()
            .zip(&s.hidden)
            .find(|(r, _)| r.metric_id == id && r.breakdown == "all" && r.category == "all")
            .map_or((None, false), |(r, h)| {
                if h.value {
                    (None, true)
                } else {
                    (r.value.map(|v| (v, r.rag)), false)
                }
            })
    };
    let mut in_order: Vec<&Metric> = lib
        .metrics
        .iter()
        .filter(|m| data.rows.iter().any(|r| r.metric_id == m.id))
        .collect();
    in_order.sort_by_key(|m| AREAS.iter().position(|a| a.0 == area(m)));
    let england = england_beside(inp, &yearly);
    let glance: Vec<Glance> = in_order
        .into_iter()
        .map(|m| {
            let (now, hidden) = find(&data, &m.id);
            Glance {
                commentary: inp.commentary.measures.get(&m.id).cloned(),
                icons: icon_html.get(&m.id).cloned().unwrap_or_default(),
                england: england.get(&m.id).cloned(),
                hidden,
                bands: m.kind == MetricKind::Distribution,
                metric: m.id.clone(),
                title: m.title.clone(),
                area: area(m),
                unit: m.kind.unit().to_string(),
                value: now.map(|v| v.0),
                previous: find(&prev, &m.id).0.map(|v| v.0),
                target: m.target,
                rag: now.and_then(|v| v.1),
                spc: readings.get(&m.id).cloned().unwrap_or_default(),
            }
        })
        .collect();

    let audit = inp.sample.and_then(|smp| {
        if inp.profile == Profile::Published {
            if let Err(why) = published_strata(&smp.plan) {
                notes.push(why);
                return None;
            }
        }
        Some(Audit {
            sample: smp,
            rows: audit_rows(smp, inp.profile),
        })
    });
    let quality = quality_rows(ex, inp.profile);
    let due_rows = due::rows(&worklist, inp.profile, &due_hidden);
    let found = inp
        .findings
        .map(|(s, f)| findings::findings(s, f, inp.profile));
    let tables = Tables {
        audit: audit.as_ref(),
        quality: &quality,
        due: (&worklist, &due_rows),
        findings: found.as_ref(),
    };
    if inp.profile == Profile::Published {
        // Notes count rows too ("3 rows have no start date"): small numbers go.
        for n in &mut notes {
            *n = disclosure::mask_small_numbers(n);
        }
    }
    progress("workbook and CSV");
    let dataset_rows: Vec<(usize, &OutRow, Hidden)> = data
        .rows
        .iter()
        .zip(&data.hidden)
        .map(|(r, h)| {
            let m = metric(&r.metric_id);
            (
                AREAS.iter().position(|a| a.0 == area(m)).unwrap_or(0),
                *r,
                *h,
            )
        })
        .collect();
    let mut sorted = dataset_rows.clone();
    sorted.sort_by_key(|(a, _, _)| *a);
    files.push((
        "dataset.csv".into(),
        tabular::to_csv(
            DATASET_COLUMNS,
            sorted
                .iter()
                .map(|(a, r, h)| dataset_cells(metric(&r.metric_id), r, *h, AREAS[*a].0)),
        ),
    ));
    files.push((
        "dataset.xlsx".into(),
        workbook(inp, &tables, &sorted, &glance, &notes, &metric)?,
    ));
    files.push(("dataset.parquet".into(), parquet(&sorted, &metric)?));

    progress("report");
    files.push((
        "report.html".into(),
        html(inp, &tables, &glance, &svgs, &notes).into_bytes(),
    ));
    Ok(Pack {
        files,
        glance,
        notes,
    })
}

/// The most teams the pack's small multiples show, the largest, in eight rows of three:
/// the funnel beside them places every team, and the data set lists them all.
pub const MOST_PANELS: usize = 24;

/// The audit sample as the pack shows it.
struct Audit<'a> {
    sample: &'a crate::sampling::Sample,
    rows: Vec<CountRow>,
}

/// The small tables of counts both the workbook and the report show.
struct Tables<'a> {
    audit: Option<&'a Audit<'a>>,
    quality: &'a [CountRow],
    due: (&'a metrics::due::Worklist, &'a [due::DueRow]),
    findings: Option<&'a findings::Findings>,
}

/// The worklist the page of cases due counts: every measure with a deadline on open
/// cases (in a published pack, those whose teams may be published).
fn cases_due(
    inp: &PackInputs,
    notes: &mut Vec<String>,
) -> Result<metrics::due::Worklist, PackError> {
    let mut lib = inp.library.clone();
    if inp.profile == Profile::Published {
        lib.metrics
            .retain(|m| match published_breakdown(m, "team") {
                Ok(()) => true,
                Err(why) => {
                    notes.push(format!("cases due: {} left out: {why}", m.id));
                    false
                }
            });
    }
    let opts = metrics::due::DueOptions {
        within: due::WITHIN,
        since: None,
    };
    Ok(metrics::due::due(inp.extracts, &lib, inp.calendar, &opts)?)
}

fn count_cell(v: Option<u64>) -> Cell<'static> {
    match v {
        Some(x) => Cell::Number(Some(x as f64)),
        None => Cell::Text("c"),
    }
}

fn count_text(v: Option<u64>) -> String {
    v.map_or_else(|| "c".to_string(), |x| x.to_string())
}

fn workbook<'a>(
    inp: &PackInputs,
    tables: &Tables,
    rows: &[(usize, &OutRow, Hidden)],
    glance: &[Glance],
    notes: &[String],
    metric: &dyn Fn(&str) -> &'a Metric,
) -> Result<Vec<u8>, PackError> {
    let ex = inp.extracts;
    let mut wb = Workbook::new();
    let made = ExcelDateTime::parse_from_str(&ex.as_of.to_string())?;
    wb.set_properties(
        &DocProperties::new()
            .set_title(format!(
                "Children's social care data set, {}",
                inp.quarter.label()
            ))
            .set_creation_datetime(&made),
    );
    let bold = Format::new().set_bold();
    let title = Format::new().set_bold().set_font_size(14);
    let contents = wb.add_worksheet().set_name("contents")?;
    contents.write_string_with_format(
        0,
        0,
        format!("Children's social care data set, {}", inp.quarter.label()),
        &title,
    )?;
    contents.write_string(
        1,
        0,
        format!("As of {}; profile: {}", ex.as_of, inp.profile.name()),
    )?;
    if inp.profile == Profile::Published {
        contents.write_string(2, 0, "c = a count from 1 to 5, or a number from which one could be worked out, suppressed (DfE convention)")?;
    }
    contents.write_string_with_format(4, 0, "sheet", &bold)?;
    contents.write_string_with_format(4, 1, "what it holds", &bold)?;
    let mut sheets: Vec<(&str, String)> = vec![(
        "at a glance",
        "Every measure this quarter: value, target, RAG, SPC reading, last quarter".into(),
    )];
    sheets.extend(AREAS.iter().map(|(a, d)| {
        (
            *a,
            format!("{d}: every measure of the quarter, overall and by team"),
        )
    }));
    sheets.push(("cases due", due::describe(tables.due.0, inp.profile)));
    if tables.findings.is_some() {
        sheets.push((
            "audit estimates",
            "The month's audits: each question's estimate for the whole population".into(),
        ));
        sheets.push((
            "audit agreement",
            "How far auditors and moderators agreed, per question (Cohen's kappa)".into(),
        ));
        if inp.profile == Profile::Internal {
            sheets.push((
                "audit returns",
                "Forms returned and outstanding by auditor".into(),
            ));
        }
    }
    sheets.push((
        "audit",
        "This month's audit sample: strata, population and sample sizes".into(),
    ));
    sheets.push((
        "data quality",
        "Rows read, loaded and rejected per extract".into(),
    ));
    sheets.push(("notes", "Measures not available and other notes".into()));
    for (i, (s, d)) in sheets.iter().enumerate() {
        contents.write_string(5 + i as u32, 0, *s)?;
        contents.write_string(5 + i as u32, 1, d)?;
    }
    contents.set_column_width(0, 28)?;
    contents.set_column_width(1, 90)?;

    let g = wb.add_worksheet().set_name("at a glance")?;
    let heads = [
        "area",
        "metric_id",
        "title",
        "unit",
        "value",
        "last quarter",
        "change",
        "target",
        "rag",
        "spc",
        "england",
        "commentary",
    ];
    let change: Vec<Option<f64>> = glance
        .iter()
        .map(|x| x.value.zip(x.previous).map(|(a, b)| a - b))
        .collect();
    tabular::write_sheet(
        g,
        &heads,
        glance.iter().zip(&change).map(|(x, c)| {
            vec![
                Cell::Text(x.area),
                Cell::Text(&x.metric),
                Cell::Text(&x.title),
                Cell::Text(&x.unit),
                Cell::Number(x.value.map(round1)),
                Cell::Number(x.previous.map(round1)),
                Cell::Number(c.map(round1)),
                Cell::Number(x.target),
                Cell::Text(x.rag.unwrap_or("")),
                Cell::Text(&x.spc),
                Cell::Text(x.england.as_deref().unwrap_or("")),
                Cell::Text(x.commentary.as_deref().unwrap_or("")),
            ]
        }),
        "0.0",
    )?;
    g.set_column_width(2, 60)?;
    for (ai, (a, _)) in AREAS.iter().enumerate() {
        let s = wb.add_worksheet().set_name(*a)?;
        tabular::write_sheet(
            s,
            DATASET_COLUMNS,
            rows.iter()
                .filter(|(x, _, _)| *x == ai)
                .map(|(_, r, h)| dataset_cells(metric(&r.metric_id), r, *h, a)),
            "0.0",
        )?;
        s.set_column_width(1, 28)?;
        s.set_column_width(2, 50)?;
    }
    due::sheet(&mut wb, tables.due.1, inp.profile)?;
    if let Some(f) = tables.findings {
        findings::sheets(&mut wb, f)?;
    }
    let audit = wb.add_worksheet().set_name("audit")?;
    match tables.audit {
        Some(a) => {
            tabular::write_sheet(
                audit,
                &["stratum", "population", "sample", "census"],
                a.rows.iter().map(|r| {
                    vec![
                        Cell::Text(&r.label),
                        count_cell(r.counts[0]),
                        count_cell(r.counts[1]),
                        Cell::Flag(r.flag),
                    ]
                }),
                "0",
            )?;
            audit.set_column_width(0, 36)?;
        }
        None => {
            audit.write_string(
                0,
                0,
                "No audit sample in this pack: no plan was found (audits/monthly.toml), or its \
                 strata may not be published (see the notes).",
            )?;
        }
    }
    let dq = wb.add_worksheet().set_name("data quality")?;
    tabular::write_sheet(
        dq,
        &["file", "rows read", "rows loaded", "rows rejected"],
        tables.quality.iter().map(|r| {
            let mut v = vec![Cell::Text(&r.label)];
            v.extend(r.counts.iter().map(|&c| count_cell(c)));
            v
        }),
        "0",
    )?;
    let n = wb.add_worksheet().set_name("notes")?;
    tabular::write_sheet(n, &["note"], notes.iter().map(|x| vec![Cell::Text(x)]), "0")?;
    n.set_column_width(0, 120)?;
    Ok(wb.save_to_buffer()?)
}

/// The data set as Parquet: typed columns, a suppressed number is null and named in
/// `suppressed`.
fn parquet<'a>(
    rows: &[(usize, &OutRow, Hidden)],
    metric: &dyn Fn(&str) -> &'a Metric,
) -> Result<Vec<u8>, PackError> {
    use polars::prelude::*;
    let text = |f: &dyn Fn(&(usize, &OutRow, Hidden)) -> String| -> Vec<String> {
        rows.iter().map(f).collect()
    };
    let number =
        |f: &dyn Fn(&OutRow) -> Option<f64>, hide: &dyn Fn(&Hidden) -> bool| -> Vec<Option<f64>> {
            rows.iter()
                .map(|(_, r, h)| if hide(h) { None } else { f(r) })
                .collect()
        };
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("area".into(), text(&|(a, _, _)| AREAS[*a].0.to_string())),
        Column::new("metric_id".into(), text(&|(_, r, _)| r.metric_id.clone())),
        Column::new(
            "title".into(),
            text(&|(_, r, _)| metric(&r.metric_id).title.clone()),
        ),
        Column::new("period".into(), text(&|(_, r, _)| r.period.clone())),
        Column::new("breakdown".into(), text(&|(_, r, _)| r.breakdown.clone())),
        Column::new("group".into(), text(&|(_, r, _)| r.group.clone())),
        Column::new("category".into(), text(&|(_, r, _)| r.category.clone())),
        Column::new(
            "numerator".into(),
            number(&|r| r.numerator, &|h| h.numerator),
        ),
        Column::new(
            "denominator".into(),
            number(&|r| r.denominator, &|h| h.denominator),
        ),
        Column::new("value".into(), number(&|r| r.value, &|h| h.value)),
        Column::new("unit".into(), text(&|(_, r, _)| r.unit.clone())),
        Column::new("target".into(), number(&|r| r.target, &|_| false)),
        Column::new(
            "rag".into(),
            text(&|(_, r, h)| {
                if h.value {
                    String::new()
                } else {
                    r.rag.unwrap_or("").to_string()
                }
            }),
        ),
        Column::new("ci_low".into(), number(&|r| r.ci_low, &|h| h.value)),
        Column::new("ci_high".into(), number(&|r| r.ci_high, &|h| h.value)),
        Column::new(
            "pending".into(),
            number(&|r| Some(r.pending as f64), &|h| h.pending),
        ),
        Column::new(
            "excluded".into(),
            number(&|r| Some(r.excluded as f64), &|h| h.excluded),
        ),
        Column::new(
            "suppressed".into(),
            text(&|(_, _, h)| {
                [
                    (h.numerator, "numerator"),
                    (h.denominator, "denominator"),
                    (h.value, "value"),
                    (h.pending, "pending"),
                    (h.excluded, "excluded"),
                ]
                .iter()
                .filter(|x| x.0)
                .map(|x| x.1)
                .collect::<Vec<_>>()
                .join(";")
            }),
        ),
    ])
    .map_err(|e| PackError::Invalid(format!("building the Parquet table: {e}")))?;
    let mut out = Vec::new();
    ParquetWriter::new(&mut out)
        .finish(&mut df)
        .map_err(|e| PackError::Invalid(format!("writing Parquet: {e}")))?;
    Ok(out)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A measure's value in the report, marked `data-count` when it is a count so that the
/// guard checks it.
fn show_marked(g: &Glance) -> String {
    if g.unit == disclosure::COUNT_UNIT {
        format!("<span data-count>{}</span>", show(g))
    } else {
        show(g)
    }
}

fn show(g: &Glance) -> String {
    let (v, unit) = (g.value, g.unit.as_str());
    match v {
        None if g.hidden => "c".into(),
        None if g.bands => "by band: see the chart".into(),
        None => "none".into(),
        Some(x) if unit == "percent" => format!("{:.1}%", x),
        Some(x) => tabular::num(Some(round1(x)), 1),
    }
}

/// The report: one HTML file, inline SVG, no scripts and no network, laid out to print.
fn html(
    inp: &PackInputs,
    tables: &Tables,
    glance: &[Glance],
    svgs: &BTreeMap<String, Vec<Figure>>,
    notes: &[String],
) -> String {
    let ex = inp.extracts;
    let q = inp.quarter.label();
    let mut figures = 0;
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Children's social care performance, {q}</title>\n<style>{}</style></head><body>\n\
         <a class=\"skip\" href=\"#main\">Skip to the measures</a>\n",
        STYLE
    ));
    h.push_str(&format!(
        "<header><h1>Children's social care performance, {}</h1><p>As of {}. Profile: <b>{}</b>{}.</p></header>\n",
        esc(&q),
        ex.as_of,
        inp.profile.name(),
        if inp.profile == Profile::Published {
            " &mdash; counts from 1 to 5, and numbers from which one could be worked out, are shown as <b>c</b>"
        } else {
            " &mdash; for internal use: small numbers are shown"
        }
    ));
    h.push_str(&contents(
        glance,
        tables.audit.is_some(),
        tables.findings.is_some(),
    ));
    h.push_str("<main id=\"main\">\n<section id=\"glance\"><h2>At a glance</h2><table class=\"glance\"><thead><tr><th>Area</th><th>Measure</th><th>This quarter (change on last quarter)</th><th>Target</th><th>RAG</th><th>SPC</th></tr></thead><tbody>\n");
    for g in glance {
        let change = match (g.value, g.previous) {
            (Some(a), Some(b)) => {
                let d = a - b;
                let sign = if d > 0.0 { "+" } else { "" };
                // Counts as whole numbers, percentages to 1 dp in points.
                match g.unit.as_str() {
                    "percent" => format!(" ({sign}{d:.1} points on last quarter)"),
                    "count" => format!(" ({sign}{} on last quarter)", d.round()),
                    _ => format!(" ({sign}{d:.1} on last quarter)"),
                }
            }
            _ => String::new(),
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td><a href=\"#{}\">{}</a></td><td class=\"num\">{}{}</td><td class=\"num\">{}</td><td class=\"rag {}\">{}</td><td>{}</td></tr>\n",
            esc(g.area),
            esc(&g.metric),
            esc(&g.title),
            show_marked(g),
            change,
            g.target.map(|t| tabular::num(Some(t), 1)).unwrap_or_default(),
            g.rag.unwrap_or(""),
            g.rag.unwrap_or(""),
            format!("{}{}", g.icons, esc(&g.spc)),
        ));
    }
    h.push_str("</tbody></table></section>\n");
    for (a, desc) in AREAS {
        let in_area: Vec<&Glance> = glance.iter().filter(|g| g.area == *a).collect();
        if in_area.is_empty() {
            continue;
        }
        h.push_str(&format!(
            "<section class=\"area\" id=\"area-{}\"><h2>{}</h2><p>{}</p>\n",
            esc(&a.replace(' ', "-")),
            esc(&capitalise(a)),
            esc(desc)
        ));
        if let Some(c) = inp.commentary.areas.get(*a) {
            h.push_str(&format!(
                "<p class=\"commentary\"><b>Commentary:</b> {}</p>\n",
                esc(c)
            ));
        }
        for g in in_area {
            h.push_str(&format!(
                "<article id=\"{}\"><h3>{}</h3><p class=\"value\">{}: {}{}</p>\n",
                esc(&g.metric),
                esc(&g.title),
                esc(&q),
                show_marked(g),
                g.target
                    .map(|t| format!(" (target {})", tabular::num(Some(t), 1)))
                    .unwrap_or_default()
            ));
            if let Some(e) = &g.england {
                h.push_str(&format!("<p class=\"england\">{}</p>\n", esc(e)));
            }
            if let Some(c) = &g.commentary {
                h.push_str(&format!(
                    "<p class=\"commentary\"><b>Commentary:</b> {}</p>\n",
                    esc(c)
                ));
            }
            for f in svgs.get(&g.metric).into_iter().flatten() {
                figures += 1;
                h.push_str(&figure(f, figures, inp.profile == Profile::Published));
            }
            h.push_str("</article>\n");
        }
        h.push_str("</section>\n");
    }
    h.push_str(&due::html(tables.due.0, tables.due.1, inp.profile));
    if let Some(a) = tables.audit {
        let s = a.sample;
        h.push_str(&format!(
            "<section id=\"audit\"><h2>Audit sample, {}</h2><p>{}: {} strata (seed {}); the last row gives the cases drawn and the population they were drawn from.</p><table><thead><tr><th>Stratum</th><th>Population</th><th>Sample</th></tr></thead><tbody>\n",
            esc(&s.period.label()),
            esc(&s.plan.title),
            s.strata.len(),
            s.seed
        ));
        for r in &a.rows {
            h.push_str(&format!(
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
                esc(&r.label),
                count_text(r.counts[0]),
                count_text(r.counts[1])
            ));
        }
        h.push_str("</tbody></table></section>\n");
    }
    if let Some(f) = tables.findings {
        h.push_str(&findings::html(f));
    }
    h.push_str("<section id=\"quality\"><h2>Data quality</h2><table><thead><tr><th>Extract</th><th>Rows read</th><th>Loaded</th><th>Rejected</th></tr></thead><tbody>\n");
    for r in tables.quality {
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            esc(&r.label),
            count_text(r.counts[0]),
            count_text(r.counts[1]),
            count_text(r.counts[2])
        ));
    }
    h.push_str("</tbody></table>\n");
    if !notes.is_empty() {
        h.push_str("<h3>Notes</h3><ul>\n");
        for n in notes {
            h.push_str(&format!("<li>{}</li>\n", esc(n)));
        }
        h.push_str("</ul>\n");
    }
    h.push_str(&format!(
        "</section></main><footer>Made by csc-audit {} from the council's extracts as of {}; measures defined in metrics/*.toml. England's figures: {} ({}).</footer>\n</body></html>\n",
        env!("CARGO_PKG_VERSION"),
        ex.as_of,
        esc(&words::England::builtin().source),
        esc(&words::England::builtin().licence)
    ));
    h
}

/// England's figure for the financial year of the quarter, beside the council's for the
/// same year (`ev`, the year of the quarter's end), for the measures whose definition
/// matches England's. In the published profile the council's figure is shown only when
/// neither side of it is a count of 1 to 5.
fn england_beside(inp: &PackInputs, ev: &metrics::Evaluation) -> BTreeMap<String, String> {
    let e = words::England::builtin();
    let Some(&year) = ev.periods.first() else {
        return BTreeMap::new();
    };
    let ends = year.end().year();
    let mut out = BTreeMap::new();
    for id in e.measures.keys() {
        let Some((y, v)) = e.figure(id, ends) else {
            continue;
        };
        let council = ev
            .find(id, &year.label(), "all", "all", "all")
            .and_then(|r| {
                let (x, n) = (r.numerator?, r.denominator?);
                let small = |c: f64| {
                    (disclosure::SMALLEST_SUPPRESSED..=disclosure::LARGEST_SUPPRESSED).contains(&c)
                };
                if inp.profile == Profile::Published && (small(x) || small(n - x)) {
                    return Some("c".to_string());
                }
                r.value.map(|v| format!("{v:.1}%"))
            });
        let to_date = if year.end() > inp.extracts.as_of {
            " to date"
        } else {
            ""
        };
        let mut text = format!("England, year to 31 March {y}: {v:.1}%");
        if let Some(c) = council {
            text.push_str(&format!("; this council, {}{to_date}: {c}", year.label()));
        }
        out.insert(id.clone(), text);
    }
    out
}

/// What a measure's funnel and small multiples compare: referral sources at the front
/// door, where the measure breaks down by source, else teams.
fn side_by_side(m: &Metric) -> &'static str {
    if area(m) == AREAS[0].0 && m.breakdowns.iter().any(|(b, _)| b == "source") {
        "source"
    } else {
        "team"
    }
}

/// A chart of the report and its text alternative.
struct Figure {
    svg: String,
    text: crate::chart_text::Described,
    /// A funnel's groups outside its limits, and its inner level.
    outliers: Option<(Vec<Vec<String>>, f64)>,
}

/// A chart as a figure a screen reader can read: the drawing named by its caption, and
/// its data as a table behind a disclosure, closed by default.
fn figure(f: &Figure, n: usize, published: bool) -> String {
    let svg = f.svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-labelledby=\"fig-{n}\" "),
        1,
    );
    let mut h = format!(
        "<figure>{svg}<figcaption id=\"fig-{n}\">{}</figcaption>\n<details><summary>The chart's data: {}</summary><table><caption>{}</caption><thead><tr>",
        esc(&f.text.caption),
        esc(&f.text.title),
        esc(&f.text.title)
    );
    for c in &f.text.header {
        h.push_str(&format!("<th scope=\"col\">{}</th>", esc(c)));
    }
    h.push_str("</tr></thead><tbody>\n");
    for r in &f.text.rows {
        h.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            // Published: a count column's 1 to 5 is shown as c, as in every other table.
            let counted = f
                .text
                .header
                .get(i)
                .is_some_and(|h| crate::disclosure::is_count_column(h));
            let small = c.parse::<f64>().is_ok_and(|v| {
                (crate::disclosure::SMALLEST_SUPPRESSED..=crate::disclosure::LARGEST_SUPPRESSED)
                    .contains(&v)
            });
            let c = if published && counted && small {
                "c"
            } else {
                c.as_str()
            };
            if i == 0 {
                h.push_str(&format!("<th scope=\"row\">{}</th>", esc(c)));
            } else {
                h.push_str(&format!("<td class=\"num\">{}</td>", esc(c)));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></details></figure>\n");
    match &f.outliers {
        Some((rows, inner)) if rows.is_empty() => {
            h.push_str(&format!(
                "<p>No group is outside the {inner}% limits.</p>\n"
            ));
        }
        Some((rows, _)) => {
            h.push_str("<table class=\"outliers\"><caption>Outside the funnel's limits</caption><thead><tr>");
            for c in ["Group", "Cases", "Value", "Limit", "Direction"] {
                h.push_str(&format!("<th scope=\"col\">{c}</th>"));
            }
            h.push_str("</tr></thead><tbody>\n");
            for r in rows {
                h.push_str(&format!("<tr><th scope=\"row\">{}</th>", esc(&r[0])));
                for c in &r[1..] {
                    h.push_str(&format!("<td>{}</td>", esc(c)));
                }
                h.push_str("</tr>\n");
            }
            h.push_str("</tbody></table>\n");
        }
        None => {}
    }
    h
}

/// The contents list: the parts of the report and each area's measures.
fn contents(glance: &[Glance], audit: bool, findings: bool) -> String {
    let mut h = String::from("<nav aria-label=\"Contents\"><h2>Contents</h2><ul><li><a href=\"#glance\">At a glance</a></li>\n");
    for (a, _) in AREAS {
        let in_area: Vec<&Glance> = glance.iter().filter(|g| g.area == *a).collect();
        if in_area.is_empty() {
            continue;
        }
        h.push_str(&format!(
            "<li><a href=\"#area-{}\">{}</a><ul>",
            esc(&a.replace(' ', "-")),
            esc(&capitalise(a))
        ));
        for g in in_area {
            h.push_str(&format!(
                "<li><a href=\"#{}\">{}</a></li>",
                esc(&g.metric),
                esc(&g.title)
            ));
        }
        h.push_str("</ul></li>\n");
    }
    h.push_str("<li><a href=\"#due\">Cases due</a></li>");
    if audit {
        h.push_str("<li><a href=\"#audit\">Audit sample</a></li>");
    }
    if findings {
        h.push_str("<li><a href=\"#findings\">Audit findings</a></li>");
    }
    h.push_str("<li><a href=\"#quality\">Data quality</a></li></ul></nav>\n");
    h
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:2em auto;max-width:1000px;color:#111}\
h1{font-size:1.6em}h2{border-bottom:2px solid #111;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border:1px solid #999;padding:.25em .4em;text-align:left;vertical-align:top}\
th{background:#eee}td.num{text-align:right;font-variant-numeric:tabular-nums}\
td.rag.red{background:#f4c7c3;font-weight:bold}td.rag.amber{background:#fce8b2}td.rag.green{background:#cde8d0}\
a.skip{position:absolute;left:-999em}a.skip:focus{left:1em;top:1em;background:#fff;padding:.3em;border:2px solid #111}\
svg.icon{vertical-align:middle;margin-right:.2em}nav>ul{columns:2;column-gap:2em}nav li{margin:.2em 0;break-inside:avoid}nav a,td a{display:inline-block;min-height:24px;line-height:24px;vertical-align:top}figcaption{font-size:.9em;margin:.3em 0}details{margin:.3em 0 1em}summary{cursor:pointer}\
@media print{details{display:none}}\
figure{margin:1em 0}figure svg{max-width:100%;height:auto}article{page-break-inside:avoid;break-inside:avoid}\
footer{margin-top:3em;font-size:.8em;color:#444}\
@media print{body{margin:0;max-width:none}a{color:inherit;text-decoration:none}section.area{break-before:page}h2{break-after:avoid}}";

/// The latest complete quarter on the as-of date.
pub fn latest_complete_quarter(as_of: NaiveDate) -> Period {
    let q = Period::containing(Grain::Quarter, as_of);
    if q.end() <= as_of {
        q
    } else {
        Period {
            grain: Grain::Quarter,
            index: q.index - 1,
        }
    }
}
