//! OTLP → windows, against values computed by hand in the tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::*;
use crate::features::{EngineConfig, Plan, SeriesPlan, WindowFeatures, WindowSpec};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z in ms
const NOW: i64 = T0 + 3_600_000;
const CUMULATIVE: i32 = 2;
const DELTA: i32 = 1;

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
    }
}

/// A resource of target `ns/deploy` (either may be left out) holding `metrics`.
fn resource(ns: Option<&str>, deploy: Option<&str>, metrics: Vec<Metric>) -> ResourceMetrics {
    let mut attributes = Vec::new();
    attributes.extend(ns.map(|n| kv(NAMESPACE, n)));
    attributes.extend(deploy.map(|d| kv(DEPLOYMENT, d)));
    ResourceMetrics {
        resource: Some(Resource {
            attributes,
            ..Resource::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            metrics,
            ..ScopeMetrics::default()
        }],
        schema_url: String::new(),
    }
}

fn ns(ms: i64) -> u64 {
    ms as u64 * 1_000_000
}

/// A number point at `time_ms` (started at `start_ms`), its pod as a point attribute.
fn point(pod: Option<&str>, start_ms: i64, time_ms: i64, value: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: pod.map(|p| kv(POD, p)).into_iter().collect(),
        start_time_unix_nano: ns(start_ms),
        time_unix_nano: ns(time_ms),
        value: Some(number_data_point::Value::AsDouble(value)),
        ..NumberDataPoint::default()
    }
}

fn gauge(name: &str, data_points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        data: Some(Data::Gauge(Gauge { data_points })),
        ..Metric::default()
    }
}

fn sum(name: &str, temporality: i32, monotonic: bool, data_points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        data: Some(Data::Sum(Sum {
            data_points,
            aggregation_temporality: temporality,
            is_monotonic: monotonic,
        })),
        ..Metric::default()
    }
}

fn encode(resources: Vec<ResourceMetrics>) -> Vec<u8> {
    ExportMetricsServiceRequest {
        resource_metrics: resources,
    }
    .encode_to_vec()
}

fn plan(window_ms: i64, per_pod: bool) -> Arc<Plan> {
    Arc::new(Plan::everything(SeriesPlan {
        windows: vec![WindowSpec::tumbling(window_ms)],
        distinct_label: None,
        per_pod,
        quantiles: true,
    }))
}

fn engine(window_ms: i64, per_pod: bool) -> Partition {
    let cfg = EngineConfig {
        retain_closed: 1000,
        ..EngineConfig::default()
    };
    Partition::new(cfg, plan(window_ms, per_pod))
}

/// Folds each message at its index as offset, from `from`.
fn fold_from(state: &mut OtlpState, p: &mut Partition, messages: &[Vec<u8>], from: usize) {
    for (offset, m) in messages.iter().enumerate().skip(from) {
        state.fold(p, m, 1 << 20, offset as i64, NOW);
    }
}

/// (metric, pod, window start) → window.
fn by_window(p: &mut Partition) -> BTreeMap<(String, Option<String>, i64), WindowFeatures> {
    p.windows()
        .into_iter()
        .map(|w| ((w.metric.clone(), w.pod.clone(), w.window_start), w))
        .collect()
}

#[test]
fn gauge_points_are_samples_per_pod() {
    let mut int_point = point(Some("web-2"), 0, T0 + 2_000, 0.0);
    int_point.value = Some(number_data_point::Value::AsInt(7));
    let m = encode(vec![resource(
        Some("shop"),
        Some("web"),
        vec![gauge(
            "queue_depth",
            vec![
                point(Some("web-1"), 0, T0 + 1_000, 3.5),
                int_point,
                point(Some("web-1"), 0, T0 + 3_000, 4.5),
            ],
        )],
    )]);
    let mut p = engine(60_000, true);
    let mut state = OtlpState::new();
    assert_eq!(state.fold(&mut p, &m, 1 << 20, 0, NOW), None);
    let w = by_window(&mut p);
    let web1 = &w[&("queue_depth".into(), Some("web-1".into()), T0)];
    assert_eq!(
        (web1.target.as_str(), web1.count, web1.sum),
        ("shop/web", 2, 8.0)
    );
    assert_eq!((web1.min, web1.max), (Some(3.5), Some(4.5)));
    let web2 = &w[&("queue_depth".into(), Some("web-2".into()), T0)];
    assert_eq!((web2.count, web2.sum), (1, 7.0), "as_int reads as a number");
    assert_eq!(p.counters.counted, 3);
    assert_eq!(state.series_held(), 0, "gauges keep no state");
}

#[test]
fn cumulative_sums_become_increases_with_counter_resets() {
    // One series, a point every 5 s; 10 s windows.
    // value:    10 (baseline), 15, 25, 3 (drop: reset), 8, 4 (new start: reset), 9
    // increase:  -,            5,  10, 3,               5, 4,                    5
    let start_b = T0 + 20_000;
    let points = [
        (T0, T0, 10.0),
        (T0, T0 + 5_000, 15.0),
        (T0, T0 + 10_000, 25.0),
        (T0, T0 + 15_000, 3.0),
        (T0, T0 + 20_000, 8.0),
        (start_b, T0 + 25_000, 4.0),
        (start_b, T0 + 30_000, 9.0),
    ];
    let messages: Vec<Vec<u8>> = points
        .iter()
        .map(|&(start, time, v)| {
            encode(vec![resource(
                Some("shop"),
                Some("web"),
                vec![sum(
                    "requests_total",
                    CUMULATIVE,
                    true,
                    vec![point(None, start, time, v)],
                )],
            )])
        })
        .collect();
    let mut p = engine(10_000, false);
    let mut state = OtlpState::new();
    fold_from(&mut state, &mut p, &messages, 0);
    let w = by_window(&mut p);
    let window = |start: i64| &w[&("requests_total".into(), None, start)];
    // [0,10): +5 at 5 s; [10,20): +10, +3; [20,30): +5, +4; [30,40): +5.
    for (start, count, increase) in [
        (T0, 1, 5.0),
        (T0 + 10_000, 2, 13.0),
        (T0 + 20_000, 2, 9.0),
        (T0 + 30_000, 1, 5.0),
    ] {
        let w = window(start);
        assert_eq!((w.count, w.sum), (count, increase), "{w:?}");
        assert_eq!(
            w.rate,
            increase / 10.0,
            "the rate is the increase per second"
        );
    }
    assert_eq!(p.counters.counted, 6, "the baseline yields nothing");
    assert_eq!(state.series_held(), 1);
}

#[test]
fn non_monotonic_cumulative_sums_are_gauges_and_delta_sums_are_summed() {
    let m = encode(vec![resource(
        Some("shop"),
        Some("web"),
        vec![
            sum(
                "in_flight",
                CUMULATIVE,
                false,
                vec![
                    point(None, T0, T0 + 1_000, 4.0),
                    point(None, T0, T0 + 2_000, 2.0),
                ],
            ),
            sum(
                "bytes",
                DELTA,
                true,
                vec![
                    point(None, T0, T0 + 1_000, 100.0),
                    point(None, T0 + 1_000, T0 + 2_000, 50.0),
                ],
            ),
        ],
    )]);
    let mut p = engine(60_000, false);
    let mut state = OtlpState::new();
    assert_eq!(state.fold(&mut p, &m, 1 << 20, 0, NOW), None);
    let w = by_window(&mut p);
    let in_flight = &w[&("in_flight".into(), None, T0)];
    assert_eq!((in_flight.count, in_flight.mean), (2, Some(3.0)));
    let bytes = &w[&("bytes".into(), None, T0)];
    assert_eq!((bytes.count, bytes.sum, bytes.rate), (2, 150.0, 2.5));
    assert_eq!(state.series_held(), 0);
}

#[test]
fn histograms_yield_their_count_and_sum_as_sums() {
    let hist = |time_ms: i64, count: u64, total: f64| HistogramDataPoint {
        start_time_unix_nano: ns(T0),
        time_unix_nano: ns(time_ms),
        count,
        sum: Some(total),
        ..HistogramDataPoint::default()
    };
    let cumulative = |time_ms, count, total| {
        encode(vec![resource(
            Some("shop"),
            Some("web"),
            vec![
                Metric {
                    name: "latency".into(),
                    data: Some(Data::Histogram(Histogram {
                        data_points: vec![hist(time_ms, count, total)],
                        aggregation_temporality: CUMULATIVE,
                    })),
                    ..Metric::default()
                },
                Metric {
                    name: "size".into(),
                    data: Some(Data::ExponentialHistogram(ExponentialHistogram {
                        data_points: vec![ExponentialHistogramDataPoint {
                            time_unix_nano: ns(time_ms),
                            count: count * 2,
                            sum: None,
                            ..ExponentialHistogramDataPoint::default()
                        }],
                        aggregation_temporality: DELTA,
                    })),
                    ..Metric::default()
                },
            ],
        )])
    };
    let messages = [
        cumulative(T0 + 1_000, 10, 2.0),
        cumulative(T0 + 2_000, 16, 3.5),
        cumulative(T0 + 3_000, 20, 4.0),
    ];
    let mut p = engine(60_000, false);
    let mut state = OtlpState::new();
    fold_from(&mut state, &mut p, &messages, 0);
    let w = by_window(&mut p);
    let count = &w[&("latency_count".into(), None, T0)];
    assert_eq!((count.count, count.sum), (2, 10.0), "16-10 and 20-16");
    let total = &w[&("latency_sum".into(), None, T0)];
    assert_eq!((total.count, total.sum), (2, 2.0), "1.5 and 0.5");
    // The delta exponential histogram: every count summed; no sum, no `_sum`.
    let size = &w[&("size_count".into(), None, T0)];
    assert_eq!((size.count, size.sum), (3, 92.0));
    assert!(!w.contains_key(&("size_sum".into(), None, T0)));
}

#[test]
fn points_without_target_or_value_are_rejected_and_counted() {
    let mut empty = point(None, T0, T0 + 1_000, 0.0);
    empty.value = None;
    let mut flagged = point(None, T0, T0 + 1_000, 5.0);
    flagged.flags = 1; // FLAG_NO_RECORDED_VALUE
    let m = encode(vec![
        resource(
            Some("shop"),
            None,
            vec![gauge("g", vec![point(None, 0, T0, 1.0)])],
        ),
        resource(
            None,
            Some("web"),
            vec![gauge("g", vec![point(None, 0, T0, 1.0)])],
        ),
        resource(
            Some("shop"),
            Some("web"),
            vec![gauge("g", vec![empty, flagged])],
        ),
        resource(
            Some("shop"),
            Some("web"),
            vec![gauge("g", vec![point(None, 0, T0, 2.0)])],
        ),
    ]);
    let mut p = engine(60_000, false);
    let mut state = OtlpState::new();
    assert_eq!(
        state.fold(&mut p, &m, 1 << 20, 0, NOW),
        Some(Rejection::OtlpNoTarget),
        "the first reason is reported"
    );
    let r = &p.counters.rejected;
    assert_eq!(r.get(&Rejection::OtlpNoTarget), Some(&2), "{r:?}");
    assert_eq!(r.get(&Rejection::OtlpNoValue), Some(&2), "{r:?}");
    assert_eq!(p.counters.counted, 1, "the good point after them is folded");
    assert_eq!(Rejection::OtlpNoTarget.label(), "otlp_no_target");
}

#[test]
fn garbage_payloads_are_rejected_never_a_panic() {
    let good = encode(vec![resource(
        Some("shop"),
        Some("web"),
        vec![gauge("g", vec![point(None, 0, T0, 1.0)])],
    )]);
    let mut cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"hello world".to_vec(),
        br#"{"ts":1,"target":"shop/web","metric":"m","value":1}"#.to_vec(),
        b"{\"resourceMetrics\":[".to_vec(),
        vec![0xff; 64],
        good[..good.len() / 2].to_vec(),
        ExportMetricsServiceRequest::default().encode_to_vec(),
    ];
    // Pseudo-random bytes, and the good message with one byte flipped at each position.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in 1..200 {
        cases.push(
            (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect(),
        );
    }
    for i in 0..good.len() {
        let mut m = good.clone();
        m[i] ^= 0x5a;
        cases.push(m);
    }
    let mut p = engine(60_000, false);
    let mut state = OtlpState::new();
    for (offset, c) in cases.iter().enumerate() {
        state.fold(&mut p, c, 1 << 20, offset as i64, NOW);
    }
    for c in &cases[..7] {
        assert_eq!(
            decode_request(c, 1 << 20).unwrap_err(),
            Rejection::OtlpDecode,
            "{c:?}"
        );
    }
    assert!(p.counters.rejected[&Rejection::OtlpDecode] >= 7);
    assert_eq!(
        decode_request(&good, 10).unwrap_err(),
        Rejection::TooLarge,
        "over the size limit"
    );
    // Consumption goes on after all of it.
    assert_eq!(state.fold(&mut p, &good, 1 << 20, 10_000, NOW), None);
}

/// The same request as `json_request` below, in protobuf.
fn proto_request() -> Vec<u8> {
    let mut int_point = point(Some("web-1"), T0, T0 + 1_500, 0.0);
    int_point.value = Some(number_data_point::Value::AsInt(12));
    encode(vec![resource(
        Some("shop"),
        Some("web"),
        vec![
            gauge("depth", vec![point(Some("web-1"), 0, T0 + 1_000, 2.5)]),
            sum("requests", CUMULATIVE, true, vec![int_point]),
        ],
    )])
}

/// As the collector's `otlp_json` writes it: 64-bit integers as strings.
fn json_request() -> Vec<u8> {
    let t = |ms: i64| format!("\"{}\"", ns(ms));
    format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[
            {{"key":"k8s.namespace.name","value":{{"stringValue":"shop"}}}},
            {{"key":"k8s.deployment.name","value":{{"stringValue":"web"}}}}]}},
          "scopeMetrics":[{{"scope":{{}},"metrics":[
            {{"name":"depth","gauge":{{"dataPoints":[{{"attributes":[{{"key":"k8s.pod.name","value":{{"stringValue":"web-1"}}}}],
              "startTimeUnixNano":"0","timeUnixNano":{},"asDouble":2.5}}]}}}},
            {{"name":"requests","sum":{{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
              {{"attributes":[{{"key":"k8s.pod.name","value":{{"stringValue":"web-1"}}}}],
              "startTimeUnixNano":{},"timeUnixNano":{},"asInt":"12"}}]}}}}]}}]}}]}}"#,
        t(T0 + 1_000),
        t(T0),
        t(T0 + 1_500)
    )
    .into_bytes()
}

/// Every point of a request, as comparable tuples.
fn points_of(payload: &[u8]) -> Vec<String> {
    let req = decode_request(payload, 1 << 20).unwrap();
    let mut out = Vec::new();
    for_each_point(&req, |p| {
        out.push(format!(
            "{:?} {} {:?} {:?} {} {} {:?} {}",
            p.target, p.metric, p.pod, p.temporality, p.start_ns, p.time_ns, p.value, p.series
        ))
    });
    out
}

#[test]
fn protobuf_and_json_payloads_give_the_same_points() {
    let proto = points_of(&proto_request());
    assert_eq!(proto.len(), 2);
    assert_eq!(proto, points_of(&json_request()));
    // JSON after leading whitespace is JSON too.
    let mut spaced = b"  \n".to_vec();
    spaced.extend(json_request());
    assert_eq!(proto, points_of(&spaced));
}

#[test]
fn redelivered_messages_count_once() {
    // A gauge and a counter message, each delivered twice at different offsets.
    let gauge_msg = encode(vec![resource(
        Some("shop"),
        Some("web"),
        vec![gauge("depth", vec![point(None, 0, T0 + 1_000, 3.0)])],
    )]);
    let counter = |time, v| {
        encode(vec![resource(
            Some("shop"),
            Some("web"),
            vec![sum(
                "requests",
                CUMULATIVE,
                true,
                vec![point(None, T0, time, v)],
            )],
        )])
    };
    let messages = [
        gauge_msg.clone(),
        counter(T0 + 1_000, 10.0),
        counter(T0 + 2_000, 14.0),
        gauge_msg,
        counter(T0 + 2_000, 14.0),
        counter(T0 + 1_000, 10.0),
        counter(T0 + 3_000, 20.0),
    ];
    let mut p = engine(60_000, false);
    let mut state = OtlpState::new();
    fold_from(&mut state, &mut p, &messages, 0);
    let w = by_window(&mut p);
    assert_eq!(w[&("depth".into(), None, T0)].count, 1);
    let requests = &w[&("requests".into(), None, T0)];
    assert_eq!(
        (requests.count, requests.sum),
        (2, 10.0),
        "4 and 6, once each"
    );
    assert_eq!(p.counters.duplicates, 2, "{:?}", p.counters);
    assert_eq!(
        p.counters.rejected.get(&Rejection::OtlpOutOfOrder),
        Some(&1),
        "an older copy of a running total is dropped"
    );
}

/// Twenty minutes of two pods' counters (every 4 s, a reset every 7 minutes)
/// and a gauge, one message per pod and step, plus a sparse counter that
/// reports every 40 s, further back than any open 10 s window reaches.
fn counter_stream() -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut totals = [0.0f64; 2];
    let mut sparse = 0.0;
    for step in 0..300i64 {
        let time = T0 + step * 4_000;
        for (k, pod) in ["web-a", "web-b"].into_iter().enumerate() {
            let start = T0 + (step / 105) * 420_000;
            if step % 105 == 0 {
                totals[k] = 0.0;
            }
            totals[k] += ((step * 7 + k as i64 * 3) % 11) as f64;
            let mut metrics = vec![
                sum(
                    "requests_total",
                    CUMULATIVE,
                    true,
                    vec![point(Some(pod), start, time, totals[k])],
                ),
                gauge("depth", vec![point(Some(pod), 0, time, (step % 5) as f64)]),
            ];
            if k == 0 && step % 10 == 0 && step > 0 {
                sparse += 3.0;
                metrics.push(sum(
                    "sparse_total",
                    CUMULATIVE,
                    true,
                    vec![point(None, T0, time, sparse)],
                ));
            }
            messages.push(encode(vec![resource(Some("shop"), Some("web"), metrics)]));
        }
    }
    messages
}

#[test]
fn a_restart_from_the_checkpoint_rebuilds_counters_exactly() {
    let messages = counter_stream();
    let mut full = engine(10_000, true);
    let mut state = OtlpState::new();
    fold_from(&mut state, &mut full, &messages, 0);
    let all = by_window(&mut full);
    // Every increase, once: the totals' sum over all windows.
    let sparse: f64 = all
        .iter()
        .filter(|(k, _)| k.0 == "sparse_total")
        .map(|(_, w)| w.sum)
        .sum();
    assert_eq!(sparse, 3.0 * 28.0, "29 sparse points: 28 increases of 3");
    for crash_at in [101usize, 257, 333, 480] {
        // The original run, checkpointing at `crash_at`...
        let mut original = engine(10_000, true);
        let mut state = OtlpState::new();
        fold_from(&mut state, &mut original, &messages[..crash_at], 0);
        let cp = state.checkpoint(&mut original, crash_at as i64);
        let closed: Vec<WindowFeatures> = original.take_closed();
        // ...and a restart that restores it and replays from its offset.
        let mut rebuilt = engine(10_000, true);
        rebuilt.restore(&cp);
        let mut state = OtlpState::new();
        fold_from(&mut state, &mut rebuilt, &messages, cp.offset as usize);
        // Published before the crash, or held after the restart: every window, exactly.
        let mut result: BTreeMap<_, _> = closed
            .into_iter()
            .map(|w| ((w.metric.clone(), w.pod.clone(), w.window_start), w))
            .collect();
        for (key, w) in by_window(&mut rebuilt) {
            if let Some(before) = result.get(&key) {
                assert_eq!(before, &w, "crash at {crash_at}: a window changed");
            }
            result.insert(key, w);
        }
        for (key, w) in &all {
            assert_eq!(
                result.get(key),
                Some(w),
                "crash at {crash_at}: window {key:?} differs"
            );
        }
        assert_eq!(rebuilt.watermark(), full.watermark());
    }
}

#[test]
fn previous_points_are_evicted_when_idle_and_a_long_gap_is_a_baseline() {
    let counter = |time: i64, v: f64, name: &str| {
        encode(vec![resource(
            Some("shop"),
            Some("web"),
            vec![sum(name, CUMULATIVE, true, vec![point(None, T0, time, v)])],
        )])
    };
    // 10 s windows, 10 s lateness: consecutive within 3·10 + 2·10 + 10 = 60 s.
    let messages = [
        counter(T0, 1.0, "a"),
        counter(T0 + 60_000, 5.0, "a"), // 60 s later: consecutive, +4
        counter(T0 + 60_000, 1.0, "b"),
        counter(T0 + 200_000, 9.0, "b"), // 140 s later: a new baseline, nothing
    ];
    let mut p = engine(10_000, false);
    let mut state = OtlpState::new();
    fold_from(&mut state, &mut p, &messages[..3], 0);
    let w = by_window(&mut p);
    assert_eq!(w[&("a".into(), None, T0 + 60_000)].sum, 4.0);
    assert_eq!(p.counters.counted, 1);
    fold_from(&mut state, &mut p, &messages, 3);
    assert_eq!(p.counters.counted, 1, "b's second point yields nothing");
    assert_eq!(state.series_held(), 2);
    // At the checkpoint, "a" (idle 140 s > 60 s + lateness) is evicted.
    state.checkpoint(&mut p, messages.len() as i64);
    assert_eq!(state.series_held(), 1);
}

#[test]
fn the_series_ceiling_holds_for_previous_points() {
    let cfg = EngineConfig {
        max_series: 3,
        ..EngineConfig::default()
    };
    let mut p = Partition::new(cfg, plan(60_000, false));
    let mut state = OtlpState::new();
    let points = (0..5)
        .map(|i| point(Some(&format!("pod-{i}")), T0, T0 + 1_000, 1.0))
        .collect();
    let m = encode(vec![resource(
        Some("shop"),
        Some("web"),
        vec![sum("requests", CUMULATIVE, true, points)],
    )]);
    assert_eq!(
        state.fold(&mut p, &m, 1 << 20, 0, NOW),
        Some(Rejection::SeriesLimit)
    );
    assert_eq!(state.series_held(), 3);
    assert_eq!(p.counters.rejected[&Rejection::SeriesLimit], 2);
}
