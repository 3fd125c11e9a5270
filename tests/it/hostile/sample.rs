//! Hostile inputs: the audit sample (see mod.rs). Issue #11 C8 (verify re-derives the whole
//! manifest; extend and audit-results refuse a sample that does not verify), C9 (concurrent
//! draws into one folder), C10 (no command writes inside its inputs or a sample folder),
//! D15 (sample sizes out of range), D16 (write errors and targets that are not regular files).
//!
//! One sample is drawn per test run (a synthetic council at --scale 0.1 and the plan in
//! tests/fixtures/hostile/sample/, with an audit history) and copied per test.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use assert_cmd::Command;
use proptest::prelude::*;
use serde_json::Value;

use super::assert_no_crash;

fn csc() -> Command {
    Command::cargo_bin("csc-audit").unwrap()
}

/// The data, plan and sample every test starts from (never changed by a test).
struct Base {
    _dir: tempfile::TempDir,
    data: PathBuf,
    plan: PathBuf,
    sample: PathBuf,
}

fn draw(out: &Path, plan: &Path, data: &Path, seed: u64) -> Command {
    let mut c = csc();
    c.arg("sample")
        .arg("--plan")
        .arg(plan)
        .arg("--data")
        .arg(data)
        .args(["--period", "2025-03", "--seed", &seed.to_string(), "--out"])
        .arg(out);
    c
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("hostile-sample")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let data = dir.path().join("data");
        csc()
            .args(["synth", "--scale", "0.1", "--seed", "7", "--out"])
            .arg(&data)
            .assert()
            .success();
        let plans = dir.path().join("plans");
        std::fs::create_dir(&plans).unwrap();
        let plan = plans.join("plan.toml");
        std::fs::copy(crate::fixture("hostile/sample/plan.toml"), &plan).unwrap();
        // An audit history: two children on a plan in March 2025, audited in February.
        let mut cp = csv::Reader::from_path(data.join("cp_plans.csv")).unwrap();
        let open: Vec<String> = cp
            .records()
            .map(|r| r.unwrap())
            .filter(|r| &r[2] <= "2025-03-31" && (r[3].is_empty() || &r[3] >= "2025-03-01"))
            .map(|r| r[1].to_string())
            .take(2)
            .collect();
        assert_eq!(open.len(), 2);
        let history: String = open.iter().map(|c| format!("{c},,2025-02-15\n")).collect();
        std::fs::write(
            plans.join("history.csv"),
            format!("child_id,case_id,audit_date\n{history}"),
        )
        .unwrap();
        let sample = dir.path().join("sample");
        draw(&sample, &plan, &data, 7).assert().success();
        Base {
            _dir: dir,
            data,
            plan,
            sample,
        }
    })
}

/// A copy of the base sample folder (its manifest still names the base data and plan).
fn fresh_sample() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("sample");
    copy_dir(&base().sample, &s);
    (dir, s)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn read_manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

/// Rewrites manifest.json as csc-audit writes it, after `edit`.
fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut Value)) {
    let mut m = read_manifest(dir);
    edit(&mut m);
    let mut bytes = serde_json::to_vec_pretty(&m).unwrap();
    bytes.push(b'\n');
    std::fs::write(dir.join("manifest.json"), bytes).unwrap();
}

fn verify(dir: &Path, extra: &[&std::ffi::OsStr]) -> Output {
    let out = csc()
        .args(["sample", "verify"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    assert_no_crash(&out);
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Indices of the strata that are sampled (not census, not taken whole).
fn sampled_strata(m: &Value) -> Vec<usize> {
    m["strata"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s["census"] == false
                && s["sample"].as_u64().unwrap() < s["population"].as_u64().unwrap()
        })
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn the_base_sample_verifies_and_has_sampled_strata_and_exclusions() {
    let (_d, s) = fresh_sample();
    let out = verify(&s, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).starts_with("verified"));
    let m = read_manifest(&s);
    assert!(sampled_strata(&m).len() >= 2, "{m}");
    assert_eq!(m["excluded"].as_array().unwrap().len(), 2);
}

type Edit = fn(&mut Value);

/// C8: every class of manifest field, edited alone (as a person would: the JSON rewritten),
/// is caught and named.
#[test]
fn every_field_of_the_manifest_is_checked() {
    let m = read_manifest(&base().sample);
    let k = sampled_strata(&m)[0];
    assert!(k < 10);
    let edits: Vec<(&str, Edit, &str)> = vec![
        (
            "the breach strata's population x 50",
            |m| {
                for s in m["strata"].as_array_mut().unwrap() {
                    let name = s["name"].as_str().unwrap().to_string();
                    if name.ends_with("/ breach") {
                        s["population"] = (s["population"].as_u64().unwrap() * 50).into();
                    }
                }
            },
            ".population`",
        ),
        (
            "a stratum's case list",
            |m| {
                let k = sampled_strata(m)[0];
                m["strata"][k]["cases"]
                    .as_array_mut()
                    .unwrap()
                    .push("P9999999".into());
            },
            ".cases`: ",
        ),
        (
            "an inclusion probability",
            |m| {
                let k = sampled_strata(m)[0];
                m["strata"][k]["inclusion_probability"] = 0.5.into();
            },
            ".inclusion_probability`",
        ),
        (
            "a stratum's weight",
            |m| m["strata"][1]["weight"] = 1000.0.into(),
            ".weight`",
        ),
        (
            "an exclusion removed",
            |m| {
                m["excluded"].as_array_mut().unwrap().pop();
            },
            "at `excluded",
        ),
        (
            "an exclusion's reason",
            |m| m["excluded"][0]["reason"] = "not needed".into(),
            "at `excluded[0].reason`",
        ),
        (
            "the tool",
            |m| m["tool"] = "csc-audit 0.0.1".into(),
            "at `tool`",
        ),
        (
            "the RNG",
            |m| m["rng"] = "Mersenne Twister".into(),
            "at `rng`",
        ),
        (
            "plan.sha256",
            |m| m["plan"]["sha256"] = "0".repeat(64).into(),
            "at `plan.sha256`",
        ),
        (
            "a note added",
            |m| {
                m["notes"]
                    .as_array_mut()
                    .unwrap()
                    .push("all strata drawn".into())
            },
            "at `notes",
        ),
        (
            "the total population",
            |m| m["population"] = (m["population"].as_u64().unwrap() + 100).into(),
            "at `population`",
        ),
        ("the size", |m| m["size"] = 99.into(), "at `size`"),
        (
            "a selected case's child",
            |m| m["selected"][0]["child_id"] = "C0000000".into(),
            "at `selected[0].child_id`",
        ),
        (
            "an output's hash",
            |m| m["outputs"][0]["sha256"] = "f".repeat(64).into(),
            "at `outputs[0].sha256`",
        ),
        (
            "a data file's hash (the file unchanged)",
            |m| m["inputs"][0]["sha256"] = "e".repeat(64).into(),
            "has changed since the draw",
        ),
        (
            "the calendar's name",
            |m| m["calendar"] = "Scotland".into(),
            "at `calendar`",
        ),
        (
            "the data folder respelt",
            |m| {
                let d = m["data"].as_str().unwrap().replace('/', "//");
                m["data"] = d.into();
            },
            "at `data`",
        ),
        (
            "the plan file moved",
            |m| m["plan"]["file"] = "/nowhere/plan.toml".into(),
            // The audit history is read beside the plan: not found there (exit 2).
            "cannot read /nowhere/history.csv",
        ),
        (
            "a non-ASCII hash",
            |m| m["inputs"][0]["sha256"] = "ééééééééééééééééé".into(),
            "has changed since the draw",
        ),
        (
            "the seed",
            |m| m["seed"] = 8.into(),
            "selects different cases",
        ),
        (
            "an extension",
            |m| m["extensions"] = serde_json::json!([0]),
            ".rounds",
        ),
    ];
    for (what, edit, named) in edits {
        let (d, s) = fresh_sample();
        let results = results_for(&base().sample, d.path());
        edit_manifest(&s, edit);
        let edited = std::fs::read(s.join("manifest.json")).unwrap();
        let out = verify(&s, &[]);
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        let code = if what == "the plan file moved" { 2 } else { 1 };
        assert_eq!(out.status.code(), Some(code), "{what}: {said}");
        assert!(!said.starts_with("verified"), "{what}: {said}");
        assert!(
            said.contains(named),
            "{what}: expected `{named}` in\n{said}"
        );
        // The commands that rest on the sample refuse it, naming the same difference, and
        // change nothing.
        let refusals = [
            csc()
                .args(["audit-results", "--sample"])
                .arg(&s)
                .arg("--results")
                .arg(&results)
                .output()
                .unwrap(),
            csc()
                .args(["sample", "extend"])
                .arg(&s)
                .args(["--add", "2"])
                .output()
                .unwrap(),
        ];
        for out in refusals {
            assert_no_crash(&out);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{what}: {err}");
            assert!(err.contains(named), "{what}: expected `{named}` in\n{err}");
            assert!(text(&out.stdout).is_empty(), "{what}: estimates printed");
        }
        assert_eq!(std::fs::read(s.join("manifest.json")).unwrap(), edited);
    }
}

/// A results file for every sampled case: a yes/no question and a grade.
fn results_for(sample: &Path, at: &Path) -> PathBuf {
    let mut r = csv::Reader::from_path(sample.join("sample.csv")).unwrap();
    let mut out = String::from("case_id,grade,visits_recorded\n");
    for (i, rec) in r.records().enumerate() {
        let rec = rec.unwrap();
        let yes = if i % 3 == 0 { "No" } else { "Yes" };
        out.push_str(&format!("{},Good,{yes}\n", &rec[3]));
    }
    let p = at.join("results.csv");
    std::fs::write(&p, out).unwrap();
    p
}

/// C8: audit-results and extend refuse a sample that does not verify, saying why; on one
/// that does, they work.
#[test]
fn audit_results_and_extend_refuse_a_sample_that_does_not_verify() {
    let (d, s) = fresh_sample();
    let results = results_for(&s, d.path());
    let estimates = d.path().join("estimates");
    let run_results = || {
        let out = csc()
            .args(["audit-results", "--sample"])
            .arg(&s)
            .arg("--results")
            .arg(&results)
            .arg("--out")
            .arg(&estimates)
            .output()
            .unwrap();
        assert_no_crash(&out);
        out
    };
    let ok = run_results();
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let good = std::fs::read(estimates.join("estimates.csv")).unwrap();
    std::fs::remove_dir_all(&estimates).unwrap();

    // The breach strata's population x 50 would move the estimate: refused.
    edit_manifest(&s, |m| {
        for st in m["strata"].as_array_mut().unwrap() {
            if st["name"].as_str().unwrap().ends_with("/ breach") {
                st["population"] = (st["population"].as_u64().unwrap() * 50).into();
            }
        }
    });
    let out = run_results();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("does not verify"), "{err}");
    assert!(err.contains(".population`"), "{err}");
    assert!(!estimates.exists(), "nothing written");

    let before = std::fs::read(s.join("sample.csv")).unwrap();
    let out = csc()
        .args(["sample", "extend"])
        .arg(&s)
        .args(["--add", "3"])
        .output()
        .unwrap();
    assert_no_crash(&out);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot extend") && err.contains("does not verify"),
        "{err}"
    );
    assert_eq!(std::fs::read(s.join("sample.csv")).unwrap(), before);

    // Put back, the sample verifies and gives the same estimates again.
    std::fs::copy(base().sample.join("manifest.json"), s.join("manifest.json")).unwrap();
    assert_eq!(run_results().status.code(), Some(0));
    assert_eq!(
        std::fs::read(estimates.join("estimates.csv")).unwrap(),
        good
    );
}

/// C8: a data file edited together with its hash in the manifest: the hash matches, but the
/// re-draw from the data now does not give the manifest; extend refuses.
#[test]
fn data_edited_with_its_hash_does_not_verify_and_extend_refuses() {
    let (d, s) = fresh_sample();
    let data = d.path().join("data");
    copy_dir(&base().data, &data);
    let m = read_manifest(&s);
    let k = sampled_strata(&m)[0];
    let case = m["strata"][k]["cases"][0].as_str().unwrap().to_string();
    let plans = data.join("cp_plans.csv");
    let kept: String = std::fs::read_to_string(&plans)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with(&format!("{case},")))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&plans, &kept).unwrap();
    let with_data = [std::ffi::OsStr::new("--data"), data.as_os_str()];

    let out = verify(&s, &with_data);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("data file cp_plans.csv has changed since the draw"));

    let hash = csc_audit::sampling::manifest::sha256_hex(kept.as_bytes());
    edit_manifest(&s, |m| {
        for i in m["inputs"].as_array_mut().unwrap() {
            if i["name"] == "cp_plans.csv" {
                i["sha256"] = hash.clone().into();
            }
        }
    });
    let out = verify(&s, &with_data);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(!said.contains("cp_plans.csv has changed"), "{said}");
    assert!(said.contains("selects different cases"), "{said}");
    assert!(said.contains(&case), "{said}");

    let before = std::fs::read(s.join("manifest.json")).unwrap();
    let out = csc()
        .args(["sample", "extend"])
        .arg(&s)
        .args(["--add", "2"])
        .args(with_data)
        .output()
        .unwrap();
    assert_no_crash(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("does not verify"));
    assert_eq!(std::fs::read(s.join("manifest.json")).unwrap(), before);
}

/// The sample folder written by a run, if one run won, and what is beside it.
fn leftovers(parent: &Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// C9: six draws into one folder at once: exactly one succeeds, the others fail saying the
/// folder was made by another run (or already holds a sample), and the folder is one whole
/// sample that verifies. Twice, once into a folder that does not exist and once into an
/// empty one.
#[test]
fn concurrent_draws_into_one_folder_exactly_one_wins() {
    let b = base();
    for pre_made in [false, true] {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("s");
        if pre_made {
            std::fs::create_dir(&out).unwrap();
        }
        let runs: Vec<std::process::Child> = (0..6)
            .map(|seed| {
                std::process::Command::new(assert_cmd::cargo::cargo_bin("csc-audit"))
                    .arg("sample")
                    .arg("--plan")
                    .arg(&b.plan)
                    .arg("--data")
                    .arg(&b.data)
                    .args(["--period", "2025-03", "--seed", &(100 + seed).to_string()])
                    .arg("--out")
                    .arg(&out)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs: Vec<Output> = runs
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let won = outs.iter().filter(|o| o.status.success()).count();
        assert_eq!(won, 1, "exactly one run writes the folder");
        for o in outs.iter().filter(|o| !o.status.success()) {
            assert_no_crash(o);
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{err}");
            assert!(
                err.contains("was created by another run")
                    || err.contains("already holds a sample"),
                "{err}"
            );
        }
        let v = verify(&out, &[]);
        assert_eq!(v.status.code(), Some(0), "{}", text(&v.stdout));
        assert_eq!(leftovers(d.path()), Vec::<String>::new());
    }
}

/// C9: --force replaces the whole folder (nothing of the old one is kept or merged).
#[test]
fn force_replaces_the_whole_folder() {
    let b = base();
    let (_d, s) = fresh_sample();
    std::fs::write(s.join("notes.txt"), "an old file").unwrap();
    draw(&s, &b.plan, &b.data, 8)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("never replaced silently"));
    draw(&s, &b.plan, &b.data, 8)
        .arg("--force")
        .assert()
        .success();
    assert!(!s.join("notes.txt").exists());
    assert_eq!(read_manifest(&s)["seed"], 8);
    assert_eq!(verify(&s, &[]).status.code(), Some(0));
    // A folder holding something else is not a sample folder: refused even with --force.
    let other = s.parent().unwrap().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("keep.txt"), "x").unwrap();
    draw(&other, &b.plan, &b.data, 8)
        .arg("--force")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not a sample"));
    assert!(other.join("keep.txt").exists());
}

/// C10: no command writes inside its own inputs (data folder, plan, imported file) or inside
/// a sample folder, however the path is spelt (`..`, a symlink).
#[test]
fn no_command_writes_inside_its_inputs_or_a_sample_folder() {
    let b = base();
    let (d, s) = fresh_sample();
    let root = d.path();
    let data = root.join("data");
    copy_dir(&b.data, &data);
    let xml = root.join("census.xml");
    std::fs::copy(
        crate::fixture("cin_census/cin_census_2022_spec_example.xml"),
        &xml,
    )
    .unwrap();
    std::os::unix::fs::symlink(&data, root.join("link")).unwrap();
    let defs = root.join("metrics");
    copy_dir(&crate::fixture("../../metrics"), &defs);
    let results = results_for(&s, root);
    let p = |x: &Path| x.to_string_lossy().into_owned();
    let (dd, ss) = (p(&data), p(&s));
    let metrics = |out: String| -> Vec<String> {
        [
            "metrics",
            "--only",
            "icpc_15wd",
            "--data",
            &dd,
            "--out",
            &out,
        ]
        .map(String::from)
        .to_vec()
    };
    let chart = |out: String| -> Vec<String> {
        [
            "chart",
            "--metric",
            "icpc_15wd",
            "--data",
            &dd,
            "--out",
            &out,
        ]
        .map(String::from)
        .to_vec()
    };
    let sample = |out: String| -> Vec<String> {
        [
            "sample",
            "--plan",
            &p(&b.plan),
            "--data",
            &dd,
            "--period",
            "2025-03",
            "--seed",
            "1",
            "--out",
            &out,
        ]
        .map(String::from)
        .to_vec()
    };
    let cases: Vec<Vec<String>> = vec![
        metrics(format!("{dd}/referrals.csv")),
        metrics(format!("{ss}/manifest.json")),
        metrics(format!("{ss}/sub/m.csv")),
        metrics(format!("{}/link/referrals.csv", p(root))),
        metrics(format!("{dd}/../data/./new.csv")),
        [
            "metrics",
            "--data",
            &dd,
            "--metrics",
            &p(&defs),
            "--out",
            &format!("{}/standards.toml", p(&defs)),
        ]
        .map(String::from)
        .to_vec(),
        chart(format!("{dd}/c.svg")),
        chart(format!("{ss}/c.svg")),
        ["import", "cin-census", &p(&xml), "--out", &ss]
            .map(String::from)
            .to_vec(),
        [
            "import",
            "cin-census",
            &p(&xml),
            "--out",
            &format!("{}/census.xml", p(root)),
        ]
        .map(String::from)
        .to_vec(),
        ["synth", "--scale", "0.01", "--out", &ss]
            .map(String::from)
            .to_vec(),
        sample(format!("{dd}/s")),
        sample(format!("{ss}/inner")),
        sample(p(root)),
        sample(p(&b.plan)),
        [
            "audit-results",
            "--sample",
            &ss,
            "--results",
            &p(&results),
            "--out",
            &format!("{ss}/estimates"),
        ]
        .map(String::from)
        .to_vec(),
        // The data folder the manifest records (not given on the command line).
        [
            "audit-results",
            "--sample",
            &ss,
            "--results",
            &p(&results),
            "--out",
            &format!("{}/estimates", p(&b.data)),
        ]
        .map(String::from)
        .to_vec(),
    ];
    let snapshot = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = walk(dir)
            .into_iter()
            .map(|f| (p(&f), std::fs::read(&f).unwrap()))
            .collect();
        v.sort();
        v
    };
    let before = snapshot(root);
    for args in cases {
        let out = csc().args(&args).output().unwrap();
        assert_no_crash(&out);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("will not write"), "{args:?}: {err}");
        assert_eq!(snapshot(root), before, "{args:?} changed a file");
    }
    assert!(!b.data.join("estimates").exists());
}

/// Every file under `dir` (not following symlinks).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(walk(&e.path()));
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    out
}

/// D16: a target that is not a regular file (a device, a FIFO, a symlink, a folder) is
/// refused with a clear error and left as it was; nothing says "wrote".
#[test]
fn targets_that_are_not_regular_files_are_refused() {
    let b = base();
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("fifo.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let real = d.path().join("real.csv");
    std::fs::write(&real, "keep").unwrap();
    let link = d.path().join("link.csv");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let folder = d.path().join("folder.csv");
    std::fs::create_dir(&folder).unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        (PathBuf::from("/dev/full"), "is a device"),
        (PathBuf::from("/dev/null"), "is a device"),
        (fifo.clone(), "is a FIFO"),
        (link.clone(), "is a symbolic link"),
        (folder.clone(), "is a folder"),
    ];
    for (target, says) in &cases {
        let out = csc()
            .args(["metrics", "--only", "icpc_15wd", "--data"])
            .arg(&b.data)
            .arg("--out")
            .arg(target)
            .output()
            .unwrap();
        assert_no_crash(&out);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{target:?}: {err}");
        assert!(err.contains(says), "{target:?}: {err}");
        assert!(!err.contains("wrote"), "{err}");
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "keep");
    assert!(folder.is_dir());
    // A chart to a FIFO or symlink named .svg: refused the same way.
    let svg_fifo = d.path().join("c.svg");
    std::process::Command::new("mkfifo")
        .arg(&svg_fifo)
        .status()
        .unwrap();
    let out = csc()
        .args(["chart", "--metric", "icpc_15wd", "--data"])
        .arg(&b.data)
        .arg("--out")
        .arg(&svg_fifo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is a FIFO"));
    assert!(std::fs::symlink_metadata(&svg_fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}

/// D15: sample sizes refuse inputs out of range instead of printing a saturated cast.
#[test]
fn sample_size_inputs_out_of_range_are_errors() {
    for args in [
        vec!["--margin", "1e-300"],
        vec!["--margin", "0"],
        vec!["--margin", "NaN"],
        vec!["--margin", "inf"],
        vec!["--confidence", "1"],
        vec!["--expected", "-0.5"],
        vec!["--population", "0"],
        vec!["--tolerable-rate", "1e-300"],
    ] {
        let out = csc().args(["sample", "size"]).args(&args).output().unwrap();
        assert_no_crash(&out);
        let (o, e) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {o}{e}");
        assert!(!o.contains("18446744073709551615"), "{args:?}: {o}");
        assert!(e.contains("error:"), "{args:?}: {e}");
    }
    csc()
        .args(["sample", "size", "--margin", "0.000001"])
        .assert()
        .success()
        .stdout(predicates::str::contains("960364705174 cases"));
}

/// A JSON leaf of the manifest, by its path of keys and indices.
fn leaves(v: &Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            let mut p = at.clone();
            p.push(k.clone());
            leaves(x, p, out)
        }),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
            let mut p = at.clone();
            p.push(i.to_string());
            leaves(x, p, out)
        }),
        _ => out.push(at),
    }
}

fn leaf_mut<'a>(v: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(v, |v, k| match v {
        Value::Array(a) => &mut a[k.parse::<usize>().unwrap()],
        other => &mut other[k.as_str()],
    })
}

/// Changes a JSON value to another of its kind.
fn nudge(v: &mut Value, salt: u8) {
    *v = match v.take() {
        Value::Null => Value::from(salt),
        Value::Bool(b) => Value::Bool(!b),
        Value::Number(n) => match n.as_u64() {
            Some(u) => Value::from(u.wrapping_add(1 + salt as u64)),
            None => Value::from(n.as_f64().unwrap_or(0.0) + 0.5 + salt as f64),
        },
        Value::String(s) => Value::String(format!("{s}{}", (b'a' + salt % 26) as char)),
        other => other,
    };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(16), ..ProptestConfig::default() })]

    /// C8 for the whole class: a random byte of manifest.json or sample.csv changed, or a
    /// random field of the manifest changed: verify never says verified (unless the bytes
    /// are the same) and never crashes.
    #[test]
    fn a_touched_sample_never_verifies(
        in_csv in any::<bool>(),
        by_field in any::<bool>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let (_d, s) = fresh_sample();
        let file = s.join(if in_csv { "sample.csv" } else { "manifest.json" });
        let old = std::fs::read(&file).unwrap();
        if by_field && !in_csv {
            let mut m: Value = serde_json::from_slice(&old).unwrap();
            let mut all = Vec::new();
            leaves(&m, Vec::new(), &mut all);
            let path = all[at.index(all.len())].clone();
            nudge(leaf_mut(&mut m, &path), byte);
            let mut bytes = serde_json::to_vec_pretty(&m).unwrap();
            bytes.push(b'\n');
            std::fs::write(&file, bytes).unwrap();
        } else {
            let mut new = old.clone();
            new[at.index(old.len())] = byte;
            std::fs::write(&file, &new).unwrap();
        }
        let unchanged = std::fs::read(&file).unwrap() == old;
        let out = verify(&s, &[]);
        let said = text(&out.stdout);
        if unchanged {
            prop_assert_eq!(out.status.code(), Some(0));
        } else {
            prop_assert_ne!(out.status.code(), Some(0), "{}", said);
            prop_assert!(!said.starts_with("verified"), "{}", said);
        }
    }
}

/// C9 for extend: three extensions of one folder at once never interleave: each either
/// extends the sample (one round each) or fails saying another run holds the folder; the
/// folder verifies, keeps the auditors' own files, and holds one round per success.
#[test]
fn concurrent_extensions_never_interleave() {
    let (d, s) = fresh_sample();
    std::fs::write(s.join("auditor-notes.txt"), "mine").unwrap();
    let runs: Vec<std::process::Child> = (0..3)
        .map(|_| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("csc-audit"))
                .args(["sample", "extend"])
                .arg(&s)
                .args(["--add", "1"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = runs
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let won = outs.iter().filter(|o| o.status.success()).count();
    assert!(won >= 1);
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert_no_crash(o);
        let err = text(&o.stderr);
        assert!(err.contains("being changed by another run"), "{err}");
    }
    assert_eq!(
        read_manifest(&s)["extensions"].as_array().unwrap().len(),
        won
    );
    assert_eq!(verify(&s, &[]).status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(s.join("auditor-notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(leftovers(d.path()), Vec::<String>::new());
}

/// D16: a write that fails (here the file-size limit, as a full disk would) is an error
/// naming the file, with nothing left behind: never "wrote". Standard output to /dev/full
/// is an error too.
#[test]
fn write_errors_surface_and_leave_nothing() {
    let b = base();
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("m.csv");
    let bin = assert_cmd::cargo::cargo_bin("csc-audit");
    // SIGXFSZ ignored, so the write past the 512-byte limit fails with EFBIG.
    let script = format!(
        "trap '' XFSZ; ulimit -f 1; exec '{}' metrics --only icpc_15wd --data '{}' --out '{}'",
        bin.display(),
        b.data.display(),
        out.display()
    );
    let o = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_no_crash(&o);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("writing") && err.contains("m.csv"), "{err}");
    assert!(!err.contains("wrote"), "{err}");
    assert_eq!(
        std::fs::read_dir(d.path()).unwrap().count(),
        0,
        "nothing left"
    );

    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = std::process::Command::new(&bin)
        .args(["metrics", "--only", "icpc_15wd", "--data"])
        .arg(&b.data)
        .stdout(full)
        .output()
        .unwrap();
    assert_no_crash(&o);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(64), ..ProptestConfig::default() })]

    /// C10 for the whole class of spellings: a path built of `..`, `.`, symlinks and folders
    /// that do not exist yet is refused by fsutil::check_output exactly when the file it
    /// would create is inside the data folder or a sample folder.
    #[test]
    fn an_output_is_refused_exactly_when_it_lands_in_an_input_or_a_sample(
        parts in prop::collection::vec(
            prop::sample::select(vec!["data", "sample", "link", "slink", "..", ".", "new", "sub"]),
            0..5,
        ),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        // Deep enough that four `..` stay inside the temporary folder.
        let root = tmp.path().join("a/b/c/d/root");
        let data = root.join("data");
        let sample = root.join("sample");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::create_dir_all(&sample).unwrap();
        std::fs::write(sample.join("manifest.json"), "{\"tool\": \"csc-audit 0.1.0\"}").unwrap();
        std::os::unix::fs::symlink(&data, root.join("link")).unwrap();
        std::os::unix::fs::symlink(&sample, root.join("slink")).unwrap();
        let mut path = root.clone();
        for p in &parts {
            path.push(p);
        }
        path.push("out.csv");
        let verdict = csc_audit::fsutil::check_output(&path, &[data.as_path()]);
        // Where the file really lands: make the folders, then ask the system.
        let parent = path.parent().unwrap();
        std::fs::create_dir_all(parent).unwrap();
        let lands = parent.canonicalize().unwrap().join("out.csv");
        let inside = lands.starts_with(data.canonicalize().unwrap())
            || lands.starts_with(sample.canonicalize().unwrap());
        prop_assert_eq!(verdict.is_err(), inside, "{:?} lands at {:?}: {:?}", path, lands, verdict);
    }
}
