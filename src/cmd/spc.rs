//! `csc-audit spc`: an SPC chart of any series an analyst brings, with the engine the
//! pack uses, following NHSRplotthedots (the R implementation of Making Data Count).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use csc_audit::charts::{self, Chart, Format, SpcChart};
use csc_audit::spc::{self, Options, Spc};

#[derive(clap::Args)]
pub struct SpcArgs {
    /// The series: CSV with a header `period,value` (and `denominator` for a p-chart), a row
    /// per point in time order.
    #[arg(long)]
    input: PathBuf,
    /// xmr (any value) or p (value = cases meeting the standard, of denominator).
    #[arg(long, default_value = "xmr", value_parser = ["xmr", "p"])]
    chart: String,
    /// Leave moving ranges of 3.267 x the mean moving range or more out of the limits.
    #[arg(long)]
    screen_outliers: bool,
    /// Periods where a new phase starts, each with its own limits: `2024-04,2025-01`.
    #[arg(long, value_delimiter = ',')]
    rebase: Vec<String>,
    /// Limits from the first N points of each phase only.
    #[arg(long)]
    baseline: Option<usize>,
    /// increase | decrease | neutral: which way is better, for the variation reading.
    #[arg(long, default_value = "neutral", value_parser = ["increase", "decrease", "neutral"])]
    improvement: String,
    /// A target, for the assurance reading.
    #[arg(long)]
    target: Option<f64>,
    /// The chart's title.
    #[arg(long, default_value = "")]
    title: String,
    /// The chart: .svg or .png.
    #[arg(long)]
    out: Option<PathBuf>,
    /// One row per point (`period,value,mean,lower,upper,lower_2s,upper_2s,trial,signals`):
    /// .csv, or .json with the reading (variation, assurance) at the end.
    #[arg(long)]
    table: Option<PathBuf>,
}

/// A series as read: labels, values and (for a p-chart) denominators.
struct Series {
    periods: Vec<String>,
    values: Vec<f64>,
    denominators: Option<Vec<f64>>,
}

fn read_series(path: &std::path::Path) -> Result<Series> {
    let bytes = csc_audit::fsutil::read_input(path, 64 << 20)
        .with_context(|| format!("reading {}", path.display()))?;
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(bytes.as_slice());
    let header: Vec<String> = r
        .headers()
        .with_context(|| format!("{}: no header row", path.display()))?
        .iter()
        .map(csc_audit::schema::normalise_header)
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(p), Some(v)) = (col("period"), col("value")) else {
        bail!(
            "{}: the header must name `period` and `value` (and `denominator` for a p-chart)",
            path.display()
        );
    };
    let d = col("denominator");
    let mut s = Series {
        periods: Vec::new(),
        values: Vec::new(),
        denominators: d.map(|_| Vec::new()),
    };
    for (i, rec) in r.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
        let number = |at: usize, what: &str| -> Result<f64> {
            let raw = rec.get(at).unwrap_or("").trim();
            let x: f64 = raw
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite())
                .with_context(|| {
                    format!(
                        "{} line {}: the {what} '{raw}' is not a number",
                        path.display(),
                        i + 2
                    )
                })?;
            Ok(x)
        };
        s.periods.push(rec.get(p).unwrap_or("").trim().to_string());
        s.values.push(number(v, "value")?);
        if let (Some(at), Some(ds)) = (d, s.denominators.as_mut()) {
            ds.push(number(at, "denominator")?);
        }
    }
    if s.values.len() < 2 {
        bail!(
            "{}: SPC needs at least 2 points (12 or more for limits that are not trial)",
            path.display()
        );
    }
    Ok(s)
}

fn options(a: &SpcArgs, s: &Series) -> Result<Options> {
    let mut rebase = Vec::new();
    for r in &a.rebase {
        let i = s
            .periods
            .iter()
            .position(|p| p == r.trim())
            .with_context(|| format!("--rebase {r}: no such period in {}", a.input.display()))?;
        rebase.push(i);
    }
    Ok(Options {
        baseline: a.baseline,
        screen_outliers: a.screen_outliers,
        rebase,
    })
}

/// The chart, its values as drawn, and the readings.
fn compute(a: &SpcArgs, s: &Series) -> Result<(Spc, Vec<f64>)> {
    let o = options(a, s)?;
    if a.chart == "p" {
        let Some(n) = &s.denominators else {
            bail!(
                "a p-chart needs a `denominator` column in {}",
                a.input.display()
            );
        };
        if a.screen_outliers {
            bail!("--screen-outliers screens moving ranges, an XmR idea: it does not apply to a p-chart");
        }
        let values = s
            .values
            .iter()
            .zip(n)
            .map(|(x, n)| if *n > 0.0 { x / n } else { f64::NAN })
            .collect();
        return Ok((spc::p_chart_with(&s.values, n, &o), values));
    }
    Ok((spc::xmr_with(&s.values, &o), s.values.clone()))
}

fn readings(a: &SpcArgs, values: &[f64], spc: &Spc) -> (String, Option<String>) {
    let better = match a.improvement.as_str() {
        "increase" => Some(true),
        "decrease" => Some(false),
        _ => None,
    };
    let variation = spc::variation(values, spc, better).label().to_string();
    let assurance = match (a.target, better, spc.limits.last()) {
        (Some(t), Some(h), Some(l)) => Some(spc::assurance(l, t, h).label().to_string()),
        _ => None,
    };
    (variation, assurance)
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

fn table_csv(s: &Series, values: &[f64], spc: &Spc) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "period", "value", "mean", "lower", "upper", "lower_2s", "upper_2s", "trial", "signals",
    ])
    .expect("writing to memory");
    for (i, p) in s.periods.iter().enumerate() {
        let l = spc.limits[i];
        let signals: Vec<&str> = spc.signals[i].iter().map(|r| r.code()).collect();
        w.write_record([
            p.clone(),
            num(values[i]),
            num(l.mean),
            num(l.lower),
            num(l.upper),
            num(l.lower_2s),
            num(l.upper_2s),
            if spc.trial[i] { "Y" } else { "N" }.to_string(),
            signals.join(";"),
        ])
        .expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

fn table_json(
    s: &Series,
    values: &[f64],
    spc: &Spc,
    reading: &(String, Option<String>),
) -> Vec<u8> {
    let f = |x: f64| {
        if x.is_finite() {
            serde_json::json!(x)
        } else {
            serde_json::Value::Null
        }
    };
    let points: Vec<serde_json::Value> = s
        .periods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let l = spc.limits[i];
            serde_json::json!({
                "period": p, "value": f(values[i]), "mean": f(l.mean), "lower": f(l.lower),
                "upper": f(l.upper), "lower_2s": f(l.lower_2s), "upper_2s": f(l.upper_2s),
                "trial": spc.trial[i],
                "signals": spc.signals[i].iter().map(|r| r.code()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let v = serde_json::json!({ "points": points, "variation": reading.0, "assurance": reading.1 });
    serde_json::to_vec_pretty(&v).expect("a table serialises")
}

pub fn run(a: SpcArgs) -> Result<ExitCode> {
    let outputs: Vec<&std::path::Path> =
        a.out.iter().chain(&a.table).map(PathBuf::as_path).collect();
    if outputs.is_empty() {
        bail!("give --out chart.svg (or .png) and/or --table points.csv (or .json)");
    }
    for o in &outputs {
        csc_audit::fsutil::check_output(o, &[a.input.as_path()]).map_err(anyhow::Error::msg)?;
    }
    if let (Some(o), Some(t)) = (&a.out, &a.table) {
        if o == t {
            bail!("--out and --table name the same file: give each its own");
        }
    }
    if let Some(b) = a.baseline.filter(|b| *b < spc::MIN_POINTS) {
        bail!(
            "--baseline {b}: limits are fixed after 12 points or more, as NHSRplotthedots requires"
        );
    }
    let s = read_series(&a.input)?;
    let (spc, values) = compute(&a, &s)?;
    let reading = readings(&a, &values, &spc);
    if let Some(t) = &a.table {
        let json = t
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let bytes = if json {
            table_json(&s, &values, &spc, &reading)
        } else {
            table_csv(&s, &values, &spc)
        };
        csc_audit::fsutil::write_atomic(t, &bytes)
            .with_context(|| format!("writing {}", t.display()))?;
    }
    if let Some(out) = &a.out {
        let format = Format::from_path(out).with_context(|| {
            format!("{}: write the chart to a .svg or .png file", out.display())
        })?;
        let mut text = format!("latest point: {}", reading.0);
        if let Some(r) = &reading.1 {
            text.push_str(&format!("; against the target: {r}"));
        }
        if spc.trial.iter().any(|t| *t) {
            text.push_str(&format!(
                "; trial limits where a phase has fewer than {} points",
                spc::TRIAL_BELOW
            ));
        }
        let p = a.chart == "p";
        let scale = if p { 100.0 } else { 1.0 };
        let chart = Chart::Spc(SpcChart {
            title: a.title.clone(),
            unit: if p { "%".into() } else { String::new() },
            labels: s.periods.clone(),
            values: values.iter().map(|v| v * scale).collect(),
            spc: scaled(&spc, scale),
            target: a.target.map(|t| t * scale),
            higher_is_better: match a.improvement.as_str() {
                "increase" => Some(true),
                "decrease" => Some(false),
                _ => None,
            },
            kind: if p { "p-chart" } else { "XmR" }.into(),
            reading: text,
        });
        let bytes = charts::render(&chart, format)?;
        csc_audit::fsutil::write_atomic(out, &bytes)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A p-chart is drawn in percent.
fn scaled(spc: &Spc, k: f64) -> Spc {
    let mut s = spc.clone();
    for l in &mut s.limits {
        *l = spc::Limits {
            mean: l.mean * k,
            lower: l.lower * k,
            upper: l.upper * k,
            lower_2s: l.lower_2s * k,
            upper_2s: l.upper_2s * k,
        };
    }
    s
}
