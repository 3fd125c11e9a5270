//! Hostile inputs besides the extracts (found by a hostile re-test of issue #11): every
//! file a command is given (calendar, plan, audit history, results, metric files, a
//! manifest, an import) is read only if it is a regular file within a stated size, so a
//! device never ends and a pipe never hangs the command; a metric file that cannot be read
//! is an error, never left out; a write error on standard output is an error, never a
//! panic.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;

use super::assert_no_crash;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs the binary in the repository, with a timeout: a hang is a failure, not a wait.
fn run(args: &[&str]) -> std::process::Output {
    let out = Command::cargo_bin("csc-audit")
        .unwrap()
        .current_dir(repo(""))
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_no_crash(&out);
    out
}

/// `metrics` with the definitions in `m`, writing `out`: refused, saying `says`.
fn metrics_refused(m: &Path, out: &Path, says: &str) {
    let (m, out) = (m.to_str().unwrap(), out.to_str().unwrap());
    refused(&["metrics", "--metrics", m, "--out", out], says);
}

fn refused(args: &[&str], says: &str) {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(says), "{args:?}: {err}");
}

#[test]
fn devices_and_pipes_given_as_inputs_are_refused_not_read() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("p.toml");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let fifo = fifo.to_str().unwrap();
    let out = d.path().join("o");
    let out = out.to_str().unwrap();
    for input in ["/dev/zero", fifo] {
        refused(&["check", "--calendar", input], "not a file");
        refused(
            &[
                "sample", "--plan", input, "--period", "2025-03", "--seed", "1", "--out", out,
            ],
            "not a file",
        );
        refused(&["import", "annex-a", "--out", out, input], "not a file");
        refused(&["import", "cin-census", "--out", out, input], "not a file");
    }
    // A link to a device inside the metrics folder or as a plan's audit history.
    let m = d.path().join("m");
    std::fs::create_dir(&m).unwrap();
    std::fs::copy(repo("metrics/standards.toml"), m.join("standards.toml")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", m.join("zz.toml")).unwrap();
    refused(
        &["metrics", "--metrics", m.to_str().unwrap(), "--out", out],
        "not a file",
    );
}

#[test]
fn a_metric_file_that_cannot_be_read_is_an_error_not_left_out() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    std::fs::create_dir(&m).unwrap();
    for f in ["standards.toml", "referrals.toml"] {
        std::fs::copy(repo("metrics").join(f), m.join(f)).unwrap();
    }
    std::os::unix::fs::symlink("/nonexistent", m.join("referral_nfa.toml")).unwrap();
    let out = d.path().join("o.csv");
    metrics_refused(&m, &out, "referral_nfa.toml");
}

#[test]
fn definition_files_beyond_the_stated_size_are_refused_before_parsing() {
    // 1 GB of nothing once made the TOML reader ask for 7 GB and abort.
    let d = tempfile::tempdir().unwrap();
    let big = d.path().join("big.toml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    refused(
        &["check", "--calendar", big.to_str().unwrap()],
        "larger than the 1 MiB",
    );
    let out = d.path().join("o");
    refused(
        &[
            "sample",
            "--plan",
            big.to_str().unwrap(),
            "--period",
            "2025-03",
            "--seed",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        "larger than the 1 MiB",
    );
}

#[test]
fn a_filter_call_hidden_by_a_comment_or_quotes_is_refused() {
    // `LPAD/**/(` and `` `LPAD`( `` once slipped past the check and aborted at 4 GB.
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    std::fs::create_dir(&m).unwrap();
    std::fs::copy(repo("metrics/standards.toml"), m.join("standards.toml")).unwrap();
    let out = d.path().join("o.csv");
    for filter in [
        "LPAD/**/(team, 2000000000, 'x') = 'a'",
        "`LPAD`(team, 2000000000, 'x') = 'a'",
        "LPAD.ABS(team, 2000000000, 'x') = 'a'",
        "GREATEST() > 0",
        "\\\"LPAD\\\" (team, 2000000000, 'x') = 'a'",
    ] {
        let text = format!(
            "{}filter = \"{filter}\"\n",
            std::fs::read_to_string(repo("metrics/referrals.toml")).unwrap()
        );
        std::fs::write(m.join("referrals.toml"), text).unwrap();
        metrics_refused(&m, &out, "population.filter");
    }
}

#[test]
fn a_full_standard_output_is_an_error_never_a_panic() {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for args in [
        &["check"][..],
        &["check", "--format", "json"],
        &["sample", "size", "--population", "300"],
        &["days", "--from", "2025-01-06", "--add", "3"],
        &["metrics", "--list"],
    ] {
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("csc-audit"))
            .current_dir(repo(""))
            .args(args)
            .stdout(full())
            .output()
            .unwrap();
        assert_no_crash(&out);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("writing to standard output"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn sample_sizes_at_the_edges_are_sizes_a_council_can_use() {
    let out = run(&[
        "sample",
        "size",
        "--population",
        "3",
        "--tolerable-rate",
        "0.05",
    ]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("discovery: all 3 cases (the whole population)"),
        "{said}"
    );
    refused(
        &["sample", "size", "--confidence", "1e-300"],
        "at least 0.5",
    );
    let out = run(&["sample", "size", "--expected", "1e-300"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("  1 cases"));
}

#[test]
fn a_full_standard_error_is_never_a_panic() {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for (args, code) in [
        (&["check", "--data", "/nonexistent"][..], 2),
        (
            &[
                "days",
                "--from",
                "2025-01-01",
                "--add",
                "10",
                "--calendar",
                "/nonexistent",
            ],
            2,
        ),
        (&["sample", "verify", "/nonexistent"], 2),
    ] {
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("csc-audit"))
            .current_dir(repo(""))
            .args(args)
            .stderr(full())
            .output()
            .unwrap();
        assert_no_crash(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}

#[test]
fn a_file_that_reads_as_more_than_it_says_is_refused() {
    // /proc files say 0 bytes and read on: one once took 4 GB as audit results.
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(
        data.join("children.csv"),
        "child_id,date_of_birth\nC1,2015-01-01\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("/proc/self/status", data.join("visits.csv")).unwrap();
    let out = run(&["check", "--data", data.to_str().unwrap()]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("reads as more than the 0 bytes it says"),
        "{said}"
    );
    let out = d.path().join("o");
    refused(
        &[
            "sample",
            "--plan",
            "/proc/self/status",
            "--period",
            "2025-03",
            "--seed",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        "reads as more than",
    );
}
