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
    if !(n > 0.0) || !(0.0..=n).contains(&x) {
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

/// The sample size that estimates a proportion within +/- `margin` at `confidence`, when
/// the proportion is expected to be near `expected` (0.5 when unknown: the largest size).
/// Returns the infinite-population size n0 = z^2 p (1 - p) / e^2 and, with a population of
/// `population`, the finite-population-corrected n = n0 / (1 + (n0 - 1) / N); both rounded
/// up.
pub fn sample_size(
    margin: f64,
    confidence: f64,
    expected: f64,
    population: Option<u64>,
) -> (u64, Option<u64>) {
    let z = normal_quantile(1.0 - (1.0 - confidence) / 2.0);
    let n0 = z * z * expected * (1.0 - expected) / (margin * margin);
    let finite = population.map(|pop| {
        let n = n0 / (1.0 + (n0 - 1.0) / pop as f64);
        (ceil_tolerant(n) as u64).min(pop)
    });
    (ceil_tolerant(n0) as u64, finite)
}

/// The discovery (attribute) sample size: the smallest n for which seeing no failures
/// would show, at `confidence`, that the failure rate is below `rate`: (1 - rate)^n <= 1 -
/// confidence.
pub fn discovery_size(rate: f64, confidence: f64) -> u64 {
    ceil_tolerant((1.0 - confidence).ln() / (1.0 - rate).ln()) as u64
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
}
