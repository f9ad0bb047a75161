//! `scalepilot status`: one line per policy's target, read from what the
//! controller leaves on the cluster: replicas asked and observed (`/scale`),
//! the last decision and its reason (the `scalepilot.io/last-decision`
//! annotation), paused (the annotation), an HPA that also scales the target,
//! and each metric's health (the latest `MetricMissing` / `MetricRecovered`
//! Event per metric). Reads only; needs no broker and no running controller
//! beyond what it wrote.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;

use crate::cli::{OutputFormat, StatusArgs};
use crate::controller::targets;
use crate::controller::{LAST_DECISION, PAUSED};
use crate::error::{Error, Result};
use crate::features::target_key;
use crate::policy::{load_paths, ScalingPolicy};

/// One target's line.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub target: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// `/scale` `status.replicas`: the pods the workload has now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_replicas: Option<i32>,
    /// The count of the last decision written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_replicas: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_decision_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_decision_reason: Option<String>,
    pub paused: bool,
    /// The HPA that also scales it (scalepilot refuses to write).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hpa: Option<String>,
    /// Metrics whose latest health Event says missing, with its note.
    pub missing_metrics: BTreeMap<String, String>,
    /// Why the target could not be read (kind not served, no `/scale`,
    /// object not found, no access).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn run(args: &StatusArgs) -> Result<()> {
    let report = load_paths(&args.policies);
    if !report.problems.is_empty() {
        return Err(Error::Policy(
            report.problems.iter().map(ToString::to_string).collect(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Input(format!("starting the runtime: {e}")))?;
    let lines = runtime.block_on(async {
        let client = client(args.kubeconfig.as_ref()).await?;
        let mut lines = Vec::new();
        for p in &report.policies {
            lines.extend(line(&client, &p.policy).await);
        }
        Ok::<_, Error>(lines)
    })?;
    print(&lines, args.output)
}

async fn client(kubeconfig: Option<&PathBuf>) -> Result<kube::Client> {
    let fail = |e: String| Error::Input(format!("no cluster reachable: {e}"));
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| fail(format!("{}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(|e| fail(e.to_string()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| fail(format!("{e} (KUBECONFIG, ~/.kube/config or in-cluster)")))?,
    };
    kube::Client::try_from(config).map_err(|e| fail(e.to_string()))
}

async fn line(client: &kube::Client, p: &ScalingPolicy) -> Option<Line> {
    let key = target_key(p)?;
    let t = p.spec.target.as_ref()?;
    let (ns, name) = key.split_once('/').unwrap_or(("default", key.as_str()));
    let mut out = Line {
        target: key.clone(),
        kind: t.kind.clone(),
        ..Line::default()
    };
    let ar = match targets::resolve(client, t).await {
        Ok(ar) => ar,
        Err(e) => {
            out.error = Some(e.to_string());
            return Some(out);
        }
    };
    let object = match Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ar)
        .get(name)
        .await
    {
        Ok(o) => o,
        Err(e) => {
            out.error = Some(format!("reading {} {key}: {e}", ar.kind));
            return Some(out);
        }
    };
    let annotations = object.metadata.annotations.unwrap_or_default();
    out.paused = annotations.get(PAUSED).is_some_and(|v| v == "true");
    if let Some(last) = annotations
        .get(LAST_DECISION)
        .and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok())
    {
        out.desired_replicas = last["replicas"].as_i64();
        out.last_decision_time = last["time"].as_str().map(String::from);
        out.last_decision_reason = last["reason"].as_str().map(String::from);
    }
    match targets::read_scale(client, &ar, ns, name).await {
        Ok(s) => {
            out.replicas = Some(s.replicas);
            out.observed_replicas = Some(s.status_replicas);
        }
        Err(e) => out.error = Some(format!("reading /scale: {e}")),
    }
    let hpas = Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await;
    out.hpa = hpas.ok().and_then(|l| {
        l.items.into_iter().find_map(|h| {
            let r = &h.spec.as_ref()?.scale_target_ref;
            (r.kind == ar.kind && r.name == name).then(|| h.metadata.name.unwrap_or_default())
        })
    });
    let events = Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    out.missing_metrics = missing_metrics(&events, &ar.kind);
    Some(out)
}

/// When an Event last happened (a series' last observation first).
fn when(e: &Event) -> String {
    let series = e
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref());
    series
        .map(|t| t.0.to_string())
        .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| e.last_timestamp.as_ref().map(|t| t.0.to_string()))
        .unwrap_or_default()
}

/// Per metric, the latest health Event on a target of `kind`: the metrics
/// whose latest says missing, with its note.
fn missing_metrics(events: &[Event], kind: &str) -> BTreeMap<String, String> {
    let mut latest: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    for e in events {
        if e.involved_object.kind.as_deref() != Some(kind) {
            continue;
        }
        let note = e.message.clone().unwrap_or_default();
        let missing = match e.reason.as_deref() {
            Some("MetricMissing") => true,
            Some("MetricRecovered") => false,
            _ => continue,
        };
        // Notes read "metric NAME is missing: …" / "metric NAME is observed again".
        let Some(metric) = note
            .strip_prefix("metric ")
            .and_then(|r| r.split(' ').next())
        else {
            continue;
        };
        let at = when(e);
        if latest.get(metric).is_none_or(|(t, _)| *t <= at) {
            latest.insert(metric.to_string(), (at, missing.then_some(note)));
        }
    }
    latest
        .into_iter()
        .filter_map(|(m, (_, note))| Some((m, note?)))
        .collect()
}

fn print(lines: &[Line], output: OutputFormat) -> Result<()> {
    let out = |e: std::io::Error| Error::Output(e);
    use std::io::Write;
    let mut w = std::io::stdout().lock();
    match output {
        OutputFormat::Json => {
            for l in lines {
                let text = serde_json::to_string(l).map_err(|e| out(e.into()))?;
                writeln!(w, "{text}").map_err(out)?;
            }
        }
        OutputFormat::Text => {
            writeln!(
                w,
                "{:<28} {:<12} {:>8} {:>7} {:<6} {:<22} last decision",
                "target", "kind", "replicas", "desired", "paused", "metrics"
            )
            .map_err(out)?;
            let n = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
            for l in lines {
                if let Some(e) = &l.error {
                    writeln!(w, "{:<28} {:<12} error: {e}", l.target, l.kind).map_err(out)?;
                    continue;
                }
                let replicas = format!(
                    "{}/{}",
                    n(l.observed_replicas.map(i64::from)),
                    n(l.replicas.map(i64::from))
                );
                let metrics = match l.missing_metrics.len() {
                    0 => "ok".to_string(),
                    _ => format!(
                        "missing: {}",
                        l.missing_metrics
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                };
                let mut last = match (&l.last_decision_time, &l.last_decision_reason) {
                    (Some(t), Some(r)) => format!("{t} {r}"),
                    _ => "none written".into(),
                };
                if let Some(h) = &l.hpa {
                    last = format!("refused: HPA {h} also scales it; {last}");
                }
                writeln!(
                    w,
                    "{:<28} {:<12} {:>8} {:>7} {:<6} {:<22} {last}",
                    l.target,
                    l.kind,
                    replicas,
                    n(l.desired_replicas),
                    if l.paused { "yes" } else { "no" },
                    metrics
                )
                .map_err(out)?;
            }
        }
    }
    Ok(())
}
