//! Policy files: every shipped example validates, and broken ones are reported
//! with file, line, column, field path and message, through the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use scalepilot::policy::load_paths;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scalepilot"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scalepilot-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_shipped_policy_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let report = load_paths(std::slice::from_ref(&dir));
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert!(report.files >= 3, "policies/ ships at least three examples");
    assert_eq!(report.policies.len(), report.documents);
    let out = bin().arg("validate").arg(&dir).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("ok: "), "{stdout}");
}

const HEAD: &str = "apiVersion: scalepilot.io/v1alpha1\nkind: ScalingPolicy\n";

#[test]
fn problems_name_file_line_column_and_path() {
    let dir = tempdir("problems");
    let file = write(
        &dir,
        "web.yaml",
        &format!(
            "{HEAD}metadata: {{name: web}}\nspec:\n  target: {{apiVersion: apps/v1, kind: Deployment, name: web}}\n  minReplicas: 4\n  maxReplicas: 2\n  metrics:\n  - type: External\n    external:\n      metric: {{name: q}}\n      target: {{type: Utilization, averageUtilization: 50}}\n  behavior:\n    scaleUp:\n      policies: [{{type: Pods, value: 1, periodSeconds: 0}}]\n      tolerance: '-1'\n"
        ),
    );
    let out = bin().arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let f = file.display();
    for expected in [
        format!("{f}:7:3: spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas` (4)"),
        format!("{f}:12:16: spec.metrics[0].external.target.type: Invalid value: \"Utilization\": a Utilization target is only valid"),
        format!("{f}:12:7: spec.metrics[0].external.target.value: Required value: must set either a target value for metric or a per-pod target"),
        format!("{f}:15:41: spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 0: must be greater than zero"),
        format!("{f}:16:7: spec.behavior.scaleUp.tolerance: Invalid value: \"-1\": must be greater than or equal to 0"),
    ] {
        assert!(stdout.contains(&expected), "missing {expected:?} in\n{stdout}");
    }
    assert!(
        stdout.lines().last().unwrap().starts_with("invalid: "),
        "{stdout}"
    );
}

#[test]
fn unknown_fields_and_bad_types_are_errors() {
    let dir = tempdir("strict");
    write(
        &dir,
        "a.yaml",
        &format!("{HEAD}metadata: {{name: a}}\nspec:\n  target: {{apiVersion: apps/v1, kind: Deployment, name: a}}\n  maxReplicas: 3\n  metricz: []\n---\n{HEAD}metadata: {{name: b}}\nspec:\n  target: {{apiVersion: apps/v1, kind: Deployment, name: b}}\n  maxReplicas: 3\n  metrics:\n  - type: Resource\n    resource: {{name: cpu, target: {{type: AverageValue, averageValue: 12x}}}}\n"),
    );
    let report = load_paths(std::slice::from_ref(&dir));
    let lines: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].contains("a.yaml:7:3: spec.metricz: unknown field `metricz`"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("a.yaml:17:56:")
            && lines[1]
                .contains("spec.metrics[0].resource.target.averageValue: quantities must match"),
        "{}",
        lines[1]
    );
    assert!(report.policies.is_empty());
}

/// A misspelling does not hide the other problems of its document: every
/// one is reported in one pass, and the document still yields no policy.
#[test]
fn every_problem_of_a_document_in_one_pass() {
    let dir = tempdir("one-pass");
    write(
        &dir,
        "a.yaml",
        &format!("{HEAD}metadata: {{name: a}}\nspec:\n  target: {{apiVersion: apps/v1, kind: Deployment, name: a}}\n  minReplicas: 9\n  maxReplicas: 3\n  behavior:\n    scaleDown: {{stabilisationWindowSeconds: 60}}\n  metricz: []\n"),
    );
    let report = load_paths(std::slice::from_ref(&dir));
    let lines: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0].contains("spec.behavior.scaleDown.stabilisationWindowSeconds: unknown field"),
        "{lines:#?}"
    );
    assert!(
        lines[1].contains("a.yaml:10:3: spec.metricz: unknown field"),
        "{lines:#?}"
    );
    assert!(
        lines[2].contains("spec.maxReplicas: Invalid value: 3"),
        "{lines:#?}"
    );
    assert!(report.policies.is_empty());
}

#[test]
fn an_empty_folder_is_an_error_and_counts_agree_in_number() {
    let dir = tempdir("empty");
    let empty = dir.join("none");
    std::fs::create_dir_all(&empty).unwrap();
    let out = bin().arg("validate").arg(&empty).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("no policy files (*.yaml, *.yml) in this folder"),
        "{stdout}"
    );
    assert!(
        stdout.contains("invalid: 1 problem and no policy files"),
        "{stdout}"
    );
    write(&dir, "blank.yaml", "# nothing yet\n");
    let out = bin()
        .arg("validate")
        .arg(dir.join("blank.yaml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("no policy documents"), "{stdout}");
    assert!(
        stdout.contains("invalid: 1 problem in 1 of 1 file (0 of 0 documents valid)"),
        "{stdout}"
    );
    write(&dir, "one.yaml", &format!("{HEAD}metadata: {{name: a}}\nspec:\n  target: {{apiVersion: apps/v1, kind: Deployment, name: a}}\n  maxReplicas: 3\n"));
    let out = bin()
        .arg("validate")
        .arg(dir.join("one.yaml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok: 1 policy in 1 document across 1 file is valid"),
        "{stdout}"
    );
}

#[test]
fn scale_to_zero_needs_an_object_or_external_metric() {
    let dir = tempdir("zero");
    let base = format!("{HEAD}metadata: {{name: z}}\nspec:\n  target: {{apiVersion: apps/v1, kind: Deployment, name: z}}\n  minReplicas: 0\n  maxReplicas: 3\n  metrics:\n");
    write(&dir, "cpu.yaml", &format!("{base}  - {{type: Resource, resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 50}}}}}}\n"));
    let report = load_paths(&[dir.join("cpu.yaml")]);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0]
        .message
        .contains("at least one Object or External metric"));
    write(&dir, "ext.yaml", &format!("{base}  - {{type: External, external: {{metric: {{name: q}}, target: {{type: Value, value: '10'}}}}}}\n"));
    assert!(load_paths(&[dir.join("ext.yaml")]).problems.is_empty());
    // activation: only with minReplicas 0, a threshold ≥ 0, a cooldown up to a day.
    let ext =
        "  - {type: External, external: {metric: {name: q}, target: {type: Value, value: '10'}}}\n";
    write(
        &dir,
        "act.yaml",
        &format!("{base}{ext}  activation: {{threshold: '5', cooldownSeconds: 60}}\n"),
    );
    assert!(load_paths(&[dir.join("act.yaml")]).problems.is_empty());
    let bad = base.replace("minReplicas: 0", "minReplicas: 1");
    write(
        &dir,
        "bad.yaml",
        &format!("{bad}{ext}  activation: {{threshold: '-1', cooldownSeconds: 100000}}\n"),
    );
    let p: Vec<String> = load_paths(&[dir.join("bad.yaml")])
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(
        p[0].contains("spec.activation: Forbidden") && p[0].contains("minReplicas: 0"),
        "{p:?}"
    );
    assert!(p[1].contains("spec.activation.threshold"), "{p:?}");
    assert!(
        p[2].contains("spec.activation.cooldownSeconds: Invalid value: 100000"),
        "{p:?}"
    );
}

#[test]
fn duplicate_targets_across_files_are_rejected() {
    let dir = tempdir("dups");
    let doc = |name: &str| {
        format!("{HEAD}metadata: {{name: {name}, namespace: shop}}\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}\n  maxReplicas: 3\n")
    };
    write(&dir, "a.yaml", &doc("one"));
    write(&dir, "b.yml", &doc("two"));
    write(&dir, "notes.txt", "not a policy");
    let report = load_paths(std::slice::from_ref(&dir));
    assert_eq!(
        report.files, 2,
        "only *.yaml and *.yml files are read from folders"
    );
    assert_eq!(report.problems.len(), 1);
    let p = report.problems[0].to_string();
    assert!(
        p.contains("b.yml:5:3: spec.target: Duplicate value: Deployment shop/web"),
        "{p}"
    );
    assert_eq!(report.policies.len(), 1);

    // Another kind with the same name is the same target to the samples.
    write(
        &dir,
        "b.yml",
        &doc("two").replace("kind: Deployment", "kind: StatefulSet"),
    );
    let report = load_paths(std::slice::from_ref(&dir));
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let p = report.problems[0].to_string();
    assert!(
        p.contains("Duplicate value: StatefulSet shop/web") && p.contains("Deployment shop/web:"),
        "{p}"
    );
    assert_eq!(report.policies.len(), 1);
}

#[test]
fn syntax_errors_and_missing_paths_are_reported() {
    let dir = tempdir("syntax");
    write(&dir, "broken.yaml", "apiVersion: [unclosed\n");
    let out = bin()
        .arg("validate")
        .arg(&dir)
        .arg(dir.join("missing.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("broken.yaml:") && stdout.contains("YAML syntax error"),
        "{stdout}"
    );
    assert!(
        stdout.contains("missing.yaml:0:0: (document): no such file or folder"),
        "{stdout}"
    );
}

#[test]
fn stream_blocks_are_checked() {
    let dir = tempdir("stream");
    let file = write(
        &dir,
        "s.yaml",
        &format!("{HEAD}metadata: {{name: s}}\nspec:\n  target: {{apiVersion: apps/v1, kind: Deployment, name: s}}\n  maxReplicas: 3\n  metrics:\n  - type: External\n    external: {{metric: {{name: q}}, target: {{type: Value, value: '10'}}}}\n    stream: {{window: 60s, slide: 7s, aggregate: rate}}\n  - type: External\n    external: {{metric: {{name: u}}, target: {{type: Value, value: '10'}}}}\n    stream: {{window: 5 parsecs, aggregate: distinct}}\n"),
    );
    let report = load_paths(&[file]);
    let lines: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines[0].contains("spec.metrics[0].stream.slide: Invalid value: \"7s\": must be at least 1s, at most the window, and divide it"), "{}", lines[0]);
    assert!(
        lines[1].contains("spec.metrics[1].stream.window: Invalid value: unknown duration unit"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("spec.metrics[1].stream.label: Required value"),
        "{}",
        lines[2]
    );
}

#[test]
fn forecast_blocks_are_checked() {
    let dir = tempdir("forecast");
    let file = write(
        &dir,
        "f.yaml",
        &format!("{HEAD}metadata: {{name: f}}\nspec:\n  target: {{apiVersion: apps/v1, kind: Deployment, name: f}}\n  maxReplicas: 3\n  forecast: {{model: m.json, maxMapePercent: 0, relaxTargetsPercent: 80}}\n"),
    );
    let report = load_paths(&[file]);
    let lines: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains(
            "spec.forecast.relaxTargetsPercent: Invalid value: 80: must be between 0 and 50"
        )),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("spec.forecast.maxMapePercent: Invalid value: 0")),
        "{lines:#?}"
    );
    let spec = |relax: &str| {
        format!("{HEAD}metadata: {{name: f}}\nspec:\n  target: {{apiVersion: apps/v1, kind: Deployment, name: f}}\n  maxReplicas: 3\n  forecast: {{model: m.json, relaxTargets: {relax}}}\n")
    };
    let report = load_paths(&[write(&dir, "earned.yaml", &spec("earned"))]);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    let report = load_paths(&[write(&dir, "typo.yaml", &spec("earnt"))]);
    let lines: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("typo.yaml:7:")
            && lines[0].contains("spec.forecast.relaxTargets")
            && lines[0].contains("earnt"),
        "{lines:#?}"
    );
}

/// Runs the binary, killing it (and failing) if it runs longer than `secs`.
fn run_within(cmd: &mut Command, secs: u64) -> std::process::Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn control_characters_and_a_lone_colon_are_one_located_problem_not_a_hang() {
    let dir = tempdir("control");
    let cases = [
        ("colon.yaml", ":\n".to_string()),
        ("nul.yaml", "\0".to_string()),
        (
            "comment.yaml",
            format!("{HEAD}# a comment with an escape \u{1b} in it\nmetadata: {{name: c}}\n"),
        ),
    ];
    for (name, text) in cases {
        let file = write(&dir, name, &text);
        let out = run_within(bin().arg("validate").arg(&file), 20);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{name}: {stdout}");
        let located = format!("{}:", file.display());
        assert!(
            lines[0].starts_with(&located) && lines[0].contains("YAML"),
            "{name}: {stdout}"
        );
        let position: Vec<usize> = lines[0][located.len()..]
            .splitn(3, ':')
            .take(2)
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(position.iter().all(|&n| n >= 1), "{name}: {stdout}");
    }
}

#[test]
fn a_window_sliding_too_finely_is_refused() {
    let dir = tempdir("slide");
    let file = write(
        &dir,
        "s.yaml",
        &format!("{HEAD}metadata: {{name: s}}\nspec:\n  target: {{apiVersion: apps/v1, kind: Deployment, name: s}}\n  maxReplicas: 3\n  metrics:\n  - type: External\n    external: {{metric: {{name: q}}, target: {{type: Value, value: '10'}}}}\n    stream: {{window: 1d, slide: 1s, aggregate: rate}}\n"),
    );
    let out = bin().arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "{}:10:",
            file.display()
        )) && stdout.contains("spec.metrics[0].stream.slide: Invalid value: \"1s\": a 86400000 ms window sliding every 1000 ms puts each sample in 86400 windows; at most 120"),
        "{stdout}"
    );
}
