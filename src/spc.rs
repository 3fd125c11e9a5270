//! Statistical process control as NHS England's "Making Data Count" teaches it (XmR charts,
//! p-charts, the four special-cause rules, variation and assurance readings) and funnel
//! plots (Spiegelhalter 2005) to compare teams of different sizes.

/// Points needed before limits mean anything (Making Data Count asks for 12 or more).
pub const MIN_POINTS: usize = 12;
/// Run and trend length that signals a special cause.
pub const RUN: usize = 7;
/// 3 / d2 with d2 = 1.128 for moving ranges of two points.
pub const XMR_SCALE: f64 = 2.66;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A point above the upper or below the lower process limit.
    BeyondLimit,
    /// 7 or more points in a row above (or below) the mean; a point on the mean breaks it.
    Shift,
    /// 7 or more points in a row each higher (or lower) than the one before; a tie breaks it.
    Trend,
    /// 2 of 3 points in a row beyond 2 sigma on the same side.
    TwoOfThree,
}

impl Rule {
    /// The rule's code in tables: `beyond_limit`, `shift`, `trend`, `two_of_three`.
    pub fn code(self) -> &'static str {
        match self {
            Rule::BeyondLimit => "beyond_limit",
            Rule::Shift => "shift",
            Rule::Trend => "trend",
            Rule::TwoOfThree => "two_of_three",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Rule::BeyondLimit => "beyond a limit",
            Rule::Shift => "7 in a row one side of the mean",
            Rule::Trend => "7 rising or falling",
            Rule::TwoOfThree => "2 of 3 beyond 2 sigma",
        }
    }
}

/// The limits at one point (an XmR chart's are the same at every point; a p-chart's depend
/// on each month's denominator).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub mean: f64,
    pub lower: f64,
    pub upper: f64,
    pub lower_2s: f64,
    pub upper_2s: f64,
}

/// A chart's reading: limits per point, and the rules each point is part of.
#[derive(Debug, Clone, PartialEq)]
pub struct Spc {
    pub limits: Vec<Limits>,
    pub signals: Vec<Vec<Rule>>,
    /// Per point: its phase has fewer points than limits need, so they are trial limits,
    /// revised with each new point.
    pub trial: Vec<bool>,
}

/// How limits are made, as NHSRplotthedots' `ptd_spc` options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// Limits from the first N points of each phase (`fix_after_n_points`); all when `None`.
    pub baseline: Option<usize>,
    /// Leave moving ranges of 3.267 x the mean moving range or more out of the limits
    /// (`screen_outliers`, NHSRplotthedots' default).
    pub screen_outliers: bool,
    /// Points where a new phase starts (`rebase`): each phase has its own limits, and runs
    /// and trends do not cross into the next.
    pub rebase: Vec<usize>,
}

/// A moving range at or above this many mean moving ranges is an outlier when screening.
pub const SCREEN: f64 = 3.267;
/// Phases shorter than this have trial limits: NHSRplotthedots warns below 13 points
/// (`ptd_spc.warning_threshold`, "n < 12 ... trial limits").
pub const TRIAL_BELOW: usize = 13;

/// The phases of a series: (start, end) of each.
fn phases(n: usize, rebase: &[usize]) -> Vec<(usize, usize)> {
    let mut starts: Vec<usize> = rebase.iter().copied().filter(|&i| i > 0 && i < n).collect();
    starts.sort_unstable();
    starts.dedup();
    let mut out = Vec::new();
    let mut from = 0;
    for s in starts {
        out.push((from, s));
        from = s;
    }
    out.push((from, n));
    out
}

/// XmR limits of one phase, from its first `baseline` points; NaN with fewer than two.
fn xmr_limits(values: &[f64], o: &Options) -> Limits {
    let fix = &values[..o.baseline.unwrap_or(values.len()).min(values.len())];
    let mean = fix.iter().sum::<f64>() / fix.len() as f64;
    let mut mr: Vec<f64> = fix.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let mut amr = mr.iter().sum::<f64>() / mr.len() as f64;
    if o.screen_outliers {
        mr.retain(|m| *m < SCREEN * amr);
        amr = mr.iter().sum::<f64>() / mr.len() as f64;
    }
    let (w, w2) = (XMR_SCALE * amr, XMR_SCALE * amr * 2.0 / 3.0);
    Limits {
        mean,
        lower: mean - w,
        upper: mean + w,
        lower_2s: mean - w2,
        upper_2s: mean + w2,
    }
}

/// An XmR chart as NHSRplotthedots draws one: limits per phase (trial limits where a phase
/// is short), the special-cause rules within each phase.
pub fn xmr_with(values: &[f64], o: &Options) -> Spc {
    let mut out = Spc {
        limits: Vec::with_capacity(values.len()),
        signals: Vec::with_capacity(values.len()),
        trial: Vec::with_capacity(values.len()),
    };
    for (from, to) in phases(values.len(), &o.rebase) {
        let v = &values[from..to];
        let l = xmr_limits(v, o);
        let limits = vec![l; v.len()];
        out.signals.extend(rules(v, &limits));
        out.limits.extend(limits);
        out.trial
            .extend(std::iter::repeat_n(v.len() < TRIAL_BELOW, v.len()));
    }
    out
}

/// XmR limits from the baseline points (the first `baseline` values, all when `None`):
/// mean +/- 2.66 x mean moving range; 2 sigma at two thirds of that. `None` with fewer than
/// [`MIN_POINTS`] baseline points.
pub fn xmr(values: &[f64], baseline: Option<usize>) -> Option<Spc> {
    if baseline.unwrap_or(values.len()).min(values.len()) < MIN_POINTS {
        return None;
    }
    let o = Options {
        baseline,
        ..Options::default()
    };
    Some(xmr_with(values, &o))
}

/// A p-chart in phases: each phase's p from its first `baseline` points with a
/// denominator, limits from each point's own denominator, the rules within each phase.
/// Outlier screening is an XmR idea and does not apply.
pub fn p_chart_with(x: &[f64], n: &[f64], o: &Options) -> Spc {
    let mut out = Spc {
        limits: Vec::new(),
        signals: Vec::new(),
        trial: Vec::new(),
    };
    for (from, to) in phases(x.len(), &o.rebase) {
        let (px, pn) = (&x[from..to], &n[from..to]);
        let b = o.baseline.unwrap_or(px.len()).min(px.len());
        let p = px[..b].iter().sum::<f64>() / pn[..b].iter().sum::<f64>();
        let limits: Vec<Limits> = pn.iter().map(|&ni| p_limits(p, ni)).collect();
        let values: Vec<f64> = px
            .iter()
            .zip(pn)
            .map(|(&a, &b)| if b > 0.0 { a / b } else { f64::NAN })
            .collect();
        out.signals.extend(rules(&values, &limits));
        out.limits.extend(limits);
        let points = pn.iter().filter(|n| **n > 0.0).count();
        out.trial
            .extend(std::iter::repeat_n(points < TRIAL_BELOW, px.len()));
    }
    out
}

/// p +/- 3 sqrt(p (1 - p) / n), within 0 and 1; NaN with no denominator.
fn p_limits(p: f64, n: f64) -> Limits {
    let s = if n > 0.0 {
        (p * (1.0 - p) / n).sqrt()
    } else {
        f64::NAN
    };
    Limits {
        mean: p,
        lower: (p - 3.0 * s).max(0.0),
        upper: (p + 3.0 * s).min(1.0),
        lower_2s: (p - 2.0 * s).max(0.0),
        upper_2s: (p + 2.0 * s).min(1.0),
    }
}

/// p-chart of `x_i` of `n_i`: p = sum x / sum n over the baseline, limits at each point
/// p +/- 3 sqrt(p (1 - p) / n_i), within 0 and 1. Months with no denominator get no
/// limits (NaN) and no signals. `None` with fewer than [`MIN_POINTS`] baseline months that
/// have a denominator.
pub fn p_chart(x: &[f64], n: &[f64], baseline: Option<usize>) -> Option<Spc> {
    let b = baseline.unwrap_or(x.len()).min(x.len());
    if (0..b).filter(|&i| n[i] > 0.0).count() < MIN_POINTS {
        return None;
    }
    let p = x[..b].iter().sum::<f64>() / n[..b].iter().sum::<f64>();
    let limits: Vec<Limits> = n.iter().map(|&ni| p_limits(p, ni)).collect();
    let values: Vec<f64> = x
        .iter()
        .zip(n)
        .map(|(&a, &b)| if b > 0.0 { a / b } else { f64::NAN })
        .collect();
    let signals = rules(&values, &limits);
    let trial = vec![false; values.len()];
    Some(Spc {
        limits,
        signals,
        trial,
    })
}

/// The special-cause rules; every point of a run, trend or 2-of-3 group is marked. NaN
/// points (no value) break runs and trends.
pub fn rules(values: &[f64], limits: &[Limits]) -> Vec<Vec<Rule>> {
    let n = values.len();
    let mut out: Vec<Vec<Rule>> = vec![Vec::new(); n];
    let mark = |out: &mut Vec<Vec<Rule>>, from: usize, to: usize, r: Rule| {
        for s in &mut out[from..to] {
            if !s.contains(&r) {
                s.push(r);
            }
        }
    };
    for i in 0..n {
        let (v, l) = (values[i], limits[i]);
        if v > l.upper || v < l.lower {
            mark(&mut out, i, i + 1, Rule::BeyondLimit);
        }
    }
    // Runs one side of the mean: +1 above, -1 below, 0 on it (or no value).
    let side: Vec<i8> = (0..n)
        .map(|i| {
            let (v, m) = (values[i], limits[i].mean);
            // No value, or no mean (a phase too short for one): on neither side.
            if v.is_nan() || !m.is_finite() || v == m {
                0
            } else if v > m {
                1
            } else {
                -1
            }
        })
        .collect();
    let mut start = 0;
    for i in 1..=n {
        if i == n || side[i] != side[start] || side[i] == 0 {
            if side[start] != 0 && i - start >= RUN {
                mark(&mut out, start, i, Rule::Shift);
            }
            start = i;
        }
    }
    // Trends: each step up (or down); a tie or a missing value ends it. 7 points = 6 steps.
    let step: Vec<i8> = values
        .windows(2)
        .map(|w| {
            if w[0].is_nan() || w[1].is_nan() || w[1] == w[0] {
                0
            } else if w[1] > w[0] {
                1
            } else {
                -1
            }
        })
        .collect();
    let mut start = 0;
    for i in 1..=step.len() {
        if i == step.len() || step[i] != step[start] || step[i] == 0 {
            if step.get(start).is_some_and(|&s| s != 0) && i - start + 1 >= RUN {
                mark(&mut out, start, i + 1, Rule::Trend);
            }
            start = i;
        }
    }
    // 2 of 3 beyond 2 sigma, as NHSRplotthedots: of 3 points in a row, all on one side of
    // the mean, 2 or more are between the 2 sigma line and the limit; those are marked (a
    // point beyond the limit is that rule's, not this one's).
    let close: Vec<bool> = (0..n)
        .map(|i| {
            let (v, l) = (values[i], limits[i]);
            !(v > l.upper || v < l.lower) && (v > l.upper_2s || v < l.lower_2s)
        })
        .collect();
    for i in 0..n.saturating_sub(2) {
        let sides: i8 = side[i..i + 3].iter().sum();
        let hits = close[i..i + 3].iter().filter(|c| **c).count();
        if sides.abs() == 3 && hits >= 2 {
            for j in (i..i + 3).filter(|&j| close[j]) {
                mark(&mut out, j, j + 1, Rule::TwoOfThree);
            }
        }
    }
    out
}

/// The variation reading of the latest point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variation {
    CommonCause,
    Improvement,
    Concern,
    /// A special cause where neither direction is better.
    SpecialCause,
}

impl Variation {
    pub fn label(self) -> &'static str {
        match self {
            Variation::CommonCause => "common cause",
            Variation::Improvement => "special cause: improvement",
            Variation::Concern => "special cause: concern",
            Variation::SpecialCause => "special cause",
        }
    }
}

/// Whether the latest point is part of a signal, and which way: `higher_is_better` is `None`
/// for a measure with no better direction.
pub fn variation(values: &[f64], spc: &Spc, higher_is_better: Option<bool>) -> Variation {
    let Some(last) = values.len().checked_sub(1) else {
        return Variation::CommonCause;
    };
    if spc.signals[last].is_empty() {
        return Variation::CommonCause;
    }
    match higher_is_better {
        None => Variation::SpecialCause,
        Some(h) if h == signal_up(values, spc, last) => Variation::Improvement,
        Some(_) => Variation::Concern,
    }
}

/// Which way the special cause at point `i` points, as NHSRplotthedots decides it
/// (`ptd_special_cause_type`: beyond a limit first, then a trend, then the rest): beyond a
/// limit or in a run, the side of the mean; in a trend, the way the trend goes.
pub fn signal_up(values: &[f64], spc: &Spc, i: usize) -> bool {
    let sig = &spc.signals[i];
    let v = values[i];
    if sig.contains(&Rule::Trend) && !sig.contains(&Rule::BeyondLimit) {
        let in_trend = |j: usize| spc.signals.get(j).is_some_and(|s| s.contains(&Rule::Trend));
        return match (i.checked_sub(1).filter(|p| in_trend(*p)), in_trend(i + 1)) {
            (_, true) => values[i + 1] > v,
            (Some(p), false) => v > values[p],
            (None, false) => v > spc.limits[i].mean,
        };
    }
    v > spc.limits[i].mean
}

/// Will the process meet the target? From where the target lies against the latest limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assurance {
    ConsistentlyPassing,
    ConsistentlyFailing,
    HitAndMiss,
}

impl Assurance {
    pub fn label(self) -> &'static str {
        match self {
            Assurance::ConsistentlyPassing => "consistently passing",
            Assurance::ConsistentlyFailing => "consistently failing",
            Assurance::HitAndMiss => "hit and miss",
        }
    }
}

pub fn assurance(limits: &Limits, target: f64, higher_is_better: bool) -> Assurance {
    // As NHSRplotthedots: the target strictly beyond a limit; on a limit, or with no
    // limits, the process may or may not meet it.
    let (lower, upper) = (limits.lower, limits.upper);
    if !(lower.is_finite() && upper.is_finite()) {
        return Assurance::HitAndMiss;
    }
    let (passes, fails) = if higher_is_better {
        (target < lower, target > upper)
    } else {
        (target > upper, target < lower)
    };
    if passes {
        Assurance::ConsistentlyPassing
    } else if fails {
        Assurance::ConsistentlyFailing
    } else {
        Assurance::HitAndMiss
    }
}

/// Funnel limits for a proportion around `p0` at a denominator `n`: p0 +/- z sqrt(p0 (1 -
/// p0) / n), within 0 and 1 (Spiegelhalter 2005, the normal approximation), with z = 1.96
/// (95%) and 3.09 (99.8%).
pub fn funnel_limits(p0: f64, n: f64) -> [(f64, f64); 2] {
    funnel_limits_at(p0, n, FUNNEL_LEVELS)
}

/// The funnel's two limit levels by default: 95% and 99.8% (z 1.96 and 3.09).
pub const FUNNEL_LEVELS: [f64; 2] = [95.0, 99.8];

/// The two-sided z of a level in percent: 95 -> 1.959964.
pub fn z_of(level: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    let n = Normal::new(0.0, 1.0).expect("the standard normal");
    n.inverse_cdf(1.0 - (1.0 - level / 100.0) / 2.0)
}

/// [`funnel_limits`] at other levels (in percent, the inner first).
pub fn funnel_limits_at(p0: f64, n: f64, levels: [f64; 2]) -> [(f64, f64); 2] {
    let s = (p0 * (1.0 - p0) / n).sqrt();
    levels.map(|l| {
        let z = z_of(l);
        ((p0 - z * s).max(0.0), (p0 + z * s).min(1.0))
    })
}

/// Where a unit falls on a funnel: 0 inside 95%, +-1 between 95% and 99.8%, +-2 beyond 99.8%.
pub fn funnel_band(p0: f64, x: f64, n: f64) -> i8 {
    funnel_band_at(p0, x, n, FUNNEL_LEVELS)
}

/// [`funnel_band`] against limits at other levels.
pub fn funnel_band_at(p0: f64, x: f64, n: f64, levels: [f64; 2]) -> i8 {
    if n <= 0.0 {
        return 0;
    }
    let p = x / n;
    let [(l95, u95), (l998, u998)] = funnel_limits_at(p0, n, levels);
    if p > u998 {
        2
    } else if p > u95 {
        1
    } else if p < l998 {
        -2
    } else if p < l95 {
        -1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(n: usize, v: f64) -> Vec<f64> {
        vec![v; n]
    }

    /// 12 points alternating 10 and 12: mean 11, mean moving range 2, limits 11 +/- 5.32 =
    /// 5.68 and 16.32; 2 sigma at 11 +/- 3.5467.
    #[test]
    fn xmr_limits_by_hand() {
        let v: Vec<f64> = (0..12)
            .map(|i| if i % 2 == 0 { 10.0 } else { 12.0 })
            .collect();
        let s = xmr(&v, None).unwrap();
        let l = s.limits[0];
        assert!((l.mean - 11.0).abs() < 1e-12);
        assert!((l.upper - 16.32).abs() < 1e-12 && (l.lower - 5.68).abs() < 1e-12);
        assert!((l.upper_2s - (11.0 + 5.32 * 2.0 / 3.0)).abs() < 1e-12);
        assert!(s.signals.iter().all(|s| s.is_empty()), "{:?}", s.signals);
        // Fewer than 12 points: no limits.
        assert_eq!(xmr(&v[..11], None), None);
        // A baseline: limits from the first 12, applied to later points.
        let mut w = v.clone();
        w.push(30.0);
        let s = xmr(&w, Some(12)).unwrap();
        assert_eq!(s.limits[12], l);
        assert_eq!(s.signals[12], [Rule::BeyondLimit]);
    }

    #[test]
    fn runs_of_seven_and_the_mean_breaking_them() {
        // Limits from a fixed baseline around 10 that ends below the mean; then 7 points at
        // 11: a shift.
        let base: Vec<f64> = (0..12)
            .map(|i| if i % 2 == 0 { 12.0 } else { 8.0 })
            .collect();
        let mut v = base.clone();
        v.extend(flat(7, 11.0));
        let s = xmr(&v, Some(12)).unwrap();
        for i in 12..19 {
            assert!(s.signals[i].contains(&Rule::Shift), "{i}");
        }
        assert!(s.signals[11].is_empty(), "{:?}", s.signals);
        // Six above, one on the mean, six above: no shift.
        let mut v = base.clone();
        v.extend(flat(6, 11.0));
        v.push(10.0);
        v.extend(flat(6, 11.0));
        let s = xmr(&v, Some(12)).unwrap();
        assert!(
            s.signals.iter().all(|x| !x.contains(&Rule::Shift)),
            "{:?}",
            s.signals
        );
    }

    #[test]
    fn trends_of_seven_and_ties_breaking_them() {
        let base: Vec<f64> = (0..12)
            .map(|i| if i % 2 == 0 { 5.0 } else { 15.0 })
            .collect();
        let mut v = base.clone();
        v.extend([6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0]);
        let s = xmr(&v, Some(12)).unwrap();
        for i in 12..19 {
            assert!(
                s.signals[i].contains(&Rule::Trend),
                "{i}: {:?}",
                s.signals[i]
            );
        }
        // 15 -> 6 in the baseline's last step is a fall, not part of the rise.
        assert!(!s.signals[11].contains(&Rule::Trend));
        // A tie in the middle: two rises of four points, no trend.
        let mut v = base.clone();
        v.extend([6.0, 7.0, 8.0, 9.0, 9.0, 10.0, 11.0, 12.0]);
        let s = xmr(&v, Some(12)).unwrap();
        assert!(
            s.signals.iter().all(|x| !x.contains(&Rule::Trend)),
            "{:?}",
            s.signals
        );
        // Falling seven is a trend too.
        let mut v = base;
        v.extend([12.0, 11.0, 10.0, 9.0, 8.0, 7.0, 6.0]);
        let s = xmr(&v, Some(12)).unwrap();
        assert!(s.signals[18].contains(&Rule::Trend));
    }

    #[test]
    fn two_of_three_beyond_two_sigma() {
        // Baseline 10/12: mean 11, 2 sigma 14.5467 / 7.4533, limits 16.32 / 5.68.
        let base: Vec<f64> = (0..12)
            .map(|i| if i % 2 == 0 { 10.0 } else { 12.0 })
            .collect();
        let with = |tail: [f64; 3]| {
            let mut v = base.clone();
            v.extend(tail);
            xmr(&v, Some(12)).unwrap().signals[12..].to_vec()
        };
        let two = vec![Rule::TwoOfThree];
        assert_eq!(with([15.0, 12.0, 15.0]), [two.clone(), vec![], two]);
        // NHSRplotthedots' conventions: all three on one side of the mean (a point on the
        // mean, or on the other side, spoils it), and a point beyond the limit is not one
        // of the two.
        for tail in [[15.0, 11.0, 15.0], [15.0, 7.0, 15.0], [15.0, 17.0, 12.0]] {
            let s = with(tail);
            assert!(
                s.iter().all(|x| !x.contains(&Rule::TwoOfThree)),
                "{tail:?}: {s:?}"
            );
        }
    }

    /// p = 100 / 1000 = 0.1; at n = 100: 0.1 +/- 3 x 0.03 = 0.01 to 0.19; at n = 25: 0.1 +/-
    /// 3 x 0.06 = 0 (clamped) to 0.28.
    #[test]
    fn p_chart_limits_follow_each_denominator() {
        let mut n = vec![100.0; 10];
        n.push(25.0);
        n.push(75.0);
        let mut x = vec![10.0; 10];
        x.push(2.5);
        x.push(7.5);
        let s = p_chart(&x, &n, None).unwrap();
        assert!((s.limits[0].mean - 0.1).abs() < 1e-12);
        assert!((s.limits[0].upper - 0.19).abs() < 1e-12);
        assert!((s.limits[0].lower - 0.01).abs() < 1e-12);
        assert!((s.limits[10].upper - 0.28).abs() < 1e-12);
        assert_eq!(s.limits[10].lower, 0.0);
        assert!(p_chart(&x[..11], &n[..11], None).is_none());
    }

    #[test]
    fn variation_and_assurance_readings() {
        let base: Vec<f64> = (0..12)
            .map(|i| if i % 2 == 0 { 80.0 } else { 84.0 })
            .collect();
        let mut v = base.clone();
        v.push(95.0);
        let s = xmr(&v, Some(12)).unwrap();
        assert_eq!(variation(&v, &s, Some(true)), Variation::Improvement);
        assert_eq!(variation(&v, &s, Some(false)), Variation::Concern);
        assert_eq!(variation(&v, &s, None), Variation::SpecialCause);
        assert_eq!(
            variation(&base, &xmr(&base, None).unwrap(), Some(true)),
            Variation::CommonCause
        );
        // Limits 82 +/- 10.64 = 71.36 to 92.64.
        let l = s.limits[0];
        assert_eq!(assurance(&l, 70.0, true), Assurance::ConsistentlyPassing);
        assert_eq!(assurance(&l, 95.0, true), Assurance::ConsistentlyFailing);
        assert_eq!(assurance(&l, 85.0, true), Assurance::HitAndMiss);
        assert_eq!(assurance(&l, 95.0, false), Assurance::ConsistentlyPassing);
        assert_eq!(assurance(&l, 70.0, false), Assurance::ConsistentlyFailing);
    }

    /// Worked example: overall 0.8; a team of 100: sd 0.04, 95% 0.8 +/- 0.0784 =
    /// 0.7216-0.8784, 99.8% 0.8 +/- 0.1236 = 0.6764-0.9236; a team of 25: sd 0.08, 99.8%
    /// upper 1.0472 clamped to 1.
    #[test]
    fn funnel_limits_worked_example() {
        let [(l95, u95), (l998, u998)] = funnel_limits(0.8, 100.0);
        assert!((l95 - 0.721601).abs() < 1e-5 && (u95 - 0.878399).abs() < 1e-5);
        assert!((l998 - 0.676391).abs() < 1e-5 && (u998 - 0.923609).abs() < 1e-5);
        assert_eq!(funnel_limits(0.8, 25.0)[1].1, 1.0);
        assert_eq!(funnel_band(0.8, 80.0, 100.0), 0);
        assert_eq!(funnel_band(0.8, 70.0, 100.0), -1);
        assert_eq!(funnel_band(0.8, 60.0, 100.0), -2);
        assert_eq!(funnel_band(0.8, 90.0, 100.0), 1);
        assert_eq!(funnel_band(0.8, 95.0, 100.0), 2);
        // The same 70% from a team of 10 is inside the funnel.
        assert_eq!(funnel_band(0.8, 7.0, 10.0), 0);
    }

    /// R: `set.seed(123); rnorm(20)`, the values issue #14 gives with NHSRplotthedots'
    /// `ptd_spc` results: mean 0.1416238, limits -3.01138 / 3.294627; with point 15 set to
    /// 10, mean 0.6694159, unscreened limits -4.596625 / 5.935457, screened (its two moving
    /// ranges of 10.56 and 9.50 are at least 3.267 x the mean 2.55) -2.383666 / 3.722497.
    /// The series, as `tests/fixtures/spc/rnorm_123.csv` holds it for the CLI test too.
    fn rnorm_123() -> Vec<f64> {
        include_str!("../tests/fixtures/spc/rnorm_123.csv")
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn limits_match_nhsrplotthedots_reference_values() {
        let s = xmr_with(&rnorm_123(), &Options::default());
        let l = s.limits[0];
        assert!(
            close(l.mean, 0.1416238) && close(l.lower, -3.01138) && close(l.upper, 3.294627),
            "{l:?}"
        );
        assert!(s.trial.iter().all(|t| !t));
        let mut v = rnorm_123();
        v[14] = 10.0;
        let l = xmr_with(&v, &Options::default()).limits[0];
        assert!(
            close(l.mean, 0.6694159) && close(l.lower, -4.596625) && close(l.upper, 5.935457),
            "{l:?}"
        );
        let screened = Options {
            screen_outliers: true,
            ..Options::default()
        };
        let s = xmr_with(&v, &screened);
        let l = s.limits[0];
        assert!(
            close(l.mean, 0.6694159) && close(l.lower, -2.383666) && close(l.upper, 3.722497),
            "{l:?}"
        );
        // The point itself is beyond the screened limit.
        assert_eq!(s.signals[14], [Rule::BeyondLimit]);
    }

    /// Rebased at point 10 (by hand): phase 1 is 10 points of 1, 3, 1, 3, ...: mean 2,
    /// moving ranges all 2, limits 2 -/+ 5.32; phase 2 is 13 points of 11, 12, 11, ...:
    /// mean 149 / 13 = 11.461538, moving ranges 1, limits -/+ 2.66. Phase 1 has trial
    /// limits (fewer than 13 points, as NHSRplotthedots); a run does not cross the rebase.
    #[test]
    fn each_phase_has_its_own_limits_and_short_ones_are_trial() {
        let mut v: Vec<f64> = (0..10)
            .map(|i| if i % 2 == 0 { 1.0 } else { 3.0 })
            .collect();
        v.extend((0..13).map(|i| if i % 2 == 0 { 11.0 } else { 12.0 }));
        let s = xmr_with(
            &v,
            &Options {
                rebase: vec![10],
                ..Options::default()
            },
        );
        assert_eq!(
            (s.limits[0].mean, s.limits[0].lower, s.limits[0].upper),
            (2.0, 2.0 - 5.32, 2.0 + 5.32)
        );
        let l = s.limits[10];
        let m = 149.0 / 13.0;
        assert!(
            close(l.mean, m) && close(l.lower, m - 2.66) && close(l.upper, m + 2.66),
            "{l:?}"
        );
        assert!(s.trial[..10].iter().all(|t| *t) && s.trial[10..].iter().all(|t| !t));
        assert!(s.signals.iter().all(|x| x.is_empty()), "{:?}", s.signals);
        // Without the rebase, phase 2 is one long run above the overall mean of 169 / 23 = 7.35.
        let s = xmr_with(&v, &Options::default());
        assert!(s.signals[10..].iter().all(|x| x.contains(&Rule::Shift)));
    }

    /// Limits from the first 4 points only (fix_after_n_points = 4): 1, 3, 1, 3 give mean 2
    /// and moving ranges 2, whatever follows.
    #[test]
    fn a_baseline_fixes_the_limits_after_n_points() {
        let v = [1.0, 3.0, 1.0, 3.0, 20.0, 30.0, 25.0];
        let s = xmr_with(
            &v,
            &Options {
                baseline: Some(4),
                ..Options::default()
            },
        );
        assert!(s
            .limits
            .iter()
            .all(|l| l.mean == 2.0 && close(l.upper, 7.32)));
        assert_eq!(s.signals[4], [Rule::BeyondLimit]);
        assert!(s.trial.iter().all(|t| *t));
    }

    /// As NHSRplotthedots' `ptd_calculate_assurance_type`: a target on a limit is neither
    /// passed nor failed every time; no limits, no assurance; no mean, no runs.
    #[test]
    fn assurance_at_a_limit_and_without_limits_is_hit_and_miss() {
        let l = Limits {
            mean: 80.0,
            lower: 70.0,
            upper: 90.0,
            lower_2s: 73.3,
            upper_2s: 86.7,
        };
        assert_eq!(assurance(&l, 70.0, true), Assurance::HitAndMiss);
        assert_eq!(assurance(&l, 69.9, true), Assurance::ConsistentlyPassing);
        assert_eq!(assurance(&l, 90.1, true), Assurance::ConsistentlyFailing);
        assert_eq!(assurance(&l, 90.1, false), Assurance::ConsistentlyPassing);
        let none = Limits {
            lower: f64::NAN,
            upper: f64::NAN,
            ..l
        };
        assert_eq!(assurance(&none, 50.0, true), Assurance::HitAndMiss);
        let v = [1.0; 9];
        let nan = vec![
            Limits {
                mean: f64::NAN,
                ..none
            };
            9
        ];
        assert!(rules(&v, &nan).iter().all(|r| r.is_empty()));
    }

    /// A rising trend below the mean, which is also a run below it: NHSRplotthedots reads
    /// the trend first, so where higher is better it is an improvement, not a concern.
    #[test]
    fn a_trend_points_the_way_it_goes_even_below_the_mean() {
        let mut v: Vec<f64> = (0..12)
            .map(|i| if i % 2 == 0 { 50.0 } else { 60.0 })
            .collect();
        v.extend([40.0, 41.0, 42.0, 43.0, 44.0, 45.0, 46.0]);
        let s = xmr(&v, Some(12)).unwrap();
        assert_eq!(s.signals[18], [Rule::Shift, Rule::Trend]);
        assert_eq!(variation(&v, &s, Some(true)), Variation::Improvement);
        assert_eq!(variation(&v, &s, Some(false)), Variation::Concern);
        assert!(signal_up(&v, &s, 12) && signal_up(&v, &s, 18));
    }

    /// z of a two-sided level (scipy `norm.ppf(0.975)` = 1.959964, `norm.ppf(0.999)` =
    /// 3.090232); limits at other levels follow.
    #[test]
    fn funnel_levels_give_their_z() {
        assert!((z_of(95.0) - 1.959964).abs() < 1e-6);
        assert!((z_of(99.8) - 3.090232).abs() < 1e-6);
        assert!((z_of(90.0) - 1.644854).abs() < 1e-6);
        // p0 = 0.5, n = 100: s = 0.05; at 90%: 0.5 -/+ 1.644854 x 0.05.
        let [(l, u), _] = funnel_limits_at(0.5, 100.0, [90.0, 99.0]);
        assert!((l - 0.417757).abs() < 1e-6 && (u - 0.582243).abs() < 1e-6);
        assert_eq!(funnel_band_at(0.5, 42.0, 100.0, [90.0, 99.0]), 0);
        assert_eq!(funnel_band_at(0.5, 41.0, 100.0, [90.0, 99.0]), -1);
        assert_eq!(funnel_band_at(0.5, 41.0, 100.0, FUNNEL_LEVELS), 0);
    }
}
