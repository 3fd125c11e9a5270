//! `csc-audit spc`: any series, with the engine the pack uses, reproducing NHSRplotthedots'
//! reference values (issue #14: R `set.seed(123); rnorm(20)`, point 15 set to 10).

use std::path::Path;

/// R `set.seed(123); rnorm(20)`, in `tests/fixtures/spc/rnorm_123.csv`.
fn rnorm_123() -> Vec<f64> {
    let mut r = csv::Reader::from_path(crate::fixture("spc/rnorm_123.csv")).unwrap();
    r.records()
        .map(|x| x.unwrap()[1].parse().unwrap())
        .collect()
}

fn period(i: usize) -> String {
    format!("{}-{:02}", 2023 + i / 12, i % 12 + 1)
}

fn series(dir: &Path, values: &[f64], denominators: Option<&[f64]>) -> std::path::PathBuf {
    let mut text = String::from(if denominators.is_some() {
        "Period,Value,Denominator\n"
    } else {
        "period,value\n"
    });
    for (i, v) in values.iter().enumerate() {
        match denominators {
            Some(d) => text.push_str(&format!("{},{v},{}\n", period(i), d[i])),
            None => text.push_str(&format!("{},{v}\n", period(i))),
        }
    }
    let path = dir.join("series.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn spc(args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("csc-audit")
        .unwrap()
        .arg("spc")
        .args(args)
        .output()
        .unwrap()
}

/// The table's rows as (period, value, mean, lower, upper, trial, signals).
fn rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["period", "value", "mean", "lower", "upper", "lower_2s", "upper_2s", "trial", "signals"]
    );
    r.records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn num(s: &str) -> f64 {
    s.parse().unwrap()
}

#[test]
fn the_table_reproduces_nhsrplotthedots_screened_and_unscreened() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = rnorm_123();
    v[14] = 10.0;
    let input = series(dir.path(), &v, None);
    let table = dir.path().join("points.csv");
    for (screen, mean, lower, upper) in [
        (false, 0.6694159, -4.596625, 5.935457),
        (true, 0.6694159, -2.383666, 3.722497),
    ] {
        let mut args = vec![
            "--input",
            input.to_str().unwrap(),
            "--table",
            table.to_str().unwrap(),
        ];
        if screen {
            args.push("--screen-outliers");
        }
        let out = spc(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows = rows(&table);
        assert_eq!(rows.len(), 20);
        for r in &rows {
            assert!(
                (num(&r[2]) - mean).abs() < 1e-4
                    && (num(&r[3]) - lower).abs() < 1e-4
                    && (num(&r[4]) - upper).abs() < 1e-4,
                "{r:?}"
            );
            assert_eq!(r[7], "N");
        }
        // Drawn the Making Data Count way: the point beyond the upper limit is an
        // improvement where higher is better (blue), common cause points grey.
        let svg = dir.path().join("chart.svg");
        let mut draw = args.clone();
        draw.extend(["--improvement", "increase", "--out", svg.to_str().unwrap()]);
        draw.retain(|a| *a != "--table" && *a != table.to_str().unwrap());
        assert_eq!(spc(&draw).status.code(), Some(0));
        let text = std::fs::read_to_string(&svg).unwrap().to_ascii_uppercase();
        assert!(
            text.contains("#0070C0") && text.contains("#767676"),
            "{}",
            &text[..400]
        );
        assert!(!text.contains("#C55A11"));
        // The point itself is beyond the limits either way.
        assert_eq!(rows[14][8], "beyond_limit");
    }
}

#[test]
fn rebasing_by_period_gives_each_phase_its_limits_and_the_json_reads_the_chart() {
    let dir = tempfile::tempdir().unwrap();
    let mut v: Vec<f64> = (0..10)
        .map(|i| if i % 2 == 0 { 1.0 } else { 3.0 })
        .collect();
    v.extend((0..13).map(|i| if i % 2 == 0 { 11.0 } else { 12.0 }));
    let input = series(dir.path(), &v, None);
    let table = dir.path().join("points.json");
    let chart = dir.path().join("chart.svg");
    let out = spc(&[
        "--input",
        input.to_str().unwrap(),
        "--rebase",
        &period(10),
        "--improvement",
        "increase",
        "--target",
        "8",
        "--table",
        table.to_str().unwrap(),
        "--out",
        chart.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&table).unwrap()).unwrap();
    let p = j["points"].as_array().unwrap();
    // Phase 1: 1, 3, ...: mean 2, limits 2 -/+ 2.66 x 2, trial (10 points).
    assert_eq!(
        (
            p[0]["mean"].as_f64(),
            p[0]["upper"].as_f64(),
            p[0]["trial"].as_bool()
        ),
        (Some(2.0), Some(7.32), Some(true))
    );
    // Phase 2: 13 points of 11, 12, ...: mean 149 / 13, moving ranges 1.
    let m = 149.0 / 13.0;
    assert!((p[10]["mean"].as_f64().unwrap() - m).abs() < 1e-9);
    assert!((p[10]["lower"].as_f64().unwrap() - (m - 2.66)).abs() < 1e-9);
    assert_eq!(p[10]["trial"].as_bool(), Some(false));
    assert!(p
        .iter()
        .all(|x| x["signals"].as_array().unwrap().is_empty()));
    // The latest point is common cause; the target of 8 is below the lower limit 8.80 of a
    // measure where higher is better: it is met every time.
    assert_eq!(j["variation"], "common cause");
    assert_eq!(j["assurance"], "consistently passing");
    assert!(std::fs::read_to_string(&chart).unwrap().starts_with("<svg"));
}

#[test]
fn a_p_chart_takes_denominators_and_mistakes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    // p = 100 / 1000 = 0.1 over the first 10 months; at n = 100 limits 0.01 to 0.19.
    let x = [10.0; 12];
    let n = [100.0; 12];
    let input = series(dir.path(), &x, Some(&n));
    let table = dir.path().join("p.csv");
    let out = spc(&[
        "--input",
        input.to_str().unwrap(),
        "--chart",
        "p",
        "--table",
        table.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = &rows(&table)[0];
    assert!(
        (num(&r[1]) - 0.1).abs() < 1e-12
            && (num(&r[3]) - 0.01).abs() < 1e-12
            && (num(&r[4]) - 0.19).abs() < 1e-12,
        "{r:?}"
    );
    assert_eq!(r[7], "Y", "12 points are trial limits, as NHSRplotthedots");
    for (args, says) in [
        (
            vec!["--rebase", "2031-01"],
            "--rebase 2031-01: no such period",
        ),
        (
            vec!["--chart", "p", "--screen-outliers"],
            "does not apply to a p-chart",
        ),
    ] {
        let mut all = vec![
            "--input",
            input.to_str().unwrap(),
            "--table",
            table.to_str().unwrap(),
        ];
        all.extend(args);
        let out = spc(&all);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "period,value\n2024-01,1\n2024-02,n/a\n").unwrap();
    let out = spc(&[
        "--input",
        bad.to_str().unwrap(),
        "--table",
        table.to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3: the value 'n/a' is not a number")
    );
}
