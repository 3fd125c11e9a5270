//! `csc-audit chart`: one chart of one measure.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use csc_audit::charts::{self, Format, Kind, Request};
use csc_audit::metrics::EvalOptions;
use csc_audit::periods::{Grain, Period};

#[derive(clap::Args)]
pub struct ChartArgs {
    /// The measure's id (`csc-audit metrics --list`).
    #[arg(long)]
    metric: String,
    /// trend | spc | funnel | distribution | multiples (small multiples by --by).
    #[arg(long, default_value = "trend")]
    kind: String,
    /// Folder of extracts, an Annex A workbook or a CIN census file.
    #[arg(long, default_value = "sample_data")]
    data: PathBuf,
    #[command(flatten)]
    sources: super::Sources,
    /// Extract date; default: the latest event date in the data.
    #[arg(long, value_parser = crate::parse_cli_date)]
    as_of: Option<NaiveDate>,
    /// month | quarter | year.
    #[arg(long, default_value = "month")]
    grain: String,
    /// First and last period; default: the 24 months (8 quarters) to the as-of date.
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
    /// The breakdown a funnel or small multiples compare.
    #[arg(long, default_value = "team")]
    by: String,
    /// Small multiples: at most N panels, the groups with the most cases over the periods
    /// (the title says how many there are); default: every group.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    panels: Option<u16>,
    /// The period of a funnel or distribution; default: the last.
    #[arg(long)]
    period: Option<String>,
    /// SPC: a p-chart (limits from each period's denominator) instead of XmR.
    #[arg(long)]
    p_chart: bool,
    /// SPC: limits from the first N points of each phase only.
    #[arg(long)]
    baseline: Option<usize>,
    #[command(flatten)]
    drawing: super::Drawing,
    /// The chart file: .svg or .png.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: ChartArgs) -> Result<ExitCode> {
    let format = Format::from_path(&a.out).with_context(|| {
        format!(
            "{}: write the chart to a .svg or .png file",
            a.out.display()
        )
    })?;
    let kind = Kind::parse(&a.kind).with_context(|| {
        format!(
            "`{}` is not a chart; use trend, spc, funnel, distribution or multiples",
            a.kind
        )
    })?;
    if a.panels.is_some() && !matches!(kind, Kind::Multiples) {
        anyhow::bail!(
            "--panels sets how many panels small multiples show; drop it, or use --kind multiples"
        );
    }
    let grain = Grain::parse(&a.grain)
        .with_context(|| format!("`{}` is not a grain; use month, quarter or year", a.grain))?;
    let defs = crate::metrics_dir(a.sources.metrics.as_deref());
    let mut inputs = vec![a.data.as_path()];
    inputs.extend(defs.as_deref());
    inputs.extend(a.sources.calendar.as_deref());
    csc_audit::fsutil::check_output(&a.out, &inputs).map_err(anyhow::Error::msg)?;
    csc_audit::fsutil::refuse_irregular(&a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    let mut lib = crate::load_library(a.sources.metrics.as_deref())?;
    lib.select(std::slice::from_ref(&a.metric))
        .map_err(anyhow::Error::msg)?;
    let period = |s: &Option<String>| -> Result<Option<Period>> {
        s.as_deref()
            .map(|t| Period::parse(grain, t).map_err(anyhow::Error::msg))
            .transpose()
    };
    let by = match kind {
        Kind::Funnel | Kind::Multiples => vec![a.by.clone()],
        _ => Vec::new(),
    };
    let opts = EvalOptions {
        grain,
        from: period(&a.from)?,
        to: period(&a.to)?,
        by,
        cases: false,
    };
    let (ex, cal) = crate::load_usable(
        std::slice::from_ref(&a.data),
        None,
        a.as_of,
        a.sources.calendar.as_deref(),
        csc_audit::metrics::columns_read(&lib, &opts),
    )?;
    let ev = csc_audit::metrics::evaluate(&ex, &lib, &cal, &opts)?;
    for n in &ev.notes {
        tell!("note: {n}");
    }
    let chart = charts::build(
        &ev,
        &Request {
            metric: &lib.metrics[0],
            kind,
            by: &a.by,
            period: a.period.as_deref(),
            p_chart: a.p_chart,
            baseline: a.baseline,
            screen_outliers: a.drawing.screen_outliers,
            rebase: &a.drawing.rebase,
            funnel_levels: a.drawing.funnel_levels()?,
            panels: a.panels.map(usize::from),
        },
    )
    .map_err(anyhow::Error::msg)?;
    let bytes = charts::render(&chart, format)?;
    csc_audit::fsutil::write_atomic(&a.out, &bytes)
        .with_context(|| format!("writing {}", a.out.display()))?;
    tell!("wrote {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}
