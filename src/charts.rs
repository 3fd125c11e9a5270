//! Performance-committee charts (plotters), as SVG or PNG, with the DejaVu Sans font built
//! in (no system fonts) and drawn to read when printed in black and white: series in black,
//! limits and targets told apart by dash and label, RAG bands in light greys named in the
//! band, special-cause points by marker shape.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::spc::{self, Spc};

#[derive(Debug, thiserror::Error)]
#[error("drawing the chart failed: {0}")]
pub struct ChartError(String);

/// The most characters of a name (a team, a group) a chart or a pack shows: laying out text
/// costs memory and time with its length, and a 50 MB team name once took a pack past
/// 16 GB. A longer name is cut and says so, with a short hash so that two long names that
/// begin alike stay apart.
pub const MAX_LABEL_CHARS: usize = 100;

/// `name` as shown: itself, or its first [`MAX_LABEL_CHARS`] characters and what was cut.
pub fn display_label(name: &str) -> std::borrow::Cow<'_, str> {
    match name.char_indices().nth(MAX_LABEL_CHARS) {
        None => std::borrow::Cow::Borrowed(name),
        Some((cut, _)) => {
            use sha2::Digest;
            let hash = sha2::Sha256::digest(name.as_bytes());
            std::borrow::Cow::Owned(format!(
                "{}… (cut from {} characters, #{:02x}{:02x}{:02x}{:02x})",
                &name[..cut],
                name.chars().count(),
                hash[0],
                hash[1],
                hash[2],
                hash[3]
            ))
        }
    }
}

fn e<E: std::fmt::Display>(x: E) -> ChartError {
    ChartError(x.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    pub fn from_path(p: &std::path::Path) -> Option<Format> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "svg" => Some(Format::Svg),
            "png" => Some(Format::Png),
            _ => None,
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }
}

pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 480;
const FONT: &str = "sans-serif";

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bundled font is valid (the crate ships it); a failure would only lose text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// A measure over time against its target and RAG thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    pub title: String,
    /// The y axis: `%`, `days`, `cases`.
    pub unit: String,
    pub labels: Vec<String>,
    pub values: Vec<Option<f64>>,
    pub target: Option<f64>,
    /// (green, amber) thresholds.
    pub rag: Option<(f64, f64)>,
    pub higher_is_better: Option<bool>,
}

/// An XmR chart or p-chart with its signals and readings.
#[derive(Debug, Clone, PartialEq)]
pub struct SpcChart {
    pub title: String,
    pub unit: String,
    pub labels: Vec<String>,
    /// NaN where a month has no value.
    pub values: Vec<f64>,
    pub spc: Spc,
    pub target: Option<f64>,
    pub higher_is_better: Option<bool>,
    /// "XmR" or "p-chart", and the readings shown under the title.
    pub kind: String,
    pub reading: String,
}

/// Teams compared on a funnel: (name, numerator, denominator), the overall proportion.
#[derive(Debug, Clone, PartialEq)]
pub struct Funnel {
    pub title: String,
    pub points: Vec<(String, f64, f64)>,
    pub overall: f64,
    /// The two limit levels in percent, the inner first (95 and 99.8 by default).
    pub levels: [f64; 2],
}

/// Bars: (category, value).
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    pub title: String,
    pub unit: String,
    pub bars: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    Trend(Trend),
    Spc(SpcChart),
    Funnel(Funnel),
    Distribution(Distribution),
    /// One small trend per group (team), on the same scale.
    Multiples {
        title: String,
        charts: Vec<Trend>,
    },
}

/// The chart as SVG text or PNG bytes.
pub fn render(chart: &Chart, format: Format) -> Result<Vec<u8>, ChartError> {
    register_fonts();
    let (w, h) = match chart {
        Chart::Multiples { charts, .. } => {
            (WIDTH, 60 + 220 * charts.len().div_ceil(3).max(1) as u32)
        }
        _ => (WIDTH, HEIGHT),
    };
    match format {
        Format::Svg => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
                draw(chart, &root)?;
                root.present().map_err(e)?;
            }
            Ok(s.into_bytes())
        }
        Format::Png => {
            let mut buf = vec![0u8; (w * h * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
                draw(chart, &root)?;
                root.present().map_err(e)?;
            }
            let mut out = Vec::new();
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut wr = enc.write_header().map_err(e)?;
            wr.write_image_data(&buf).map_err(e)?;
            wr.finish().map_err(e)?;
            Ok(out)
        }
    }
}

fn draw<DB: DrawingBackend>(
    chart: &Chart,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), ChartError> {
    root.fill(&WHITE).map_err(e)?;
    match chart {
        Chart::Trend(t) => trend(t, root, 20),
        Chart::Spc(s) => spc_chart(s, root),
        Chart::Funnel(f) => funnel(f, root),
        Chart::Distribution(d) => distribution(d, root),
        Chart::Multiples { title, charts } => {
            let (top, rest) = root.split_vertically(50);
            top.draw(&Text::new(
                title.clone(),
                (10, 12),
                (FONT, 22).into_font().style(FontStyle::Bold),
            ))
            .map_err(e)?;
            // Every panel on the same y scale, so teams can be compared by eye.
            let (lo, hi) = y_range(
                charts
                    .iter()
                    .flat_map(|c| c.values.iter().flatten().copied().chain(c.target)),
            );
            let rows = charts.len().div_ceil(3).max(1);
            for (area, c) in rest.split_evenly((rows, 3)).iter().zip(charts) {
                trend_scaled(c, area, 14, Some((lo, hi)))?;
            }
            Ok(())
        }
    }
}

/// A y range with a little room, from 0 when every value is positive and near it.
fn y_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.1).max(1.0);
    let lo = if lo >= 0.0 && lo - pad < 0.0 {
        0.0
    } else {
        lo - pad
    };
    (lo, hi + pad)
}

/// The period's label at each whole x (plotters chooses which x get a tick).
fn x_labels(labels: &[String]) -> impl Fn(&f64) -> String + '_ {
    move |x: &f64| {
        let i = x.round();
        if (x - i).abs() > 1e-6 || i < 0.0 || i as usize >= labels.len() {
            return String::new();
        }
        labels[i as usize].clone()
    }
}

fn trend<DB: DrawingBackend>(
    t: &Trend,
    root: &DrawingArea<DB, Shift>,
    size: u32,
) -> Result<(), ChartError> {
    trend_scaled(t, root, size, None)
}

fn trend_scaled<DB: DrawingBackend>(
    t: &Trend,
    root: &DrawingArea<DB, Shift>,
    size: u32,
    range: Option<(f64, f64)>,
) -> Result<(), ChartError> {
    let n = t.labels.len().max(1);
    let (lo, hi) = range.unwrap_or_else(|| {
        y_range(
            t.values
                .iter()
                .flatten()
                .copied()
                .chain(t.target)
                .chain(t.rag.into_iter().flat_map(|(g, a)| [g, a])),
        )
    });
    let mut c = ChartBuilder::on(root)
        .caption(&t.title, (FONT, size).into_font().style(FontStyle::Bold))
        .margin(8)
        .x_label_area_size(size * 2)
        .y_label_area_size(size * 3)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)
        .map_err(e)?;
    // RAG bands under everything, in greys that print, named inside the band.
    if let (Some((green, amber)), Some(h)) = (t.rag, t.higher_is_better) {
        let bands = if h {
            [
                (green, hi, "green"),
                (amber, green, "amber"),
                (lo, amber, "red"),
            ]
        } else {
            [
                (lo, green, "green"),
                (green, amber, "amber"),
                (amber, hi, "red"),
            ]
        };
        for (i, (a, b, name)) in bands.into_iter().enumerate() {
            let (a, b) = (a.clamp(lo, hi), b.clamp(lo, hi));
            if b <= a {
                continue;
            }
            let grey = [245u8, 230, 212][i];
            c.draw_series(std::iter::once(Rectangle::new(
                [(-0.5, a), (n as f64 - 0.5, b)],
                RGBColor(grey, grey, grey).filled(),
            )))
            .map_err(e)?;
            c.draw_series(std::iter::once(Text::new(
                name.to_string(),
                (n as f64 - 0.6, b),
                (FONT, size * 3 / 5)
                    .into_font()
                    .color(&RGBColor(90, 90, 90))
                    .pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Right,
                        plotters::style::text_anchor::VPos::Top,
                    )),
            )))
            .map_err(e)?;
        }
    }
    c.configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(if size < 20 { n.min(4) } else { n.min(13) })
        .x_label_formatter(&x_labels(&t.labels))
        .y_label_formatter(&|v| axis_num(*v, &t.unit))
        .y_desc(&t.unit)
        .label_style((FONT, size * 3 / 4))
        .draw()
        .map_err(e)?;
    if let Some(target) = t.target {
        c.draw_series(DashedLineSeries::new(
            [(-0.5, target), (n as f64 - 0.5, target)],
            8,
            5,
            BLACK.stroke_width(1),
        ))
        .map_err(e)?
        .label(format!("target {}", fmt_num(target)))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK));
    }
    // The series: a line through each run of months with a value.
    let mut run: Vec<(f64, f64)> = Vec::new();
    let mut runs = Vec::new();
    for (i, v) in t.values.iter().enumerate() {
        match v {
            Some(v) => run.push((i as f64, *v)),
            None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    for r in &runs {
        c.draw_series(LineSeries::new(r.iter().copied(), BLACK.stroke_width(2)))
            .map_err(e)?;
        c.draw_series(r.iter().map(|&p| Circle::new(p, 3, BLACK.filled())))
            .map_err(e)?;
    }
    // Small multiples share the main chart's key: no legend in each panel.
    if t.target.is_some() && size >= 20 {
        c.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font((FONT, size * 3 / 4))
            .position(SeriesLabelPosition::LowerLeft)
            .draw()
            .map_err(e)?;
    }
    Ok(())
}

/// An axis label: counts are whole numbers (a tick between two is left blank), anything
/// else to 1 dp.
fn axis_num(v: f64, unit: &str) -> String {
    match unit {
        "cases" | "count" if (v - v.round()).abs() > 1e-9 => String::new(),
        "cases" | "count" => format!("{}", v.round()),
        _ => fmt_num(v),
    }
}

fn fmt_num(v: f64) -> String {
    crate::tabular::num(Some(v), 1)
}

/// Making Data Count's colours of a point (NHSRplotthedots' `ptd_spc_colours`, darkened so
/// each has at least 3:1 contrast against white).
pub const COMMON_CAUSE: RGBColor = RGBColor(0x76, 0x76, 0x76);
pub const IMPROVEMENT: RGBColor = RGBColor(0x00, 0x70, 0xc0);
pub const CONCERN: RGBColor = RGBColor(0xc5, 0x5a, 0x11);
pub const NEUTRAL: RGBColor = RGBColor(0x49, 0x00, 0x92);

fn spc_chart<DB: DrawingBackend>(
    s: &SpcChart,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), ChartError> {
    let n = s.labels.len().max(1);
    let (lo, hi) = y_range(
        s.values
            .iter()
            .copied()
            .chain(s.spc.limits.iter().flat_map(|l| [l.lower, l.upper]))
            .chain(s.target),
    );
    let (head, body) = root.split_vertically(56);
    head.draw(&Text::new(
        s.title.clone(),
        (12, 8),
        (FONT, 20).into_font().style(FontStyle::Bold),
    ))
    .map_err(e)?;
    head.draw(&Text::new(
        format!("{}: {}", s.kind, s.reading),
        (12, 34),
        (FONT, 14).into_font(),
    ))
    .map_err(e)?;
    let mut c = ChartBuilder::on(&body)
        .margin(8)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)
        .map_err(e)?;
    c.configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(n.min(13))
        .x_label_formatter(&x_labels(&s.labels))
        .y_label_formatter(&|v| axis_num(*v, &s.unit))
        .y_desc(&s.unit)
        .label_style((FONT, 14))
        .draw()
        .map_err(e)?;
    let xs = || (0..s.spc.limits.len()).map(|i| i as f64);
    let grey = RGBColor(110, 110, 110);
    c.draw_series(LineSeries::new(
        xs().zip(s.spc.limits.iter().map(|l| l.mean)),
        grey.stroke_width(1),
    ))
    .map_err(e)?
    .label("mean")
    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], grey));
    for upper in [true, false] {
        let line: Vec<(f64, f64)> = xs()
            .zip(
                s.spc
                    .limits
                    .iter()
                    .map(|l| if upper { l.upper } else { l.lower }),
            )
            .filter(|(_, v)| v.is_finite())
            .collect();
        let drawn = c
            .draw_series(DashedLineSeries::new(line, 6, 4, grey.stroke_width(1)))
            .map_err(e)?;
        if upper {
            drawn
                .label("process limits")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], grey));
        }
    }
    if let Some(t) = s.target {
        c.draw_series(DashedLineSeries::new(
            [(-0.5, t), (n as f64 - 0.5, t)],
            12,
            4,
            BLACK.stroke_width(2),
        ))
        .map_err(e)?
        .label(format!("target {}", fmt_num(t)))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    }
    let points: Vec<(f64, f64)> = s
        .values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, v)| (i as f64, *v))
        .collect();
    c.draw_series(LineSeries::new(
        points.iter().copied(),
        BLACK.stroke_width(1),
    ))
    .map_err(e)?;
    // Common cause: small hollow grey circles. Special cause: large filled markers in the
    // Making Data Count colours (blue improvement, orange concern, purple where neither way
    // is better; NHSRplotthedots' hues darkened to 3:1 against white, WCAG 1.4.11), a
    // triangle pointing the way the signal goes, a square where there is no better way:
    // the shape still reads in black and white.
    for &(x, v) in &points {
        let i = x as usize;
        let sig = &s.spc.signals[i];
        if sig.is_empty() {
            c.draw_series(std::iter::once(Circle::new(
                (x, v),
                4,
                COMMON_CAUSE.stroke_width(1),
            )))
            .map_err(e)?;
            continue;
        }
        let up = spc::signal_up(&s.values, &s.spc, i);
        match s.higher_is_better {
            None => {
                c.draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.15, v), (x + 0.15, v)],
                    NEUTRAL.stroke_width(8),
                )))
                .map_err(e)?;
            }
            Some(better_up) => {
                let colour = if up == better_up {
                    IMPROVEMENT
                } else {
                    CONCERN
                };
                c.draw_series(std::iter::once(TriangleMarker::new(
                    (x, v),
                    if up { 7 } else { -7 },
                    colour.filled(),
                )))
                .map_err(e)?;
            }
        }
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(e)?;
    Ok(())
}

fn funnel<DB: DrawingBackend>(f: &Funnel, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
    let max_n = f.points.iter().map(|p| p.2).fold(1.0f64, f64::max) * 1.1;
    // The axis holds the points and both outer limits at the smallest group, so the limits
    // show over the range the groups span.
    let min_n = f
        .points
        .iter()
        .map(|p| p.2)
        .filter(|n| *n > 0.0)
        .fold(max_n, f64::min);
    let [_, (l_out, u_out)] = spc::funnel_limits_at(f.overall, min_n, f.levels);
    let (lo, hi) = y_range(
        f.points
            .iter()
            .filter(|p| p.2 > 0.0)
            .map(|p| 100.0 * p.1 / p.2)
            .chain([100.0 * f.overall, 100.0 * l_out, 100.0 * u_out]),
    );
    let (lo, hi) = (lo.max(0.0), hi.min(100.0).max(lo + 1.0));
    let mut c = ChartBuilder::on(root)
        .caption(&f.title, (FONT, 20).into_font().style(FontStyle::Bold))
        .margin(10)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..max_n, lo..hi)
        .map_err(e)?;
    c.configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| axis_num(*v, "cases"))
        .x_desc("cases (denominator)")
        .y_desc("%")
        .label_style((FONT, 14))
        .draw()
        .map_err(e)?;
    let steps = 200;
    let start = (max_n / steps as f64).max(1.0);
    let ns: Vec<f64> = (0..=steps)
        .map(|i| start + (max_n - start) * i as f64 / steps as f64)
        .collect();
    let grey = RGBColor(110, 110, 110);
    c.draw_series(LineSeries::new(
        [(0.0, 100.0 * f.overall), (max_n, 100.0 * f.overall)],
        grey.stroke_width(1),
    ))
    .map_err(e)?
    .label(format!("overall {:.1}%", 100.0 * f.overall))
    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], grey));
    let names = f.levels.map(|l| format!("{l}% limits"));
    for (k, (name, dash)) in [(names[0].as_str(), 4), (names[1].as_str(), 10)]
        .into_iter()
        .enumerate()
    {
        for side in [0, 1] {
            // Over the whole range: held to the axes where they would leave them.
            let pts: Vec<(f64, f64)> = ns
                .iter()
                .map(|&n| {
                    let l = spc::funnel_limits_at(f.overall, n, f.levels)[k];
                    (n, (100.0 * if side == 0 { l.0 } else { l.1 }).clamp(lo, hi))
                })
                .collect();
            let s = c
                .draw_series(DashedLineSeries::new(pts, dash, 4, BLACK.stroke_width(1)))
                .map_err(e)?;
            if side == 0 {
                s.label(name).legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(1))
                });
            }
        }
    }
    for (name, x, n) in &f.points {
        if *n <= 0.0 {
            continue;
        }
        let p = (*n, 100.0 * x / n);
        let band = spc::funnel_band_at(f.overall, *x, *n, f.levels);
        if band == 0 {
            c.draw_series(std::iter::once(Circle::new(p, 5, BLACK.stroke_width(2))))
                .map_err(e)?;
        } else {
            c.draw_series(std::iter::once(Circle::new(p, 6, BLACK.filled())))
                .map_err(e)?;
        }
        c.draw_series(std::iter::once(Text::new(
            name.clone(),
            (p.0, p.1),
            TextStyle::from((FONT, 13).into_font()).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Bottom,
            )),
        )))
        .map_err(e)?;
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(e)?;
    Ok(())
}

fn distribution<DB: DrawingBackend>(
    d: &Distribution,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), ChartError> {
    let n = d.bars.len().max(1);
    let hi = d.bars.iter().map(|b| b.1).fold(0.0f64, f64::max) * 1.15 + 1.0;
    let labels: Vec<String> = d.bars.iter().map(|b| b.0.clone()).collect();
    let mut c = ChartBuilder::on(root)
        .caption(&d.title, (FONT, 20).into_font().style(FontStyle::Bold))
        .margin(10)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..hi)
        .map_err(e)?;
    c.configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| axis_num(*v, &d.unit))
        .y_desc(&d.unit)
        .label_style((FONT, 14))
        .draw()
        .map_err(e)?;
    for (i, (_, v)) in d.bars.iter().enumerate() {
        let x = i as f64;
        c.draw_series(std::iter::once(Rectangle::new(
            [(x - 0.35, 0.0), (x + 0.35, *v)],
            RGBColor(120, 120, 120).filled(),
        )))
        .map_err(e)?;
        c.draw_series(std::iter::once(Rectangle::new(
            [(x - 0.35, 0.0), (x + 0.35, *v)],
            BLACK.stroke_width(1),
        )))
        .map_err(e)?;
        c.draw_series(std::iter::once(Text::new(
            fmt_num(*v),
            (x, *v),
            TextStyle::from((FONT, 14).into_font()).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Bottom,
            )),
        )))
        .map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_labels_name_whole_positions_only() {
        let labels: Vec<String> = (0..24).map(|i| format!("m{i}")).collect();
        let f = x_labels(&labels);
        assert_eq!(f(&23.0), "m23");
        assert_eq!(f(&22.0), "m22");
        assert_eq!(f(&0.5), "");
        assert_eq!(f(&24.0), "");
    }

    #[test]
    fn y_ranges_start_at_zero_for_small_positive_values() {
        assert_eq!(y_range([80.0, 90.0].into_iter()), (79.0, 91.0));
        assert_eq!(y_range([0.5, 3.0].into_iter()), (0.0, 4.0));
        assert_eq!(y_range(std::iter::empty()), (0.0, 1.0));
    }
}

/// Which chart of a measure to draw from an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Trend,
    Spc,
    Funnel,
    Distribution,
    Multiples,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "trend" => Kind::Trend,
            "spc" => Kind::Spc,
            "funnel" => Kind::Funnel,
            "distribution" => Kind::Distribution,
            "multiples" => Kind::Multiples,
            _ => return None,
        })
    }
}

/// What to draw: the measure, the kind, the breakdown compared (funnels, small multiples),
/// the period (funnels, distributions: default the last), and the SPC options.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub metric: &'a crate::metrics::Metric,
    pub kind: Kind,
    pub by: &'a str,
    pub period: Option<&'a str>,
    /// SPC: a p-chart from each month's numerator and denominator instead of XmR.
    pub p_chart: bool,
    /// SPC: limits from the first N points.
    pub baseline: Option<usize>,
    /// SPC: moving ranges of 3.267 x their mean or more left out of the limits.
    pub screen_outliers: bool,
    /// SPC: periods where a new phase, with its own limits, starts.
    pub rebase: &'a [String],
    /// Funnel: the two limit levels in percent, the inner first.
    pub funnel_levels: [f64; 2],
    /// Small multiples: at most this many panels, the groups with the most cases (all
    /// when `None`).
    pub panels: Option<usize>,
}

fn higher_is_better(m: &crate::metrics::Metric) -> Option<bool> {
    use crate::metrics::definition::Polarity;
    match m.polarity {
        Polarity::Higher => Some(true),
        Polarity::Lower => Some(false),
        Polarity::Neutral => None,
    }
}

fn unit_of(m: &crate::metrics::Metric) -> String {
    match m.kind.unit() {
        "percent" => "%".into(),
        u => u.to_string(),
    }
}

fn series_of(
    ev: &crate::metrics::Evaluation,
    rows: &crate::metrics::MetricRows,
    m: &crate::metrics::Metric,
    breakdown: &str,
    group: &str,
) -> Trend {
    let values = ev
        .periods
        .iter()
        .map(|p| {
            rows.get(&p.label(), breakdown, group, "all")
                .and_then(|r| r.value)
        })
        .collect();
    Trend {
        title: if group == "all" {
            m.title.clone()
        } else {
            display_label(group).into_owned()
        },
        unit: unit_of(m),
        labels: ev.periods.iter().map(|p| p.label()).collect(),
        values,
        target: m.target,
        rag: m.rag.map(|r| (r.green, r.amber)),
        higher_is_better: higher_is_better(m),
    }
}

/// The `most` groups with the most cases (denominators; a count's numerator) over the
/// evaluated periods, kept in their first-row order; a tie goes to the group seen first.
fn most_cases<'a>(
    ev: &crate::metrics::Evaluation,
    rows: &crate::metrics::MetricRows,
    by: &str,
    groups: Vec<&'a str>,
    most: usize,
) -> Vec<&'a str> {
    let cases = |g: &str| -> f64 {
        (ev.periods.iter())
            .filter_map(|p| {
                let r = rows.get(&p.label(), by, g, "all")?;
                r.denominator.or(r.numerator)
            })
            .sum()
    };
    let mut ranked: Vec<(usize, f64)> = groups.iter().map(|g| cases(g)).enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut keep: Vec<usize> = ranked.into_iter().take(most).map(|(i, _)| i).collect();
    keep.sort_unstable();
    keep.into_iter().map(|i| groups[i]).collect()
}

/// Builds the chart a request asks for from the evaluated rows, or says why it cannot.
pub fn build(ev: &crate::metrics::Evaluation, r: &Request) -> Result<Chart, String> {
    let m = r.metric;
    if !ev.rows.iter().any(|x| x.metric_id == m.id) {
        return Err(format!(
            "{} has no rows (see the notes: not available?)",
            m.id
        ));
    }
    let last = ev.periods.last().map(|p| p.label()).unwrap_or_default();
    let period = r.period.map(str::to_string).unwrap_or(last);
    if !ev.periods.iter().any(|p| p.label() == period) {
        return Err(format!("{period} is not one of the evaluated periods"));
    }
    let ratio = m.kind.is_rate();
    let rows = ev.rows_of(&m.id);
    match r.kind {
        Kind::Trend => Ok(Chart::Trend(series_of(ev, &rows, m, "all", "all"))),
        Kind::Multiples => {
            let groups: Vec<&str> = ev
                .rows
                .iter()
                .filter(|x| x.metric_id == m.id && x.breakdown == r.by && x.category == "all")
                .map(|x| x.group.as_str())
                .collect();
            // Each group once, in the order of its first row.
            let mut known = std::collections::HashSet::new();
            let seen: Vec<&str> = groups.into_iter().filter(|g| known.insert(*g)).collect();
            if seen.is_empty() {
                return Err(format!("{} was not evaluated by {}", m.id, r.by));
            }
            // At least one panel, whatever the caller asks.
            let (seen, title) = match r.panels.map(|n| n.max(1)) {
                Some(most) if seen.len() > most => (
                    most_cases(ev, &rows, r.by, seen.clone(), most),
                    format!(
                        "{} by {}: the {} of {} groups with the most cases",
                        m.title,
                        r.by,
                        if most == 1 {
                            "one".to_string()
                        } else {
                            most.to_string()
                        },
                        seen.len()
                    ),
                ),
                _ => (seen, format!("{} by {}", m.title, r.by)),
            };
            Ok(Chart::Multiples {
                title,
                charts: seen
                    .iter()
                    .map(|g| series_of(ev, &rows, m, r.by, g))
                    .collect(),
            })
        }
        Kind::Spc => {
            // Only finished periods: a part month is not a point of the process.
            let done: Vec<&crate::periods::Period> =
                ev.periods.iter().filter(|p| p.end() <= ev.as_of).collect();
            let rows: Vec<Option<&crate::metrics::OutRow>> = done
                .iter()
                .map(|p| rows.get(&p.label(), "all", "all", "all"))
                .collect();
            let labels: Vec<String> = done.iter().map(|p| p.label()).collect();
            let h = higher_is_better(m);
            let (values, spc, kind) = if r.p_chart {
                if !ratio {
                    return Err(format!(
                        "a p-chart needs a percentage; {} is a {}",
                        m.id,
                        m.kind.name()
                    ));
                }
                let x: Vec<f64> = rows
                    .iter()
                    .map(|r| r.and_then(|r| r.numerator).unwrap_or(0.0))
                    .collect();
                let n: Vec<f64> = rows
                    .iter()
                    .map(|r| r.and_then(|r| r.denominator).unwrap_or(0.0))
                    .collect();
                let o = spc_options(r, &labels)?;
                if labels.len() < 2 {
                    return Err(too_few(labels.len()));
                }
                let spc = spc::p_chart_with(&x, &n, &o);
                // Drawn in percent.
                let spc = Spc {
                    limits: spc
                        .limits
                        .iter()
                        .map(|l| spc::Limits {
                            mean: 100.0 * l.mean,
                            lower: 100.0 * l.lower,
                            upper: 100.0 * l.upper,
                            lower_2s: 100.0 * l.lower_2s,
                            upper_2s: 100.0 * l.upper_2s,
                        })
                        .collect(),
                    signals: spc.signals,
                    trial: spc.trial,
                };
                let v = x
                    .iter()
                    .zip(&n)
                    .map(|(a, b)| if *b > 0.0 { 100.0 * a / b } else { f64::NAN })
                    .collect();
                (v, spc, "p-chart")
            } else {
                let v: Vec<f64> = rows
                    .iter()
                    .map(|r| r.and_then(|r| r.value).unwrap_or(f64::NAN))
                    .collect();
                if v.iter().any(|x| x.is_nan()) {
                    return Err(format!("{} has months with no value; an XmR chart needs every month (try --p-chart)", m.id));
                }
                if v.len() < 2 {
                    return Err(too_few(labels.len()));
                }
                let spc = spc::xmr_with(&v, &spc_options(r, &labels)?);
                (v, spc, "XmR")
            };
            let var = spc::variation(&values, &spc, h);
            let mut reading = format!("latest point: {}", var.label());
            if spc.trial.iter().any(|t| *t) {
                reading.push_str(&format!(
                    "; trial limits (a phase of fewer than {} points)",
                    spc::TRIAL_BELOW
                ));
            }
            if let (Some(t), Some(h), Some(l)) = (m.target, h, spc.limits.last()) {
                reading.push_str(&format!(
                    "; against the target {}: {}",
                    fmt_num(t),
                    spc::assurance(l, t, h).label()
                ));
            }
            Ok(Chart::Spc(SpcChart {
                title: m.title.clone(),
                unit: unit_of(m),
                labels,
                values,
                spc,
                target: m.target,
                higher_is_better: h,
                kind: kind.into(),
                reading,
            }))
        }
        Kind::Funnel => {
            if !ratio {
                return Err(format!(
                    "a funnel compares percentages; {} is a {}",
                    m.id,
                    m.kind.name()
                ));
            }
            let all = ev
                .find(&m.id, &period, "all", "all", "all")
                .ok_or_else(|| format!("{} has no value for {period}", m.id))?;
            let (x, n) = (all.numerator.unwrap_or(0.0), all.denominator.unwrap_or(0.0));
            if n <= 0.0 {
                return Err(format!("{} has no cases in {period}", m.id));
            }
            let points: Vec<(String, f64, f64)> = ev
                .rows
                .iter()
                .filter(|x| {
                    x.metric_id == m.id
                        && x.period == period
                        && x.breakdown == r.by
                        && x.category == "all"
                })
                .map(|x| {
                    (
                        display_label(&x.group).into_owned(),
                        x.numerator.unwrap_or(0.0),
                        x.denominator.unwrap_or(0.0),
                    )
                })
                .collect();
            if points.is_empty() {
                return Err(format!("{} was not evaluated by {}", m.id, r.by));
            }
            Ok(Chart::Funnel(Funnel {
                title: format!("{}, {period}, by {}", m.title, r.by),
                points,
                overall: x / n,
                levels: r.funnel_levels,
            }))
        }
        Kind::Distribution => {
            let bars: Vec<(String, f64)> = ev
                .rows
                .iter()
                .filter(|x| {
                    x.metric_id == m.id
                        && x.period == period
                        && x.breakdown == "all"
                        && x.category != "all"
                })
                .map(|x| (x.category.clone(), x.numerator.unwrap_or(0.0)))
                .collect();
            if bars.is_empty() {
                return Err(format!("{} is not a distribution (it has no bands)", m.id));
            }
            Ok(Chart::Distribution(Distribution {
                title: format!("{}, {period}", m.title),
                unit: "cases".into(),
                bars,
            }))
        }
    }
}

fn too_few(n: usize) -> String {
    format!("{n} finished periods: an SPC chart needs at least 2 (give a longer --from)")
}

/// The SPC options of a request, its rebase periods found among the chart's.
fn spc_options(r: &Request, labels: &[String]) -> Result<spc::Options, String> {
    let mut rebase = Vec::new();
    for p in r.rebase {
        let at = labels.iter().position(|l| l == p).ok_or_else(|| {
            format!(
                "--rebase {p} is not a period of the chart ({} to {})",
                labels.first().map_or("", String::as_str),
                labels.last().map_or("", String::as_str)
            )
        })?;
        rebase.push(at);
    }
    Ok(spc::Options {
        baseline: r.baseline,
        screen_outliers: r.screen_outliers,
        rebase,
    })
}
