//! A pack is built whole in a new folder beside its target and moved into place only when
//! complete and checked: a run that fails or is killed leaves the old pack as it was, and
//! `--force` replaces the whole folder (the old one renamed aside, the new one renamed in,
//! the old one deleted), so nothing of an earlier pack survives beside the new one. What a
//! killed run leaves beside the target (a hidden `.NAME.tmp-PID-...` or `.NAME.old-PID-...`
//! folder) is put back or deleted by the next run ([`crate::fsutil::recover`]).

use std::path::{Path, PathBuf};

/// Why a pack folder could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{0}")]
    Refused(String),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The build or the check refused the pack; nothing was moved into place.
    #[error("{0}")]
    Build(String),
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FolderError + 'a {
    move |source| FolderError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Refuses a target that is not a folder, or one that holds anything, unless `force`.
pub fn check_target(out: &Path, force: bool) -> Result<(), FolderError> {
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("reading", out)(e)),
    };
    if !meta.is_dir() {
        return Err(FolderError::Refused(format!(
            "{} exists and is not a folder; choose another --out folder",
            out.display()
        )));
    }
    let empty = std::fs::read_dir(out)
        .map_err(io("reading", out))?
        .next()
        .is_none();
    if !empty && !force {
        return Err(FolderError::Refused(format!(
            "{} is not empty (it may hold a pack); choose another --out folder, or add \
             --force to replace the whole folder",
            out.display()
        )));
    }
    Ok(())
}

/// Builds a pack into a new folder beside `out` with `fill`, has `check` read it back, and
/// only then moves it into place (replacing `out` whole when `force`), by
/// [`crate::fsutil::Staged`], the one way csc-audit builds a folder. On any failure the
/// new folder is deleted and `out` is left as it was.
pub fn write_pack(
    out: &Path,
    force: bool,
    fill: impl FnOnce(&Path) -> Result<(), String>,
    check: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), FolderError> {
    crate::fsutil::recover(out);
    check_target(out, force)?;
    let staged = crate::fsutil::Staged::new(out).map_err(io("creating a folder beside", out))?;
    fill(staged.path())
        .and_then(|()| check(staged.path()))
        .map_err(FolderError::Build)?;
    staged
        .publish(force)
        .map_err(io("moving the new pack to", out))
}

/// Writes `bytes` at `rel` inside the pack folder `dir`, creating its folders.
pub fn write_file(dir: &Path, rel: &str, bytes: &[u8]) -> Result<(), String> {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    std::fs::write(&p, bytes).map_err(|e| format!("writing {}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_build_leaves_the_old_pack_and_no_new_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("P");
        write_pack(&out, false, |d| write_file(d, "a.txt", b"old"), |_| Ok(())).unwrap();
        let err = write_pack(
            &out,
            true,
            |d| write_file(d, "b.txt", b"new"),
            |_| Err("refused".into()),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "refused");
        assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"old");
        assert!(!out.join("b.txt").exists());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only P beside it");
        // --force replaces the whole folder; without it a non-empty folder is refused.
        write_pack(&out, true, |d| write_file(d, "b.txt", b"new"), |_| Ok(())).unwrap();
        assert!(!out.join("a.txt").exists());
        assert!(write_pack(&out, false, |_| Ok(()), |_| Ok(())).is_err());
    }

    #[test]
    fn what_a_killed_run_left_is_put_back_or_deleted() {
        if !Path::new("/proc/self").exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("P");
        // Killed between moving the old pack aside and the new one in; and mid-build.
        let old = dir.path().join(".P.old-4000000000-0-1");
        let new = dir.path().join(".P.tmp-4000000001-0-2");
        write_file(&old, "report.html", b"old").unwrap();
        write_file(&new, "charts/x.svg", b"half").unwrap();
        for made in [&old, &new] {
            write_file(made, crate::fsutil::STAGING_MARKER, b"").unwrap();
        }
        crate::fsutil::recover(&out);
        assert_eq!(std::fs::read(out.join("report.html")).unwrap(), b"old");
        assert!(!out.join(crate::fsutil::STAGING_MARKER).exists());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only P");
    }
}
