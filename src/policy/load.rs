//! Loading policy files and folders: every document parsed strictly, checked,
//! and every problem reported as `file:line:column: path: message`. A file
//! with problems yields no policy, so a bad edit never replaces a good one.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::schema::{ScalingPolicy, API_VERSION, KIND};
use super::spans::{self, DocSpans};
use super::validate::validate_spec;

/// A valid policy and where it came from.
#[derive(Clone, Debug)]
pub struct LoadedPolicy {
    pub file: PathBuf,
    pub line: usize,
    pub policy: ScalingPolicy,
}

/// One problem in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(document)"
        } else {
            &self.path
        };
        write!(
            f,
            "{}:{}:{}: {path}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// The outcome of loading a set of paths.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub files: usize,
    pub documents: usize,
    pub policies: Vec<LoadedPolicy>,
    pub problems: Vec<Problem>,
}

/// Loads files and folders (recursively, `*.yaml` and `*.yml`, in name order).
pub fn load_paths(paths: &[PathBuf]) -> LoadReport {
    let mut report = LoadReport::default();
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files, &mut report);
    }
    for file in files {
        report.files += 1;
        match std::fs::read_to_string(&file) {
            Ok(text) => load_text(&file, &text, &mut report),
            Err(e) => report
                .problems
                .push(problem(&file, (0, 0), "", format!("cannot read: {e}"))),
        }
    }
    check_duplicates(&mut report);
    report
}

fn collect(path: &Path, files: &mut Vec<PathBuf>, report: &mut LoadReport) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                report.problems.push(problem(
                    path,
                    (0, 0),
                    "",
                    format!("cannot read folder: {e}"),
                ));
                return;
            }
        };
        entries.sort();
        for e in entries {
            let yaml = matches!(e.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"));
            if e.is_dir() || yaml {
                collect(&e, files, report);
            }
        }
    } else if path.exists() {
        files.push(path.to_path_buf());
    } else {
        report
            .problems
            .push(problem(path, (0, 0), "", "no such file or folder".into()));
    }
}

fn problem(file: &Path, (line, column): spans::Position, path: &str, message: String) -> Problem {
    Problem {
        file: file.to_path_buf(),
        line,
        column,
        path: path.to_string(),
        message,
    }
}

/// Parses every document of one file's text into `report`.
pub fn load_text(file: &Path, text: &str, report: &mut LoadReport) {
    let docs = match spans::index(text) {
        Ok(d) => d,
        Err(e) => {
            report.problems.push(problem(
                file,
                e.position,
                "",
                format!("YAML syntax error: {}", e.message),
            ));
            return;
        }
    };
    let empty = DocSpans::default();
    for (i, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let spans = docs.get(i).unwrap_or(&empty);
        let value: serde_yaml::Value = match serde::Deserialize::deserialize(de) {
            Ok(v) => v,
            Err(e) => {
                let pos = e.location().map_or(spans.start, |l| (l.line(), l.column()));
                report
                    .problems
                    .push(problem(file, pos, "", format!("YAML error: {e}")));
                continue;
            }
        };
        if value.is_null() {
            continue; // an empty document, e.g. after a trailing `---`
        }
        report.documents += 1;
        let before = report.problems.len();
        let policy: ScalingPolicy = match serde_path_to_error::deserialize(value) {
            Ok(p) => p,
            Err(e) => {
                let path = e.path().to_string();
                let path = if path == "." { String::new() } else { path };
                let message = e.into_inner().to_string();
                report
                    .problems
                    .push(problem(file, spans.find(&path), &path, message));
                continue;
            }
        };
        if policy.api_version != API_VERSION {
            report.problems.push(problem(
                file,
                spans.find("apiVersion"),
                "apiVersion",
                format!(
                    "Unsupported value: {:?}: supported values: {API_VERSION:?}",
                    policy.api_version
                ),
            ));
        }
        if policy.kind != KIND {
            report.problems.push(problem(
                file,
                spans.find("kind"),
                "kind",
                format!(
                    "Unsupported value: {:?}: supported values: {KIND:?}",
                    policy.kind
                ),
            ));
        }
        if policy.metadata.name.is_empty() {
            report.problems.push(problem(
                file,
                spans.find("metadata.name"),
                "metadata.name",
                "Required value: name is required".into(),
            ));
        }
        for issue in validate_spec(&policy.spec, "spec", true) {
            report.problems.push(problem(
                file,
                spans.find(&issue.path),
                &issue.path,
                issue.message,
            ));
        }
        if report.problems.len() == before {
            report.policies.push(LoadedPolicy {
                file: file.to_path_buf(),
                line: spans.start.0,
                policy,
            });
        }
    }
}

/// Two policies may not scale the same target.
fn check_duplicates(report: &mut LoadReport) {
    let mut seen: BTreeMap<(String, String, String), (PathBuf, usize)> = BTreeMap::new();
    let mut dups = Vec::new();
    for p in &report.policies {
        let Some(t) = &p.policy.spec.target else {
            continue;
        };
        let ns = p
            .policy
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let key = (ns, t.kind.clone(), t.name.clone());
        match seen.get(&key) {
            Some((file, line)) => dups.push(Problem {
                file: p.file.clone(),
                line: p.line,
                column: 1,
                path: "spec.target".into(),
                message: format!(
                    "Duplicate value: {} {}/{} is already scaled by the policy at {}:{}",
                    key.1,
                    key.0,
                    key.2,
                    file.display(),
                    line
                ),
            }),
            None => {
                seen.insert(key, (p.file.clone(), p.line));
            }
        }
    }
    if !dups.is_empty() {
        let bad: Vec<(PathBuf, usize)> = dups.iter().map(|d| (d.file.clone(), d.line)).collect();
        report
            .policies
            .retain(|p| !bad.contains(&(p.file.clone(), p.line)));
        report.problems.extend(dups);
    }
}
