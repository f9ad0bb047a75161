//! OTLP metrics from Kafka: the OpenTelemetry Collector's Kafka exporter
//! writes one `ExportMetricsServiceRequest` per message, as `otlp_proto` (its
//! default) or `otlp_json`. This module turns such a message into samples and
//! folds them into a partition's windows, beside the JSON samples' path and
//! with the same guarantees.
//!
//! - Target: resource attributes `k8s.namespace.name` + `/` +
//!   `k8s.deployment.name` (a point without both is rejected,
//!   `otlp_no_target`); pod: `k8s.pod.name`, a point attribute or else a
//!   resource attribute; metric: the OTLP metric name.
//! - Gauges, and non-monotonic cumulative sums, are samples as they are.
//! - Delta sums are samples too: each is an increment the window sums.
//! - Cumulative monotonic sums become increments: per series (resource,
//!   scope, metric, point attributes) the increase since the series' previous
//!   point is a sample at the point's time, so a window's `sum` is the
//!   increase within it and its `rate` (sum per second of window) the
//!   per-second rate. A value below the previous one, or a changed start time,
//!   is a counter reset: the new value is the increase since it. The first
//!   point of a series, or one more than [`idle_eviction_ms`] after the
//!   previous, is a baseline and yields nothing.
//! - Histograms (explicit and exponential) and summaries yield `<name>_count`
//!   and `<name>_sum` (when the point has a sum) as sums of their temporality.
//!
//! Dedupe identity: a hash of the series, start and time: a redelivered
//! message, or a producer's retry at another offset, dedupes within the
//! lateness horizon like a JSON sample with an `id`. A cumulative point not
//! newer than its series' previous one is dropped (`otlp_out_of_order`):
//! running totals make that lossless.
//!
//! Exactly once across restarts, by replay (as for JSON samples): a counter's
//! increase carries the checkpoint mark of the message of the series'
//! previous point, and every previous point held marks its own message, so
//! the checkpoint never moves past a point some open window or future
//! increase depends on; the replay refolds them in order and every event time
//! admitted advances the watermark whether or not it yielded a sample, so the
//! watermark comes back exactly too. Previous points are evicted when idle
//! beyond [`idle_eviction_ms`] of their series' longest window, at most
//! `max_series` are held (`series_limit` past it).
//!
//! Pure: never imports `kube` or `rdkafka`.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hash, Hasher};

use foldhash::fast::FixedState;
use foldhash::{HashMap, HashMapExt};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, DataPointFlags, NumberDataPoint,
};
use prost::Message;
use serde_json::value::RawValue;

use super::engine::{idle_eviction_ms, Checkpoint, Folded, Mark, Partition};
use super::otlp_json;
use super::sample::{Rejection, Sample};

/// The resource attribute naming the target's namespace.
pub const NAMESPACE: &str = "k8s.namespace.name";
/// The resource attribute naming the target deployment.
pub const DEPLOYMENT: &str = "k8s.deployment.name";
/// The attribute naming the pod (on the point, or on the resource).
pub const POD: &str = "k8s.pod.name";

/// Decodes a message of an OTLP topic: OTLP/JSON when it starts with `{`,
/// OTLP/protobuf otherwise (a protobuf request starts with field 1, byte
/// 0x0A). A payload that is neither, or a request holding no resource at
/// all, is `otlp_decode`.
pub fn decode_request(
    payload: &[u8],
    max_bytes: usize,
) -> Result<ExportMetricsServiceRequest, Rejection> {
    if payload.len() > max_bytes {
        return Err(Rejection::TooLarge);
    }
    let json = || otlp_json::decode(payload).map_err(|_| Rejection::OtlpDecode);
    let req = match payload.first() {
        Some(b'{') => json()?,
        _ => match ExportMetricsServiceRequest::decode(payload) {
            Ok(req) => req,
            // JSON after whitespace (no protobuf request starts with a space or `{`).
            Err(_) if payload.trim_ascii_start().first() == Some(&b'{') => json()?,
            Err(_) => return Err(Rejection::OtlpDecode),
        },
    };
    if req.resource_metrics.is_empty() {
        // Bytes that happen to parse as protobuf (unknown fields are skipped)
        // but carry nothing an exporter would send.
        return Err(Rejection::OtlpDecode);
    }
    Ok(req)
}

/// How a point's value reaches the windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Temporality {
    /// The value is the sample (gauges, non-monotonic cumulative sums).
    Gauge,
    /// The value is an increment the window sums (delta sums and histograms).
    Delta,
    /// The value is a running total: its increase is the sample.
    Cumulative,
}

/// One data point, flattened out of its resource, scope and metric.
#[derive(Clone, Debug)]
pub struct Point<'a> {
    /// `namespace/deployment`, when the resource names both.
    pub target: Option<&'a str>,
    pub metric: &'a str,
    pub pod: Option<&'a str>,
    pub attributes: &'a [KeyValue],
    pub temporality: Temporality,
    pub start_ns: u64,
    pub time_ns: u64,
    /// `None` for a point without a value or flagged as having none.
    pub value: Option<f64>,
    /// The identity of its time series: resource, scope, metric name and
    /// point attributes.
    pub series: u64,
}

/// A fixed seed: series identities must hash the same in every process.
fn hasher() -> impl Hasher {
    FixedState::with_seed(0x0719_0a11_5e71_e500).build_hasher()
}

fn hash_value(v: &AnyValue, h: &mut impl Hasher) {
    use any_value::Value as V;
    match &v.value {
        None => 0u8.hash(h),
        Some(V::StringValue(s)) => (1u8, s).hash(h),
        Some(V::BoolValue(b)) => (2u8, b).hash(h),
        Some(V::IntValue(i)) => (3u8, i).hash(h),
        Some(V::DoubleValue(d)) => (4u8, d.to_bits()).hash(h),
        Some(V::ArrayValue(a)) => {
            (5u8, a.values.len()).hash(h);
            for v in &a.values {
                hash_value(v, h);
            }
        }
        Some(V::KvlistValue(kv)) => (6u8, attributes_hash(&kv.values)).hash(h),
        Some(V::BytesValue(b)) => (7u8, b).hash(h),
    }
}

/// A hash of a set of attributes, whatever their order.
fn attributes_hash(attrs: &[KeyValue]) -> u64 {
    attrs
        .iter()
        .map(|kv| {
            let mut h = hasher();
            kv.key.hash(&mut h);
            if let Some(v) = &kv.value {
                hash_value(v, &mut h);
            }
            h.finish()
        })
        .fold(0, u64::wrapping_add)
}

/// No scope and an empty one are the same (JSON writes `"scope": {}`).
fn scope_hash(resource: u64, scope: Option<&InstrumentationScope>) -> u64 {
    let mut h = hasher();
    let (name, version, attrs) = scope.map_or(("", "", 0), |s| {
        (
            s.name.as_str(),
            s.version.as_str(),
            attributes_hash(&s.attributes),
        )
    });
    (resource, name, version, attrs).hash(&mut h);
    h.finish()
}

fn series_hash(scope: u64, metric: &str, attrs: &[KeyValue]) -> u64 {
    let mut h = hasher();
    (scope, metric, attributes_hash(attrs)).hash(&mut h);
    h.finish()
}

/// The string value of attribute `key`.
fn string_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        }
    })
}

const NO_RECORDED_VALUE: u32 = DataPointFlags::NoRecordedValueMask as u32;

/// The temporality of a sum (an unspecified one is read as cumulative, the
/// collector's default).
fn sum_temporality(aggregation_temporality: i32, monotonic: bool) -> Temporality {
    if aggregation_temporality == AggregationTemporality::Delta as i32 {
        Temporality::Delta
    } else if monotonic {
        Temporality::Cumulative
    } else {
        Temporality::Gauge
    }
}

/// Calls `visit` for every data point of the request, in order.
pub fn for_each_point(req: &ExportMetricsServiceRequest, mut visit: impl FnMut(&Point<'_>)) {
    for rm in &req.resource_metrics {
        let attrs: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
        let target = match (
            string_attr(attrs, NAMESPACE),
            string_attr(attrs, DEPLOYMENT),
        ) {
            (Some(ns), Some(name)) => Some(format!("{ns}/{name}")),
            _ => None,
        };
        let resource_pod = string_attr(attrs, POD);
        let resource = attributes_hash(attrs);
        for sm in &rm.scope_metrics {
            let scope = scope_hash(resource, sm.scope.as_ref());
            for m in &sm.metrics {
                let mut emit = |metric: &str,
                                attributes: &[KeyValue],
                                temporality: Temporality,
                                (start_ns, time_ns, flags): (u64, u64, u32),
                                value: Option<f64>| {
                    visit(&Point {
                        target: target.as_deref(),
                        metric,
                        pod: string_attr(attributes, POD).or(resource_pod),
                        attributes,
                        temporality,
                        start_ns,
                        time_ns,
                        value: value.filter(|_| flags & NO_RECORDED_VALUE == 0),
                        series: series_hash(scope, metric, attributes),
                    })
                };
                let number = |p: &NumberDataPoint| match p.value {
                    Some(number_data_point::Value::AsDouble(d)) => Some(d),
                    Some(number_data_point::Value::AsInt(i)) => Some(i as f64),
                    None => None,
                };
                // Histograms and summaries: their count and sum, as sums.
                let count_and_sum = || (format!("{}_count", m.name), format!("{}_sum", m.name));
                match &m.data {
                    Some(Data::Gauge(g)) => {
                        for p in &g.data_points {
                            let times = (p.start_time_unix_nano, p.time_unix_nano, p.flags);
                            emit(&m.name, &p.attributes, Temporality::Gauge, times, number(p));
                        }
                    }
                    Some(Data::Sum(s)) => {
                        let t = sum_temporality(s.aggregation_temporality, s.is_monotonic);
                        for p in &s.data_points {
                            let times = (p.start_time_unix_nano, p.time_unix_nano, p.flags);
                            emit(&m.name, &p.attributes, t, times, number(p));
                        }
                    }
                    Some(Data::Histogram(h)) => {
                        let (count, sum) = count_and_sum();
                        let t = sum_temporality(h.aggregation_temporality, true);
                        for p in &h.data_points {
                            let times = (p.start_time_unix_nano, p.time_unix_nano, p.flags);
                            emit(&count, &p.attributes, t, times, Some(p.count as f64));
                            if let Some(s) = p.sum {
                                emit(&sum, &p.attributes, t, times, Some(s));
                            }
                        }
                    }
                    Some(Data::ExponentialHistogram(h)) => {
                        let (count, sum) = count_and_sum();
                        let t = sum_temporality(h.aggregation_temporality, true);
                        for p in &h.data_points {
                            let times = (p.start_time_unix_nano, p.time_unix_nano, p.flags);
                            emit(&count, &p.attributes, t, times, Some(p.count as f64));
                            if let Some(s) = p.sum {
                                emit(&sum, &p.attributes, t, times, Some(s));
                            }
                        }
                    }
                    Some(Data::Summary(s)) => {
                        let (count, sum) = count_and_sum();
                        for p in &s.data_points {
                            let times = (p.start_time_unix_nano, p.time_unix_nano, p.flags);
                            let t = Temporality::Cumulative;
                            emit(&count, &p.attributes, t, times, Some(p.count as f64));
                            emit(&sum, &p.attributes, t, times, Some(p.sum));
                        }
                    }
                    None => {}
                }
            }
        }
    }
}

/// The dedupe identity of a point: its series, start and time.
pub fn point_identity(series: u64, start_ns: u64, time_ns: u64) -> u64 {
    let mut h = hasher();
    (series, start_ns, time_ns).hash(&mut h);
    h.finish()
}

/// The previous point of a cumulative series.
#[derive(Clone, Copy, Debug)]
struct Previous {
    value: f64,
    start_ns: u64,
    time_ns: u64,
    time_ms: i64,
    /// Where it was read: replaying from here rebuilds it.
    mark: Mark,
    /// Further apart than this, two points are not consecutive.
    max_gap_ms: i64,
}

/// What a cumulative point yields.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    /// The first point of its series (or the first after a gap): nothing.
    Baseline,
    /// The increase since the previous point, which was read at the mark.
    Increase(f64, Mark),
    /// The previous point again.
    Duplicate,
    /// Older than the previous point, or as old with another value.
    OutOfOrder,
}

/// The OTLP side of one partition: the previous point of each cumulative
/// series, beside the engine's windows.
#[derive(Debug, Default)]
pub struct OtlpState {
    previous: HashMap<u64, Previous>,
}

/// A point being folded: the cumulative series' new point and where it was read.
struct NewPoint {
    series: u64,
    start_ns: u64,
    time_ns: u64,
    time_ms: i64,
    value: f64,
    mark: Mark,
    max_gap_ms: i64,
}

impl OtlpState {
    pub fn new() -> Self {
        OtlpState {
            previous: HashMap::new(),
        }
    }

    /// Cumulative series whose previous point is held.
    pub fn series_held(&self) -> usize {
        self.previous.len()
    }

    /// Folds one message read at `offset` into `engine`; returns the first
    /// reason a point (or the whole message) was rejected, if any.
    pub fn fold(
        &mut self,
        engine: &mut Partition,
        payload: &[u8],
        max_bytes: usize,
        offset: i64,
        now_ms: i64,
    ) -> Option<Rejection> {
        let req = match decode_request(payload, max_bytes) {
            Ok(r) => r,
            Err(r) => {
                engine.reject(r);
                return Some(r);
            }
        };
        self.fold_request(engine, &req, offset, now_ms)
    }

    /// Folds a decoded request read at `offset` into `engine`.
    pub fn fold_request(
        &mut self,
        engine: &mut Partition,
        req: &ExportMetricsServiceRequest,
        offset: i64,
        now_ms: i64,
    ) -> Option<Rejection> {
        // Every mark of this message: replaying it starts from this watermark.
        let here = Mark {
            offset,
            watermark_before: engine.watermark(),
        };
        let mut first = None;
        for_each_point(req, |p| {
            if let Some(r) = self.fold_point(engine, p, here, now_ms) {
                first.get_or_insert(r);
            }
        });
        first
    }

    /// Folds one point; returns why it was rejected, if it was. Every
    /// outcome is counted once: by the engine when it folded a sample, here
    /// otherwise.
    fn fold_point(
        &mut self,
        engine: &mut Partition,
        p: &Point,
        here: Mark,
        now_ms: i64,
    ) -> Option<Rejection> {
        let decided = |engine: &mut Partition, outcome: Folded| {
            engine.tally(outcome);
            match outcome {
                Folded::Rejected(r) => Some(r),
                _ => None,
            }
        };
        let Some(target) = p.target else {
            return decided(engine, Folded::Rejected(Rejection::OtlpNoTarget));
        };
        let Some(value) = p.value else {
            return decided(engine, Folded::Rejected(Rejection::OtlpNoValue));
        };
        // Nanoseconds to milliseconds: u64::MAX / 10⁶ fits an i64.
        let time_ms = (p.time_ns / 1_000_000) as i64;
        if let Err(r) = engine.admits(time_ms, now_ms) {
            return decided(engine, Folded::Rejected(r));
        }
        let Some(plan) = engine.plan().get(target, p.metric) else {
            return decided(engine, Folded::Skipped);
        };
        let longest = plan.windows.iter().map(|w| w.size_ms).max().unwrap_or(0);
        let wants_labels = plan.distinct_label.is_some();
        let lateness = engine.config().allowed_lateness_ms;
        let (value, mark) = match p.temporality {
            Temporality::Gauge | Temporality::Delta => (value, here),
            Temporality::Cumulative => {
                let new = NewPoint {
                    series: p.series,
                    start_ns: p.start_ns,
                    time_ns: p.time_ns,
                    time_ms,
                    value,
                    mark: here,
                    max_gap_ms: idle_eviction_ms(longest, lateness),
                };
                match self.step(engine, new) {
                    Err(r) => return decided(engine, Folded::Rejected(r)),
                    Ok(Step::Increase(increase, origin)) => (increase, origin),
                    Ok(Step::Baseline) => {
                        engine.observe_time(time_ms);
                        return None;
                    }
                    Ok(Step::Duplicate) => return decided(engine, Folded::Duplicate),
                    Ok(Step::OutOfOrder) => {
                        return decided(engine, Folded::Rejected(Rejection::OtlpOutOfOrder))
                    }
                }
            }
        };
        let labels = if wants_labels {
            labels_json(p.attributes)
        } else {
            None
        };
        let sample = Sample {
            id: None,
            ts: time_ms,
            target: Cow::Borrowed(target),
            metric: Cow::Borrowed(p.metric),
            value,
            pod: p.pod.map(Cow::Borrowed),
            labels: labels.as_deref(),
        };
        let id = point_identity(p.series, p.start_ns, p.time_ns);
        let outcome = engine.fold_marked(&sample, id, mark, now_ms);
        // Whatever became of the sample, its time was admitted: the watermark
        // follows it, so a replay (where the same point may be a baseline)
        // moves the watermark the same way.
        engine.observe_time(time_ms);
        match outcome {
            Folded::Rejected(r) => Some(r),
            _ => None,
        }
    }

    /// Advances a cumulative series to its new point.
    fn step(&mut self, engine: &mut Partition, new: NewPoint) -> Result<Step, Rejection> {
        let max_series = engine.config().max_series;
        if !self.previous.contains_key(&new.series) && self.previous.len() >= max_series {
            self.evict(engine.watermark(), engine.config().allowed_lateness_ms);
            if self.previous.len() >= max_series {
                return Err(Rejection::SeriesLimit);
            }
        }
        let next = Previous {
            value: new.value,
            start_ns: new.start_ns,
            time_ns: new.time_ns,
            time_ms: new.time_ms,
            mark: new.mark,
            max_gap_ms: new.max_gap_ms,
        };
        let Some(prev) = self.previous.get_mut(&new.series) else {
            self.previous.insert(new.series, next);
            return Ok(Step::Baseline);
        };
        if new.time_ns <= prev.time_ns {
            let same = new.time_ns == prev.time_ns
                && new.start_ns == prev.start_ns
                && new.value.to_bits() == prev.value.to_bits();
            return Ok(if same {
                Step::Duplicate
            } else {
                Step::OutOfOrder
            });
        }
        let before = *prev;
        *prev = next;
        if new.time_ms.saturating_sub(before.time_ms) > before.max_gap_ms {
            return Ok(Step::Baseline);
        }
        let reset = new.value < before.value || new.start_ns != before.start_ns;
        let increase = if reset {
            new.value
        } else {
            new.value - before.value
        };
        Ok(Step::Increase(increase, before.mark))
    }

    /// Drops the previous points idle beyond their gap plus the lateness: a
    /// point admitted from now on is too far from them to be consecutive, so
    /// dropping them changes nothing (and when it happens does not matter).
    fn evict(&mut self, watermark: Option<i64>, lateness_ms: i64) {
        let Some(w) = watermark else { return };
        self.previous
            .retain(|_, p| w.saturating_sub(p.time_ms) <= p.max_gap_ms.saturating_add(lateness_ms));
    }

    /// The checkpoint to commit after folding everything before
    /// `next_offset`: the engine's, held back to the earliest previous point
    /// (replaying from there rebuilds every one of them).
    pub fn checkpoint(&mut self, engine: &mut Partition, next_offset: i64) -> Checkpoint {
        let mut cp = engine.checkpoint(next_offset);
        self.evict(engine.watermark(), engine.config().allowed_lateness_ms);
        if let Some(first) = self.previous.values().map(|p| p.mark).reduce(Mark::earlier) {
            cp.hold(first);
        }
        cp
    }
}

/// The point's attributes as the JSON object of strings a distinct count
/// reads its label from.
fn labels_json(attrs: &[KeyValue]) -> Option<Box<RawValue>> {
    use any_value::Value as V;
    let map: serde_json::Map<String, serde_json::Value> = attrs
        .iter()
        .filter_map(|kv| {
            let text = match kv.value.as_ref()?.value.as_ref()? {
                V::StringValue(s) => s.clone(),
                V::BoolValue(b) => b.to_string(),
                V::IntValue(i) => i.to_string(),
                V::DoubleValue(d) => d.to_string(),
                _ => return None,
            };
            Some((kv.key.clone(), serde_json::Value::String(text)))
        })
        .collect();
    serde_json::value::to_raw_value(&map).ok()
}

#[cfg(test)]
mod tests;
