//! `scalepilot validate PATH...`: every problem as `file:line:column: path: message`,
//! a one-line summary, exit 1 on any problem.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::policy::load_paths;

pub fn run(paths: &[PathBuf]) -> ExitCode {
    let report = load_paths(paths);
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
