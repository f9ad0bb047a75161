//! The crate's error type: one variant per kind of failure, each countable by
//! its `metric_label()`. A leaf: imports nothing from the crate.

use std::path::PathBuf;

/// Everything that can go wrong outside the pure decision chain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Malformed input: the message names the source, the field and where.
    #[error("{0}")]
    Input(String),
    /// Policy files with problems, one `file:line:column: path: message` each.
    #[error("{} problem(s) in policy files:\n{}", .0.len(), .0.join("\n"))]
    Policy(Vec<String>),
    #[error("cannot write output: {0}")]
    Output(#[source] std::io::Error),
}

impl Error {
    /// A short label for counting failures in metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Read { .. } => "read",
            Error::Input(_) => "input",
            Error::Policy(_) => "policy",
            Error::Output(_) => "output",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
