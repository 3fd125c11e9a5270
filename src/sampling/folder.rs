//! A sample folder on disk: written once (never silently replaced), re-drawn by `verify`,
//! grown by `extend`.

use std::path::{Path, PathBuf};

use super::manifest::{self, InputFile, Recorded, MANIFEST, SAMPLE_CSV, SAMPLE_XLSX};
use super::{invalid, Sample, SampleError, SamplePlan};

/// Where the inputs of a draw came from, for the manifest.
pub struct Provenance<'a> {
    pub data: &'a Path,
    pub calendar_file: Option<&'a Path>,
    pub calendar_name: &'a str,
    pub metrics_origin: &'a str,
}

/// The plan's audit history file, if it has one.
pub fn history_path(plan: &SamplePlan) -> Option<PathBuf> {
    plan.exclude.as_ref().map(|e| e.path.clone())
}

/// The three files of a sample folder, in memory.
pub fn render(
    s: &Sample,
    prov: &Provenance,
    inputs: &[InputFile],
) -> Result<Vec<(&'static str, Vec<u8>)>, SampleError> {
    let csv = manifest::sample_csv(s);
    let xlsx = manifest::sample_xlsx(s)?;
    let man = manifest::manifest(
        s,
        prov.data,
        inputs,
        prov.metrics_origin,
        prov.calendar_name,
        &[(SAMPLE_CSV, &csv), (SAMPLE_XLSX, &xlsx)],
    );
    Ok(vec![
        (SAMPLE_CSV, csv),
        (SAMPLE_XLSX, xlsx),
        (MANIFEST, man),
    ])
}

/// A folder that already holds a sample is refused unless `force`: an audit sample is
/// never replaced silently.
pub fn refuse_existing(out: &Path, force: bool) -> Result<(), SampleError> {
    let existing: Vec<&str> = [MANIFEST, SAMPLE_CSV, SAMPLE_XLSX]
        .into_iter()
        .filter(|f| out.join(f).exists())
        .collect();
    if !existing.is_empty() && !force {
        return Err(invalid(format!(
            "{} already holds a sample ({}); an audit sample is never replaced silently: \
             choose another --out folder, `csc-audit sample extend {}` to add cases, or \
             --force to replace it",
            out.display(),
            existing.join(", "),
            out.display()
        )));
    }
    Ok(())
}

/// Writes a new sample folder (see [`refuse_existing`]).
pub fn write_new(
    out: &Path,
    s: &Sample,
    prov: &Provenance,
    force: bool,
) -> Result<Vec<InputFile>, SampleError> {
    refuse_existing(out, force)?;
    let inputs = manifest::input_files(
        prov.data,
        history_path(&s.plan).as_deref(),
        prov.calendar_file,
    )?;
    let files = render(s, prov, &inputs)?;
    std::fs::create_dir_all(out)
        .map_err(|e| invalid(format!("creating {}: {e}", out.display())))?;
    // The manifest last: a folder with a manifest holds a whole sample.
    for (name, bytes) in &files {
        let p = out.join(name);
        crate::fsutil::write_atomic(&p, bytes)
            .map_err(|e| invalid(format!("writing {}: {e}", p.display())))?;
    }
    Ok(inputs)
}

/// Replaces the files of an existing sample folder with an extended sample (the manifest
/// last).
pub fn write_extended(
    dir: &Path,
    s: &Sample,
    prov: &Provenance,
    inputs: &[InputFile],
) -> Result<(), SampleError> {
    for (name, bytes) in render(s, prov, inputs)? {
        let p = dir.join(name);
        crate::fsutil::write_atomic(&p, &bytes)
            .map_err(|e| invalid(format!("writing {}: {e}", p.display())))?;
    }
    Ok(())
}

/// The plan recorded in a manifest (its audit history found beside the plan file).
pub fn recorded_plan(r: &Recorded) -> Result<SamplePlan, SampleError> {
    let dir = Path::new(&r.plan_file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    Ok(SamplePlan::parse(&r.plan_text, &r.plan_file, &dir)?)
}

/// Which recorded inputs differ from the files now: each named with what changed.
pub fn changed_inputs(r: &Recorded, now: &[InputFile]) -> Vec<String> {
    let mut out = Vec::new();
    for f in &r.inputs {
        match now.iter().find(|n| n.role == f.role && n.name == f.name) {
            None => out.push(format!("{} file {} is missing now", f.role, f.name)),
            Some(n) if n.sha256 != f.sha256 => out.push(format!(
                "{} file {} has changed since the draw (SHA-256 {} then, {} now)",
                f.role,
                f.name,
                &f.sha256[..12.min(f.sha256.len())],
                &n.sha256[..12]
            )),
            _ => {}
        }
    }
    for n in now {
        if !r
            .inputs
            .iter()
            .any(|f| f.role == n.role && f.name == n.name)
        {
            out.push(format!(
                "{} file {} was not there at the draw",
                n.role, n.name
            ));
        }
    }
    out
}

/// Compares a sample folder with a re-draw: the selected cases, then every file byte for
/// byte. Returns the differences (none: the sample is exactly what the plan, seed and data
/// give).
pub fn compare(
    dir: &Path,
    r: &Recorded,
    redrawn: &Sample,
    prov: &Provenance,
) -> Result<Vec<String>, SampleError> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&r.plan_file) {
        if text != r.plan_text {
            out.push(format!(
                "the plan file {} has changed since the draw (the re-draw uses the plan \
                 recorded in the manifest)",
                r.plan_file
            ));
        }
    }
    // The selected cases, in order.
    let recorded: Vec<(String, String)> = r.doc["selected"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["stratum"].as_str().unwrap_or("").to_string(),
                        x["case_id"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut sel: Vec<&super::Selected> = redrawn.selected.iter().collect();
    sel.sort_by_key(|x| (x.stratum, x.order));
    let now: Vec<(String, String)> = sel
        .iter()
        .map(|x| {
            (
                redrawn.strata[x.stratum].name.clone(),
                redrawn.cases[x.case].case_id.clone(),
            )
        })
        .collect();
    if recorded != now {
        let only_then: Vec<String> = recorded
            .iter()
            .filter(|c| !now.contains(c))
            .map(|(s, c)| format!("{c} ({s})"))
            .collect();
        let only_now: Vec<String> = now
            .iter()
            .filter(|c| !recorded.contains(c))
            .map(|(s, c)| format!("{c} ({s})"))
            .collect();
        out.push(format!(
            "the re-draw selects different cases: {} recorded, {} re-drawn; only in the \
             manifest: [{}]; only in the re-draw: [{}]{}",
            recorded.len(),
            now.len(),
            list(&only_then),
            list(&only_now),
            if only_then.is_empty() && only_now.is_empty() {
                " (the same cases in another order)"
            } else {
                ""
            }
        ));
    }
    // Every file, byte for byte, against the re-draw and against the recorded hashes.
    for (name, bytes) in render(redrawn, prov, &r.inputs)? {
        let p = dir.join(name);
        let on_disk = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) => {
                out.push(format!("{name} cannot be read: {e}"));
                continue;
            }
        };
        if name == MANIFEST {
            continue;
        }
        if manifest::recorded_output(r, name).as_deref()
            != Some(manifest::sha256_hex(&on_disk).as_str())
        {
            out.push(format!(
                "{name} is not the file the draw wrote (its SHA-256 differs from the \
                 manifest's): it has been edited{}",
                first_difference(&on_disk, &bytes)
            ));
        } else if on_disk != bytes {
            out.push(format!(
                "{name} differs from the re-draw{}",
                first_difference(&on_disk, &bytes)
            ));
        }
    }
    Ok(out)
}

fn list(v: &[String]) -> String {
    if v.len() > 10 {
        format!("{}, ... {} more", v[..10].join(", "), v.len() - 10)
    } else {
        v.join(", ")
    }
}

/// ", first at line N" for text files.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (Ok(a), Ok(b)) = (std::str::from_utf8(a), std::str::from_utf8(b)) else {
        return String::new();
    };
    match a.lines().zip(b.lines()).position(|(x, y)| x != y) {
        Some(i) => format!(
            ", first at line {}: `{}` (re-drawn: `{}`)",
            i + 1,
            a.lines().nth(i).unwrap_or(""),
            b.lines().nth(i).unwrap_or("")
        ),
        None if a.lines().count() != b.lines().count() => format!(
            ", {} lines on disk, {} re-drawn",
            a.lines().count(),
            b.lines().count()
        ),
        None => String::new(),
    }
}
