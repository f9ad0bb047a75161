//! `scalepilot validate PATH...`: every problem as `file:line:column: path: message`,
//! a one-line summary, exit 1 on any problem. A policy is valid when `run`
//! would put it in force: its schema, and a source for each metric.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::policy::{check_sources, load_paths};

pub fn run(paths: &[PathBuf]) -> ExitCode {
    let mut report = load_paths(paths);
    check_sources(&mut report);
    for p in &report.problems {
        println!("{p}");
    }
    let files_with_problems = {
        let mut f: Vec<_> = report.problems.iter().map(|p| &p.file).collect();
        f.sort();
        f.dedup();
        f.len()
    };
    if report.problems.is_empty() {
        println!(
            "ok: {} policies in {} documents across {} files are valid",
            report.policies.len(),
            report.documents,
            report.files
        );
        ExitCode::SUCCESS
    } else {
        println!(
            "invalid: {} problems in {} of {} files ({} of {} documents valid)",
            report.problems.len(),
            files_with_problems,
            report.files,
            report.policies.len(),
            report.documents
        );
        ExitCode::from(1)
    }
}
