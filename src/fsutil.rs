//! Writing outputs safely: a temporary file in the same folder, then a rename, so a reader
//! never sees half a file and a crash never leaves one.

use std::io::Write;
use std::path::Path;

pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Refuses to write extract files into a folder that holds extract files something else
/// wrote, unless `force`. `marker` is the file the writer leaves beside its tables (a folder
/// holding it was written by the same kind of writer); `writer` names it in the message.
pub fn guard_extract_folder(
    out: &Path,
    marker: &str,
    writer: &str,
    force: bool,
) -> Result<(), String> {
    let foreign: Vec<String> = crate::schema::TABLES
        .iter()
        .map(|t| t.file_name())
        .filter(|f| out.join(f).exists())
        .collect();
    if !force && !foreign.is_empty() && !out.join(marker).exists() {
        return Err(format!(
            "{} already holds extract files not written by {writer} ({}); choose another --out \
             folder, or add --force to replace them",
            out.display(),
            foreign.join(", ")
        ));
    }
    Ok(())
}
