//! `scalepilot import-hpa`: HorizontalPodAutoscalers (autoscaling/v2, v2beta2
//! and v1, from files, standard input or a cluster) as scalepilot policies
//! whose `metrics` and `behavior` are the HPA's own, so the imported policy
//! decides what the HPA decides. What the HPA leaves to its defaults is
//! written out in a comment; every policy is checked by the loader
//! `validate` uses before anything is written.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::cli::ImportHpaArgs;
use crate::error::{Error, Result};
use crate::policy::{
    load_text, source_of, LoadReport, MetricSpec, ObjectMeta, PolicySpec, ScalingPolicy,
};

/// One imported policy: where it came from, and its YAML.
struct Imported {
    namespace: String,
    name: String,
    yaml: String,
}

pub fn run(args: &ImportHpaArgs) -> Result<()> {
    let mut docs: Vec<(String, Value)> = Vec::new();
    if args.from_cluster {
        docs.extend(from_cluster(args)?);
    }
    for f in &args.files {
        let (label, text) = if f.as_os_str() == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Error::Input(format!("standard input: {e}")))?;
            ("<stdin>".to_string(), s)
        } else {
            let text = std::fs::read_to_string(f).map_err(|e| Error::Read {
                path: f.clone(),
                source: e,
            })?;
            (f.display().to_string(), text)
        };
        docs.extend(documents(&label, &text)?);
    }
    if docs.is_empty() && args.from_cluster && args.files.is_empty() {
        eprintln!(
            "import-hpa: no HorizontalPodAutoscalers in {}",
            args.namespace
                .as_deref()
                .map_or("the cluster".to_string(), |n| format!("namespace {n}"))
        );
        return Ok(());
    }
    if docs.is_empty() {
        return Err(Error::Input(
            "import-hpa: no HorizontalPodAutoscaler given (files, - for standard input, or --from-cluster)".into(),
        ));
    }
    let imported: Vec<Imported> = docs
        .iter()
        .map(|(source, hpa)| import(source, hpa))
        .collect::<Result<_>>()?;
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(Error::Output)?;
            for p in &imported {
                let path = dir.join(format!("{}-{}.yaml", p.namespace, p.name));
                std::fs::write(&path, &p.yaml).map_err(Error::Output)?;
                eprintln!("wrote {}", path.display());
            }
            Ok(())
        }
        None => {
            let all: Vec<&str> = imported.iter().map(|p| p.yaml.as_str()).collect();
            super::simulate::print_stdout(&all.join("---\n"))
        }
    }
}

/// The HPAs among the YAML or JSON documents of `text` (lists unwrapped),
/// each with where it came from.
fn documents(label: &str, text: &str) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| {
        let at = e
            .location()
            .map_or(String::new(), |l| format!(":{}:{}", l.line(), l.column()));
        Error::Input(format!("{label}{at}: {}", crate::policy::yaml_message(&e)))
    })?;
    for (i, v) in docs.into_iter().enumerate() {
        if v.is_null() {
            continue;
        }
        let items = match v.get("items").and_then(Value::as_array) {
            Some(items) => items.clone(),
            None => vec![v],
        };
        for (j, item) in items.into_iter().enumerate() {
            let kind = item.get("kind").and_then(Value::as_str).unwrap_or_default();
            if kind != "HorizontalPodAutoscaler" {
                return Err(Error::Input(format!(
                    "{label}: document {}{}: kind: expected HorizontalPodAutoscaler, got {kind:?}",
                    i + 1,
                    if j > 0 {
                        format!(" item {}", j + 1)
                    } else {
                        String::new()
                    }
                )));
            }
            out.push((format!("{label}: document {}", i + 1), item));
        }
    }
    Ok(out)
}

/// Lists the cluster's HPAs (autoscaling/v2) in `--namespace` or all namespaces.
fn from_cluster(args: &ImportHpaArgs) -> Result<Vec<(String, Value)>> {
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Input(format!("starting the runtime: {e}")))?;
    runtime.block_on(async {
        let config = match &args.kubeconfig {
            Some(path) => {
                let kc = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kc, &Default::default())
                    .await
                    .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?
            }
            None => kube::Config::infer().await.map_err(|e| {
                Error::Input(format!(
                    "--from-cluster: no cluster (KUBECONFIG or in-cluster): {e}"
                ))
            })?,
        };
        let client = kube::Client::try_from(config)
            .map_err(|e| Error::Input(format!("--from-cluster: {e}")))?;
        let api: kube::Api<HorizontalPodAutoscaler> = match &args.namespace {
            Some(ns) => kube::Api::namespaced(client, ns),
            None => kube::Api::all(client),
        };
        let list = api.list(&Default::default()).await.map_err(|e| {
            Error::Input(format!(
                "--from-cluster: listing HorizontalPodAutoscalers: {e}"
            ))
        })?;
        list.items
            .into_iter()
            .map(|h| {
                let mut v = serde_json::to_value(&h)
                    .map_err(|e| Error::Input(format!("--from-cluster: {e}")))?;
                v["apiVersion"] = "autoscaling/v2".into();
                v["kind"] = "HorizontalPodAutoscaler".into();
                Ok(("the cluster".to_string(), v))
            })
            .collect()
    })
}

/// One HPA as a policy, with its comment, checked.
fn import(source: &str, hpa: &Value) -> Result<Imported> {
    let api_version = hpa
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = hpa["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let namespace = hpa["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default")
        .to_string();
    let at = format!("{source} (HorizontalPodAutoscaler {namespace}/{name})");
    if name.is_empty() {
        return Err(Error::Input(format!("{at}: metadata.name: required")));
    }
    let spec_value = hpa.get("spec").cloned().unwrap_or(Value::Null);
    let mut notes = Vec::new();
    let spec: PolicySpec = match api_version {
        "autoscaling/v2" | "autoscaling/v2beta2" => serde_path_to_error::deserialize(spec_value)
            .map_err(|e| Error::Input(format!("{at}: spec.{}: {}", e.path(), e.inner())))?,
        "autoscaling/v1" => v1_spec(&at, spec_value, &mut notes)?,
        other => {
            return Err(Error::Input(format!(
                "{at}: apiVersion: {other:?} is not autoscaling/v2, v2beta2 or v1"
            )))
        }
    };
    if spec.min_replicas.is_none() {
        notes.push("minReplicas: not set; 1, the HPA's default".to_string());
    }
    if spec.metrics.is_empty() {
        notes.push("metrics: none; CPU utilization 80 %, the HPA's default".to_string());
    }
    match &spec.behavior {
        None => notes.push(
            "behavior: none; the HPA's legacy rules apply: scale-up to at most max(2 × current, 4) per sync, \
             scale-down after the controller's 300 s stabilization window"
                .to_string(),
        ),
        Some(b) => {
            if b.scale_up.is_none() {
                notes.push("behavior.scaleUp: not set; the HPA's default: 4 pods or 100 % per 15 s, no window".into());
            }
            if b.scale_down.is_none() {
                notes.push("behavior.scaleDown: not set; the HPA's default: 100 % per 15 s, the controller's 300 s window".into());
            }
        }
    }
    for (i, m) in spec.metrics.iter().enumerate() {
        if source_of(m).is_err() {
            notes.push(format!(
                "metrics[{i}]: scalepilot needs a source for this {} metric before `run` can observe it: \
                 add a `stream:` block (samples on Kafka) or, for External, a `kafkaLag:` block",
                m.source_type
            ));
        }
    }
    let policy = ScalingPolicy {
        api_version: "scalepilot.io/v1alpha1".into(),
        kind: "ScalingPolicy".into(),
        metadata: ObjectMeta {
            name: name.clone(),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        },
        spec,
    };
    let body = serde_saphyr::to_string(&policy).map_err(|e| Error::Input(format!("{at}: {e}")))?;
    let mut yaml = format!("# Imported from {at} by `scalepilot import-hpa`.\n");
    for n in &notes {
        yaml.push_str(&format!("# {n}\n"));
    }
    yaml.push_str(&body);
    let mut report = LoadReport::default();
    load_text(
        Path::new(&format!("{namespace}-{name}.yaml")),
        &yaml,
        &mut report,
    );
    if !report.problems.is_empty() {
        let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        return Err(Error::Input(format!(
            "{at}: the imported policy does not validate:\n{}",
            problems.join("\n")
        )));
    }
    Ok(Imported {
        namespace,
        name,
        yaml,
    })
}

/// autoscaling/v1: `targetCPUUtilizationPercentage` (default 80) as a CPU
/// Utilization metric.
fn v1_spec(at: &str, spec: Value, notes: &mut Vec<String>) -> Result<PolicySpec> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct V1 {
        scale_target_ref: crate::policy::TargetRef,
        min_replicas: Option<i32>,
        max_replicas: i32,
        #[serde(rename = "targetCPUUtilizationPercentage")]
        target_cpu: Option<i32>,
    }
    let v1: V1 = serde_path_to_error::deserialize(spec)
        .map_err(|e| Error::Input(format!("{at}: spec.{}: {}", e.path(), e.inner())))?;
    let pct = v1.target_cpu.unwrap_or_else(|| {
        notes.push("targetCPUUtilizationPercentage: not set; 80, the HPA's default".into());
        80
    });
    Ok(PolicySpec {
        target: Some(v1.scale_target_ref),
        min_replicas: v1.min_replicas,
        max_replicas: v1.max_replicas,
        metrics: vec![MetricSpec::cpu_utilization(pct)],
        behavior: None,
        tick_seconds: None,
        forecast: None,
        activation: None,
        burst: None,
    })
}
