//! `scalepilot validate PATH...`: every problem as `file:line:column: path: message`,
//! a one-line summary, exit 1 on any problem. A policy is valid when `run`
//! would put it in force: its schema, and a source for each metric.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::policy::{check_sources, load_paths};

pub fn run(paths: &[PathBuf]) -> ExitCode {
    let mut report = load_paths(paths);
    check_sources(&mut report);
    let mut out = String::new();
    for p in &report.problems {
        out.push_str(&format!("{p}\n"));
    }
    let files_with_problems = {
        let mut f: Vec<_> = report.problems.iter().map(|p| &p.file).collect();
        f.sort();
        f.dedup();
        f.len()
    };
    let code = if report.problems.is_empty() {
        out.push_str(&format!(
            "ok: {} policies in {} documents across {} files are valid\n",
            report.policies.len(),
            report.documents,
            report.files
        ));
        ExitCode::SUCCESS
    } else {
        out.push_str(&format!(
            "invalid: {} problems in {} of {} files ({} of {} documents valid)\n",
            report.problems.len(),
            files_with_problems,
            report.files,
            report.policies.len(),
            report.documents
        ));
        ExitCode::from(1)
    };
    // A reader that went away early (`| head`) ends the output quietly.
    match super::simulate::print_stdout(&out) {
        Ok(()) => code,
        Err(e) => {
            eprintln!("scalepilot: {e}");
            ExitCode::from(2)
        }
    }
}
