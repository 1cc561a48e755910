//! A file logger: nothing may reach stdout or the terminal while the dashboard runs.
//!
//! httptop runs as root, often with a user's `HOME`, so the log is opened the careful way: never
//! through a symlink (root would append to whatever it points at), readable by its owner only
//! (it names addresses and paths of other people's traffic), and bounded in size (one rotated
//! copy kept), so a long run cannot fill the disk.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write as _},
    os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
    sync::Mutex,
};

/// Permissions of the log file and of the folder httptop creates for it.
const LOG_FILE_MODE: u32 = 0o600;
const LOG_DIR_MODE: u32 = 0o700;
/// Past this size the log is rotated: the current file becomes `<name>.1` (replacing the older
/// copy) and a new one starts.
pub const MAX_LOG_BYTES: u64 = 8 << 20;

struct LogFile {
    path: PathBuf,
    file: File,
    /// Bytes in `file`, counted as they are written.
    len: u64,
    max_len: u64,
}

impl LogFile {
    fn open(path: &Path, max_len: u64) -> io::Result<LogFile> {
        let file = open_private(path)?;
        let len = file.metadata()?.len();
        let mut log = LogFile {
            path: path.to_owned(),
            file,
            len,
            max_len,
        };
        if log.len >= max_len {
            log.rotate()?;
        }
        Ok(log)
    }

    fn write_line(&mut self, line: &str) -> io::Result<()> {
        if self.len + line.len() as u64 > self.max_len && self.len > 0 {
            self.rotate()?;
        }
        self.file.write_all(line.as_bytes())?;
        self.len += line.len() as u64;
        Ok(())
    }

    /// `<path>` → `<path>.1`, then a fresh `<path>`. `rename` replaces a link named `<path>.1`
    /// rather than following it, so rotation cannot be turned against another file either.
    fn rotate(&mut self) -> io::Result<()> {
        let mut rotated = self.path.clone().into_os_string();
        rotated.push(".1");
        fs::rename(&self.path, &rotated)?;
        self.file = open_private(&self.path)?;
        self.len = 0;
        Ok(())
    }
}

/// Opens `path` for appending, created `0600`; refuses a symlink (`O_NOFOLLOW`) and anything
/// but a regular file, and takes away group and other permissions from an existing file.
fn open_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(LOG_FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::other(format!("{} is a symlink; not following it", path.display()))
            } else {
                e
            }
        })?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(fs::Permissions::from_mode(LOG_FILE_MODE))?;
    }
    Ok(file)
}

struct FileLogger {
    file: Mutex<LogFile>,
    level: log::LevelFilter,
}

impl log::Log for FileLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "{} {:5} {}: {}\n",
            humantime::format_rfc3339_millis(std::time::SystemTime::now()),
            record.level(),
            record.target(),
            record.args()
        );
        if let Ok(mut f) = self.file.lock() {
            // A log that cannot be written must not stop the tool: the line is dropped.
            let _ = f.write_line(&line);
        }
    }

    fn flush(&self) {
        if let Ok(mut f) = self.file.lock() {
            let _ = f.file.flush();
        }
    }
}

/// Where the log goes by default: `$XDG_STATE_HOME/httptop/httptop.log`, else
/// `~/.local/state/httptop/httptop.log`, else `/tmp/httptop.log`.
pub fn default_log_path() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")));
    match state {
        Some(dir) => dir.join("httptop").join("httptop.log"),
        None => PathBuf::from("/tmp/httptop.log"),
    }
}

/// Sends `log` records to `path` (appending), creating its folder `0700` when missing.
pub fn init(path: &Path, level: log::LevelFilter) -> io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(LOG_DIR_MODE)
            .create(dir)?;
    }
    let logger = FileLogger {
        file: Mutex::new(LogFile::open(path, MAX_LOG_BYTES)?),
        level,
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(level);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("httptop-log-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_log_is_created_readable_by_its_owner_only() {
        let dir = scratch("mode");
        let path = dir.join("httptop.log");
        LogFile::open(&path, MAX_LOG_BYTES).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // An existing log made readable to others by an older version is tightened.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        LogFile::open(&path, MAX_LOG_BYTES).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_symlinked_log_is_refused_and_its_target_untouched() {
        let dir = scratch("symlink");
        let target = dir.join("precious");
        fs::write(&target, "keep me\n").unwrap();
        let path = dir.join("httptop.log");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = LogFile::open(&path, MAX_LOG_BYTES).err().expect("refused");
        assert!(err.to_string().contains("symlink"), "{err}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep me\n");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_log_rotates_at_its_size_bound_keeping_one_copy() {
        let dir = scratch("rotate");
        let path = dir.join("httptop.log");
        let mut log = LogFile::open(&path, 100).unwrap();
        let line = format!("{}\n", "x".repeat(39)); // 40 bytes
        for _ in 0..5 {
            log.write_line(&line).unwrap();
        }
        // 2 lines filled the first file, 2 the next, the fifth started a third one.
        let rotated = dir.join("httptop.log.1");
        assert_eq!(fs::metadata(&path).unwrap().len(), 40);
        assert_eq!(fs::metadata(&rotated).unwrap().len(), 80);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A log already over the bound when opened is rotated first.
        fs::write(&path, vec![b'y'; 150]).unwrap();
        LogFile::open(&path, 100).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
        assert_eq!(fs::metadata(&rotated).unwrap().len(), 150);
        fs::remove_dir_all(dir).unwrap();
    }
}
