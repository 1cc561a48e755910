//! The lab's one error type: what the lab was doing, and why it did not work.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call or a program start failed.
    #[error("{doing}: {cause}")]
    Io { doing: String, cause: io::Error },
    /// A program ran but did not do what the lab needed (exit status, output, readiness).
    #[error("{0}")]
    Failed(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// For `map_err`: an I/O error while `doing` something.
    pub(crate) fn io(doing: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let doing = doing.into();
        move |cause| Self::Io { doing, cause }
    }
}
