//! Small helpers shared by the tools: hashing, time formatting, atomic writes, text detection.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3339 UTC timestamp for a system time (no time-zone database inside the sandbox).
pub fn iso8601(t: std::time::SystemTime) -> Option<String> {
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    ))
}

/// Opens `path` for reading only if it is a regular file (after following symlinks). Opening a
/// FIFO blocks until someone writes to it, and a device or socket is not a file to read: the
/// type is checked with `stat`, which never blocks on them, before anything is opened.
pub fn open_regular(path: &Path) -> std::io::Result<(std::fs::File, std::fs::Metadata)> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let file = std::fs::File::open(path)?;
    // Between the stat and the open the name may have been swapped for something else; the
    // handle is what counts.
    let opened = file.metadata()?;
    if !opened.is_file() {
        return Err(not_regular(&opened));
    }
    Ok((file, opened))
}

/// Reads a whole regular file (see [`open_regular`]).
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    let (mut file, meta) = open_regular(path)?;
    let mut data = Vec::with_capacity(meta.len().min(64 << 20) as usize);
    std::io::Read::read_to_end(&mut file, &mut data)?;
    Ok(data)
}

fn not_regular(meta: &std::fs::Metadata) -> std::io::Error {
    // The caller's error text puts the path first.
    let what = if meta.is_dir() {
        "a directory (list_directory lists it)"
    } else {
        "a FIFO, socket or device"
    };
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("not a regular file but {what}; the filesystem tools read regular files only"),
    )
}

/// True when the bytes look binary (a NUL in the first 8 KiB), as git decides.
pub fn looks_binary(data: &[u8]) -> bool {
    data.iter().take(8192).any(|&b| b == 0)
}

/// Writes `data` to `path` through a temporary file in the same folder and a rename, so readers
/// never see a half-written file and a symlink planted at `path` is replaced, not followed.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp: PathBuf = dir.join(format!(".{name}.pier-{nonce:08x}.tmp"));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Cuts `text` to at most `max` bytes on a char boundary, preferring the last line break.
pub fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    match text[..end].rfind('\n') {
        Some(nl) if nl > 0 => &text[..=nl],
        _ => &text[..end],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_known_dates() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(iso8601(t).as_deref(), Some("2000-02-29T00:00:00Z"));
        assert_eq!(
            iso8601(std::time::UNIX_EPOCH).as_deref(),
            Some("1970-01-01T00:00:00Z")
        );
    }

    #[test]
    fn cut_respects_lines_and_chars() {
        assert_eq!(cut("ab\ncd\nef", 7), "ab\ncd\n");
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("short", 10), "short");
    }
}
