//! `simulate --html`: one self-contained file, opened from disk in headless
//! Chromium (the browser tests are ignored by plain `cargo test`; `.ci/run`
//! installs chromium and chromium-driver and runs them).

#[path = "support/browser.rs"]
mod browser;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use browser::Browser;
use serde_json::Value;

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scalepilot-html-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn simulate(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_scalepilot"))
        .arg("simulate")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "simulate {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A reactive policy and the same with the shipped diurnal model (max mode).
fn policies(dir: &Path) -> (PathBuf, PathBuf) {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/diurnal-5m.json");
    let policy = |name: &str, forecast: &str| {
        format!(
            "apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {{name: {name}, namespace: sim}}
spec:
  target: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  minReplicas: 1
  maxReplicas: 100
  metrics:
    - type: External
      external: {{metric: {{name: load}}, target: {{type: AverageValue, averageValue: \"80\"}}}}
{forecast}"
        )
    };
    let reactive = dir.join("reactive.yaml");
    std::fs::write(&reactive, policy("reactive", "")).unwrap();
    let predictive = dir.join("predictive.yaml");
    let forecast = format!(
        "  forecast: {{model: {}, horizon: 300s, mode: max}}\n",
        model.display()
    );
    std::fs::write(&predictive, policy("predictive", &forecast)).unwrap();
    (reactive, predictive)
}

/// The inlined data, as the page reads it.
fn data(page: &str) -> Value {
    let start = page
        .find(r#"<script type="application/json" id="data">"#)
        .unwrap();
    let body = &page[start..];
    let body = &body[body.find('>').unwrap() + 1..body.find("</script>").unwrap()];
    serde_json::from_str(&body.replace("<\\/", "</")).unwrap()
}

#[test]
fn the_report_is_one_file_that_loads_nothing_and_cannot_be_broken_out_of() {
    let dir = workdir("inline");
    let trace = dir.join("t.csv");
    let mut csv = String::from("ts,value\n");
    for i in 0..600 {
        csv.push_str(&format!("{},{}\n", i * 60, 100 + (i % 50) * 10));
    }
    std::fs::write(&trace, csv).unwrap();
    // A policy whose name would end the data's <script> early were it not escaped.
    let policy = dir.join("p.yaml");
    std::fs::write(
        &policy,
        "apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {name: \"x</script><script>alert(1)</script>\", namespace: sim}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: x}
  maxReplicas: 100
  metrics:
    - type: External
      external: {metric: {name: load}, target: {type: AverageValue, averageValue: \"80\"}}
",
    )
    .unwrap();
    let out = simulate(
        &dir,
        &[
            "--trace",
            trace.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--html",
            "r.html",
        ],
    );
    assert!(out.contains("report: r.html"), "{out}");
    let page = std::fs::read_to_string(dir.join("r.html")).unwrap();
    assert_eq!(
        page.matches("</script>").count(),
        2,
        "only the data's and the script's own ends"
    );
    for external in [
        "src=\"http",
        "href=\"http",
        "<link rel=\"stylesheet\"",
        "src=\"/",
    ] {
        assert!(!page.contains(external), "the page loads {external}…");
    }
    let d = data(&page);
    assert_eq!(d["load"]["t"].as_array().unwrap().len(), 600);
    let names: Vec<&str> = d["autoscalers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "x</script><script>alert(1)</script>",
            "hpa",
            "keda",
            "oracle"
        ]
    );
    assert_eq!(d["autoscalers"][1]["color"], "#d62728", "the HPA is red");
    assert_eq!(d["scorecards"].as_array().unwrap().len(), 4);
}

#[test]
#[ignore = "needs chromium and chromium-driver: run by .ci/run"]
fn a_27_day_report_opens_from_disk_draws_every_series_and_zooms() {
    let dir = workdir("browser");
    let (reactive, predictive) = policies(&dir);
    simulate(
        &dir,
        &[
            "--workload",
            "flash-crowd",
            "--duration",
            "27d",
            "--policy",
            reactive.to_str().unwrap(),
            "--policy",
            predictive.to_str().unwrap(),
            "--html",
            "r.html",
        ],
    );
    let page = std::fs::read_to_string(dir.join("r.html")).unwrap();
    let d = data(&page);
    assert!(
        d["autoscalers"][1]["forecast"].as_array().unwrap().len() > 1,
        "the predictive policy's forecast is in the data"
    );

    let b = Browser::start();
    b.goto(&format!("file://{}", dir.join("r.html").display()));
    b.wait_for(
        "return window.report !== undefined && window.report.redraws > 0",
        Duration::from_secs(20),
        "the report drew",
    );
    let drawn = b.eval("return window.report.drawn");
    let whole = drawn["load"].as_u64().unwrap();
    assert_eq!(whole, 27 * 24 * 60, "every load sample of 27 days: {drawn}");
    for name in ["reactive", "predictive", "hpa", "keda", "oracle"] {
        for series in ["capacity", "replicas", "actions"] {
            let n = drawn[format!("{series}:{name}")].as_u64();
            assert!(n.unwrap_or(0) > 0, "{series}:{name} not drawn: {drawn}");
        }
    }
    assert!(
        drawn["forecast:predictive"].as_u64().unwrap_or(0) > 0,
        "{drawn}"
    );
    assert!(drawn.get("forecast:reactive").is_none(), "{drawn}");
    // Every under-provisioned interval is shaded, and some autoscaler has some.
    let mut shaded = 0;
    for a in d["autoscalers"].as_array().unwrap() {
        let n = drawn[format!("short:{}", a["name"].as_str().unwrap())].as_u64();
        assert_eq!(n, Some(a["short"].as_array().unwrap().len() as u64), "{a}");
        shaded += n.unwrap();
    }
    assert!(shaded > 0, "{drawn}");
    b.screenshot("simulate-report");

    // Zoom with the wheel over the middle of the chart, then with the button.
    let span = |b: &Browser| {
        let v = b.eval("return window.report.view");
        v[1].as_f64().unwrap() - v[0].as_f64().unwrap()
    };
    let full = span(&b);
    b.eval(
        "const c = document.getElementById('main'); const r = c.getBoundingClientRect();
         for (let i = 0; i < 10; i++) c.dispatchEvent(new WheelEvent('wheel', {deltaY: -100, clientX: r.left + r.width / 2, clientY: r.top + 50, bubbles: true, cancelable: true}));
         return true",
    );
    let zoomed = span(&b);
    assert!(
        zoomed < full * 0.2,
        "ten wheel steps in: {zoomed} of {full}"
    );
    b.eval("document.getElementById('zoom-in').click(); return true");
    assert!((span(&b) - zoomed * 0.5).abs() < 1.0);
    let drawn = b.eval("return window.report.drawn");
    let n = drawn["load"].as_u64().unwrap();
    assert!(
        n > 0 && n < whole / 5,
        "zoomed in, fewer samples drawn: {n}"
    );
    // Pan: the same span, later.
    let before = b.eval("return window.report.view[0]").as_f64().unwrap();
    b.eval("window.report.pan(3600); return true");
    let after = b.eval("return window.report.view[0]").as_f64().unwrap();
    assert_eq!(after - before, 3600.0);
    b.screenshot("simulate-report-zoomed");
    let errors = b.errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

#[test]
#[ignore = "needs chromium and chromium-driver: run by .ci/run"]
fn a_sweep_report_draws_the_frontiers() {
    let dir = workdir("sweep");
    let (reactive, _) = policies(&dir);
    simulate(
        &dir,
        &[
            "--policy",
            reactive.to_str().unwrap(),
            "--sweep",
            "60:90:10",
            "--html",
            "s.html",
        ],
    );
    let b = Browser::start();
    b.goto(&format!("file://{}", dir.join("s.html").display()));
    b.wait_for(
        "return window.report !== undefined && window.report.redraws > 0",
        Duration::from_secs(20),
        "the report drew",
    );
    let drawn = b.eval("return window.report.drawn");
    for name in ["reactive", "hpa", "keda"] {
        assert!(
            drawn[format!("frontier:{name}")].as_u64().unwrap_or(0) >= 4,
            "{name}'s frontier: {drawn}"
        );
    }
    assert!(b.eval("return document.getElementById('frontiers').hidden") == Value::Bool(false));
    let page = std::fs::read_to_string(dir.join("s.html")).unwrap();
    let compared = data(&page)["sweep"]["comparisons"]
        .as_array()
        .unwrap()
        .len();
    assert!(compared >= 2, "the policy and KEDA read at the HPA's point");
    let rows = b.eval("return document.querySelectorAll('#comparisons tr').length");
    assert_eq!(rows, compared + 1, "a header and a row each");
    b.screenshot("simulate-sweep-report");
    let errors = b.errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}
