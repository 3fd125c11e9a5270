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
