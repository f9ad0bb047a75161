//! The subcommands' bodies: read inputs, call the library, print, pick the exit code.

pub mod decide;
pub mod features;
pub mod frontiers;
pub mod import_hpa;
pub mod observe;
pub mod report;
pub mod run;
pub mod simulate;
pub mod status;
pub mod train;
pub mod tune;
pub mod validate;
