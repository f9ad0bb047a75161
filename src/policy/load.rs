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

/// A document's claim on a target: (namespace, kind, name), its file, the
/// position of its `target` and the line its document starts on.
type Claim = ((String, String, String), PathBuf, spans::Position, usize);

/// The outcome of loading a set of paths.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub files: usize,
    pub documents: usize,
    pub policies: Vec<LoadedPolicy>,
    pub problems: Vec<Problem>,
    /// Every parsed document's target, valid or not: (namespace, kind, name) → where.
    claims: Vec<Claim>,
}

/// The policy files under `paths` (recursively, `*.yaml` and `*.yml`, in
/// name order, skipping hidden entries such as a ConfigMap mount's `..data`),
/// and the problems met finding them.
pub fn policy_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Problem>) {
    let mut report = LoadReport::default();
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files, &mut report);
    }
    (files, report.problems)
}

/// Loads one file's text on its own (duplicates within it included).
pub fn load_file(file: &Path, text: &str) -> LoadReport {
    let mut report = LoadReport {
        files: 1,
        ..LoadReport::default()
    };
    load_text(file, text, &mut report);
    check_duplicates(&mut report);
    report
}

/// Loads files and folders (recursively, `*.yaml` and `*.yml`, in name order).
pub fn load_paths(paths: &[PathBuf]) -> LoadReport {
    let (files, problems) = policy_files(paths);
    let mut report = LoadReport {
        problems,
        ..LoadReport::default()
    };
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
        let hidden = |e: &Path| {
            e.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        };
        for e in entries.into_iter().filter(|e| !hidden(e)) {
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

/// A position a reader can go to: line and column 1 at the least (an empty
/// document has no position of its own).
fn at_least_1_1((line, column): spans::Position) -> spans::Position {
    (line.max(1), column.max(1))
}

/// The position of a field path, also when the file spells `target` as `scaleTargetRef`.
fn locate(spans: &DocSpans, path: &str) -> spans::Position {
    match path.strip_prefix("spec.target") {
        Some(rest)
            if spans.get("spec.target").is_none() && spans.get("spec.scaleTargetRef").is_some() =>
        {
            spans.find(&format!("spec.scaleTargetRef{rest}"))
        }
        _ => spans.find(path),
    }
}

/// A YAML error's message on one line, without the source excerpt the
/// parser draws (the problem names the file, line and column itself).
pub fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or_default().trim().to_string()
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
    // Each document's value with where it starts, so it finds its index
    // entry (empty documents, e.g. after a trailing `---`, yield no value).
    let values: Vec<serde_saphyr::Spanned<serde_json::Value>> =
        match serde_saphyr::from_multiple(text) {
            Ok(v) => v,
            Err(e) => {
                let start = docs.first().map_or((1, 1), |d| d.start);
                let pos = e
                    .location()
                    .map_or(start, |l| (l.line() as usize, l.column() as usize));
                report.problems.push(problem(
                    file,
                    at_least_1_1(pos),
                    "",
                    format!("YAML error: {}", yaml_message(&e)),
                ));
                return;
            }
        };
    let mut unindexed = DocSpans::default();
    unindexed.start = docs.first().map_or((1, 1), |d| d.start);
    for spanned in values {
        let line = spanned.defined.line() as usize;
        let spans = docs
            .iter()
            .rev()
            .find(|d| d.start.0 <= line)
            .unwrap_or(&unindexed);
        let value = spanned.value;
        if value.is_null() {
            continue; // an empty document, e.g. after a trailing `---`
        }
        report.documents += 1;
        let before = report.problems.len();
        let Some(policy) = deserialize(file, spans, value, report) else {
            continue;
        };
        if let Some(t) = &policy.spec.target {
            let ns = policy
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into());
            report.claims.push((
                (ns, t.kind.clone(), t.name.clone()),
                file.to_path_buf(),
                locate(spans, "spec.target"),
                spans.start.0,
            ));
        }
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

/// At most this many unknown fields are reported per document: each is found
/// by one more pass over it.
const MAX_UNKNOWN_FIELDS: usize = 16;

/// The document as a policy, with every problem in it reported in one pass:
/// an unknown field (a misspelling) is reported and set aside so that the
/// rest of the document is still read and checked (the policy is not used:
/// the problem stays).
fn deserialize(
    file: &Path,
    spans: &DocSpans,
    mut value: serde_json::Value,
    report: &mut LoadReport,
) -> Option<ScalingPolicy> {
    for _ in 0..=MAX_UNKNOWN_FIELDS {
        let e = match serde_path_to_error::deserialize(value.clone()) {
            Ok(p) => return Some(p),
            Err(e) => e,
        };
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = e.inner().to_string();
        report
            .problems
            .push(problem(file, spans.find(&path), &path, message.clone()));
        if !(message.starts_with("unknown field") && remove_field(&mut value, e.path())) {
            return None;
        }
    }
    None
}

/// Removes the map entry `path` names from `value`; false when there is none.
fn remove_field(value: &mut serde_json::Value, path: &serde_path_to_error::Path) -> bool {
    use serde_json::Value;
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((Segment::Map { key }, parents)) = segments.split_last() else {
        return false;
    };
    let mut v = value;
    for s in parents {
        let next = match (s, v) {
            (Segment::Map { key }, Value::Object(m)) => m.get_mut(key.as_str()),
            (Segment::Seq { index }, Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        match next {
            Some(n) => v = n,
            None => return false,
        }
    }
    match v {
        Value::Object(m) => m.remove(key.as_str()).is_some(),
        _ => false,
    }
}

/// Two policies may not scale the same target (valid or not: a broken
/// policy still claims its target). Targets are named `namespace/name` in
/// metric samples and records, so two kinds may not share a name either.
fn check_duplicates(report: &mut LoadReport) {
    let mut seen: BTreeMap<(&str, &str), (&str, &PathBuf, usize)> = BTreeMap::new();
    let mut dups = Vec::new();
    let mut rejected = Vec::new();
    for (key, file, (line, column), doc_line) in &report.claims {
        let (ns, kind, name) = key;
        let Some((first_kind, first, first_line)) = seen.get(&(ns.as_str(), name.as_str())) else {
            seen.insert((ns, name), (kind, file, *line));
            continue;
        };
        let also = match *first_kind == kind.as_str() {
            true => String::new(),
            false => format!(
                " ({first_kind} {ns}/{name}: metric samples and records name a target by \
                 namespace/name, so two kinds may not share one)"
            ),
        };
        dups.push(Problem {
            file: file.clone(),
            line: *line,
            column: *column,
            path: "spec.target".into(),
            message: format!(
                "Duplicate value: {kind} {ns}/{name} is already scaled by the policy at {}:{}{also}",
                first.display(),
                first_line
            ),
        });
        rejected.push((file.clone(), *doc_line));
    }
    report
        .policies
        .retain(|p| !rejected.contains(&(p.file.clone(), p.line)));
    report.problems.extend(dups);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on its own thread. A hang (the loop these tests guard against
    /// collects problems until memory runs out) aborts the test binary after
    /// `secs` instead of taking the machine with it.
    fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
            Ok(v) => v,
            Err(_) => {
                eprintln!("loading did not return within {secs} s");
                std::process::abort();
            }
        }
    }

    #[test]
    fn a_syntax_error_ends_the_file_with_one_located_problem() {
        let valid = "apiVersion: scalepilot.io/v1alpha1\nkind: ScalingPolicy\nmetadata: {name: w}\nspec:\n  target: {apiVersion: apps/v1, kind: Deployment, name: w}\n  maxReplicas: 3\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n";
        let cases = [
            ":\n".to_string(),
            "\0".to_string(),
            "# a comment with a bell \u{7} in it\n".to_string(),
            "apiVersion: \u{1}\n".to_string(),
            format!("{valid}---\n:\n"),
            format!("{valid}---\nkind: x\n# \u{0} \n"),
        ];
        for text in cases {
            let shown = format!("{text:?}");
            let report = within(10, move || load_file(Path::new("p.yaml"), &text));
            assert_eq!(report.problems.len(), 1, "{shown}: {:#?}", report.problems);
            let p = &report.problems[0];
            assert!(p.line >= 1 && p.column >= 1, "{shown}: {p}");
            assert!(p.to_string().starts_with("p.yaml:"), "{shown}: {p}");
            assert!(
                p.message.starts_with("YAML syntax error: ")
                    || p.message.starts_with("YAML error: "),
                "{shown}: {p}"
            );
        }
    }

    /// Found by the fuzz harness (`tests/fuzz.rs`, policies): `|` then `---`
    /// was one document to the position index and two to the deserializer
    /// (two YAML libraries then), and the second one's problems were at 0:0.
    #[test]
    fn a_document_the_index_lacks_still_has_a_position() {
        for text in ["|\n---\n-..\n---\n", "|\n---\nkind: x\n", ">\n\n---\n- 1\n"] {
            let report = load_file(Path::new("p.yaml"), text);
            assert_eq!(report.problems.len(), 2, "{text:?}: {:#?}", report.problems);
            for p in &report.problems {
                assert!(p.line >= 1 && p.column >= 1, "{text:?}: {p}");
            }
        }
    }

    fn stream_policy(window: &str, slide: &str) -> String {
        format!("apiVersion: scalepilot.io/v1alpha1\nkind: ScalingPolicy\nmetadata: {{name: s}}\nspec:\n  target: {{apiVersion: apps/v1, kind: Deployment, name: s}}\n  maxReplicas: 3\n  metrics:\n  - type: External\n    external: {{metric: {{name: q}}, target: {{type: Value, value: '10'}}}}\n    stream: {{window: {window}, slide: {slide}, aggregate: rate}}\n")
    }

    #[test]
    fn too_many_windows_per_sample_is_a_located_problem() {
        let report = load_file(Path::new("s.yaml"), &stream_policy("1d", "1s"));
        assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
        let p = report.problems[0].to_string();
        assert!(
            p.starts_with("s.yaml:10:") && p.contains("spec.metrics[0].stream.slide: Invalid value: \"1s\": a 86400000 ms window sliding every 1000 ms puts each sample in 86400 windows; at most 120"),
            "{p}"
        );
        assert!(report.policies.is_empty());
        for (window, slide) in [
            ("60s", "500ms"),
            ("1h", "30s"),
            ("60s", "5s"),
            ("1d", "12m"),
        ] {
            let report = load_file(Path::new("s.yaml"), &stream_policy(window, slide));
            let shown = format!("{window}/{slide}");
            if slide == "500ms" {
                // Below 1 s: validate_spec's problem, not a second one.
                assert_eq!(report.problems.len(), 1, "{shown}: {:#?}", report.problems);
                assert!(!report.problems[0].message.contains("windows"));
            } else {
                assert!(
                    report.problems.is_empty(),
                    "{shown}: {:#?}",
                    report.problems
                );
            }
        }
    }
}
