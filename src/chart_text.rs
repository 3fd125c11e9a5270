//! A chart in words and as a table, for readers who cannot see it (WCAG 2.2 1.1.1): a
//! caption that says what the chart shows and what changed, and its data.

use crate::charts::{Chart, Distribution, Funnel, SpcChart, Trend};
use crate::spc;

/// A chart's text alternative.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    /// What the chart is of, for the data table's caption.
    pub title: String,
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn num(v: f64, unit: &str) -> String {
    if !v.is_finite() {
        return "no value".into();
    }
    match unit {
        "%" => format!("{v:.1}%"),
        "cases" | "count" => format!("{}", v.round()),
        _ => crate::tabular::num(Some(v), 1),
    }
}

/// A count measure's values are headed `Cases`, a count column the published guard reads.
fn value_heading(unit: &str) -> String {
    if matches!(unit, "cases" | "count") {
        "Cases".into()
    } else {
        "Value".into()
    }
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or(String::new(), |v| num(v, unit))
}

/// The change from the point before the last, in words: `-95 on 2024-25 Q3`.
fn change(labels: &[String], values: &[Option<f64>], unit: &str) -> String {
    let known: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.filter(|x| x.is_finite()).map(|x| (i, x)))
        .collect();
    match known.as_slice() {
        [.., (i, a), (j, b)] => {
            let d = b - a;
            let points = if unit == "%" { " points" } else { "" };
            let sign = if d > 0.0 { "+" } else { "" };
            format!(
                "{} in {} ({sign}{}{points} on {})",
                num(*b, unit),
                labels[*j],
                if unit == "%" {
                    format!("{d:.1}")
                } else {
                    num(d, unit)
                },
                labels[*i]
            )
        }
        [(j, b)] => format!("{} in {}", num(*b, unit), labels[*j]),
        [] => "no values".into(),
    }
}

fn trend(t: &Trend) -> Described {
    let span = match (t.labels.first(), t.labels.last()) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => String::new(),
    };
    let target = t
        .target
        .map_or(String::new(), |x| format!("; target {}", num(x, &t.unit)));
    Described {
        title: t.title.clone(),
        caption: format!(
            "{}, {span}: {}{target}.",
            t.title,
            change(&t.labels, &t.values, &t.unit)
        ),
        header: vec!["Period".into(), value_heading(&t.unit), "Target".into()],
        rows: t
            .labels
            .iter()
            .zip(&t.values)
            .map(|(l, v)| vec![l.clone(), opt(*v, &t.unit), opt(t.target, &t.unit)])
            .collect(),
    }
}

fn spc_chart(s: &SpcChart) -> Described {
    let values: Vec<Option<f64>> = s
        .values
        .iter()
        .map(|v| v.is_finite().then_some(*v))
        .collect();
    let signals = s.spc.signals.iter().filter(|x| !x.is_empty()).count();
    Described {
        title: format!("{} chart of {}", s.kind, s.title),
        caption: format!(
            "{} chart of {}: {}; {signals} of {} points are part of a special cause; {}.",
            s.kind,
            s.title,
            change(&s.labels, &values, &s.unit),
            s.values.len(),
            s.reading
        ),
        header: vec![
            "Period".into(),
            value_heading(&s.unit),
            "Mean".into(),
            "Lower limit".into(),
            "Upper limit".into(),
            "Signals".into(),
        ],
        rows: s
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let lim = s.spc.limits[i];
                let rules: Vec<&str> = s.spc.signals[i].iter().map(|r| r.name()).collect();
                vec![
                    l.clone(),
                    num(s.values[i], &s.unit),
                    num(lim.mean, &s.unit),
                    num(lim.lower, &s.unit),
                    num(lim.upper, &s.unit),
                    rules.join("; "),
                ]
            })
            .collect(),
    }
}

fn funnel(f: &Funnel) -> Described {
    let [inner, outer] = f.levels;
    let band = |x: f64, n: f64| match spc::funnel_band_at(f.overall, x, n, f.levels) {
        2 => format!("above the {outer}% limit"),
        1 => format!("above the {inner}% limit"),
        -1 => format!("below the {inner}% limit"),
        -2 => format!("below the {outer}% limit"),
        _ => "within the limits".to_string(),
    };
    let outside = f
        .points
        .iter()
        .filter(|(_, x, n)| spc::funnel_band_at(f.overall, *x, *n, f.levels).abs() == 2)
        .count();
    Described {
        title: format!("Funnel plot of {}", f.title),
        caption: format!(
            "Funnel plot of {}: {} groups against the overall {:.1}%; {outside} outside the {outer}% limits.",
            f.title,
            f.points.len(),
            100.0 * f.overall
        ),
        header: ["Group", "Cases", "Value", "Against the limits"].map(String::from).to_vec(),
        rows: f
            .points
            .iter()
            .map(|(g, x, n)| {
                let v = if *n > 0.0 { 100.0 * x / n } else { f64::NAN };
                vec![g.clone(), format!("{}", n.round()), num(v, "%"), band(*x, *n)]
            })
            .collect(),
    }
}

fn distribution(d: &Distribution) -> Described {
    let top = d
        .bars
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(String::new(), |(c, v)| {
            format!("; the largest is {c} ({})", num(*v, &d.unit))
        });
    Described {
        title: d.title.clone(),
        caption: format!("{}: {} bands{top}.", d.title, d.bars.len()),
        header: vec!["Band".into(), value_heading(&d.unit)],
        rows: d
            .bars
            .iter()
            .map(|(c, v)| vec![c.clone(), num(*v, &d.unit)])
            .collect(),
    }
}

fn multiples(title: &str, charts: &[Trend]) -> Described {
    let latest: Vec<String> = charts
        .iter()
        .map(|t| format!("{} {}", t.title, change(&t.labels, &t.values, &t.unit)))
        .collect();
    Described {
        title: title.to_string(),
        caption: format!("{title}, one small chart per group: {}.", latest.join("; ")),
        header: vec![
            "Group".into(),
            "Period".into(),
            value_heading(charts.first().map_or("", |t| t.unit.as_str())),
        ],
        rows: charts
            .iter()
            .flat_map(|t| {
                t.labels
                    .iter()
                    .zip(&t.values)
                    .map(|(l, v)| vec![t.title.clone(), l.clone(), opt(*v, &t.unit)])
            })
            .collect(),
    }
}

/// A funnel's groups outside its limits: group, cases, value, which limit, direction.
pub fn funnel_outliers(f: &Funnel) -> Vec<Vec<String>> {
    f.points
        .iter()
        .filter_map(|(g, x, n)| {
            let band = spc::funnel_band_at(f.overall, *x, *n, f.levels);
            let limit = match band.abs() {
                1 => f.levels[0],
                2 => f.levels[1],
                _ => return None,
            };
            Some(vec![
                g.clone(),
                format!("{}", n.round()),
                num(100.0 * x / n, "%"),
                format!("{limit}%"),
                if band > 0 { "above" } else { "below" }.to_string(),
            ])
        })
        .collect()
}

/// The chart's caption and data.
pub fn describe(chart: &Chart) -> Described {
    match chart {
        Chart::Trend(t) => trend(t),
        Chart::Spc(s) => spc_chart(s),
        Chart::Funnel(f) => funnel(f),
        Chart::Distribution(d) => distribution(d),
        Chart::Multiples { title, charts } => multiples(title, charts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trend_says_its_latest_value_and_the_change() {
        let t = Trend {
            title: "Referrals".into(),
            unit: "cases".into(),
            labels: vec![
                "2024-25 Q2".into(),
                "2024-25 Q3".into(),
                "2024-25 Q4".into(),
            ],
            values: vec![Some(950.0), Some(986.0), Some(891.0)],
            target: None,
            rag: None,
            higher_is_better: None,
        };
        let d = describe(&Chart::Trend(t));
        assert_eq!(
            d.caption,
            "Referrals, 2024-25 Q2 to 2024-25 Q4: 891 in 2024-25 Q4 (-95 on 2024-25 Q3)."
        );
        assert_eq!(d.rows[2], ["2024-25 Q4", "891", ""]);
        let p = Trend {
            title: "ICPC in 15 days".into(),
            unit: "%".into(),
            labels: vec!["Q1".into(), "Q2".into()],
            values: vec![Some(80.0), Some(72.5)],
            target: Some(85.0),
            rag: None,
            higher_is_better: Some(true),
        };
        assert_eq!(
            describe(&Chart::Trend(p)).caption,
            "ICPC in 15 days, Q1 to Q2: 72.5% in Q2 (-7.5 points on Q1); target 85.0%."
        );
    }
}
