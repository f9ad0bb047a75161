//! Structure-aware inputs, as proptest strategies: documents of the right
//! shape for each target whose fields take ordinary values, or, at a rate
//! drawn per document ([`Edgy`]), values from the edges: extreme and negative
//! numbers, times near the `i64` limits, zero steps, huge gaps, durations that
//! open too many windows, quantities past `i64`, wrong types. Mostly ordinary
//! documents reach the checks and the code behind the parsers; mostly edgy
//! ones test the checks themselves.

use proptest::prelude::*;
use proptest::sample::select;

/// 2026-01-01T12:00:00Z: the consumer's clock of the messages target.
pub const NOW_MS: i64 = 1_767_268_800_000;

/// How often, per thousand, a field takes a value from the edges.
#[derive(Clone, Copy, Debug)]
pub struct Edgy(u32);

fn edgy() -> impl Strategy<Value = Edgy> {
    select(vec![Edgy(1), Edgy(20), Edgy(100), Edgy(400)])
}

/// `ordinary`, or at the document's rate, `edge`.
fn either<T: std::fmt::Debug + 'static>(
    e: Edgy,
    ordinary: impl Strategy<Value = T> + 'static,
    edge: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    prop_oneof![1000 - e.0 => ordinary, e.0 => edge].boxed()
}

fn strings(v: &[&'static str]) -> BoxedStrategy<String> {
    select(v.to_vec()).prop_map(str::to_string).boxed()
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop_oneof![1 => Just(None), 2 => s.prop_map(Some)].boxed()
}

/// An integer from the edges.
fn edge_int() -> BoxedStrategy<i64> {
    prop_oneof![
        2 => select(vec![
            i64::MIN,
            i64::MAX,
            i64::from(i32::MIN),
            i64::from(i32::MAX),
            i64::from(i32::MAX) + 1,
            -1,
            -3,
            0,
            1 << 53,
        ]),
        1 => any::<i64>(),
        1 => any::<i32>().prop_map(i64::from),
    ]
    .boxed()
}

/// An integer in `ordinary`, or from the edges.
fn int(e: Edgy, ordinary: std::ops::Range<i64>) -> BoxedStrategy<i64> {
    either(e, ordinary, edge_int())
}

/// A JSON number (or something that only looks like one) from the edges.
fn edge_number() -> BoxedStrategy<String> {
    prop_oneof![
        2 => edge_int().prop_map(|n| n.to_string()),
        2 => any::<f64>().prop_map(|v| format!("{v:?}")),
        1 => strings(&[
            "1e308", "1e309", "-1e309", "1.7976931348623157e308", "5e-324", "-0", "-0.0",
            "18446744073709551616", "NaN", "Infinity", "0.1", "1e-7",
        ]),
    ]
    .boxed()
}

/// A number in `0..hi` (with a fraction), or from the edges.
fn number(e: Edgy, hi: u32) -> BoxedStrategy<String> {
    either(
        e,
        (0..hi, 0u32..100).prop_map(|(a, b)| format!("{a}.{b}")),
        edge_number(),
    )
}

/// A quantity as Kubernetes writes them.
fn quantity(e: Edgy) -> BoxedStrategy<String> {
    either(
        e,
        (1u32..2000, select(vec!["", "", "m", "k", "Mi"])).prop_map(|(n, s)| format!("{n}{s}")),
        prop_oneof![
            2 => strings(&[
                "0", "-1", "-500m", "1e308", "1e309", "9223372036854775807",
                "9223372036854775808", "9223372036854775807k", "1Ei", "8Ei", "0.0001m", "1.5",
                "0.0000000001", "+5", "NaN", "", "1e", ".5", "5.", "1E3", "1e-3", "100%",
                "1n", "1u", "999999999999999999999999999",
            ]),
            1 => edge_number(),
        ],
    )
}

/// A duration as policies write them.
fn duration(e: Edgy, ordinary: &[&'static str]) -> BoxedStrategy<String> {
    either(
        e,
        strings(ordinary),
        prop_oneof![
            2 => strings(&[
                "1d", "1s", "0s", "0", "0ms", "1ms", "-5s", "99999999999s",
                "9223372036854775807ms", "9223372036854775807d", "106751991167300d", "7d",
                "400d", "1 s", "5x", "", "s", "500ms", "7s",
            ]),
            1 => (edge_int(), select(vec!["ms", "s", "m", "h", "d"]))
                .prop_map(|(n, u)| format!("{n}{u}")),
        ],
    )
}

fn rfc3339(s: i64) -> String {
    chrono::DateTime::from_timestamp(s, 0)
        .map_or_else(|| "1970-01-01T00:00:00Z".into(), |t| t.to_rfc3339())
}

/// An RFC 3339 time within an hour of `NOW_MS`, or from the edges.
fn time(e: Edgy) -> BoxedStrategy<String> {
    let now = NOW_MS / 1000;
    either(
        e,
        (now - 3600..now + 60).prop_map(rfc3339),
        prop_oneof![
            1 => (-86_400i64..86_400).prop_map(rfc3339),
            1 => (0i64..253_402_300_799).prop_map(rfc3339),
            2 => strings(&[
                "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z",
                "+262143-12-31T23:59:59Z", "-262143-01-01T00:00:00Z", "1677-09-21T00:12:43Z",
                "2262-04-11T23:47:16Z", "2026-01-01T12:00:00+23:59", "2026-02-30T00:00:00Z",
                "2026-01-01T12:00:60Z", "2026-01-01T12:00:00.999999999Z", "yesterday", "",
            ]),
        ],
    )
}

// ---------------------------------------------------------------------------
// metric messages

/// An event time: epoch milliseconds near `NOW_MS`, or from the edges.
fn event_time(e: Edgy) -> BoxedStrategy<String> {
    either(
        e,
        (NOW_MS - 600_000..NOW_MS + 60_000).prop_map(|t| t.to_string()),
        prop_oneof![
            2 => select(vec![
                i64::MIN, i64::MAX, 0, -1, 946_684_799_999, 946_684_800_000,
                NOW_MS + 300_000, NOW_MS + 300_001, NOW_MS - 10_000, NOW_MS - 10_001,
                i64::MAX - 1000, i64::MIN + 1000,
            ])
            .prop_map(|t| t.to_string()),
            1 => any::<i64>().prop_map(|t| t.to_string()),
            1 => edge_number(),
            1 => time(Edgy(500)).prop_map(|t| json_str(&t)),
        ],
    )
}

/// One JSON metric sample.
fn sample(e: Edgy) -> BoxedStrategy<String> {
    let target = either(
        e,
        select(vec!["shop/checkout", "shop/web", "a/b"]),
        select(vec!["", "shop/checkout ", "x", "shop/checkout\u{0}"]),
    );
    let metric = either(
        e,
        select(vec!["http_requests", "users", "queue_depth", "cpu"]),
        select(vec!["", "m", "http_requests\u{1f}web-0"]),
    );
    let pod = opt(select(vec!["web-0", "web-1", "web-2", "checkout-7f9c"]));
    let id = opt((0u8..20).prop_map(|i| format!("id-{i}")));
    let labels = opt(either(
        e,
        (0u8..8).prop_map(|u| format!("{{\"user\":\"u{u}\"}}")),
        strings(&["{\"user\":7}", "[]", "{}", "null", "{\"user\":\"\"}"]),
    ));
    let value = either(e, (0u32..1000).prop_map(|v| v.to_string()), edge_number());
    (target, metric, pod, id, labels, event_time(e), value)
        .prop_map(|(target, metric, pod, id, labels, ts, value)| {
            let mut s = format!(
                "{{\"ts\":{ts},\"target\":{},\"metric\":{},\"value\":{value}",
                json_str(target),
                json_str(metric)
            );
            if let Some(p) = pod {
                s.push_str(&format!(",\"pod\":{}", json_str(p)));
            }
            if let Some(i) = id {
                s.push_str(&format!(",\"id\":{}", json_str(&i)));
            }
            if let Some(l) = labels {
                s.push_str(&format!(",\"labels\":{l}"));
            }
            s.push('}');
            s
        })
        .boxed()
}

/// An OTLP/JSON request with one point of a gauge, sum, histogram or summary.
fn otlp(e: Edgy) -> BoxedStrategy<String> {
    let time_ns = || {
        either(
            e,
            (NOW_MS - 600_000..NOW_MS + 60_000).prop_map(|ms| format!("\"{}\"", ms * 1_000_000)),
            prop_oneof![
                1 => strings(&["0", "1", "18446744073709551615", "18446744073709551616", "-1", "\"x\""]),
                1 => any::<u64>().prop_map(|n| format!("\"{n}\"")),
            ],
        )
    };
    let kind = select(vec!["gauge", "sum", "histogram", "summary"]);
    let temporality = either(e, 1u8..3, 0u8..8);
    (time_ns(), time_ns(), kind, number(e, 1000), temporality)
        .prop_map(|(start, time, kind, v, temporality)| {
            let point = format!(
                "{{\"startTimeUnixNano\":{start},\"timeUnixNano\":{time},\"asDouble\":{v},\"count\":\"3\",\"sum\":{v}}}"
            );
            format!(
                "{{\"resourceMetrics\":[{{\"resource\":{{\"attributes\":[{{\"key\":\"k8s.namespace.name\",\"value\":{{\"stringValue\":\"shop\"}}}},{{\"key\":\"k8s.deployment.name\",\"value\":{{\"stringValue\":\"checkout\"}}}},{{\"key\":\"k8s.pod.name\",\"value\":{{\"stringValue\":\"checkout-0\"}}}}]}},\"scopeMetrics\":[{{\"metrics\":[{{\"name\":\"http_requests\",\"{kind}\":{{\"dataPoints\":[{point}],\"aggregationTemporality\":{temporality},\"isMonotonic\":true}}}}]}}]}}]}}"
            )
        })
        .boxed()
}

/// A partition's messages, one a line: samples, batches, OTLP requests.
pub fn messages() -> impl Strategy<Value = Vec<u8>> {
    edgy().prop_flat_map(|e| {
        let message = prop_oneof![
            6 => sample(e),
            2 => prop::collection::vec(sample(e), 0..5).prop_map(|s| format!("[{}]", s.join(","))),
            1 => otlp(e),
        ];
        prop::collection::vec(message, 1..32).prop_map(|m| m.join("\n").into_bytes())
    })
}

// ---------------------------------------------------------------------------
// policies

/// A YAML integer in `ordinary`, or something else from the edges (other
/// types included).
fn yaml_int(e: Edgy, ordinary: std::ops::Range<i64>) -> BoxedStrategy<String> {
    either(
        e,
        ordinary.prop_map(|n| n.to_string()),
        prop_oneof![
            3 => edge_int().prop_map(|n| n.to_string()),
            1 => strings(&[
                "~", "null", "'3'", "3.5", "1e3", "0x10", "-0", "[]", "{}", "true", ".inf",
                ".nan",
            ]),
        ],
    )
}

/// A metric target of the type `ordinary` names, or a mismatched one.
fn target_yaml(e: Edgy, ordinary: &'static [&'static str]) -> BoxedStrategy<String> {
    let fitting = (select(ordinary.to_vec()), quantity(e), yaml_int(e, 1..150)).prop_map(
        |(t, q, u)| match t {
            "Utilization" => format!("{{type: Utilization, averageUtilization: {u}}}"),
            "AverageValue" => format!("{{type: AverageValue, averageValue: '{q}'}}"),
            _ => format!("{{type: Value, value: '{q}'}}"),
        },
    );
    let mismatched = (
        select(vec!["Utilization", "AverageValue", "Value", "Bogus", "~"]),
        quantity(e),
        yaml_int(e, 1..150),
    )
        .prop_map(|(t, q, u)| {
            format!("{{type: {t}, value: '{q}', averageValue: '{q}', averageUtilization: {u}}}")
        });
    either(e, fitting, mismatched)
}

/// Where a stream metric comes from: a stream block (or a Kafka lag).
fn source_yaml(e: Edgy) -> BoxedStrategy<String> {
    let windows = select(vec![
        ("60s", None),
        ("10s", None),
        ("60s", Some("5s")),
        ("5m", Some("30s")),
        ("1h", Some("30s")),
        ("1d", Some("12m")),
    ]);
    let aggregate = either(
        e,
        select(vec![
            "rate", "sum", "count", "mean", "min", "max", "p50", "p90", "p95", "p99", "distinct",
        ]),
        select(vec!["median", "", "RATE"]),
    );
    let ordinary = (windows, aggregate).prop_map(|((w, s), a)| {
        let slide = s.map_or(String::new(), |s| format!(", slide: {s}"));
        let label = if a == "distinct" { ", label: user" } else { "" };
        format!("    stream: {{window: {w}{slide}, aggregate: {a}{label}}}\n")
    });
    let edge = prop_oneof![
        3 => (
            duration(Edgy(500), &["60s"]),
            opt(duration(Edgy(500), &["5s"])),
            opt(strings(&["user", "", "pod"])),
        )
            .prop_map(|(w, s, l)| {
                let slide = s.map_or(String::new(), |s| format!(", slide: '{s}'"));
                let label = l.map_or(String::new(), |l| format!(", label: '{l}'"));
                format!("    stream: {{window: '{w}'{slide}, aggregate: distinct{label}}}\n")
            }),
        1 => Just("    kafkaLag: {group: workers, topic: orders}\n".to_string()),
        1 => Just(String::new()),
    ];
    either(e, ordinary, edge)
}

fn metric_yaml(e: Edgy) -> BoxedStrategy<String> {
    let name = either(
        e,
        select(vec!["http_requests", "users", "queue"]),
        select(vec!["", "cpu", "a.b", "x\u{7}"]),
    );
    let resource = either(
        e,
        select(vec!["cpu", "memory"]),
        select(vec!["", "ephemeral-storage", "gpu"]),
    );
    let kind = 0u8..6;
    (kind, name, resource, source_yaml(e))
        .prop_flat_map(move |(kind, name, resource, source)| {
            let utilization: &'static [&'static str] = &["Utilization", "AverageValue"];
            let values: &'static [&'static str] = &["Value", "AverageValue"];
            let average: &'static [&'static str] = &["AverageValue"];
            let types = match kind {
                0 | 4 => utilization,
                2 => average,
                _ => values,
            };
            target_yaml(e, types).prop_map(move |target| {
                match kind {
                    0 => format!("  - type: Resource\n    resource: {{name: {resource}, target: {target}}}\n"),
                    1 => format!("  - type: External\n    external: {{metric: {{name: '{name}'}}, target: {target}}}\n{source}"),
                    2 => format!("  - type: Pods\n    pods: {{metric: {{name: '{name}'}}, target: {target}}}\n{source}"),
                    3 => format!("  - type: Object\n    object: {{describedObject: {{apiVersion: v1, kind: Service, name: s}}, metric: {{name: '{name}'}}, target: {target}}}\n{source}"),
                    4 => format!("  - type: ContainerResource\n    containerResource: {{name: {resource}, container: app, target: {target}}}\n"),
                    _ => "  - type: Bogus\n".to_string(),
                }
            })
        })
        .boxed()
}

fn rules_yaml(e: Edgy) -> BoxedStrategy<String> {
    let rule = (
        either(
            e,
            select(vec!["Pods", "Percent"]),
            select(vec!["Bogus", "pods"]),
        ),
        yaml_int(e, 1..200),
        yaml_int(e, 1..1800),
    )
        .prop_map(|(t, v, p)| format!("{{type: {t}, value: {v}, periodSeconds: {p}}}"));
    let select_policy = either(
        e,
        select(vec!["Max", "Min", "Disabled"]),
        select(vec!["max", "", "Both"]),
    );
    (
        opt(yaml_int(e, 0..3600)),
        opt(select_policy),
        opt(prop::collection::vec(rule, 0..3)),
        opt(either(
            e,
            strings(&["0.1", "0.05", "0", "1"]),
            quantity(Edgy(900)),
        )),
    )
        .prop_map(|(window, select, policies, tolerance)| {
            let mut y = String::from("{");
            if let Some(w) = window {
                y.push_str(&format!("stabilizationWindowSeconds: {w}, "));
            }
            if let Some(s) = select {
                y.push_str(&format!("selectPolicy: {s}, "));
            }
            if let Some(p) = policies {
                y.push_str(&format!("policies: [{}], ", p.join(", ")));
            }
            if let Some(t) = tolerance {
                y.push_str(&format!("tolerance: '{t}', "));
            }
            y.push('}');
            y
        })
        .boxed()
}

fn forecast_yaml(e: Edgy) -> BoxedStrategy<String> {
    (
        either(
            e,
            Just("models/diurnal-5m.json"),
            select(vec![
                "m.json",
                "",
                "/nonexistent/m.json",
                "models",
                "policies/web-cpu.yaml",
            ]),
        ),
        opt(duration(e, &["300s", "5m"])),
        either(e, select(vec!["off", "predictive", "max"]), Just("bogus")),
        opt(number(e, 100)),
        opt(duration(e, &["1h", "30m"])),
        opt(number(e, 100)),
    )
        .prop_map(|(model, horizon, mode, mape, gate, relax)| {
            let mut y = format!("{{model: '{model}', mode: {mode}");
            if let Some(h) = horizon {
                y.push_str(&format!(", horizon: '{h}'"));
            }
            if let Some(m) = mape {
                y.push_str(&format!(", maxMapePercent: {m}"));
            }
            if let Some(g) = gate {
                y.push_str(&format!(", gateWindow: '{g}'"));
            }
            if let Some(r) = relax {
                y.push_str(&format!(", relaxTargetsPercent: {r}"));
            }
            y.push('}');
            y
        })
        .boxed()
}

/// A scaling policy document.
fn policy_yaml(e: Edgy) -> BoxedStrategy<String> {
    (
        either(
            e,
            select(vec!["web", "checkout", "queue"]),
            select(vec!["", "a b", "x\u{85}y"]),
        ),
        opt(either(e, Just("shop"), select(vec!["", "default", "a/b"]))),
        opt(yaml_int(e, 0..5)),
        yaml_int(e, 5..100),
        opt(yaml_int(e, 1..60)),
        prop::collection::vec(metric_yaml(e), 0..4),
        opt((opt(rules_yaml(e)), opt(rules_yaml(e)))),
        opt(forecast_yaml(e)),
    )
        .prop_map(|(name, ns, min, max, tick, metrics, behavior, forecast)| {
            let mut y = format!(
                "apiVersion: scalepilot.io/v1alpha1\nkind: ScalingPolicy\nmetadata:\n  name: '{name}'\n"
            );
            if let Some(ns) = ns {
                y.push_str(&format!("  namespace: '{ns}'\n"));
            }
            y.push_str(&format!(
                "spec:\n  target: {{apiVersion: apps/v1, kind: Deployment, name: '{name}'}}\n"
            ));
            if let Some(m) = min {
                y.push_str(&format!("  minReplicas: {m}\n"));
            }
            y.push_str(&format!("  maxReplicas: {max}\n"));
            if let Some(t) = tick {
                y.push_str(&format!("  tickSeconds: {t}\n"));
            }
            if !metrics.is_empty() {
                y.push_str("  metrics:\n");
                for m in metrics {
                    y.push_str(&m);
                }
            }
            if let Some((up, down)) = behavior {
                y.push_str("  behavior:\n");
                if let Some(u) = up {
                    y.push_str(&format!("    scaleUp: {u}\n"));
                }
                if let Some(d) = down {
                    y.push_str(&format!("    scaleDown: {d}\n"));
                }
            }
            if let Some(f) = forecast {
                y.push_str(&format!("  forecast: {f}\n"));
            }
            y
        })
        .boxed()
}

/// A policy file: one to three documents.
pub fn policies() -> impl Strategy<Value = Vec<u8>> {
    edgy().prop_flat_map(|e| {
        prop::collection::vec(policy_yaml(e), 1..4).prop_map(|d| d.join("---\n").into_bytes())
    })
}

// ---------------------------------------------------------------------------
// decide snapshots

/// A JSON metric target of a fitting type, or any.
fn target_json(e: Edgy, utilization: bool) -> BoxedStrategy<String> {
    let types = if utilization {
        vec!["Utilization", "AverageValue"]
    } else {
        vec!["Value", "AverageValue"]
    };
    let fitting = (select(types), quantity(e), int(e, 1..150)).prop_map(|(t, q, u)| match t {
        "Utilization" => format!("{{\"type\":\"Utilization\",\"averageUtilization\":{u}}}"),
        "AverageValue" => format!(
            "{{\"type\":\"AverageValue\",\"averageValue\":{}}}",
            json_str(&q)
        ),
        _ => format!("{{\"type\":\"Value\",\"value\":{}}}", json_str(&q)),
    });
    let any_type = (select(vec!["Utilization", "AverageValue", "Value"]), quantity(e), edge_int())
        .prop_map(|(t, q, u)| {
            format!(
                "{{\"type\":\"{t}\",\"value\":{q},\"averageValue\":{q},\"averageUtilization\":{u}}}",
                q = json_str(&q)
            )
        });
    either(e, fitting, any_type)
}

/// One metric: its policy entry and what the metrics APIs returned for it,
/// for `pods` pods.
fn metric_pair(e: Edgy, pods: usize) -> BoxedStrategy<(String, String)> {
    let observed = (
        quantity(e),
        opt(time(e)),
        opt(number(e, 120)),
        0..=pods,
        either(e, Just(None), Just(Some("the metrics API is down"))),
    );
    (0u8..4, observed)
        .prop_flat_map(move |(kind, (q, ts, window, pods, error))| {
            target_json(e, kind == 0 || kind == 3).prop_map(move |target| {
                let qj = json_str(&q);
                let per_pod: Vec<String> = (0..pods)
                    .map(|i| format!("\"web-{i}\":{{\"value\":{qj},\"containers\":{{\"app\":{qj}}}}}"))
                    .collect();
                let (policy, mut observed) = match kind {
                    0 => (
                        format!("{{\"type\":\"Resource\",\"resource\":{{\"name\":\"cpu\",\"target\":{target}}}}}"),
                        "{\"type\":\"Resource\",\"resource\":\"cpu\"".to_string(),
                    ),
                    1 => (
                        format!("{{\"type\":\"Pods\",\"pods\":{{\"metric\":{{\"name\":\"http_requests\"}},\"target\":{target}}}}}"),
                        "{\"type\":\"Pods\",\"name\":\"http_requests\"".to_string(),
                    ),
                    2 => (
                        format!("{{\"type\":\"External\",\"external\":{{\"metric\":{{\"name\":\"queue\"}},\"target\":{target}}}}}"),
                        format!("{{\"type\":\"External\",\"name\":\"queue\",\"value\":{qj},\"values\":[{qj},{qj}]"),
                    ),
                    _ => (
                        format!("{{\"type\":\"ContainerResource\",\"containerResource\":{{\"name\":\"cpu\",\"container\":\"app\",\"target\":{target}}}}}"),
                        "{\"type\":\"ContainerResource\",\"resource\":\"cpu\"".to_string(),
                    ),
                };
                observed.push_str(&format!(",\"pods\":{{{}}}", per_pod.join(",")));
                if let Some(t) = &ts {
                    observed.push_str(&format!(",\"timestamp\":{}", json_str(t)));
                }
                if let Some(w) = &window {
                    observed.push_str(&format!(",\"windowSeconds\":{w}"));
                }
                if let Some(m) = error {
                    observed.push_str(&format!(",\"error\":\"{m}\""));
                }
                observed.push('}');
                (policy, observed)
            })
        })
        .boxed()
}

fn behavior_json(e: Edgy) -> BoxedStrategy<String> {
    let rule = (
        select(vec!["Pods", "Percent"]),
        int(e, 1..200),
        int(e, 1..1800),
    )
        .prop_map(|(t, v, p)| format!("{{\"type\":\"{t}\",\"value\":{v},\"periodSeconds\":{p}}}"));
    let rules = (
        int(e, 0..600),
        select(vec!["Max", "Min", "Disabled"]),
        prop::collection::vec(rule, 0..3),
        either(e, strings(&["0.1", "0", "0.5"]), quantity(Edgy(900))),
    )
        .prop_map(|(w, s, p, t)| {
            format!(
                "{{\"stabilizationWindowSeconds\":{w},\"selectPolicy\":\"{s}\",\"policies\":[{}],\"tolerance\":{}}}",
                p.join(","),
                json_str(&t)
            )
        });
    (opt(rules.clone()), opt(rules))
        .prop_map(|(up, down)| {
            let mut b = Vec::new();
            if let Some(u) = up {
                b.push(format!("\"scaleUp\":{u}"));
            }
            if let Some(d) = down {
                b.push(format!("\"scaleDown\":{d}"));
            }
            format!("{{{}}}", b.join(","))
        })
        .boxed()
}

fn pod_json(e: Edgy, i: usize) -> BoxedStrategy<String> {
    (
        either(
            e,
            Just("Running"),
            select(vec!["Pending", "Failed", "Unknown", "Succeeded"]),
        ),
        opt(any::<bool>()),
        opt(any::<bool>()),
        opt(time(e)),
        opt(time(e)),
        quantity(e),
    )
        .prop_map(move |(phase, ready, deleted, start, ready_at, cpu)| {
            let mut p = format!("{{\"name\":\"web-{i}\",\"phase\":\"{phase}\"");
            if let Some(r) = ready {
                p.push_str(&format!(",\"ready\":{r}"));
            }
            if let Some(d) = deleted {
                p.push_str(&format!(",\"deleted\":{d}"));
            }
            if let Some(s) = start {
                p.push_str(&format!(",\"startTime\":{}", json_str(&s)));
            }
            if let Some(t) = ready_at {
                p.push_str(&format!(",\"readyTransitionTime\":{}", json_str(&t)));
            }
            p.push_str(&format!(
                ",\"containers\":[{{\"name\":\"app\",\"requests\":{{\"cpu\":{}}}}}]}}",
                json_str(&cpu)
            ));
            p
        })
        .boxed()
}

/// A `decide` snapshot: a policy, its metrics as observed, pods, history.
pub fn snapshots() -> impl Strategy<Value = Vec<u8>> {
    (edgy(), 0usize..6).prop_flat_map(|(e, n)| {
        let pods: Vec<BoxedStrategy<String>> = (0..n).map(|i| pod_json(e, i)).collect();
        let history = prop::collection::vec((time(e), int(e, 0..20)), 0..4).prop_map(|h| {
            let entries: Vec<String> = h
                .iter()
                .map(|(t, r)| format!("{{\"time\":{},\"replicas\":{r}}}", json_str(t)))
                .collect();
            let e = entries.join(",");
            format!("{{\"recommendations\":[{e}],\"scaleUpEvents\":[{e}],\"scaleDownEvents\":[{e}]}}")
        });
        let controller = prop::collection::vec(opt(number(e, 10)), 6).prop_map(|v| {
            let names = [
                "tolerance",
                "cpuInitializationPeriodSeconds",
                "initialReadinessDelaySeconds",
                "downscaleStabilizationWindowSeconds",
                "scaleUpLimitFactor",
                "scaleUpLimitMinimum",
            ];
            let fields: Vec<String> = names
                .iter()
                .zip(v)
                .filter_map(|(n, v)| v.map(|v| format!("\"{n}\":{v}")))
                .collect();
            format!("{{{}}}", fields.join(","))
        });
        (
            time(e),
            (int(e, 0..4), int(e, 4..30), opt(behavior_json(e))),
            prop::collection::vec(metric_pair(e, n), 0..4),
            controller,
            int(e, 0..12),
            opt(int(e, 0..12)),
            pods,
            opt(int(e, 0..12)),
            history,
        )
            .prop_map(
                |(now, (min, max, behavior), metrics, controller, current, status, pods, raw, history)| {
                    let (policy_metrics, observed): (Vec<String>, Vec<String>) =
                        metrics.into_iter().unzip();
                    let mut policy = format!(
                        "{{\"minReplicas\":{min},\"maxReplicas\":{max},\"metrics\":[{}]",
                        policy_metrics.join(",")
                    );
                    if let Some(b) = behavior {
                        policy.push_str(&format!(",\"behavior\":{b}"));
                    }
                    policy.push('}');
                    let mut s = format!(
                        "{{\"now\":{},\"policy\":{policy},\"controller\":{controller},\"currentReplicas\":{current}",
                        json_str(&now)
                    );
                    if let Some(st) = status {
                        s.push_str(&format!(",\"statusReplicas\":{st}"));
                    }
                    if let Some(r) = raw {
                        s.push_str(&format!(",\"rawRecommendation\":{r}"));
                    }
                    s.push_str(&format!(
                        ",\"pods\":[{}],\"metrics\":[{}],\"history\":{history}}}",
                        pods.join(","),
                        observed.join(",")
                    ));
                    s.into_bytes()
                },
            )
    })
}

// ---------------------------------------------------------------------------
// traces

/// A load trace: a regular series with gaps, or times and steps from the edges.
pub fn traces() -> impl Strategy<Value = Vec<u8>> {
    (edgy(), select(vec![1i64, 60, 300])).prop_flat_map(|(e, base)| {
        let start = either(
            e,
            select(vec![0i64, 1_767_225_600]),
            prop_oneof![
                2 => select(vec![253_402_300_799i64 - 100, 253_402_300_799, i64::MAX - 10, -1, i64::MIN]),
                1 => any::<i64>(),
                1 => 0i64..253_402_300_799,
            ],
        );
        let step = either(
            e,
            prop_oneof![8 => Just(base), 1 => (2..20i64).prop_map(move |k| k * base)],
            prop_oneof![
                2 => select(vec![0i64, -1, 31_536_000, 34_560_000, 34_560_001, 3_153_600_000, i64::MAX / 2, i64::MAX]),
                1 => 1i64..1_000_000,
            ],
        );
        let value = either(e, (0u32..10_000).prop_map(|v| v.to_string()), edge_number());
        (
            any::<bool>(),
            start,
            prop::collection::vec((step, value), 1..64),
        )
            .prop_map(|(header, start, steps)| {
                let mut out = String::new();
                if header {
                    out.push_str("ts,value\n");
                }
                let mut t = start;
                out.push_str(&format!("{t},1\n"));
                for (step, v) in steps {
                    t = t.wrapping_add(step);
                    out.push_str(&format!("{t},{v}\n"));
                }
                out.into_bytes()
            })
    })
}

// ---------------------------------------------------------------------------
// model files

/// A field of a model file and a value for it (JSON text).
fn model_edit(e: Edgy) -> BoxedStrategy<(&'static str, String)> {
    let numeric = select(vec![
        "/training/start",
        "/validation/0/model/mae",
        "/candidates/0/1",
        "/margin/quantile",
        "/margin/factor",
        "/margin/floor",
        "/margin/spread/weights/0",
        "/margin/spread/scaling/std/2",
        "/noChangeMargin/spread/intercept",
        "/dailyCycle/strength",
        "/dailyCycle/minStrength",
        "/params/intercept",
        "/params/weights/5",
        "/params/scaling/mean/3",
        "/params/scaling/std/0",
        "/params/penalty",
    ]);
    let structural = select(vec![
        "/formatVersion",
        "/kind",
        "/features/stepS",
        "/features/horizonSteps",
        "/features/names",
        "/features/names/3",
        "/horizonS",
        "/training/samples",
        "/margin/spread",
        "/margin/spread/kind",
        "/params",
        "/params/kind",
        "/params/weights",
        "/params/scaling/mean",
    ]);
    let edge_value = prop_oneof![
        3 => edge_number(),
        1 => strings(&[
            "null", "\"3\"", "\"ridge\"", "\"last-value\"", "\"seasonal-naive\"", "\"neural\"",
            "\"ridge(penalty=1)\"", "[]", "{}", "[1,2]", "{\"kind\":\"lastValue\"}",
            "{\"kind\":\"seasonalNaive\"}", "{\"kind\":\"ridge\"}", "true", "\"\"",
        ]),
    ];
    either(
        e,
        (numeric, (-1000i32..1000, 0u32..1000)).prop_map(|(p, (a, b))| (p, format!("{a}.{b:03}"))),
        (structural, edge_value),
    )
}

/// A model file: the shipped one with another step and horizon (kept
/// consistent), or fields set to other values.
pub fn models(base: serde_json::Value) -> impl Strategy<Value = Vec<u8>> {
    let base = std::sync::Arc::new(base);
    let step = select(vec![1i64, 10, 60, 300, 3600, 86_400, 604_800]);
    (edgy(), step, 1u32..400).prop_flat_map(move |(e, step, steps)| {
        let base = std::sync::Arc::clone(&base);
        (any::<bool>(), prop::collection::vec(model_edit(e), 0..4)).prop_map(
            move |(restep, edits)| {
                let mut v = (*base).clone();
                if restep {
                    let steps = (i64::from(steps)).min(604_800 / step).max(1);
                    v["features"]["stepS"] = step.into();
                    v["features"]["horizonSteps"] = steps.into();
                    v["horizonS"] = (step * steps).into();
                }
                // Numbers like NaN are not JSON: put placeholders in, then the text.
                let mut texts = Vec::new();
                for (i, (path, text)) in edits.iter().enumerate() {
                    if let Some(slot) = v.pointer_mut(path) {
                        let mark = format!("@fuzz{i}@");
                        *slot = serde_json::Value::String(mark.clone());
                        texts.push((format!("\"{mark}\""), text.clone()));
                    }
                }
                let mut out = serde_json::to_string(&v).expect("a value serializes");
                for (mark, text) in texts {
                    out = out.replace(&mark, &text);
                }
                out.into_bytes()
            },
        )
    })
}
