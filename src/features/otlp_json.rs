//! OTLP/JSON, the `otlp_json` encoding of the OpenTelemetry Collector's Kafka
//! exporter, read into the same generated types (`opentelemetry-proto`) as
//! OTLP/protobuf, so one conversion serves both.
//!
//! Why not the crate's serde derive: it reads 64-bit integers only one way
//! (`asInt` only as a number, exponential histogram times only as numbers),
//! while the OTLP/JSON mapping writes them as strings and lets readers accept
//! both. This reader takes numbers or strings for every integer, enums as
//! integers or names, `NaN`/`Infinity` for doubles, and lowerCamelCase or the
//! original snake_case field names; it reads only what metrics need and
//! ignores the rest (exemplars, buckets, unknown fields). Pure: no I/O.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, summary_data_point::ValueAtQuantile, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Map, Value};

/// Why a payload is not an OTLP/JSON metrics request.
#[derive(Debug, thiserror::Error)]
pub enum OtlpJsonError {
    #[error("not JSON: {0}")]
    Syntax(#[source] serde_json::Error),
    #[error("no resourceMetrics array: not an ExportMetricsServiceRequest")]
    NotARequest,
    #[error("{field}: expected {expected}")]
    Field {
        field: &'static str,
        expected: &'static str,
    },
}

type Result<T, E = OtlpJsonError> = std::result::Result<T, E>;
type Obj = Map<String, Value>;

fn wrong(field: &'static str, expected: &'static str) -> OtlpJsonError {
    OtlpJsonError::Field { field, expected }
}

/// Decodes an OTLP/JSON `ExportMetricsServiceRequest`.
pub fn decode(payload: &[u8]) -> Result<ExportMetricsServiceRequest> {
    let root: Value = serde_json::from_slice(payload).map_err(OtlpJsonError::Syntax)?;
    let root = root.as_object().ok_or(OtlpJsonError::NotARequest)?;
    let Some(list) = field(root, "resourceMetrics", "resource_metrics") else {
        return Err(OtlpJsonError::NotARequest);
    };
    let list = list.as_array().ok_or(OtlpJsonError::NotARequest)?;
    Ok(ExportMetricsServiceRequest {
        resource_metrics: list.iter().map(resource_metrics).collect::<Result<_>>()?,
    })
}

/// A field by its lowerCamelCase or original name; `null` is absent.
fn field<'a>(o: &'a Obj, camel: &str, snake: &str) -> Option<&'a Value> {
    o.get(camel)
        .or_else(|| o.get(snake))
        .filter(|v| !v.is_null())
}

fn object<'a>(v: &'a Value, name: &'static str) -> Result<&'a Obj> {
    v.as_object().ok_or(wrong(name, "an object"))
}

/// The elements of an array field (none when absent).
fn array<'a>(o: &'a Obj, camel: &'static str, snake: &str) -> Result<&'a [Value]> {
    match field(o, camel, snake) {
        None => Ok(&[]),
        Some(v) => v
            .as_array()
            .map(Vec::as_slice)
            .ok_or(wrong(camel, "an array")),
    }
}

fn string(o: &Obj, camel: &'static str, snake: &str) -> Result<String> {
    match field(o, camel, snake) {
        None => Ok(String::new()),
        Some(v) => v
            .as_str()
            .map(str::to_string)
            .ok_or(wrong(camel, "a string")),
    }
}

/// An unsigned 64-bit integer: a number or a decimal string (0 when absent).
fn uint(o: &Obj, camel: &'static str, snake: &str) -> Result<u64> {
    match field(o, camel, snake) {
        None => Ok(0),
        Some(Value::Number(n)) => n.as_u64().ok_or(wrong(camel, "an unsigned integer")),
        Some(Value::String(s)) => s.parse().map_err(|_| wrong(camel, "an unsigned integer")),
        Some(_) => Err(wrong(camel, "an unsigned integer")),
    }
}

/// A signed 64-bit integer: a number or a decimal string.
fn int(v: &Value, name: &'static str) -> Result<i64> {
    match v {
        Value::Number(n) => n.as_i64().ok_or(wrong(name, "an integer")),
        Value::String(s) => s.parse().map_err(|_| wrong(name, "an integer")),
        _ => Err(wrong(name, "an integer")),
    }
}

/// A double: a number, or a string (`NaN`, `Infinity`, `-Infinity`, or a number).
fn double(v: &Value, name: &'static str) -> Result<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or(wrong(name, "a number")),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other.parse().map_err(|_| wrong(name, "a number")),
        },
        _ => Err(wrong(name, "a number")),
    }
}

fn boolean(o: &Obj, camel: &'static str, snake: &str) -> Result<bool> {
    match field(o, camel, snake) {
        None => Ok(false),
        Some(v) => v.as_bool().ok_or(wrong(camel, "a boolean")),
    }
}

/// `aggregationTemporality`: an integer, or the enum's name.
fn temporality(o: &Obj) -> Result<i32> {
    let name = "aggregationTemporality";
    match field(o, name, "aggregation_temporality") {
        None => Ok(0),
        Some(Value::String(s)) => match s.as_str() {
            "AGGREGATION_TEMPORALITY_UNSPECIFIED" => Ok(0),
            "AGGREGATION_TEMPORALITY_DELTA" => Ok(1),
            "AGGREGATION_TEMPORALITY_CUMULATIVE" => Ok(2),
            _ => Err(wrong(name, "a temporality")),
        },
        Some(v) => i32::try_from(int(v, name)?).map_err(|_| wrong(name, "a temporality")),
    }
}

fn attributes(o: &Obj, camel: &'static str, snake: &str) -> Result<Vec<KeyValue>> {
    array(o, camel, snake)?.iter().map(key_value).collect()
}

fn key_value(v: &Value) -> Result<KeyValue> {
    let o = object(v, "attributes")?;
    Ok(KeyValue {
        key: string(o, "key", "key")?,
        value: field(o, "value", "value").map(any_value).transpose()?,
    })
}

fn any_value(v: &Value) -> Result<AnyValue> {
    use any_value::Value as V;
    let o = object(v, "value")?;
    let value = if let Some(s) = field(o, "stringValue", "string_value") {
        V::StringValue(s.as_str().ok_or(wrong("stringValue", "a string"))?.into())
    } else if let Some(b) = field(o, "boolValue", "bool_value") {
        V::BoolValue(b.as_bool().ok_or(wrong("boolValue", "a boolean"))?)
    } else if let Some(i) = field(o, "intValue", "int_value") {
        V::IntValue(int(i, "intValue")?)
    } else if let Some(d) = field(o, "doubleValue", "double_value") {
        V::DoubleValue(double(d, "doubleValue")?)
    } else if let Some(a) = field(o, "arrayValue", "array_value") {
        V::ArrayValue(ArrayValue {
            values: array(object(a, "arrayValue")?, "values", "values")?
                .iter()
                .map(any_value)
                .collect::<Result<_>>()?,
        })
    } else if let Some(kv) = field(o, "kvlistValue", "kvlist_value") {
        V::KvlistValue(KeyValueList {
            values: attributes(object(kv, "kvlistValue")?, "values", "values")?,
        })
    } else if let Some(b) = field(o, "bytesValue", "bytes_value") {
        // Base64 in JSON; kept as its text (attributes only identify series here).
        V::BytesValue(b.as_str().ok_or(wrong("bytesValue", "a string"))?.into())
    } else {
        return Ok(AnyValue { value: None });
    };
    Ok(AnyValue { value: Some(value) })
}

fn resource_metrics(v: &Value) -> Result<ResourceMetrics> {
    let o = object(v, "resourceMetrics")?;
    let resource = match field(o, "resource", "resource") {
        Some(r) => Some(Resource {
            attributes: attributes(object(r, "resource")?, "attributes", "attributes")?,
            ..Resource::default()
        }),
        None => None,
    };
    Ok(ResourceMetrics {
        resource,
        scope_metrics: array(o, "scopeMetrics", "scope_metrics")?
            .iter()
            .map(scope_metrics)
            .collect::<Result<_>>()?,
        schema_url: string(o, "schemaUrl", "schema_url")?,
    })
}

fn scope_metrics(v: &Value) -> Result<ScopeMetrics> {
    let o = object(v, "scopeMetrics")?;
    let scope = match field(o, "scope", "scope") {
        Some(s) => {
            let s = object(s, "scope")?;
            Some(InstrumentationScope {
                name: string(s, "name", "name")?,
                version: string(s, "version", "version")?,
                ..InstrumentationScope::default()
            })
        }
        None => None,
    };
    Ok(ScopeMetrics {
        scope,
        metrics: array(o, "metrics", "metrics")?
            .iter()
            .map(metric)
            .collect::<Result<_>>()?,
        schema_url: string(o, "schemaUrl", "schema_url")?,
    })
}

fn metric(v: &Value) -> Result<Metric> {
    let o = object(v, "metrics")?;
    let data = if let Some(g) = field(o, "gauge", "gauge") {
        Some(Data::Gauge(Gauge {
            data_points: number_points(object(g, "gauge")?)?,
        }))
    } else if let Some(s) = field(o, "sum", "sum") {
        let s = object(s, "sum")?;
        Some(Data::Sum(Sum {
            data_points: number_points(s)?,
            aggregation_temporality: temporality(s)?,
            is_monotonic: boolean(s, "isMonotonic", "is_monotonic")?,
        }))
    } else if let Some(h) = field(o, "histogram", "histogram") {
        let h = object(h, "histogram")?;
        Some(Data::Histogram(Histogram {
            data_points: array(h, "dataPoints", "data_points")?
                .iter()
                .map(histogram_point)
                .collect::<Result<_>>()?,
            aggregation_temporality: temporality(h)?,
        }))
    } else if let Some(h) = field(o, "exponentialHistogram", "exponential_histogram") {
        let h = object(h, "exponentialHistogram")?;
        Some(Data::ExponentialHistogram(ExponentialHistogram {
            data_points: array(h, "dataPoints", "data_points")?
                .iter()
                .map(exponential_point)
                .collect::<Result<_>>()?,
            aggregation_temporality: temporality(h)?,
        }))
    } else if let Some(s) = field(o, "summary", "summary") {
        Some(Data::Summary(Summary {
            data_points: array(object(s, "summary")?, "dataPoints", "data_points")?
                .iter()
                .map(summary_point)
                .collect::<Result<_>>()?,
        }))
    } else {
        None
    };
    Ok(Metric {
        name: string(o, "name", "name")?,
        description: String::new(),
        unit: string(o, "unit", "unit")?,
        metadata: Vec::new(),
        data,
    })
}

/// The fields every point kind shares: attributes, start and time, flags.
struct Common {
    attributes: Vec<KeyValue>,
    start_time_unix_nano: u64,
    time_unix_nano: u64,
    flags: u32,
}

fn common(o: &Obj) -> Result<Common> {
    let flags = uint(o, "flags", "flags")?;
    Ok(Common {
        attributes: attributes(o, "attributes", "attributes")?,
        start_time_unix_nano: uint(o, "startTimeUnixNano", "start_time_unix_nano")?,
        time_unix_nano: uint(o, "timeUnixNano", "time_unix_nano")?,
        flags: u32::try_from(flags).map_err(|_| wrong("flags", "a 32-bit integer"))?,
    })
}

fn number_points(o: &Obj) -> Result<Vec<NumberDataPoint>> {
    array(o, "dataPoints", "data_points")?
        .iter()
        .map(|p| {
            let p = object(p, "dataPoints")?;
            let c = common(p)?;
            let value = if let Some(d) = field(p, "asDouble", "as_double") {
                Some(number_data_point::Value::AsDouble(double(d, "asDouble")?))
            } else if let Some(i) = field(p, "asInt", "as_int") {
                Some(number_data_point::Value::AsInt(int(i, "asInt")?))
            } else {
                None
            };
            Ok(NumberDataPoint {
                attributes: c.attributes,
                start_time_unix_nano: c.start_time_unix_nano,
                time_unix_nano: c.time_unix_nano,
                exemplars: Vec::new(),
                flags: c.flags,
                value,
            })
        })
        .collect()
}

fn optional_double(o: &Obj, camel: &'static str, snake: &str) -> Result<Option<f64>> {
    field(o, camel, snake).map(|v| double(v, camel)).transpose()
}

fn histogram_point(v: &Value) -> Result<HistogramDataPoint> {
    let p = object(v, "dataPoints")?;
    let c = common(p)?;
    Ok(HistogramDataPoint {
        attributes: c.attributes,
        start_time_unix_nano: c.start_time_unix_nano,
        time_unix_nano: c.time_unix_nano,
        count: uint(p, "count", "count")?,
        sum: optional_double(p, "sum", "sum")?,
        flags: c.flags,
        ..HistogramDataPoint::default()
    })
}

fn exponential_point(v: &Value) -> Result<ExponentialHistogramDataPoint> {
    let p = object(v, "dataPoints")?;
    let c = common(p)?;
    Ok(ExponentialHistogramDataPoint {
        attributes: c.attributes,
        start_time_unix_nano: c.start_time_unix_nano,
        time_unix_nano: c.time_unix_nano,
        count: uint(p, "count", "count")?,
        sum: optional_double(p, "sum", "sum")?,
        flags: c.flags,
        ..ExponentialHistogramDataPoint::default()
    })
}

fn summary_point(v: &Value) -> Result<SummaryDataPoint> {
    let p = object(v, "dataPoints")?;
    let c = common(p)?;
    Ok(SummaryDataPoint {
        attributes: c.attributes,
        start_time_unix_nano: c.start_time_unix_nano,
        time_unix_nano: c.time_unix_nano,
        count: uint(p, "count", "count")?,
        sum: optional_double(p, "sum", "sum")?.unwrap_or(0.0),
        quantile_values: Vec::<ValueAtQuantile>::new(),
        flags: c.flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_collectors_encoding_with_integers_as_strings() {
        // As the collector's otlp_json (and protobuf's MessageToJson) write it.
        let json = br#"{"resourceMetrics":[{"resource":{"attributes":[
            {"key":"k8s.namespace.name","value":{"stringValue":"shop"}},
            {"key":"replica","value":{"intValue":"3"}}]},
          "scopeMetrics":[{"scope":{"name":"s"},"metrics":[
            {"name":"requests","sum":{"dataPoints":[{"startTimeUnixNano":"1","timeUnixNano":"1767225600000000000","asInt":"42"}],
             "aggregationTemporality":2,"isMonotonic":true}},
            {"name":"depth","gauge":{"dataPoints":[{"timeUnixNano":1767225600000000000,"asDouble":"NaN","flags":1}]}},
            {"name":"latency","histogram":{"dataPoints":[{"time_unix_nano":"5","count":"3","sum":2.5,"bucketCounts":["1","2"]}],
             "aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA"}}]}]}]}"#;
        let req = decode(json).unwrap();
        let rm = &req.resource_metrics[0];
        let attrs = &rm.resource.as_ref().unwrap().attributes;
        assert_eq!(
            attrs[1].value.as_ref().unwrap().value,
            Some(any_value::Value::IntValue(3))
        );
        let metrics = &rm.scope_metrics[0].metrics;
        let Some(Data::Sum(sum)) = &metrics[0].data else {
            panic!("{:?}", metrics[0])
        };
        assert_eq!((sum.aggregation_temporality, sum.is_monotonic), (2, true));
        let p = &sum.data_points[0];
        assert_eq!(p.value, Some(number_data_point::Value::AsInt(42)));
        assert_eq!(
            (p.start_time_unix_nano, p.time_unix_nano),
            (1, 1_767_225_600_000_000_000)
        );
        let Some(Data::Gauge(g)) = &metrics[1].data else {
            panic!()
        };
        assert_eq!(g.data_points[0].flags, 1);
        assert!(matches!(
            g.data_points[0].value,
            Some(number_data_point::Value::AsDouble(d)) if d.is_nan()
        ));
        let Some(Data::Histogram(h)) = &metrics[2].data else {
            panic!()
        };
        assert_eq!(h.aggregation_temporality, 1);
        assert_eq!(
            (h.data_points[0].count, h.data_points[0].sum),
            (3, Some(2.5))
        );
        assert_eq!(h.data_points[0].time_unix_nano, 5);
    }

    #[test]
    fn what_is_not_a_request_is_an_error() {
        for bad in [
            &b"{"[..],
            b"[]",
            br#"{"ts":1,"target":"a/b","metric":"m","value":1}"#,
            br#"{"resourceMetrics":{}}"#,
            br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asInt":"x"}]}}]}]}]}"#,
            br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"timeUnixNano":-1}]}}]}]}]}"#,
            br#"{"resourceMetrics":[{"resource":{"attributes":[7]}}]}"#,
        ] {
            assert!(decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
