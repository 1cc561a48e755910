//! A file logger: nothing may reach stdout or the terminal while the dashboard runs.

use std::{
    fs::{File, OpenOptions},
    io::Write as _,
    path::{Path, PathBuf},
};

struct FileLogger {
    file: File,
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
        // One write per line to a file opened for appending: lines from several threads never
        // interleave, so no lock is needed. A log that cannot be written is not worth failing.
        let _ = (&self.file).write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = (&self.file).flush();
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
    let logger = FileLogger { file, level };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(level);
    }
    Ok(())
}
