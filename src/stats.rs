//! Statistics with published reference values (cited in the tests).

/// The 97.5th percentile of the standard normal distribution (two-sided 95%).
pub const Z95: f64 = 1.959_963_984_540_054;

/// Wilson score interval for `x` successes out of `n` (no continuity correction), as
/// proportions; `None` when `n` is 0.
pub fn wilson(x: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 || x > n {
        return None;
    }
    let (x, n) = (x as f64, n as f64);
    let p = x / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// The `q` quantile of sorted values, interpolating between order statistics (R's default,
/// `quantile(type = 7)`, and numpy's `linear`); `None` for no values.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// The `p` quantile of the standard normal distribution.
pub fn normal_quantile(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().inverse_cdf(p)
}

/// The two-sided critical value of Student's t with `df` degrees of freedom.
fn t_quantile(p: f64, df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) => t.inverse_cdf(p),
        Err(_) => normal_quantile(p),
    }
}

/// Clopper-Pearson ("exact") interval for `x` successes out of `n` at `confidence`, as
/// proportions. `x` and `n` may be fractional (an effective sample size); `None` when `n`
/// is not positive or `x` is outside 0..=n.
pub fn clopper_pearson(x: f64, n: f64, confidence: f64) -> Option<(f64, f64)> {
    use statrs::function::beta::inv_beta_reg;
    if n.is_nan() || n <= 0.0 || !(0.0..=n).contains(&x) {
        return None;
    }
    let a = 1.0 - confidence;
    let lo = if x <= 0.0 {
        0.0
    } else {
        inv_beta_reg(x, n - x + 1.0, a / 2.0)
    };
    let hi = if x >= n {
        1.0
    } else {
        inv_beta_reg(x + 1.0, n - x, 1.0 - a / 2.0)
    };
    Some((lo, hi))
}

/// The largest sample size the sizing functions give: far above any population a council
/// audits; a margin or rate small enough to ask for more is a mistake, not a plan.
pub const MAX_SAMPLE_SIZE: u64 = 1_000_000_000_000;

/// A confidence of at least 50% and below 100%: below 50% a size means nothing.
fn confidence_level(v: f64) -> Result<f64, String> {
    let v = proportion("confidence", v)?;
    if v < 0.5 {
        return Err(format!(
            "confidence {v}: give a confidence of at least 0.5 (0.95 for 95%)"
        ));
    }
    Ok(v)
}

/// `v` is a proportion strictly between 0 and 1 (finite), or an error naming `name`.
fn proportion(name: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() && v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(format!(
            "{name} {v}: give a proportion between 0 and 1 (0.05 for 5%)"
        ))
    }
}

/// A computed size as a count: rounded up, and refused (never cast: a float too large for
/// a `u64` would saturate) when it is not finite or above [`MAX_SAMPLE_SIZE`].
fn size_count(x: f64, what: &str) -> Result<u64, String> {
    let n = ceil_tolerant(x);
    // NaN and infinities are outside the range too.
    if (0.0..=MAX_SAMPLE_SIZE as f64).contains(&n) {
        // A sample is at least one case (a tiny expected rate gives n0 near 0).
        Ok((n as u64).max(1))
    } else {
        Err(format!(
            "{what} would need more than {MAX_SAMPLE_SIZE} cases; ask for a wider margin or a \
             larger rate"
        ))
    }
}

/// The sample size that estimates a proportion within +/- `margin` at `confidence`, when
/// the proportion is expected to be near `expected` (0.5 when unknown: the largest size).
/// Returns the infinite-population size n0 = z^2 p (1 - p) / e^2 and, with a population of
/// `population`, the finite-population-corrected n = n0 / (1 + (n0 - 1) / N); both rounded
/// up. Each input is checked first (proportions in (0, 1), a population of at least 1), and
/// a size above [`MAX_SAMPLE_SIZE`] is an error.
pub fn sample_size(
    margin: f64,
    confidence: f64,
    expected: f64,
    population: Option<u64>,
) -> Result<(u64, Option<u64>), String> {
    let margin = proportion("margin", margin)?;
    let confidence = confidence_level(confidence)?;
    let expected = proportion("expected", expected)?;
    if population == Some(0) {
        return Err("population 0: give the number of cases (at least 1), or omit it".into());
    }
    // -q(a/2), not q(1 - a/2): 1 - a/2 rounds to 1 (z infinite) for a confidence near 1.
    let z = -normal_quantile((1.0 - confidence) / 2.0);
    let n0 = z * z * expected * (1.0 - expected) / (margin * margin);
    let what = format!("a margin of {margin}");
    let large = size_count(n0, &what)?;
    let finite = population.map(|pop| {
        let n = n0 / (1.0 + (n0 - 1.0) / pop as f64);
        // n <= N always (n0 >= 1 here); min() keeps it so when n0 rounds oddly.
        size_count(n, &what).map(|n| n.min(pop))
    });
    Ok((large, finite.transpose()?))
}

/// The discovery (attribute) sample size: the smallest n for which seeing no failures
/// would show, at `confidence`, that the failure rate is below `rate`: (1 - rate)^n <= 1 -
/// confidence. Inputs are checked as for [`sample_size`].
pub fn discovery_size(rate: f64, confidence: f64) -> Result<u64, String> {
    let rate = proportion("tolerable rate", rate)?;
    let confidence = confidence_level(confidence)?;
    // ln_1p keeps a tiny rate from rounding 1 - rate to 1 (a division by zero).
    size_count(
        (1.0 - confidence).ln() / (-rate).ln_1p(),
        &format!("a tolerable rate of {rate}"),
    )
}

/// Rounds up, but not a value that is a whole number but for floating-point noise.
fn ceil_tolerant(x: f64) -> f64 {
    let r = x.round();
    if (x - r).abs() < 1e-9 {
        r
    } else {
        x.ceil()
    }
}

/// One stratum of a stratified sample: its population size, the number of sampled cases
/// with an answer, and how many of them answered yes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StratumCount {
    pub population: u64,
    pub answered: u64,
    pub yes: u64,
}

/// A stratified estimate of a proportion with its Korn-Graubard interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub proportion: f64,
    /// Estimated variance of the proportion (without replacement, finite-population
    /// corrected).
    pub variance: f64,
    /// The sample size a simple random sample would need for the same variance, adjusted
    /// for the degrees of freedom (Korn and Graubard's n*_df).
    pub effective_n: f64,
    pub low: f64,
    pub high: f64,
    /// Answered cases, and the strata that contributed.
    pub answered: u64,
    pub strata: usize,
}

/// The stratified proportion sum(W_h p_h), with W_h = N_h / N over the strata that have
/// answers, its variance sum(W_h^2 (1 - n_h/N_h) p_h (1 - p_h) / (n_h - 1)), and the Korn
/// and Graubard (1998) interval: Clopper-Pearson on the effective sample size
/// n* = p (1 - p) / v, scaled by (z / t_df)^2 with df = n - H; when the variance is 0
/// (p is 0 or 1, or every stratum was taken in full) n* is the number answered.
/// `None` when nothing was answered.
pub fn stratified_proportion(strata: &[StratumCount], confidence: f64) -> Option<Estimate> {
    let used: Vec<&StratumCount> = strata.iter().filter(|s| s.answered > 0).collect();
    let n: u64 = used.iter().map(|s| s.answered).sum();
    let total: u64 = used.iter().map(|s| s.population).sum();
    if n == 0 || total == 0 {
        return None;
    }
    let mut p = 0.0;
    let mut v = 0.0;
    for s in &used {
        let w = s.population as f64 / total as f64;
        let (nh, big) = (s.answered as f64, s.population as f64);
        let ph = s.yes as f64 / nh;
        p += w * ph;
        if s.answered > 1 {
            let fpc = (1.0 - nh / big).max(0.0);
            v += w * w * fpc * ph * (1.0 - ph) / (nh - 1.0);
        }
    }
    let a = 1.0 - confidence;
    let n_eff = if v > 0.0 && p > 0.0 && p < 1.0 {
        let df = (n as f64 - used.len() as f64).max(1.0);
        let ratio = normal_quantile(1.0 - a / 2.0) / t_quantile(1.0 - a / 2.0, df);
        (p * (1.0 - p) / v * ratio * ratio).min(n as f64)
    } else {
        n as f64
    };
    let (low, high) = clopper_pearson(p * n_eff, n_eff, confidence)?;
    Some(Estimate {
        proportion: p,
        variance: v,
        effective_n: n_eff,
        low,
        high,
        answered: n,
        strata: used.len(),
    })
}

/// Cohen's kappa between two raters of the same cases, with its asymptotic standard error
/// and interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kappa {
    /// The share of cases both raters put in the same category.
    pub agreement: f64,
    pub kappa: f64,
    /// The asymptotic standard error (Fleiss, Cohen and Everitt 1969), not under the null.
    pub se: f64,
    /// kappa -/+ z x se, kept within [-1, 1].
    pub low: f64,
    pub high: f64,
}

/// Cohen's kappa of a square table of counts (`table[i][j]`: cases the first rater put in
/// category i and the second in j), unweighted or with linear weights (categories in their
/// order: grades, a scale), as statsmodels' `cohens_kappa` computes it (`wt="linear"`).
/// `None` when it is not defined: no cases, or chance agreement of 1 (both raters used
/// one category only).
///
/// With perfect agreement the asymptotic standard error is 0 and the interval [1, 1]:
/// statsmodels gives the same; a reader should take it as "too few cases to say more".
pub fn cohen_kappa(table: &[Vec<f64>], linear: bool, confidence: f64) -> Option<Kappa> {
    let k = table.len();
    let counts_ok = table.iter().flatten().all(|v| v.is_finite() && *v >= 0.0);
    if k < 2 || table.iter().any(|r| r.len() != k) || !counts_ok {
        return None;
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let n: f64 = table.iter().flatten().sum();
    if n <= 0.0 {
        return None;
    }
    let p = |i: usize, j: usize| table[i][j] / n;
    let row: Vec<f64> = (0..k).map(|i| (0..k).map(|j| p(i, j)).sum()).collect();
    let col: Vec<f64> = (0..k).map(|j| (0..k).map(|i| p(i, j)).sum()).collect();
    // Agreement weights: 1 on the diagonal; linear: 1 - |i - j| / (k - 1).
    let w = |i: usize, j: usize| match (linear, i == j) {
        (_, true) => 1.0,
        (false, false) => 0.0,
        (true, false) => 1.0 - (i.abs_diff(j) as f64) / ((k - 1) as f64),
    };
    let cells = || (0..k).flat_map(|i| (0..k).map(move |j| (i, j)));
    let observed: f64 = cells().map(|(i, j)| w(i, j) * p(i, j)).sum();
    let chance: f64 = cells().map(|(i, j)| w(i, j) * row[i] * col[j]).sum();
    if (1.0 - chance).abs() < 1e-12 {
        return None;
    }
    let kappa = (observed - chance) / (1.0 - chance);
    // The weighted row and column means of the weights (for unweighted: the margins).
    let w_row: Vec<f64> = (0..k)
        .map(|i| (0..k).map(|j| col[j] * w(i, j)).sum())
        .collect();
    let w_col: Vec<f64> = (0..k)
        .map(|j| (0..k).map(|i| row[i] * w(i, j)).sum())
        .collect();
    let spread: f64 = cells()
        .map(|(i, j)| p(i, j) * (w(i, j) - (w_row[i] + w_col[j]) * (1.0 - kappa)).powi(2))
        .sum();
    let var = (spread - (kappa - chance * (1.0 - kappa)).powi(2)) / ((1.0 - chance).powi(2) * n);
    let se = var.max(0.0).sqrt();
    let z = normal_quantile(0.5 + confidence / 2.0);
    Some(Kappa {
        agreement: (0..k).map(|i| p(i, i)).sum(),
        kappa,
        se,
        low: (kappa - z * se).max(-1.0),
        high: (kappa + z * se).min(1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.000_05
    }

    /// Newcombe R.G. (1998), "Two-sided confidence intervals for the single proportion:
    /// comparison of seven methods", Statistics in Medicine 17:857-872, Table II, method 3
    /// (Wilson score, no continuity correction).
    #[test]
    fn wilson_matches_newcombe_1998() {
        for (x, n, lo, hi) in [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ] {
            let (l, h) = wilson(x, n, Z95).unwrap();
            assert!(close(l, lo) && close(h, hi), "{x}/{n}: {l:.4}-{h:.4}");
        }
        assert_eq!(wilson(0, 0, Z95), None);
        let (l, h) = wilson(29, 29, Z95).unwrap();
        assert!(close(l, 0.8830) && h == 1.0, "{l} {h}");
    }

    /// R: quantile(c(1, 2, 3, 4, 10), c(.25, .5, .75)) gives 2, 3, 4;
    /// quantile(c(7, 15, 36, 39, 40, 41), c(.25, .5, .75)) gives 20.25, 37.5, 39.75.
    #[test]
    fn quantiles_match_r_type_7() {
        let a = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(
            [0.25, 0.5, 0.75].map(|q| quantile(&a, q).unwrap()),
            [2.0, 3.0, 4.0]
        );
        let b = [7.0, 15.0, 36.0, 39.0, 40.0, 41.0];
        assert_eq!(
            [0.25, 0.5, 0.75].map(|q| quantile(&b, q).unwrap()),
            [20.25, 37.5, 39.75]
        );
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[3.0], 0.75), Some(3.0));
    }

    /// Clopper-Pearson limits from scipy 1.x: `scipy.stats.beta.ppf(0.025, x, n - x + 1)`
    /// and `beta.ppf(0.975, x + 1, n - x)`; 7/50 is the reference (0.0582-0.2674).
    #[test]
    fn clopper_pearson_matches_scipy() {
        let near = |a: f64, b: f64| (a - b).abs() < 5e-6;
        for (x, n, lo, hi) in [
            (7.0, 50.0, 0.058192, 0.267396),
            (0.0, 20.0, 0.0, 0.168433),
            (20.0, 20.0, 0.831567, 1.0),
            (1.0, 29.0, 0.000873, 0.177644),
            (81.0, 263.0, 0.252737, 0.367622),
            (3.0, 10.0, 0.066740, 0.652453),
            // Fractional, as on an effective sample size.
            (12.5, 40.3, 0.174213, 0.475259),
        ] {
            let (l, h) = clopper_pearson(x, n, 0.95).unwrap();
            assert!(near(l, lo) && near(h, hi), "{x}/{n}: {l:.6}-{h:.6}");
        }
        assert_eq!(clopper_pearson(1.0, 0.0, 0.95), None);
        assert_eq!(clopper_pearson(3.0, 2.0, 0.95), None);
    }

    /// n0 = z^2 p(1-p)/e^2 = 384.146 (z = 1.959964); with N = 300: 168.7 -> 169 (the issue's
    /// reference); N = 1000: 277.7 -> 278; N = 50: 44.3 -> 45; p = 0.8, N = 500: 245.85 ->
    /// 246 and 165.03 -> 166 (computed with scipy.stats.norm.ppf).
    #[test]
    fn sample_sizes_match_reference_values() {
        assert_eq!(
            sample_size(0.05, 0.95, 0.5, Some(300)),
            Ok((385, Some(169)))
        );
        assert_eq!(
            sample_size(0.05, 0.95, 0.5, Some(1000)),
            Ok((385, Some(278)))
        );
        assert_eq!(sample_size(0.05, 0.95, 0.5, Some(50)), Ok((385, Some(45))));
        assert_eq!(
            sample_size(0.05, 0.95, 0.8, Some(500)),
            Ok((246, Some(166)))
        );
        assert_eq!(sample_size(0.05, 0.95, 0.5, None), Ok((385, None)));
        // 90% confidence: z = 1.644854, n0 = 270.55 -> 271.
        assert_eq!(sample_size(0.05, 0.90, 0.5, None).unwrap().0, 271);
    }

    /// Discovery sizes: ln(0.05)/ln(0.95) = 58.4 -> 59 (the AICPA attribute-sampling table's
    /// 59 for a 5% tolerable rate at 95% confidence, no deviations); 1%: 298.07 -> 299;
    /// 10%: 28.43 -> 29; 5% at 90% confidence: 44.89 -> 45.
    #[test]
    fn discovery_sizes_match_reference_values() {
        assert_eq!(discovery_size(0.05, 0.95), Ok(59));
        assert_eq!(discovery_size(0.01, 0.95), Ok(299));
        assert_eq!(discovery_size(0.10, 0.95), Ok(29));
        assert_eq!(discovery_size(0.05, 0.90), Ok(45));
    }

    /// Out-of-range inputs are errors, never a saturated cast (issue #11 D15: a margin of
    /// 1e-300 printed 18446744073709551615 cases).
    #[test]
    fn sizes_near_the_edges_of_their_inputs() {
        // 99.99999999999999% confidence: a/2 = 5.551115e-17, z = 8.292361 (Python's
        // statistics.NormalDist().inv_cdf(5.551115123125783e-17) = -8.292361075813595),
        // n0 = z^2 x 0.25 / 0.05^2 = 6876.33 -> 6877; it once overflowed to an error.
        let (n0, _) = sample_size(0.05, 0.9999999999999999, 0.5, None).unwrap();
        assert_eq!(n0, 6877);
        // A tiny expected rate still asks for one case, never 0.
        assert_eq!(sample_size(0.05, 0.95, 1e-300, None).unwrap().0, 1);
        assert!(sample_size(0.05, 1e-300, 0.5, None).is_err());
        assert!(discovery_size(0.05, 0.3).is_err());
    }

    #[test]
    fn sizes_refuse_inputs_out_of_range() {
        for m in [1e-300, 0.0, -0.1, 1.0, 2.0, f64::NAN, f64::INFINITY] {
            assert!(sample_size(m, 0.95, 0.5, None).is_err(), "margin {m}");
        }
        for c in [0.0, 1.0, f64::NAN] {
            assert!(sample_size(0.05, c, 0.5, None).is_err(), "confidence {c}");
            assert!(discovery_size(0.05, c).is_err(), "confidence {c}");
        }
        assert!(sample_size(0.05, 0.95, 0.5, Some(0)).is_err());
        assert!(discovery_size(1e-300, 0.95).is_err());
        assert_eq!(sample_size(0.05, 0.95, 0.5, Some(1)), Ok((385, Some(1))));
        // The smallest margin still allowed gives a size, not a saturated one.
        let (n, _) = sample_size(1e-6, 0.95, 0.5, None).unwrap();
        assert!((960_364_705_000..960_364_706_000).contains(&n), "{n}");
    }

    /// Worked by hand. Strata (N, n, yes): A (100, 10, 7), B (50, 5, 5) every case
    /// compliant, C (50, 5, 2). W = 0.5, 0.25, 0.25; p = 0.35 + 0.25 + 0.10 = 0.70;
    /// v = 0.25 x 0.9 x 0.21 / 9 + 0 + 0.0625 x 0.9 x 0.24 / 4 = 0.00525 + 0.003375 =
    /// 0.008625. n* = 0.21 / 0.008625 = 24.35, x (z / t_17)^2 = 21.0 > n = 20, so n* = 20;
    /// Clopper-Pearson on 14 of 20: 0.457211 - 0.881068 (scipy beta.ppf).
    #[test]
    fn stratified_estimate_matches_hand_worked_example() {
        let s = |population, answered, yes| StratumCount {
            population,
            answered,
            yes,
        };
        let e = stratified_proportion(&[s(100, 10, 7), s(50, 5, 5), s(50, 5, 2)], 0.95).unwrap();
        assert!((e.proportion - 0.70).abs() < 1e-12, "{e:?}");
        assert!((e.variance - 0.008625).abs() < 1e-12, "{e:?}");
        assert_eq!(e.effective_n, 20.0);
        assert!(
            (e.low - 0.457211).abs() < 5e-6 && (e.high - 0.881068).abs() < 5e-6,
            "{e:?}"
        );
        // (300, 10, 5), (100, 10, 10): p = 0.625, v = 0.5625 x (1 - 1/30) x 0.25 / 9 =
        // 0.0151042; n* = 0.234375 / v = 15.517, x (1.959964 / 2.100922)^2 (t with 18 df)
        // = 13.5049; Clopper-Pearson on 8.4406 of 13.5049: 0.329928 - 0.864060 (scipy).
        let e = stratified_proportion(&[s(300, 10, 5), s(100, 10, 10)], 0.95).unwrap();
        assert!((e.proportion - 0.625).abs() < 1e-12);
        assert!((e.variance - 0.015104167).abs() < 1e-9);
        assert!((e.effective_n - 13.504883).abs() < 1e-5, "{e:?}");
        assert!(
            (e.low - 0.329928).abs() < 5e-6 && (e.high - 0.864060).abs() < 5e-6,
            "{e:?}"
        );
        // Every case compliant: no variance, n* = n = 10; Clopper-Pearson 10/10 = 0.691503-1.
        let e = stratified_proportion(&[s(40, 8, 8), s(10, 2, 2)], 0.95).unwrap();
        assert_eq!((e.proportion, e.variance, e.effective_n), (1.0, 0.0, 10.0));
        assert!((e.low - 0.691503).abs() < 5e-6 && e.high == 1.0, "{e:?}");
        // Strata with no answers carry no weight; nothing answered gives no estimate.
        let e = stratified_proportion(&[s(40, 8, 8), s(500, 0, 0)], 0.95).unwrap();
        assert_eq!(e.proportion, 1.0);
        assert_eq!(stratified_proportion(&[s(40, 0, 0)], 0.95), None);
    }

    /// Reference values from statsmodels 0.15.0,
    /// `statsmodels.stats.inter_rater.cohens_kappa(table, wt=None | "linear")`: `kappa`,
    /// `std_kappa`, `kappa_low`, `kappa_upp` (95%).
    #[test]
    fn cohen_kappa_matches_statsmodels() {
        let t = |rows: &[&[f64]]| rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>();
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        let check = |table: Vec<Vec<f64>>, linear: bool, want: [f64; 5]| {
            let k = cohen_kappa(&table, linear, 0.95).unwrap();
            for (got, want) in [k.agreement, k.kappa, k.se, k.low, k.high].iter().zip(want) {
                close(*got, want);
            }
        };
        // Yes/no, unweighted.
        check(
            t(&[&[20.0, 5.0], &[10.0, 15.0]]),
            false,
            [
                0.7,
                0.4,
                0.12699606293110033,
                0.151092290476661,
                0.6489077095233389,
            ],
        );
        // Four grades, linear weights.
        check(
            t(&[
                &[5.0, 2.0, 0.0, 0.0],
                &[1.0, 6.0, 2.0, 0.0],
                &[0.0, 1.0, 4.0, 1.0],
                &[0.0, 0.0, 1.0, 3.0],
            ]),
            true,
            [
                18.0 / 26.0,
                0.7248677248677249,
                0.08783641276144974,
                0.552711519324089,
                0.8970239304113607,
            ],
        );
        // A three-point scale, linear weights.
        check(
            t(&[&[4.0, 1.0, 0.0], &[1.0, 3.0, 1.0], &[0.0, 1.0, 2.0]]),
            true,
            [
                9.0 / 13.0,
                0.6285714285714286,
                0.16346620292956054,
                0.30818355813997395,
                0.9489592990028832,
            ],
        );
        // Six cases: statsmodels' upper limit is 1.2289561386140713; kappa is at most 1.
        check(
            t(&[&[3.0, 1.0], &[0.0, 2.0]]),
            false,
            [
                5.0 / 6.0,
                0.6666666666666667,
                0.28688765527462345,
                0.10437719471926221,
                1.0,
            ],
        );
        // Not defined: both raters said yes every time; or no cases.
        assert_eq!(
            cohen_kappa(&t(&[&[5.0, 0.0], &[0.0, 0.0]]), false, 0.95),
            None
        );
        assert_eq!(
            cohen_kappa(&t(&[&[0.0, 0.0], &[0.0, 0.0]]), false, 0.95),
            None
        );
    }

    #[test]
    fn cohen_kappa_refuses_what_is_not_a_table_of_counts() {
        let t = vec![vec![3.0, 1.0], vec![0.0, 2.0]];
        assert_eq!(cohen_kappa(&t, false, 1.0), None);
        assert_eq!(cohen_kappa(&t, false, f64::NAN), None);
        assert_eq!(cohen_kappa(&t, false, -0.5), None);
        assert_eq!(
            cohen_kappa(&[vec![3.0, -1.0], vec![0.0, 2.0]], false, 0.95),
            None
        );
        assert_eq!(
            cohen_kappa(&[vec![f64::INFINITY, 1.0], vec![0.0, 2.0]], false, 0.95),
            None
        );
        assert_eq!(cohen_kappa(&[vec![3.0]], false, 0.95), None);
        assert_eq!(cohen_kappa(&[vec![3.0, 1.0], vec![0.0]], false, 0.95), None);
    }
}
