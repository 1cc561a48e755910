//! Temporary directories removed with their contents on drop.

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::{Error, Result, unique_name};

/// A fresh directory `<temp dir>/<prefix>-<pid>-<n>`, removed with its contents on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> Result<Self> {
        let path = std::env::temp_dir().join(unique_name(prefix));
        fs::create_dir(&path).map_err(Error::io(format!("creating {}", path.display())))?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
