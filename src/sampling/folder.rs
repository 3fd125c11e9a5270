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

/// The files of a sample folder, in memory: the sample, the auditors' forms, and the
/// manifest that records them all.
pub fn render(
    s: &Sample,
    prov: &Provenance,
    inputs: &[InputFile],
) -> Result<Vec<(String, Vec<u8>)>, SampleError> {
    let mut files = vec![
        (SAMPLE_CSV.to_string(), manifest::sample_csv(s)),
        (SAMPLE_XLSX.to_string(), manifest::sample_xlsx(s)?),
    ];
    files.extend(super::forms::files(s)?);
    let outputs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let man = manifest::manifest(
        s,
        prov.data,
        inputs,
        prov.metrics_origin,
        prov.calendar_name,
        &outputs,
    );
    files.push((MANIFEST.to_string(), man));
    Ok(files)
}

/// A folder that already holds a sample is refused unless `force`: an audit sample is
/// never replaced silently. A folder holding anything else is refused even with `force`: a
/// sample folder holds its sample, and `--force` replaces the whole folder.
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
    if existing.is_empty() {
        if let Ok(entries) = std::fs::read_dir(out) {
            let others: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .take(5)
                .collect();
            if !others.is_empty() {
                return Err(invalid(format!(
                    "{} already holds files that are not a sample ({}); a sample is written \
                     into a new or empty folder: choose another --out",
                    out.display(),
                    others.join(", ")
                )));
            }
        } else if out.exists() {
            return Err(invalid(format!(
                "{} exists and is not a folder; choose another --out",
                out.display()
            )));
        }
    }
    Ok(())
}

/// Writes a new sample folder (see [`refuse_existing`]): built whole in a temporary folder
/// beside `out`, then renamed into place ([`crate::fsutil::Staged`]), so two runs never
/// merge or silently overwrite: the one that loses the rename fails saying the folder was
/// created by another run. `force` replaces the whole folder.
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
    let io =
        |what: &str, p: &Path, e: std::io::Error| invalid(format!("{what} {}: {e}", p.display()));
    let staged =
        crate::fsutil::Staged::new(out).map_err(|e| io("creating a folder beside", out, e))?;
    for (name, bytes) in &files {
        let p = staged.path().join(name);
        write_file(&p, bytes).map_err(|e| io("writing", &p, e))?;
    }
    staged.publish(force).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            invalid(e.to_string())
        } else {
            io("moving the sample into", out, e)
        }
    })?;
    Ok(inputs)
}

/// Replaces a sample folder with its extension, whole: the new sample is written into a
/// folder beside it with a copy of everything else the folder holds (the auditors' own
/// files), then swapped into place ([`crate::fsutil::Staged::publish`]): an interrupted
/// extension leaves the old sample as it was. The caller holds the folder's lock
/// ([`crate::fsutil::Lock`]), so two extensions never interleave.
pub fn write_extended(
    dir: &Path,
    s: &Sample,
    prov: &Provenance,
    inputs: &[InputFile],
) -> Result<(), SampleError> {
    let files = render(s, prov, inputs)?;
    let io =
        |what: &str, p: &Path, e: std::io::Error| invalid(format!("{what} {}: {e}", p.display()));
    let staged =
        crate::fsutil::Staged::new(dir).map_err(|e| io("creating a folder beside", dir, e))?;
    // Everything the folder holds but the files the draw wrote (the old ones, and the new):
    // an auditor's returned form saved beside the blank ones stays.
    let mut skip: std::collections::BTreeSet<String> =
        files.iter().map(|(n, _)| n.clone()).collect();
    skip.extend(old_outputs(dir));
    copy_others(dir, staged.path(), Path::new(""), &skip)
        .map_err(|e| io("copying the files of", dir, e))?;
    for (name, bytes) in &files {
        let p = staged.path().join(name);
        write_file(&p, bytes).map_err(|e| io("writing", &p, e))?;
    }
    staged
        .publish(true)
        .map_err(|e| io("moving the extended sample into", dir, e))
}

/// Writes one file of a sample, making its folder (`forms/`) first.
fn write_file(p: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::fsutil::write_atomic(p, bytes)
}

/// The files a sample folder's manifest says its draw wrote (`outputs`).
fn old_outputs(dir: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(dir.join(MANIFEST)) else {
        return Vec::new();
    };
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let mut names: Vec<String> = doc["outputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    names.extend([MANIFEST, SAMPLE_CSV, SAMPLE_XLSX].map(String::from));
    names
}

/// Copies what `from` holds into `to`, but the files in `skip` (paths relative to the
/// sample folder, `rel` being `from`'s).
fn copy_others(
    from: &Path,
    to: &Path,
    rel: &Path,
    skip: &std::collections::BTreeSet<String>,
) -> std::io::Result<()> {
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let name = e.file_name();
        let here = rel.join(&name);
        if skip.contains(&here.to_string_lossy().replace('\\', "/")) {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        let t = e.file_type()?;
        if t.is_dir() {
            std::fs::create_dir_all(&dst)?;
            copy_others(&src, &dst, &here, skip)?;
        } else if t.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
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

/// The first 12 characters of a hash, for messages (by character: a hostile manifest's
/// "hash" need not be ASCII).
fn short(h: &str) -> String {
    h.chars().take(12).collect()
}

/// Which recorded inputs differ from the files now: each named with what changed. The
/// manifest's hashes are compared with hashes taken now, never trusted.
pub fn changed_inputs(r: &Recorded, now: &[InputFile]) -> Vec<String> {
    let mut out = Vec::new();
    for f in &r.inputs {
        match now.iter().find(|n| n.role == f.role && n.name == f.name) {
            None => out.push(format!("{} file {} is missing now", f.role, f.name)),
            Some(n) if n.sha256 != f.sha256 => out.push(format!(
                "{} file {} has changed since the draw (SHA-256 {} recorded, {} now)",
                f.role,
                f.name,
                short(&f.sha256),
                short(&n.sha256)
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

/// Compares a sample folder with a re-draw: the plan file and the input files now against
/// the text and hashes recorded, the selected cases, then every file byte for byte, the
/// manifest included (re-rendered from the re-draw exactly as `sample` writes it: see
/// [`manifest::manifest`] for the fields that are locations). `now` are the input files as
/// hashed now, named as the manifest should name them. Returns the differences (none: the
/// sample is exactly what the plan, seed and data give).
pub fn compare(
    dir: &Path,
    r: &Recorded,
    redrawn: &Sample,
    prov: &Provenance,
    now: &[InputFile],
) -> Result<Vec<String>, SampleError> {
    let mut out = changed_inputs(r, now);
    match crate::fsutil::read_definition(std::path::Path::new(&r.plan_file)) {
        Ok(text) if text != r.plan_text => out.push(format!(
            "the plan file {} has changed since the draw (the re-draw uses the plan \
             recorded in the manifest)",
            r.plan_file
        )),
        Ok(_) => {}
        Err(e) => out.push(format!(
            "the plan file {} cannot be read ({e}): verify where the sample was drawn, \
             with the plan and its audit history where the manifest says",
            r.plan_file
        )),
    }
    out.extend(compare_selected(r, redrawn));
    // Every file, byte for byte, against the re-draw and against the recorded hashes.
    for (name, bytes) in render(redrawn, prov, now)? {
        let p = dir.join(&name);
        let on_disk = match crate::fsutil::read_input(&p, crate::fsutil::MAX_INPUT_BYTES) {
            Ok(b) => b,
            Err(e) => {
                out.push(format!("{name} cannot be read: {e}"));
                continue;
            }
        };
        if name == MANIFEST {
            if on_disk != bytes {
                out.extend(manifest_difference(&on_disk, &bytes));
            }
        } else if manifest::recorded_output(r, &name).as_deref()
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

/// The selected cases recorded against those re-drawn, in order.
fn compare_selected(r: &Recorded, redrawn: &Sample) -> Option<String> {
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
    if recorded == now {
        return None;
    }
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
    Some(format!(
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
    ))
}

/// How many differing fields of a manifest are named (the rest are counted).
const FIELDS_NAMED: usize = 10;

/// Names where a manifest on disk differs from the re-rendered one: each field (as
/// `strata[2].population`) with both values, the first line that differs.
pub fn manifest_difference(on_disk: &[u8], redrawn: &[u8]) -> Vec<String> {
    let line = first_difference(on_disk, redrawn);
    let disk: serde_json::Value = match serde_json::from_slice(on_disk) {
        Ok(v) => v,
        Err(e) => {
            return vec![format!(
                "{MANIFEST} is not the manifest the draw wrote: not JSON ({e})"
            )]
        }
    };
    let Ok(again) = serde_json::from_slice::<serde_json::Value>(redrawn) else {
        return vec![format!("{MANIFEST} differs from the re-draw{line}")];
    };
    let mut fields = Vec::new();
    field_differences(&disk, &again, String::new(), &mut fields);
    if fields.is_empty() {
        return vec![format!(
            "{MANIFEST} holds the same values as the re-draw but not the same bytes (it was \
             rewritten){line}"
        )];
    }
    let more = fields.len().saturating_sub(FIELDS_NAMED);
    let mut out: Vec<String> = fields
        .into_iter()
        .take(FIELDS_NAMED)
        .map(|(field, then, now)| {
            let hint = if field == "tool" {
                " (verify a sample with the version of csc-audit that drew it)"
            } else {
                ""
            };
            format!(
                "{MANIFEST} differs from the re-draw at `{field}`: {then} in the manifest, \
                 {now} re-drawn{hint}"
            )
        })
        .collect();
    if more > 0 {
        out.push(format!("{MANIFEST}: {more} more fields differ"));
    }
    out.push(format!("{MANIFEST} is not what the draw writes{line}"));
    out
}

/// A value for a message: JSON, cut at 80 characters.
fn shown(v: Option<&serde_json::Value>) -> String {
    let Some(v) = v else {
        return "nothing".into();
    };
    let t = v.to_string();
    if t.chars().count() > 80 {
        format!("{}...", t.chars().take(80).collect::<String>())
    } else {
        t
    }
}

/// Every field where `a` (on disk) and `b` (re-drawn) differ, in the re-draw's order: a
/// list of another length is one difference (its lengths), not one per shifted item.
fn field_differences(
    a: &serde_json::Value,
    b: &serde_json::Value,
    at: String,
    out: &mut Vec<(String, String, String)>,
) {
    use serde_json::Value;
    let named = |at: &str| {
        if at.is_empty() {
            "(the whole manifest)".to_string()
        } else {
            at.to_string()
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in y.keys().chain(x.keys().filter(|k| !y.contains_key(*k))) {
                let field = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => field_differences(p, q, field, out),
                    (p, q) => out.push((field, shown(p), shown(q))),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                field_differences(p, q, format!("{at}[{i}]"), out);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            let i = x
                .iter()
                .zip(y)
                .position(|(p, q)| p != q)
                .unwrap_or(x.len().min(y.len()));
            out.push((
                named(&at),
                format!("{} items ([{i}]: {})", x.len(), shown(x.get(i))),
                format!("{} items ([{i}]: {})", y.len(), shown(y.get(i))),
            ));
        }
        _ if a == b => {}
        _ => out.push((named(&at), shown(Some(a)), shown(Some(b)))),
    }
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
            cut(a.lines().nth(i).unwrap_or("")),
            cut(b.lines().nth(i).unwrap_or(""))
        ),
        None if a.lines().count() != b.lines().count() => format!(
            ", {} lines on disk, {} re-drawn",
            a.lines().count(),
            b.lines().count()
        ),
        None => String::new(),
    }
}

/// A line for a message: at most 100 characters.
fn cut(line: &str) -> String {
    if line.chars().count() > 100 {
        format!("{}...", line.chars().take(100).collect::<String>())
    } else {
        line.to_string()
    }
}
