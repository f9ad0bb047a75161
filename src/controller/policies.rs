//! The policies in force: a folder (a ConfigMap mount, or a git checkout)
//! re-read on change. A file with problems is rejected as a whole, its problems
//! are logged with file:line:column, and the last good version of that file
//! stays in force; a policy naming a target another file already scales is
//! dropped. Polled rather than watched with inotify: a ConfigMap mount swaps a
//! `..data` symlink, which file watchers handle unevenly.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::features::target_key;
use crate::policy::{load_file, policy_files, source_problems, ScalingPolicy};

/// One file's last good contents.
struct FileState {
    /// A hash of the text the file had when last read: an unchanged file is
    /// not parsed again, and its text is not kept (about 0.5 KB a policy).
    digest: u64,
    /// Shared with `in_force` and each tick's job: one copy of each policy
    /// (at 2 000 policies the copies were 4.5 KB a target of heap).
    good: Vec<Arc<ScalingPolicy>>,
}

/// A 64-bit hash of a file's text (SipHash with fixed keys: the same in
/// every reload of this process).
fn digest(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// What a reload found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reload {
    /// The policies in force changed.
    pub changed: bool,
    /// Problems found (each `file:line:column: path: message`).
    pub problems: Vec<String>,
}

/// The policies in force, by file.
pub struct PolicySet {
    dir: PathBuf,
    files: BTreeMap<PathBuf, FileState>,
    /// Policies in force, by target key (`namespace/name`).
    in_force: BTreeMap<String, Arc<ScalingPolicy>>,
    /// The file each policy in force came from.
    sources: BTreeMap<String, PathBuf>,
}

impl PolicySet {
    pub fn new(dir: &Path) -> Self {
        PolicySet {
            dir: dir.to_path_buf(),
            files: BTreeMap::new(),
            in_force: BTreeMap::new(),
            sources: BTreeMap::new(),
        }
    }

    /// The file the policy for `key` came from.
    pub fn source(&self, key: &str) -> Option<&Path> {
        self.sources.get(key).map(PathBuf::as_path)
    }

    /// Policies in force, by target key.
    pub fn policies(&self) -> &BTreeMap<String, Arc<ScalingPolicy>> {
        &self.in_force
    }

    /// Re-reads the folder; unchanged files are not parsed again.
    pub fn reload(&mut self) -> Reload {
        let mut out = Reload::default();
        let (paths, problems) = policy_files(std::slice::from_ref(&self.dir));
        out.problems
            .extend(problems.iter().map(ToString::to_string));
        let mut seen = BTreeMap::new();
        // A file added, edited or rejected anew; files removed count below.
        let mut touched = false;
        for path in paths {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    out.problems
                        .push(format!("{}: cannot read: {e}", path.display()));
                    // Keep the last good version of a file we cannot read now.
                    if let Some(st) = self.files.remove(&path) {
                        seen.insert(path, st);
                    }
                    continue;
                }
            };
            let digest = digest(&text);
            let previous = match self.files.remove(&path) {
                Some(st) if st.digest == digest => {
                    seen.insert(path, st);
                    continue;
                }
                other => other,
            };
            touched = true;
            let mut report = load_file(&path, &text);
            for p in &report.policies {
                // A metric no source can provide would never be observed.
                report.problems.extend(source_problems(p, &text));
            }
            if report.problems.is_empty() {
                let good = report
                    .policies
                    .into_iter()
                    .map(|p| Arc::new(p.policy))
                    .collect();
                seen.insert(path, FileState { digest, good });
            } else {
                out.problems
                    .extend(report.problems.iter().map(ToString::to_string));
                // Rejected: the last good version stays, if any; its digest
                // is the bad one's, so the problems are reported again only
                // when the file changes.
                let good = previous.map(|st| st.good).unwrap_or_default();
                seen.insert(path, FileState { digest, good });
            }
        }
        // Files left here were removed.
        touched |= !self.files.is_empty();
        self.files = seen;
        if !touched {
            // Nothing to rebuild. At 10 000 policies an unchanged reload
            // took 44 ms, cloning and comparing every policy, in the
            // controller's loop every 2 s; reading the files takes 0.4 ms.
            return out;
        }
        let mut in_force: BTreeMap<String, Arc<ScalingPolicy>> = BTreeMap::new();
        let mut sources = BTreeMap::new();
        for (path, st) in &self.files {
            for p in &st.good {
                let Some(key) = target_key(p) else { continue };
                if in_force.contains_key(&key) {
                    out.problems.push(format!(
                        "{}: spec.target: Duplicate value: {key} is already scaled by another policy file; this policy is ignored",
                        path.display()
                    ));
                    continue;
                }
                sources.insert(key.clone(), path.clone());
                in_force.insert(key, Arc::clone(p));
            }
        }
        out.changed = in_force != self.in_force;
        self.in_force = in_force;
        self.sources = sources;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {name: web, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 10
";

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("scalepilot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_bad_edit_keeps_the_last_good_policy() {
        let dir = temp_dir("policies");
        std::fs::write(dir.join("web.yaml"), GOOD).unwrap();
        let mut set = PolicySet::new(&dir);
        let r = set.reload();
        assert!(r.changed && r.problems.is_empty(), "{r:?}");
        assert_eq!(set.policies()["shop/web"].spec.max_replicas, 10);

        std::fs::write(
            dir.join("web.yaml"),
            GOOD.replace("maxReplicas: 10", "maxReplicas: -1"),
        )
        .unwrap();
        let r = set.reload();
        assert!(!r.changed);
        assert!(r.problems[0].contains("web.yaml:6:"), "{:?}", r.problems);
        assert_eq!(
            set.policies()["shop/web"].spec.max_replicas,
            10,
            "last good stays"
        );
        assert_eq!(set.reload(), Reload::default(), "reported once");

        std::fs::write(
            dir.join("web.yaml"),
            GOOD.replace("maxReplicas: 10", "maxReplicas: 12"),
        )
        .unwrap();
        assert!(set.reload().changed);
        assert_eq!(set.policies()["shop/web"].spec.max_replicas, 12);

        // A second file for the same target is refused; ConfigMap internals are skipped.
        std::fs::write(dir.join("x-copy.yaml"), GOOD).unwrap();
        std::fs::create_dir_all(dir.join("..data")).unwrap();
        std::fs::write(dir.join("..data/web.yaml"), GOOD).unwrap();
        let r = set.reload();
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].contains("x-copy.yaml") && r.problems[0].contains("Duplicate"));
        assert_eq!(set.policies()["shop/web"].spec.max_replicas, 12);
        assert_eq!(
            set.reload(),
            Reload::default(),
            "the duplicate reported once"
        );

        std::fs::remove_file(dir.join("web.yaml")).unwrap();
        std::fs::remove_file(dir.join("x-copy.yaml")).unwrap();
        assert!(set.reload().changed);
        assert!(set.policies().is_empty(), "a deleted file's policies go");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn garbage_and_unobservable_metrics_are_rejected_and_reported_once() {
        let dir = temp_dir("garbage");
        std::fs::write(dir.join("junk.yaml"), ":\n").unwrap();
        let pods = format!(
            "{GOOD}  metrics:\n    - type: Pods\n      pods: {{metric: {{name: jobs}}, target: {{type: AverageValue, averageValue: \"5\"}}}}\n"
        );
        std::fs::write(dir.join("web.yaml"), &pods).unwrap();
        let mut set = PolicySet::new(&dir);
        let r = set.reload();
        assert!(set.policies().is_empty(), "{r:?}");
        assert!(
            r.problems.iter().any(|p| p.contains("web.yaml:8:")
                && p.contains("spec.metrics[0]")
                && p.contains("stream")),
            "{:?}",
            r.problems
        );
        assert!(
            r.problems.iter().any(|p| p.contains("junk.yaml")),
            "{:?}",
            r.problems
        );
        assert_eq!(
            set.reload(),
            Reload::default(),
            "a new bad file is reported once too"
        );
        let with_stream = pods.replace(
            "averageValue: \"5\"}}",
            "averageValue: \"5\"}}\n      stream: {window: 60s, aggregate: mean}",
        );
        std::fs::write(dir.join("web.yaml"), with_stream).unwrap();
        assert!(set.reload().changed);
        assert!(set.policies().contains_key("shop/web"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
