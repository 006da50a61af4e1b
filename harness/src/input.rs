//! Files the user names (catalog files, expected failures, tenant configs, reports,
//! baselines): read only when they are regular files, and only up to a limit, so that a FIFO
//! cannot hang a run and a symlink to `/dev/zero` cannot exhaust memory.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The most read of a configuration file (a catalog file, expected failures, a tenant config).
pub const CONFIG_LIMIT: u64 = 4 << 20;
/// The most read of a report or a baseline (a full run's `report.json` is about 2 MiB).
pub const REPORT_LIMIT: u64 = 64 << 20;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A FIFO, a device, a directory, a socket.
    #[error("not a regular file (a {0})")]
    NotAFile(&'static str),
    /// Over the limit.
    #[error("larger than {limit} bytes, the most byoid reads of such a file")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// Not UTF-8 where text is expected.
    #[error("not UTF-8 text")]
    NotText,
    /// The file could not be opened or read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The bytes of the regular file at `path`, at most `limit` of them.
///
/// ```
/// use byoid::input::{read, InputError};
/// assert!(matches!(read("/dev/zero".as_ref(), 1024), Err(InputError::NotAFile(_))));
/// ```
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked on the
    // open file, so the path cannot be swapped between the check and the read.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        use std::os::unix::fs::FileTypeExt;
        return Err(InputError::NotAFile(if kind.is_dir() {
            "directory"
        } else if kind.is_fifo() {
            "FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "device"
        } else if kind.is_socket() {
            "socket"
        } else {
            "special file"
        }));
    }
    if meta.len() > limit {
        return Err(InputError::TooLarge { limit });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge { limit });
    }
    Ok(bytes)
}

/// The 1-based line of byte `offset` in `text`, for errors that name a file's line (a TOML
/// span's start).
///
/// ```
/// assert_eq!(byoid::input::line_of("a = 1\nb = x\n", 10), 2);
/// ```
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The text of the regular file at `path`, at most `limit` bytes.
pub fn read_to_string(path: &Path, limit: u64) -> Result<String, InputError> {
    String::from_utf8(read(path, limit)?).map_err(|_| InputError::NotText)
}
