//! A file logger: nothing may reach stdout or the terminal while the dashboard runs.

use std::{
    fs::{File, OpenOptions},
    io::Write as _,
    path::{Path, PathBuf},
    sync::Mutex,
};

struct FileLogger {
    file: Mutex<File>,
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
        let now = std::time::SystemTime::now();
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(
                f,
                "{} {:5} {}: {}",
                humantime::format_rfc3339_millis(now),
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {
        if let Ok(mut f) = self.file.lock() {
            let _ = f.flush();
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

/// Sends `log` records to `path` (appending), creating its folder.
pub fn init(path: &Path, level: log::LevelFilter) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let logger = FileLogger {
        file: Mutex::new(file),
        level,
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(level);
    }
    Ok(())
}
