//! Writing outputs safely. Every command that writes goes through here:
//!
//! - [`check_output`] / [`check_output_dir`] before anything is written: never inside the
//!   command's own inputs (its data folder, plan, calendar, metric definitions), never over
//!   them, and never inside an audit sample folder (one holding a csc-audit `manifest.json`);
//! - [`write_atomic`] for each file: a temporary file in the same folder, then a rename, so a
//!   reader never sees half a file and a crash never leaves one; every write error surfaces,
//!   and a target that is not a regular file (a device, FIFO, socket, symlink or folder) is
//!   refused rather than replaced;
//! - [`Staged`] for a whole folder (a sample, a pack): built beside its target and renamed
//!   into place only when complete, with the rename as the exclusive claim, so two runs
//!   never merge into or silently overwrite one folder.

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The file that makes a folder an audit sample folder (see [`is_sample_folder`]).
pub const SAMPLE_MANIFEST: &str = "manifest.json";

/// Names the kind of a file that is not a regular file, or `None` for a regular file.
fn irregular_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_symlink() {
        return Some("a symbolic link");
    }
    if t.is_dir() {
        return Some("a folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_char_device() || t.is_block_device() {
            return Some("a device");
        }
    }
    Some("not a regular file")
}

/// Refuses a target that exists and is not a regular file: renaming over it would replace
/// a device node, FIFO or symlink with a regular file (and write nothing where the user
/// meant).
pub fn refuse_irregular(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => match irregular_kind(&meta) {
            None => Ok(()),
            Some(kind) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} is {kind}, not a regular file; csc-audit writes only regular files: \
                     give the path of a file to create or replace",
                    path.display()
                ),
            )),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// A name no other process or thread uses at the same time: the process id, a counter and
/// the clock.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `bytes` to `path` through a temporary file beside it and a rename. Refuses a
/// target that is not a regular file ([`refuse_irregular`]); every error of the write, the
/// sync and the rename is returned (nothing is reported written that was not).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    refuse_irregular(path)?;
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} does not name a file", path.display()),
            )
        })?;
    let tmp = dir.join(format!(".{name}.tmp-{}", unique_suffix()));
    let result = (|| {
        // create_new: never follow or reuse something already at the temporary name.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.flush()?;
        f.sync_all()?;
        drop(f);
        // Checked again just before the rename: the target may have been made meanwhile.
        refuse_irregular(path)?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The largest definition file read (a metric file, standards, a sample plan, a calendar):
/// the longest shipped is a few KB, and the TOML reader needs several times the size.
pub const MAX_DEFINITION_BYTES: u64 = 1 << 20;
/// The largest other input read whole (an extract table, an audit history, audit results,
/// a manifest, a list CSV): a national extract's largest table is under 2 GB.
pub const MAX_INPUT_BYTES: u64 = 4 << 30;

/// Reads a file a command was given, refusing (never opening) what is not a regular file
/// once links are followed (a device such as /dev/zero would never end, a pipe would
/// wait for ever) and a file larger than `limit` bytes, whatever it grows to while read.
pub fn read_input(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a folder"
        } else {
            "a device, pipe or socket"
        };
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{} is {what}, not a file: give the path of a file",
                path.display()
            ),
        ));
    }
    let too_big = || {
        Error::new(
            ErrorKind::InvalidData,
            format!(
                "{} is larger than the {} MiB csc-audit reads for this kind of file: is it the right file?",
                path.display(),
                limit >> 20
            ),
        )
    };
    // Never more than the file says it holds: a /proc or /sys file says 0 and never ends.
    // The size is the open file's own, so a file swapped for another in between is read as
    // what was opened.
    let file = std::fs::File::open(path)?;
    let opened = file.metadata()?;
    if !opened.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{} changed into something that is not a file while it was opened: give the path of a file", path.display()),
        ));
    }
    let len = opened.len();
    if len > limit {
        return Err(too_big());
    }
    let mut bytes = read_parts(&file, len).map_err(|e| match e.kind() {
        ErrorKind::UnexpectedEof => Error::new(
            ErrorKind::InvalidData,
            format!(
                "{} changed while it was read (it ended before the {len} bytes it held when \
                 opened): wait until it is saved, then run again",
                path.display()
            ),
        ),
        _ => e,
    })?;
    if file.take(1).read_to_end(&mut bytes)? > 0 {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "{} reads as more than the {len} bytes it says it holds (a /proc or /sys file, or \
                 a file still being written): copy it to an ordinary file first",
                path.display()
            ),
        ));
    }
    Ok(bytes)
}

/// Files at least this large are read in parts on every core where reads can be positioned
/// (Unix): copying from the page cache and the first touch of each new page cost more than
/// the disk does.
#[cfg_attr(not(unix), allow(dead_code))]
const READ_IN_PARTS: u64 = 16 << 20;

/// The memory of a large file's text the load has finished with, kept for the next large
/// file: its pages are in place already, where a new buffer's would each be faulted in
/// and zeroed by the kernel (opening England's files took 1.9 s, 1.3 s with this).
static SPARE: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

fn spare() -> std::sync::MutexGuard<'static, Vec<u8>> {
    SPARE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps the memory of `bytes`, a large file's text read with [`read_input`], for the next
/// large read (in place of any kept before).
pub fn recycle(bytes: Vec<u8>) {
    if bytes.capacity() as u64 >= READ_IN_PARTS {
        *spare() = bytes;
    }
}

/// Frees the memory [`recycle`] kept: once the last file is read.
pub fn drop_spare() {
    drop(std::mem::take(&mut *spare()));
}

/// A zeroed buffer of `size` bytes for a file's text: see [`reuse`]. Every read takes the
/// kept memory, so none is held past the next file, large or small.
fn buffer(size: usize) -> Vec<u8> {
    let kept = std::mem::take(&mut *spare());
    reuse(kept, size).unwrap_or_else(|| vec![0u8; size])
}

/// `kept`, cleared to `size` zero bytes, when `size` is large (at least [`READ_IN_PARTS`])
/// and `kept` holds it but is at most twice as large: never much more memory held for a
/// file than it needs. `None` (and `kept` freed) otherwise.
fn reuse(mut kept: Vec<u8>, size: usize) -> Option<Vec<u8>> {
    let fits = kept.capacity() >= size && kept.capacity() / 2 <= size;
    if (size as u64) < READ_IN_PARTS || !fits {
        return None;
    }
    kept.clear();
    kept.resize(size, 0);
    Some(kept)
}

/// The first `len` bytes of `file`, leaving it positioned after them. A file that ends
/// sooner (cut while being read) is an error.
fn read_parts(file: &std::fs::File, len: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    let size = usize::try_from(len).map_err(|_| {
        Error::new(
            ErrorKind::InvalidData,
            "the file is larger than this computer can address",
        )
    })?;
    let mut bytes = buffer(size);
    #[cfg(unix)]
    if len >= READ_IN_PARTS {
        use std::io::Seek;
        let threads = crate::par::cores();
        let part = size.div_ceil(threads);
        let parts: Vec<(usize, &mut [u8])> = bytes.chunks_mut(part).enumerate().collect();
        // Positioned reads: the parts never share a file offset.
        crate::par::par_map(
            parts,
            |(_, b)| b.len() as u64,
            |(k, b)| std::os::unix::fs::FileExt::read_exact_at(file, b, (k * part) as u64),
        )
        .into_iter()
        .collect::<std::io::Result<()>>()?;
        (&*file).seek(std::io::SeekFrom::Start(len))?;
        return Ok(bytes);
    }
    (&*file).read_exact(&mut bytes)?;
    Ok(bytes)
}

/// [`read_input`] of a definition (at most [`MAX_DEFINITION_BYTES`]), as UTF-8 text.
pub fn read_definition(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_input(path, MAX_DEFINITION_BYTES)?).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} is not UTF-8 text (byte {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// The absolute, canonical form of a path that may not exist yet, walked a component at a
/// time as the system would once the missing folders are made: whenever the path so far
/// exists it is canonicalised (symlinks resolved by the system), a missing folder is added
/// as written, and a `..` takes off the last component (of a path that is canonical or
/// does not exist, so it is the real parent). `root/new/../link`, with `link` a symlink,
/// resolves through the link.
pub fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
        if std::fs::symlink_metadata(&out).is_ok() {
            if let Ok(real) = out.canonicalize() {
                out = real;
            }
        }
    }
    Ok(out)
}

/// Whether `dir` is an audit sample folder: it holds a `manifest.json` that csc-audit wrote
/// (it names csc-audit), or a `manifest.json` beside a `sample.csv` (a sample, even with
/// its manifest damaged).
pub fn is_sample_folder(dir: &Path) -> bool {
    let manifest = dir.join(SAMPLE_MANIFEST);
    if !manifest.is_file() {
        return false;
    }
    if dir.join("sample.csv").exists() {
        return true;
    }
    match std::fs::read(&manifest) {
        Ok(b) => b.windows(11).any(|w| w == b"\"csc-audit "),
        // Unreadable: protect it.
        Err(_) => true,
    }
}

/// A sample folder inside `dir` (at any depth, links not followed) other than `except`
/// (the command's own), if any: a command that replaces `dir` whole would delete it.
pub fn sample_within(dir: &Path, except: &Path) -> Option<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    // Bounded: a folder of more than this many folders is not a pack's.
    let mut budget = 100_000usize;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            budget = budget.checked_sub(1)?;
            if e.path() == except {
                continue;
            }
            if is_sample_folder(&e.path()) {
                return Some(e.path());
            }
            stack.push(e.path());
        }
    }
    None
}

/// The sample folder `path` is in (or is, when `include_self`), if any.
fn enclosing_sample(path: &Path, include_self: bool) -> Option<PathBuf> {
    let start = if include_self {
        Some(path)
    } else {
        path.parent()
    };
    start?
        .ancestors()
        .find(|a| a.is_dir() && is_sample_folder(a))
        .map(Path::to_path_buf)
}

fn check_inputs(target: &Path, shown: &Path, inputs: &[&Path]) -> Result<(), String> {
    for input in inputs {
        let Ok(i) = resolve(input) else { continue };
        if target == i || target.starts_with(&i) {
            let what = if target == i { "it is" } else { "it is inside" };
            return Err(format!(
                "will not write {}: {what} {}, which this command reads; csc-audit never \
                 writes into its own inputs: choose an --out outside it",
                shown.display(),
                input.display()
            ));
        }
        if i.starts_with(target) {
            return Err(format!(
                "will not write {}: it holds {}, which this command reads; choose an --out \
                 that does not contain the inputs",
                shown.display(),
                input.display()
            ));
        }
    }
    Ok(())
}

/// Checks a file a command is about to write: refused when it is (or is inside) one of the
/// command's `inputs` (data folder or file, plan, audit history, calendar, metric
/// definitions: whatever it reads), or inside an audit sample folder (only `sample` and
/// `sample extend` write there, through their own path). Paths are compared after
/// [`resolve`], so symlinks, `..` and relative paths cannot get round it. Call it before
/// any work, for every output path; `inputs` that do not exist are compared as given.
pub fn check_output(path: &Path, inputs: &[&Path]) -> Result<(), String> {
    let target = resolve(path).map_err(|e| format!("{}: {e}", path.display()))?;
    check_inputs(&target, path, inputs)?;
    if let Some(s) = enclosing_sample(&target, true) {
        return Err(format!(
            "will not write {}: {} is an audit sample folder, and a sample is changed only \
             by `csc-audit sample` (an edited sample no longer verifies): choose an --out \
             outside it",
            path.display(),
            s.display()
        ));
    }
    Ok(())
}

/// Checks a folder a command creates or replaces as a whole (a sample's `--out`, a pack's
/// `--out`): as [`check_output`], except that the folder may itself be a sample folder
/// (whether to replace it is the caller's decision), and it may not contain an input (it
/// would be replaced with it).
pub fn check_output_dir(dir: &Path, inputs: &[&Path]) -> Result<(), String> {
    let target = resolve(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    check_inputs(&target, dir, inputs)?;
    if let Some(s) = enclosing_sample(&target, false) {
        return Err(format!(
            "will not write {}: it is inside {}, an audit sample folder; choose an --out \
             outside it",
            dir.display(),
            s.display()
        ));
    }
    Ok(())
}

/// A folder being built beside its target (`.NAME.tmp-...` in the same parent, so the
/// final rename stays on one file system), moved into place whole by [`Staged::publish`].
/// Dropped without publishing (an error, a panic), it is removed: an interrupted run leaves
/// the target as it was.
pub struct Staged {
    target: PathBuf,
    tmp: PathBuf,
    published: bool,
}

impl Staged {
    /// Creates the temporary folder (and the target's parent folders).
    pub fn new(target: &Path) -> std::io::Result<Staged> {
        let parent = parent_dir(target);
        std::fs::create_dir_all(parent)?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{} does not name a folder", target.display()),
                )
            })?;
        recover(target);
        let tmp = parent.join(format!(".{name}.tmp-{}", unique_suffix()));
        // create_dir is exclusive: the temporary folder is this run's alone. The marker says
        // csc-audit made it, so that `recover` never touches a folder it did not make.
        std::fs::create_dir(&tmp)?;
        std::fs::write(tmp.join(STAGING_MARKER), b"")?;
        Ok(Staged {
            target: target.to_path_buf(),
            tmp,
            published: false,
        })
    }

    /// The temporary folder to write into.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Moves the folder into place. Without `replace`, the target must not exist or be an
    /// empty folder: the rename is the claim (the system renames a folder only onto nothing
    /// or an empty folder), so of two runs exactly one wins, and the other gets an
    /// `AlreadyExists` error saying the folder was created by another run. With `replace`, an
    /// existing target is first moved aside (itself a claim: only one run can move it) and
    /// removed once the new folder is in place; never merged.
    pub fn publish(mut self, replace: bool) -> std::io::Result<()> {
        let aside = if replace && std::fs::symlink_metadata(&self.target).is_ok() {
            let name = self
                .target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let aside = parent_dir(&self.target).join(format!(".{name}.old-{}", unique_suffix()));
            match std::fs::rename(&self.target, &aside) {
                Ok(()) => {
                    let _ = std::fs::write(aside.join(STAGING_MARKER), b"");
                    Some(aside)
                }
                // Another run moved it first; the rename below decides which run wins.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        std::fs::remove_file(self.tmp.join(STAGING_MARKER))?;
        if let Err(e) = std::fs::rename(&self.tmp, &self.target) {
            let taken = std::fs::symlink_metadata(&self.target).is_ok();
            // Nothing took its place: the replaced folder goes back.
            let aside = match aside {
                Some(a) if !taken && put_back(&a, &self.target) => None,
                a => a,
            };
            let kept = aside
                .as_ref()
                .map(|a| format!("; the folder it replaced is kept at {}", a.display()))
                .unwrap_or_default();
            return Err(if taken {
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!(
                        "{} was created by another run while this one was writing it ({e}); \
                         nothing of this run was kept{kept}",
                        self.target.display()
                    ),
                )
            } else {
                std::io::Error::new(e.kind(), format!("{e}{kept}"))
            });
        }
        self.published = true;
        if let Some(a) = aside {
            // What was replaced may have been a file or a symlink (removed itself, never
            // followed) as well as a folder.
            match std::fs::symlink_metadata(&a) {
                Ok(m) if m.is_dir() => std::fs::remove_dir_all(&a)?,
                _ => std::fs::remove_file(&a)?,
            }
        }
        // Best effort: make the rename durable.
        if let Ok(d) = std::fs::File::open(parent_dir(&self.target)) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// The file in a folder csc-audit is building (or has moved aside) that says so.
pub const STAGING_MARKER: &str = ".csc-audit-staging";

/// Moves a folder that was moved aside back to `target`, without its marker.
fn put_back(aside: &Path, target: &Path) -> bool {
    let _ = std::fs::remove_file(aside.join(STAGING_MARKER));
    std::fs::rename(aside, target).is_ok()
}

/// Tidies what a killed run left beside `target`, when the process that made it is gone
/// (known from /proc; elsewhere nothing is touched): a folder moved aside by
/// [`Staged::publish`] with nothing in its place goes back to `target`; half-built folders,
/// and folders already replaced, are deleted. Run by [`Staged::new`], so the next run of
/// any command that builds folders this way puts things right.

pub fn recover(target: &Path) {
    let (Some(name), true) = (target.file_name(), Path::new("/proc/self").exists()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(parent_dir(target)) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut left: Vec<(bool, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let (what, suffix) = n.strip_prefix(&prefix)?.split_once('-')?;
            let pid: u32 = suffix.split('-').next()?.parse().ok()?;
            let dead =
                pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists();
            // Only folders (never through a link) that hold csc-audit's marker.
            let ours = std::fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_dir())
                && e.path().join(STAGING_MARKER).is_file();
            matches!(what, "tmp" | "old")
                .then_some((what == "old", e.path()))
                .filter(|_| dead && ours)
        })
        .collect();
    left.sort();
    for (old, p) in left {
        if old && std::fs::symlink_metadata(target).is_err() && put_back(&p, target) {
            continue;
        }
        let _ = std::fs::remove_dir_all(&p);
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// An exclusive lock on a folder, held while a command changes it (`sample extend`): a
/// folder `.NAME.lock` beside it, made with `create_dir` (which fails if it exists), removed
/// when dropped. A second run fails at once saying so; one killed leaves the lock, and the
/// message says how to remove it.
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    pub fn take(target: &Path) -> Result<Lock, String> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = parent_dir(target).join(format!(".{name}.lock"));
        match std::fs::create_dir(&path) {
            Ok(()) => Ok(Lock { path }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(format!(
                "{} is being changed by another run (the lock {} exists); wait for it, or, if \
                 no other run is going (one was interrupted), remove {} and try again",
                target.display(),
                path.display(),
                path.display()
            )),
            Err(e) => Err(format!("locking {}: {e}", target.display())),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.path);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_into_the_memory_of_one_read_before_is_its_own_bytes() {
        let dir = std::env::temp_dir().join(format!("csc-spare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let part = READ_IN_PARTS as usize;
        // A larger file's text, every byte set, then files that fit in its memory (one
        // exactly, one of half its size) and one too small to be given it.
        for (i, n) in [part * 2 + 9, part * 2 + 9, part + 5, part - 1]
            .into_iter()
            .enumerate()
        {
            let mut spent = vec![0xAA; part * 2 + 9];
            spent.truncate(part);
            recycle(spent);
            let path = dir.join(format!("f{i}.csv"));
            let bytes: Vec<u8> = (0..n).map(|k| (k * 13 % 241) as u8).collect();
            std::fs::write(&path, &bytes).unwrap();
            let read = read_input(&path, MAX_INPUT_BYTES).unwrap();
            assert_eq!(read.len(), n);
            assert!(read == bytes, "file {i} of {n} bytes");
            recycle(read);
        }
        drop_spare();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_buffer_is_reused_only_for_a_large_file_it_holds_in_at_most_twice_its_size() {
        let part = READ_IN_PARTS as usize;
        let kept = || {
            let mut b = vec![0xAA; part * 2];
            b.truncate(3);
            b
        };
        // Reused: the same memory, zeroed, at the size asked.
        for size in [part, part + 5, part * 2] {
            let old = kept();
            let at = old.as_ptr();
            let b = reuse(old, size).expect("reused");
            assert_eq!(b.as_ptr(), at);
            assert!(b.len() == size && b.iter().all(|&x| x == 0));
        }
        // Too small a file (more than twice over, or under the large-file size), or too
        // large for the memory: a new buffer.
        assert!(reuse(kept(), part - 1).is_none());
        assert!(reuse(vec![0; part * 3], part + 1).is_none());
        assert!(reuse(kept(), part * 2 + 1).is_none());
        assert!(reuse(Vec::new(), part).is_none());
        // What buffer() gives out, from either, is zeroed at the size asked.
        recycle(vec![0xAA; part * 2]);
        let b = buffer(part + 5);
        assert!(b.len() == part + 5 && b.iter().all(|&x| x == 0));
    }

    #[test]
    fn a_large_file_read_in_parts_is_every_byte_once() {
        let dir = std::env::temp_dir().join(format!("csc-parts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.csv");
        // Past the size read in parts, and not a multiple of the part size.
        let n = READ_IN_PARTS as usize + 12_345;
        let bytes: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read_input(&path, MAX_INPUT_BYTES).unwrap(), bytes);
        // And the limit still holds for it.
        let err = read_input(&path, READ_IN_PARTS).unwrap_err();
        assert!(err.to_string().contains("larger than the 16 MiB"), "{err}");
        let small = dir.join("small.csv");
        std::fs::write(&small, b"a,b\n1,2\n").unwrap();
        assert_eq!(read_input(&small, MAX_INPUT_BYTES).unwrap(), b"a,b\n1,2\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resolve_takes_dotdot_and_symlinks_off() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("data");
        std::fs::create_dir(&real).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&real, d.path().join("link")).unwrap();
        let canon = real.canonicalize().unwrap();
        assert_eq!(
            resolve(&d.path().join("new/../data/x.csv")).unwrap(),
            canon.join("x.csv")
        );
        #[cfg(unix)]
        assert_eq!(
            resolve(&d.path().join("link/y/../x.csv")).unwrap(),
            canon.join("x.csv")
        );
    }

    #[test]
    fn outputs_inside_inputs_or_samples_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        let sample = d.path().join("s");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&sample).unwrap();
        std::fs::write(sample.join("manifest.json"), "{\"tool\": \"csc-audit 1\"}").unwrap();
        let inputs = [data.as_path()];
        assert!(check_output(&data.join("referrals.csv"), &inputs).is_err());
        assert!(check_output(&data.join("../data/./x.csv"), &inputs).is_err());
        assert!(check_output(&sample.join("manifest.json"), &inputs).is_err());
        assert!(check_output(&sample.join("sub/x.csv"), &inputs).is_err());
        assert!(check_output(&d.path().join("out.csv"), &inputs).is_ok());
        // A folder holding the data would replace it.
        assert!(check_output_dir(d.path(), &inputs).is_err());
        // A sample may be replaced as a whole (the caller decides); not nested in one.
        assert!(check_output_dir(&sample, &inputs).is_ok());
        assert!(check_output_dir(&sample.join("inner"), &inputs).is_err());
    }

    #[test]
    fn a_folder_a_killed_run_moved_aside_is_put_back_by_the_next_run() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("S");
        // Killed after moving the old folder aside, before the new one went in (pid
        // 4000000000 is beyond any Linux pid, so it is gone).
        let aside = d.path().join(".S.old-4000000000-0-1");
        std::fs::create_dir(&aside).unwrap();
        std::fs::write(aside.join("manifest.json"), b"old").unwrap();
        std::fs::write(aside.join(STAGING_MARKER), b"").unwrap();
        let half = d.path().join(".S.tmp-4000000000-0-2");
        std::fs::create_dir(&half).unwrap();
        std::fs::write(half.join(STAGING_MARKER), b"").unwrap();
        // Named like a staging folder but without the marker (an input, say): never touched.
        let data = d.path().join(".S.tmp-4000000002-data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("children.csv"), b"child_id\n").unwrap();
        let staged = Staged::new(&target).unwrap();
        assert_eq!(std::fs::read(target.join("manifest.json")).unwrap(), b"old");
        assert!(!target.join(STAGING_MARKER).exists());
        drop(staged);
        let mut names: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".S.tmp-4000000002-data", "S"]);
        assert!(data.join("children.csv").is_file());
    }

    #[test]
    fn staged_folders_publish_once() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("t");
        let a = Staged::new(&target).unwrap();
        std::fs::write(a.path().join("a"), "a").unwrap();
        let b = Staged::new(&target).unwrap();
        std::fs::write(b.path().join("b"), "b").unwrap();
        a.publish(false).unwrap();
        let e = b.publish(false).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
        assert!(target.join("a").exists() && !target.join("b").exists());
        // Replace: the whole folder, not merged.
        let c = Staged::new(&target).unwrap();
        std::fs::write(c.path().join("c"), "c").unwrap();
        c.publish(true).unwrap();
        assert!(target.join("c").exists() && !target.join("a").exists());
        // Nothing left beside it.
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        // A file in the way is refused without `replace`, replaced with it.
        let file = d.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert!(Staged::new(&file).unwrap().publish(false).is_err());
        Staged::new(&file).unwrap().publish(true).unwrap();
        assert!(file.is_dir());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2);
    }
}
