//! `scalepilot validate PATH...`: every problem as `file:line:column: path: message`,
//! a one-line summary, exit 1 on any problem. A policy is valid when `run`
//! would put it in force: its schema, and a source for each metric.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::policy::{check_sources, load_paths, policy_files, Problem};

pub fn run(paths: &[PathBuf]) -> ExitCode {
    let mut report = load_paths(paths);
    check_sources(&mut report);
    report.problems.extend(empty_paths(paths));
    if report.documents == 0 && report.problems.is_empty() {
        report.problems.push(Problem {
            file: paths.first().cloned().unwrap_or_default(),
            line: 1,
            column: 1,
            path: String::new(),
            message: "no policy documents: the files are empty".into(),
        });
    }
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
            "ok: {} in {} across {} {} valid\n",
            count(report.policies.len(), "policy", "policies"),
            count(report.documents, "document", "documents"),
            count(report.files, "file", "files"),
            if report.policies.len() == 1 {
                "is"
            } else {
                "are"
            },
        ));
        ExitCode::SUCCESS
    } else if report.files == 0 {
        out.push_str(&format!(
            "invalid: {} and no policy files\n",
            count(report.problems.len(), "problem", "problems")
        ));
        ExitCode::from(1)
    } else {
        out.push_str(&format!(
            "invalid: {} in {} of {} ({} of {} valid)\n",
            count(report.problems.len(), "problem", "problems"),
            files_with_problems,
            count(report.files, "file", "files"),
            report.policies.len(),
            count(report.documents, "document", "documents"),
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

/// `n` and the noun in the number it takes.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A folder given on the command line that holds no policy file is a mistake
/// (a wrong path, a ConfigMap not mounted), not a success.
fn empty_paths(paths: &[PathBuf]) -> Vec<Problem> {
    paths
        .iter()
        .filter(|p| p.is_dir() && policy_files(std::slice::from_ref(p)).0.is_empty())
        .map(|p| Problem {
            file: p.clone(),
            line: 1,
            column: 1,
            path: String::new(),
            message: "no policy files (*.yaml, *.yml) in this folder".into(),
        })
        .collect()
}
