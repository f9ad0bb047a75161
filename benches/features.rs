//! The ingest hot path without the broker: decode → dedupe → windows, payloads
//! in memory, one core. Single-sample messages and 100-sample batches, into a
//! 60 s tumbling window and into a 60 s window sliding every 5 s; and, side by
//! side, the same 100-sample batches as OTLP requests (as the OpenTelemetry
//! Collector's Kafka exporter writes them): gauges in protobuf and in JSON,
//! and cumulative counters in protobuf (turned into increases). The JSON
//! cases run with a quantile sketch per window and, `_no_sketch`, without
//! one, as the controller keeps a metric its policy reads as a rate.

use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use scalepilot::features::{
    decode, identity, EngineConfig, OtlpState, Partition, Plan, SeriesPlan, WindowSpec,
};

const T0: i64 = 1_767_225_600_000;
const EVENTS: usize = 100_000;

fn sample(i: usize) -> String {
    format!(
        r#"{{"id":"evt-{i}","ts":{},"target":"shop/web-{}","metric":"http_requests","value":{}.5,"pod":"web-{}"}}"#,
        T0 + (i as i64) * 10,
        i % 8,
        i % 50,
        i % 20
    )
}

fn payloads(batch: usize) -> Vec<Vec<u8>> {
    (0..EVENTS / batch)
        .map(|m| {
            let items: Vec<String> = (0..batch).map(|k| sample(m * batch + k)).collect();
            if batch == 1 {
                items[0].clone().into_bytes()
            } else {
                format!("[{}]", items.join(",")).into_bytes()
            }
        })
        .collect()
}

/// Event `i` of `sample(i)`: (target index, pod index, time, value).
fn event(i: usize) -> (usize, usize, i64, f64) {
    (i % 8, i % 20, T0 + (i as i64) * 10, (i % 50) as f64 + 0.5)
}

fn kv(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
    }
}

/// The events of `payloads(batch)` as OTLP requests, one per batch: a
/// resource per target, its points as a gauge `http_requests` (or, with
/// `cumulative`, as running totals per pod of a monotonic cumulative sum).
fn otlp_requests(batch: usize, cumulative: bool) -> Vec<ExportMetricsServiceRequest> {
    let mut totals = [[0.0f64; 20]; 8];
    (0..EVENTS / batch)
        .map(|m| {
            let mut points: Vec<Vec<NumberDataPoint>> = vec![Vec::new(); 8];
            for i in m * batch..(m + 1) * batch {
                let (t, pod, ts, v) = event(i);
                totals[t][pod] += v;
                points[t].push(NumberDataPoint {
                    attributes: vec![kv("k8s.pod.name", format!("web-{pod}"))],
                    start_time_unix_nano: T0 as u64 * 1_000_000,
                    time_unix_nano: ts as u64 * 1_000_000,
                    value: Some(number_data_point::Value::AsDouble(if cumulative {
                        totals[t][pod]
                    } else {
                        v
                    })),
                    ..NumberDataPoint::default()
                });
            }
            let resource_metrics = points
                .into_iter()
                .enumerate()
                .filter(|(_, p)| !p.is_empty())
                .map(|(t, data_points)| ResourceMetrics {
                    resource: Some(Resource {
                        attributes: vec![
                            kv("k8s.namespace.name", "shop".into()),
                            kv("k8s.deployment.name", format!("web-{t}")),
                        ],
                        ..Resource::default()
                    }),
                    scope_metrics: vec![ScopeMetrics {
                        metrics: vec![Metric {
                            name: "http_requests".into(),
                            data: Some(if cumulative {
                                Data::Sum(Sum {
                                    data_points,
                                    aggregation_temporality: 2,
                                    is_monotonic: true,
                                })
                            } else {
                                Data::Gauge(Gauge { data_points })
                            }),
                            ..Metric::default()
                        }],
                        ..ScopeMetrics::default()
                    }],
                    schema_url: String::new(),
                })
                .collect();
            ExportMetricsServiceRequest { resource_metrics }
        })
        .collect()
}

/// A gauge request in OTLP/JSON as the collector writes it (64-bit integers as strings).
fn otlp_json(req: &ExportMetricsServiceRequest) -> Vec<u8> {
    let attrs = |kvs: &[KeyValue]| {
        kvs.iter()
            .map(|kv| {
                let Some(any_value::Value::StringValue(v)) =
                    kv.value.as_ref().and_then(|v| v.value.as_ref())
                else {
                    unreachable!("string attributes only")
                };
                format!(r#"{{"key":"{}","value":{{"stringValue":"{v}"}}}}"#, kv.key)
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let resources: Vec<String> = req
        .resource_metrics
        .iter()
        .map(|rm| {
            let Some(Data::Gauge(g)) = &rm.scope_metrics[0].metrics[0].data else {
                unreachable!("gauges only")
            };
            let points: Vec<String> = g
                .data_points
                .iter()
                .map(|p| {
                    let Some(number_data_point::Value::AsDouble(v)) = p.value else {
                        unreachable!()
                    };
                    format!(
                        r#"{{"attributes":[{}],"startTimeUnixNano":"{}","timeUnixNano":"{}","asDouble":{v}}}"#,
                        attrs(&p.attributes),
                        p.start_time_unix_nano,
                        p.time_unix_nano
                    )
                })
                .collect();
            format!(
                r#"{{"resource":{{"attributes":[{}]}},"scopeMetrics":[{{"scope":{{}},"metrics":[{{"name":"http_requests","gauge":{{"dataPoints":[{}]}}}}]}}]}}"#,
                attrs(&rm.resource.as_ref().unwrap().attributes),
                points.join(",")
            )
        })
        .collect();
    format!(r#"{{"resourceMetrics":[{}]}}"#, resources.join(",")).into_bytes()
}

/// OTLP messages through the same engine: decode → points → (increases) → dedupe → windows.
fn run_otlp(messages: &[Vec<u8>], plan: &Arc<Plan>) -> u64 {
    let mut p = Partition::new(EngineConfig::default(), Arc::clone(plan));
    let mut state = OtlpState::new();
    for (offset, m) in messages.iter().enumerate() {
        state.fold(&mut p, m, 1 << 20, offset as i64, T0 + 10_000_000);
    }
    p.counters.counted
}

fn run(messages: &[Vec<u8>], plan: &Arc<Plan>) -> u64 {
    let mut p = Partition::new(EngineConfig::default(), Arc::clone(plan));
    for (offset, m) in messages.iter().enumerate() {
        match decode(m, 1 << 20) {
            Ok(samples) => {
                for (i, s) in samples.iter().enumerate() {
                    let id = identity(s.id.as_deref(), "scalepilot.metrics", 0, offset as i64, i);
                    p.fold(s, id, offset as i64, T0 + 10_000_000);
                }
            }
            Err(r) => p.reject(r),
        }
    }
    p.counters.counted
}

fn bench(c: &mut Criterion) {
    let tumbling = Arc::new(Plan::everything(SeriesPlan {
        windows: vec![WindowSpec::tumbling(60_000)],
        distinct_label: None,
        per_pod: false,
        quantiles: true,
    }));
    // What the controller keeps for a policy reading `rate` (or count, sum,
    // mean, min, max): no quantile sketch, the same work as the Python peer.
    let lean = Arc::new(Plan::everything(SeriesPlan {
        windows: vec![WindowSpec::tumbling(60_000)],
        distinct_label: None,
        per_pod: false,
        quantiles: false,
    }));
    let sliding = Arc::new(Plan::everything(SeriesPlan {
        windows: vec![WindowSpec {
            size_ms: 60_000,
            slide_ms: 5_000,
        }],
        distinct_label: None,
        per_pod: false,
        quantiles: true,
    }));
    let single = payloads(1);
    let batched = payloads(100);
    let gauges = otlp_requests(100, false);
    let otlp_proto: Vec<Vec<u8>> = gauges.iter().map(Message::encode_to_vec).collect();
    let otlp_json: Vec<Vec<u8>> = gauges.iter().map(otlp_json).collect();
    let otlp_counters: Vec<Vec<u8>> = otlp_requests(100, true)
        .iter()
        .map(Message::encode_to_vec)
        .collect();
    assert_eq!(run(&single, &tumbling), EVENTS as u64);
    assert_eq!(run(&batched, &tumbling), EVENTS as u64);
    assert_eq!(run(&batched, &lean), EVENTS as u64);
    assert_eq!(run_otlp(&otlp_proto, &tumbling), EVENTS as u64);
    assert_eq!(run_otlp(&otlp_json, &tumbling), EVENTS as u64);
    // 40 (target, pod) series: each one's first point is its baseline.
    assert_eq!(run_otlp(&otlp_counters, &tumbling), EVENTS as u64 - 40);
    let mut g = c.benchmark_group("hot_path");
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.sample_size(20);
    g.bench_function("single_tumbling", |b| {
        b.iter(|| run(black_box(&single), &tumbling))
    });
    g.bench_function("batch100_tumbling", |b| {
        b.iter(|| run(black_box(&batched), &tumbling))
    });
    g.bench_function("single_tumbling_no_sketch", |b| {
        b.iter(|| run(black_box(&single), &lean))
    });
    g.bench_function("batch100_tumbling_no_sketch", |b| {
        b.iter(|| run(black_box(&batched), &lean))
    });
    g.bench_function("batch100_sliding_60s_5s", |b| {
        b.iter(|| run(black_box(&batched), &sliding))
    });
    g.bench_function("batch100_tumbling_otlp_proto_gauges", |b| {
        b.iter(|| run_otlp(black_box(&otlp_proto), &tumbling))
    });
    g.bench_function("batch100_tumbling_otlp_json_gauges", |b| {
        b.iter(|| run_otlp(black_box(&otlp_json), &tumbling))
    });
    g.bench_function("batch100_tumbling_otlp_proto_counters", |b| {
        b.iter(|| run_otlp(black_box(&otlp_counters), &tumbling))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
