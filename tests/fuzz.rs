//! Fuzz targets, on stable Rust: the metric message decoders with the windows
//! engine, the policy loader with the engine's plan, the `decide` snapshot
//! parser with the decision chain, the load-trace parser and the model-file
//! parser, each called as its command calls it.
//!
//! Each target runs every seed in `tests/fuzz/corpus/<target>/` (valid inputs
//! from the repository's examples, and every input that once broke it), then
//! generated inputs: mutations of the seeds and structure-aware documents
//! (`fuzz/mutate.rs`, `fuzz/generate.rs`). The property, for every input: no
//! panic (overflow checks are on in the test profile), done within 2 s and
//! 1 GiB (`fuzz/harness.rs`), and either a result or an error that says where
//! (`file:line:column`, `file:line`, the field) or, for metric messages, a
//! rejection counted under its reason.
//!
//! `cargo test --test fuzz` runs 3000 generated inputs per target (the bounded
//! run of CI); `SCALEPILOT_FUZZ_CASES=200000` runs more, and
//! `SCALEPILOT_FUZZ_SEED=<n>|random` draws other inputs. A failure names the
//! (shrunk) input and saves it under `target/tmp/fuzz-failures/`; once fixed,
//! it goes into the corpus as a regression seed.

#[path = "fuzz/generate.rs"]
mod generate;
#[path = "fuzz/harness.rs"]
mod harness;
#[path = "fuzz/mutate.rs"]
mod mutate;

use std::path::{Component, Path};
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use serde_json::value::RawValue;

use harness::{corpus, fuzz, Checked, Counting, Outcome};
use scalepilot::features::{
    decode, identity, plan_for, stream_metric, target_key, Checkpoint, Counters, EngineConfig,
    OtlpState, Partition, Plan, Rejection, Sample, SeriesPlan, WindowFeatures, WindowSpec,
};
use scalepilot::model::{Forecaster, ModelFile, PolicyModel};
use scalepilot::policy::{check_sources, load_file, LoadReport, ScalingPolicy};
use scalepilot::sim::Trace;

/// The bounds of a trace (`sim/trace.rs`): samples once gaps are filled,
/// span, and the latest time (9999-12-31).
const MAX_SAMPLES: usize = 10_000_000;
const MAX_SPAN_S: i64 = 400 * 86_400;
const MAX_TS: i64 = 253_402_300_799;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The strategy of a target: its seeds mutated, or a generated document.
fn inputs(
    target: &str,
    generated: impl Strategy<Value = Vec<u8>> + 'static,
) -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<Vec<u8>> = corpus(target).into_iter().map(|(_, b)| b).collect();
    prop_oneof![3 => mutate::mutated(seeds), 2 => generated]
}

/// The repository root: commands in tests run from there.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A path an input may make the target read: relative, inside the
/// repository, an existing file or a folder of `policies/` (never
/// `/dev/zero`, `/`, a fifo or `target/`).
fn readable(path: &Path) -> bool {
    let full = root().join(path);
    path.is_relative()
        && path.components().all(|c| matches!(c, Component::Normal(_)))
        && (full.is_file() || (full.is_dir() && path.starts_with("policies")))
}

// ---------------------------------------------------------------------------
// messages: decode + check + fold, as the consumer does for each message

const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// Policies that plan sliding, tumbling, distinct and per-pod windows.
const STREAM_POLICIES: &str = "apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {name: checkout, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: checkout}
  maxReplicas: 60
  metrics:
  - type: External
    external: {metric: {name: http_requests}, target: {type: AverageValue, averageValue: '70'}}
    stream: {window: 60s, slide: 5s, aggregate: rate}
  - type: External
    external: {metric: {name: users}, target: {type: Value, value: '100'}}
    stream: {window: 5m, slide: 30s, aggregate: distinct, label: user}
---
apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {name: web, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 10
  metrics:
  - type: Pods
    pods: {metric: {name: http_requests}, target: {type: AverageValue, averageValue: '10'}}
    stream: {window: 10s, aggregate: mean}
  - type: External
    external: {metric: {name: queue_depth}, target: {type: Value, value: '10'}}
    stream: {window: 1h, slide: 30s, aggregate: p99}
";

struct Engines {
    plan: Arc<Plan>,
    everything: Arc<Plan>,
}

fn engines() -> &'static Engines {
    static ENGINES: OnceLock<Engines> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let report = load_file(Path::new("stream.yaml"), STREAM_POLICIES);
        assert!(report.problems.is_empty(), "{:#?}", report.problems);
        let policies: Vec<ScalingPolicy> = report.policies.into_iter().map(|p| p.policy).collect();
        Engines {
            plan: Arc::new(plan_for(&policies)),
            everything: Arc::new(Plan::everything(SeriesPlan {
                windows: vec![
                    WindowSpec::tumbling(60_000),
                    WindowSpec {
                        size_ms: 300_000,
                        slide_ms: 30_000,
                    },
                ],
                distinct_label: Some("user".into()),
                per_pod: true,
                quantiles: true,
            })),
        }
    })
}

/// A partition that holds little: its ceilings are reached by a few samples.
fn tight() -> EngineConfig {
    EngineConfig {
        max_series: 3,
        max_dedupe_ids: 24,
        retain_closed: 2,
        ..EngineConfig::default()
    }
}

/// Folds one JSON message as the consumer does (keyed by its target);
/// returns how many outcomes it must have counted.
fn fold_json(engine: &mut Partition, payload: &[u8], offset: i64) -> u64 {
    let samples = match decode(payload, MAX_MESSAGE_BYTES) {
        Ok(s) => s,
        Err(r) => {
            engine.reject(r);
            return 1;
        }
    };
    for (i, s) in samples.iter().enumerate() {
        if s.target.is_empty() {
            engine.reject(Rejection::Key);
            continue;
        }
        let id = identity(s.id.as_deref(), "fuzz", 0, offset, i);
        engine.fold(s, id, offset, generate::NOW_MS);
    }
    samples.len() as u64
}

fn outcomes(c: &Counters) -> u64 {
    c.counted + c.duplicates + c.skipped + c.replayed + c.rejected.values().sum::<u64>()
}

/// The engine's state must come back from a checkpoint exactly: replaying
/// from its offset, open windows and the watermark are as they were.
fn replays_exactly(
    cfg: &EngineConfig,
    plan: &Arc<Plan>,
    engine: &mut Partition,
    messages: &[&[u8]],
) -> Checked {
    let cp = engine.checkpoint(messages.len() as i64);
    let back = Checkpoint::from_metadata(cp.offset, &cp.metadata());
    if back != Some(cp) {
        return Err(format!(
            "checkpoint {cp:?} reads back from {:?} as {back:?}",
            cp.metadata()
        ));
    }
    let mut replay = Partition::new(cfg.clone(), Arc::clone(plan));
    replay.restore(&cp);
    let from = usize::try_from(cp.offset).map_err(|_| format!("checkpoint {cp:?}"))?;
    for (offset, payload) in messages.iter().enumerate().skip(from) {
        fold_json(&mut replay, payload, offset as i64);
    }
    // In full order: `windows()` leaves the pods of one series in hash order.
    let open = |p: &mut Partition| {
        let mut w = p.windows();
        w.retain(|w| !w.closed);
        w.sort_by(|a, b| {
            let key = |w: &WindowFeatures| {
                (
                    w.target.clone(),
                    w.metric.clone(),
                    w.pod.clone(),
                    w.window_end,
                    w.window_start,
                )
            };
            key(a).cmp(&key(b))
        });
        w
    };
    let (was, now) = (open(engine), open(&mut replay));
    if was != now || engine.watermark() != replay.watermark() {
        return Err(format!(
            "replayed from {cp:?}: watermark {:?} → {:?}, open windows\n{was:#?}\n→\n{now:#?}",
            engine.watermark(),
            replay.watermark()
        ));
    }
    Ok(())
}

fn messages(input: &[u8]) -> Outcome {
    let e = engines();
    let lines: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
    let configs = [EngineConfig::default(), tight(), EngineConfig::default()];
    let plans = [&e.plan, &e.everything, &e.everything];
    let mut engines: Vec<Partition> = configs
        .iter()
        .zip(plans)
        .map(|(c, p)| Partition::new(c.clone(), Arc::clone(p)))
        .collect();
    let mut expected = vec![0u64; engines.len()];
    let mut otlp = OtlpState::new();
    let mut otlp_engine = Partition::new(EngineConfig::default(), Arc::clone(&e.everything));
    for (offset, payload) in lines.iter().enumerate() {
        let offset = offset as i64;
        for (engine, n) in engines.iter_mut().zip(&mut expected) {
            *n += fold_json(engine, payload, offset);
        }
        if let Some(r) = otlp.fold(
            &mut otlp_engine,
            payload,
            MAX_MESSAGE_BYTES,
            offset,
            generate::NOW_MS,
        ) {
            if otlp_engine.counters.rejected.get(&r).copied().unwrap_or(0) == 0 {
                return Err(format!(
                    "OTLP message {offset} rejected as {r} but not counted"
                ));
            }
        }
        let _ = otlp_engine.take_closed();
    }
    for ((engine, cfg), n) in engines.iter_mut().zip(&configs).zip(&expected) {
        let counted = outcomes(&engine.counters);
        if counted != *n {
            return Err(format!(
                "{n} samples and rejected messages, but the counters hold {counted}: {:?}",
                engine.counters
            ));
        }
        if engine.series_count() > cfg.max_series || engine.dedupe_ids() > cfg.max_dedupe_ids {
            return Err(format!(
                "{} series and {} dedupe ids held, past the ceilings {} and {}",
                engine.series_count(),
                engine.dedupe_ids(),
                cfg.max_series,
                cfg.max_dedupe_ids
            ));
        }
        let _ = engine.take_closed();
    }
    let _ = otlp.checkpoint(&mut otlp_engine, lines.len() as i64);
    let _ = otlp_engine.windows();
    for (i, plan) in [&e.plan, &e.everything].into_iter().enumerate() {
        replays_exactly(&configs[i * 2], plan, &mut engines[i * 2], &lines)?;
    }
    Ok(
        if engines[0].counters.counted + engines[1].counters.counted > 0 {
            "samples counted"
        } else {
            "every sample rejected or skipped"
        },
    )
}

#[test]
fn fuzz_messages() {
    fuzz(
        "messages",
        messages,
        inputs("messages", generate::messages()),
    );
}

// ---------------------------------------------------------------------------
// policies: load as `validate` does (schema, checks, sources), then plan

/// Every problem names the file and a position a reader can go to.
fn located(report: &LoadReport, file: &Path) -> Checked {
    for p in &report.problems {
        if p.file != file || p.line == 0 || p.column == 0 || p.message.is_empty() {
            return Err(format!("a problem without a location: {p} ({p:?})"));
        }
    }
    Ok(())
}

/// One sample for every series a policy plans, the windows it opens counted.
fn fold_planned(policies: &[ScalingPolicy]) -> Checked {
    let plan = Arc::new(plan_for(policies));
    let mut engine = Partition::new(EngineConfig::default(), plan);
    let labels = RawValue::from_string("{\"user\":\"u1\"}".into()).expect("JSON");
    let mut specs = 0;
    for p in policies {
        let Some(target) = target_key(p) else {
            continue;
        };
        for m in &p.spec.metrics {
            let Some(metric) = stream_metric(m) else {
                continue;
            };
            specs += 1;
            let sample = Sample {
                id: None,
                ts: generate::NOW_MS,
                target: target.as_str().into(),
                metric: metric.into(),
                value: 1.0,
                pod: Some("pod-0".into()),
                labels: Some(&labels),
            };
            engine.fold(&sample, specs, 0, generate::NOW_MS);
        }
    }
    let windows = engine.windows().len() as u64;
    let most = (specs + 1) * scalepilot::duration::MAX_WINDOWS_PER_SAMPLE as u64;
    if windows > most {
        return Err(format!(
            "{specs} samples opened {windows} windows, more than {most}"
        ));
    }
    Ok(())
}

fn policies(input: &[u8]) -> Outcome {
    // As `validate` reads it: from a file (the source check reads it again).
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-policies.yaml");
    std::fs::write(&file, input).map_err(|e| e.to_string())?;
    let text = match std::str::from_utf8(input) {
        Ok(t) => t.to_string(),
        Err(_) => String::from_utf8_lossy(input).into_owned(),
    };
    let mut report = load_file(&file, &text);
    located(&report, &file)?;
    check_sources(&mut report);
    located(&report, &file)?;
    let policies: Vec<ScalingPolicy> = report.policies.iter().map(|p| p.policy.clone()).collect();
    fold_planned(&policies)?;
    for p in &policies {
        let Some(f) = &p.spec.forecast else { continue };
        if readable(Path::new(&f.model)) {
            let here = root().join("policies/p.yaml");
            if let Err(e) = PolicyModel::load(Some(&here), Some(f)) {
                if e.to_string().is_empty() {
                    return Err("a forecast error without a message".into());
                }
            }
        }
    }
    Ok(if policies.is_empty() {
        "no valid policy"
    } else {
        "valid policies planned"
    })
}

#[test]
fn fuzz_policies() {
    fuzz(
        "policies",
        policies,
        inputs("policies", generate::policies()),
    );
}

// ---------------------------------------------------------------------------
// snapshots: parse, resolve the policy, decide, render, as `decide` does

fn snapshot(input: &[u8]) -> Outcome {
    use scalepilot::snapshot;
    let text = String::from_utf8_lossy(input);
    let snap = match snapshot::parse(&text, "fuzz.json") {
        Ok(s) => s,
        Err(e) => {
            let e = e.to_string();
            let mut parts = e.splitn(4, ':');
            let file = parts.next();
            let line = parts.next().and_then(|l| l.parse::<usize>().ok());
            let column = parts.next().and_then(|c| c.parse::<usize>().ok());
            return match (file, line, column) {
                (Some("fuzz.json"), Some(1..), Some(_)) => Ok("parse error"),
                _ => Err(format!("a parse error without file:line:column: {e}")),
            };
        }
    };
    if snap.policy_file.as_deref().is_some_and(|f| !readable(f)) {
        return Ok("policyFile outside the repository"); // not read
    }
    let policy = match snap.resolve_policy_from(Some(root()), "fuzz.json") {
        Ok(p) => p,
        Err(e) if e.to_string().is_empty() => return Err("an empty policy error".into()),
        Err(_) => return Ok("policy refused"),
    };
    let decision_input = match snap.to_input(&policy) {
        Ok(i) => i,
        Err(e) if e.to_string().is_empty() => return Err("an empty input error".into()),
        Err(_) => return Ok("input refused"),
    };
    let d = scalepilot::decide::decide(&decision_input, snap.history.clone());
    serde_json::to_string_pretty(&d).map_err(|e| format!("the decision does not render: {e}"))?;
    let _ = d.to_text();
    let most = policy.max_replicas.max(snap.current_replicas);
    if d.desired_replicas < 0 || d.desired_replicas > most {
        return Err(format!(
            "desired {} replicas, outside 0..={most} (maxReplicas {}, current {})",
            d.desired_replicas, policy.max_replicas, snap.current_replicas
        ));
    }
    Ok(if d.error.is_some() {
        "decided: HPA error"
    } else {
        "decided"
    })
}

#[test]
fn fuzz_snapshots() {
    fuzz(
        "snapshots",
        snapshot,
        inputs("snapshots", generate::snapshots()),
    );
}

// ---------------------------------------------------------------------------
// traces: parse and check as `simulate` and `train` read a trace

fn trace(input: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(input);
    let t = match Trace::from_csv(&text, "fuzz.csv", "fuzz".into()) {
        Ok(t) => t,
        Err(e) => {
            let e = e.to_string();
            return if e.starts_with("fuzz.csv:") {
                Ok("refused")
            } else {
                Err(format!("an error not naming the file: {e}"))
            };
        }
    };
    let n = t.ts.len();
    let span = t.ts[n - 1] - t.ts[0];
    if n > MAX_SAMPLES
        || t.values.len() != n
        || span > MAX_SPAN_S
        || t.ts[0] < 0
        || t.ts[n - 1] > MAX_TS
        || t.ts.windows(2).any(|w| w[1] <= w[0])
        || t.values.iter().any(|v| !(v.is_finite() && *v >= 0.0))
    {
        return Err(format!(
            "a trace past its bounds: {n} samples over {span} s from {}",
            t.ts[0]
        ));
    }
    let _ = (t.end(), t.quantile(0.99), t.quantile(0.0));
    let _ = t.tail(n / 2);
    let _ = t.tail(n.saturating_sub(1));
    Ok(if t.filled > 0 {
        "parsed, gaps filled"
    } else {
        "parsed"
    })
}

#[test]
fn fuzz_traces() {
    fuzz("traces", trace, inputs("traces", generate::traces()));
}

// ---------------------------------------------------------------------------
// models: parse and check as `simulate` and `run` load a model, then forecast

fn model(input: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(input);
    let m = match ModelFile::parse(&text, "fuzz.json") {
        Ok(m) => m,
        Err(e) => {
            let e = e.to_string();
            return if e.starts_with("fuzz.json: ") {
                Ok("refused")
            } else {
                Err(format!("an error not naming the file: {e}"))
            };
        }
    };
    // What loads must save and load again (train writes what simulate reads).
    let saved = serde_json::to_string(&m).map_err(|e| format!("does not save: {e}"))?;
    ModelFile::parse(&saved, "saved.json").map_err(|e| format!("saved, then refused: {e}"))?;
    let step = m.features.step_s;
    let mut f = Forecaster::new(Arc::new(m));
    let t0 = 1_767_225_600;
    for k in 0..40i64 {
        f.observe(t0 + k * step, 100.0 + (k % 7) as f64);
        let _ = f.forecast();
    }
    Ok("loaded, forecast")
}

#[test]
fn fuzz_models() {
    let base: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("models/diurnal-5m.json")).unwrap())
            .unwrap();
    fuzz("models", model, inputs("models", generate::models(base)));
}
