//! The grammar of `[grants].files` entries: a host directory, where the guest sees it, and
//! whether it may write there.

use std::path::PathBuf;

/// One directory granted to the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGrant {
    /// Canonical path on the host.
    pub host: PathBuf,
    /// Where the guest sees it (absolute, defaults to the host path).
    pub guest: String,
    pub mode: FileMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    ReadOnly,
    ReadWrite,
}

impl FileMode {
    /// `ro` or `rw`, as a manifest and `pier grant --mode` write it.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "ro" => Ok(FileMode::ReadOnly),
            "rw" => Ok(FileMode::ReadWrite),
            other => Err(format!(
                "{other:?} is not a mode; use \"ro\" (read-only, the default) or \"rw\" (read-write)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FileMode::ReadOnly => "ro",
            FileMode::ReadWrite => "rw",
        }
    }
}
