//! Metric messages on the wire: JSON, one sample or an array of samples,
//! decoded without copying strings where JSON allows (borrowed `Cow`s), and
//! checked. A message that fails is rejected with a countable reason; it is
//! never a panic.
//!
//! ```json
//! {"id": "…", "ts": "2026-01-01T12:00:00Z" | 1767268800000, "target": "shop/web",
//!  "metric": "http_requests", "value": 12.5, "pod": "web-7f9c-abc", "labels": {"user": "u1"}}
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// One decoded sample; strings borrow from the payload when they can.
#[derive(Debug, Deserialize)]
pub struct Sample<'a> {
    /// The producer's unique id for the sample (dedupe identity).
    #[serde(default, borrow, deserialize_with = "borrowed")]
    pub id: Option<Cow<'a, str>>,
    /// Event time, milliseconds since the Unix epoch.
    #[serde(deserialize_with = "event_time")]
    pub ts: i64,
    /// `namespace/deployment`; also the message key.
    #[serde(borrow)]
    pub target: Cow<'a, str>,
    #[serde(borrow)]
    pub metric: Cow<'a, str>,
    pub value: f64,
    #[serde(default, borrow, deserialize_with = "borrowed")]
    pub pod: Option<Cow<'a, str>>,
    /// Kept raw: parsed only when a distinct count needs a label.
    #[serde(default, borrow)]
    pub labels: Option<&'a RawValue>,
}

impl Sample<'_> {
    /// The value of label `name`, if the sample carries it as a string.
    pub fn label(&self, name: &str) -> Option<String> {
        let raw = self.labels?;
        let map: std::collections::HashMap<Cow<'_, str>, Cow<'_, str>> =
            serde_json::from_str(raw.get()).ok()?;
        map.get(name).map(|v| v.to_string())
    }
}

/// Why a message or sample was not folded in (the `reason` label of
/// `scalepilot_ingest_rejected_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rejection {
    /// Not JSON, wrong types, missing fields, numbers out of range.
    Parse,
    /// Larger than the configured maximum message size.
    TooLarge,
    /// The Kafka key is empty or differs from the sample's target.
    Key,
    EmptyField,
    NonFinite,
    Negative,
    /// Event time too far ahead of the consumer's clock.
    Future,
    /// Event time before 2000-01-01T00:00:00Z ([`MIN_EVENT_TIME_MS`]): a
    /// broken clock or encoding (seconds for milliseconds, a sign flip), not a
    /// late sample.
    Before2000,
    /// Older than the watermark minus the allowed lateness.
    Late,
    /// The dedupe state reached its memory ceiling.
    DedupeFull,
    /// The partition holds its ceiling of series and none is idle enough to
    /// evict (see `EngineConfig::max_series`).
    SeriesLimit,
    /// An OTLP topic's message that is neither an OTLP/protobuf nor an
    /// OTLP/JSON `ExportMetricsServiceRequest` (see `features::otlp`).
    OtlpDecode,
    /// An OTLP point whose resource lacks `k8s.namespace.name` or
    /// `k8s.deployment.name`.
    OtlpNoTarget,
    /// An OTLP point without a value, or flagged as having none
    /// (`FLAG_NO_RECORDED_VALUE`), or a histogram point without a sum.
    OtlpNoValue,
    /// A cumulative OTLP point not newer than the previous point of its
    /// series (a redelivered copy, or out of order): dropped, and nothing is
    /// lost, since the next point carries the running total.
    OtlpOutOfOrder,
}

/// The earliest event time accepted: 2000-01-01T00:00:00Z, in milliseconds.
/// Together with the future check (the consumer's clock plus a few minutes)
/// it bounds every event time, so window arithmetic never nears `i64` limits.
pub const MIN_EVENT_TIME_MS: i64 = 946_684_800_000;

impl Rejection {
    pub const ALL: [Rejection; 15] = [
        Rejection::Parse,
        Rejection::TooLarge,
        Rejection::Key,
        Rejection::EmptyField,
        Rejection::NonFinite,
        Rejection::Negative,
        Rejection::Future,
        Rejection::Before2000,
        Rejection::Late,
        Rejection::DedupeFull,
        Rejection::SeriesLimit,
        Rejection::OtlpDecode,
        Rejection::OtlpNoTarget,
        Rejection::OtlpNoValue,
        Rejection::OtlpOutOfOrder,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Rejection::Parse => "parse",
            Rejection::TooLarge => "too_large",
            Rejection::Key => "key",
            Rejection::EmptyField => "empty_field",
            Rejection::NonFinite => "non_finite",
            Rejection::Negative => "negative",
            Rejection::Future => "future",
            Rejection::Before2000 => "before_2000",
            Rejection::Late => "late",
            Rejection::DedupeFull => "dedupe_full",
            Rejection::SeriesLimit => "series_limit",
            Rejection::OtlpDecode => "otlp_decode",
            Rejection::OtlpNoTarget => "otlp_no_target",
            Rejection::OtlpNoValue => "otlp_no_value",
            Rejection::OtlpOutOfOrder => "otlp_out_of_order",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Decodes a message: one sample object or an array of them. A message that
/// does not parse as a whole is rejected as a whole.
pub fn decode(payload: &[u8], max_bytes: usize) -> Result<Vec<Sample<'_>>, Rejection> {
    if payload.len() > max_bytes {
        return Err(Rejection::TooLarge);
    }
    // One check of the whole payload (std's ASCII fast path) instead of one
    // per string: serde_json reading a `str` does not check its strings again.
    let text = std::str::from_utf8(payload).map_err(|_| Rejection::Parse)?;
    let first = text.bytes().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'[') => {
            let mut de = serde_json::Deserializer::from_str(text);
            de.deserialize_seq(Samples(payload.len()))
                .and_then(|v| de.end().map(|()| v))
                .map_err(|_| Rejection::Parse)
        }
        Some(b'{') => serde_json::from_str(text)
            .map(|s| vec![s])
            .map_err(|_| Rejection::Parse),
        _ => Err(Rejection::Parse),
    }
}

/// Checks one sample's fields (time checks need the partition's state and are
/// done when folding).
pub fn check(s: &Sample) -> Result<(), Rejection> {
    if s.target.is_empty() || s.metric.is_empty() {
        return Err(Rejection::EmptyField);
    }
    if !s.value.is_finite() {
        return Err(Rejection::NonFinite);
    }
    if s.value < 0.0 {
        return Err(Rejection::Negative);
    }
    Ok(())
}

/// An optional string, borrowed from the payload when it has no escapes:
/// serde borrows a `Cow<str>` field marked `borrow` but not one inside an
/// `Option`, which it would allocate for every sample.
fn borrowed<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);
    Option::<Borrowed<'a>>::deserialize(d).map(|o| o.map(|b| b.0))
}

/// The samples of an array, in a vector sized from the payload's length (a
/// sample takes at least [`MIN_SAMPLE_BYTES`]), so a batch is not copied
/// again each time the vector would have doubled.
struct Samples(usize);

/// The shortest sample that decodes: `{"ts":1,"target":"","metric":"","value":1}`
/// (empty fields are rejected later, one by one).
const MIN_SAMPLE_BYTES: usize = 42;

impl<'de> Visitor<'de> for Samples {
    type Value = Vec<Sample<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of samples")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(self.0 / MIN_SAMPLE_BYTES + 1);
        while let Some(s) = seq.next_element()? {
            out.push(s);
        }
        Ok(out)
    }
}

fn event_time<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an RFC 3339 time or epoch milliseconds")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom("epoch milliseconds out of range"))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
            if v.is_finite() && v.abs() < 9.0e15 {
                Ok(v as i64)
            } else {
                Err(E::custom("epoch milliseconds out of range"))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.timestamp_millis())
                .map_err(|e| E::custom(format!("ts: {e}")))
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_single_samples_and_batches_borrowing_strings() {
        let one = br#"{"id":"a1","ts":"2026-01-01T00:00:01Z","target":"shop/web","metric":"rps","value":2.5,"pod":"web-1","labels":{"user":"u7"}}"#;
        let s = decode(one, 1 << 20).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].ts, 1_767_225_601_000);
        assert!(matches!(s[0].target, Cow::Borrowed("shop/web")));
        assert!(
            matches!(s[0].id, Some(Cow::Borrowed("a1"))),
            "no copy per sample"
        );
        assert!(matches!(s[0].pod, Some(Cow::Borrowed("web-1"))));
        assert_eq!(s[0].label("user").as_deref(), Some("u7"));
        let many = br#" [{"ts":1767225601000,"target":"a/b","metric":"m","value":1},{"ts":1767225602000,"target":"a/b","metric":"m","value":2,"extra":true}]"#;
        let s = decode(many, 1 << 20).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s[0].id.is_none() && s[1].value == 2.0);
        // Escapes cannot be borrowed: the string is unescaped into a copy.
        let escaped = br#"[{"id":"a\"b","ts":1767225601000,"target":"a/b","metric":"m","value":1,"pod":"p\u00e9"}]"#;
        let s = decode(escaped, 1 << 20).unwrap();
        assert_eq!(s[0].id.as_deref(), Some("a\"b"));
        assert_eq!(s[0].pod.as_deref(), Some("pé"));
        assert!(matches!(s[0].id, Some(Cow::Owned(_))));
    }

    #[test]
    fn garbage_is_rejected_never_a_panic() {
        let cases: [&[u8]; 10] = [
            b"",
            b"not json",
            br#"{"ts":1,"target":"a/b","metric":"m"}"#,
            br#"{"ts":1,"target":"a/b","metric":"m","value":"12"}"#,
            br#"{"ts":"yesterday","target":"a/b","metric":"m","value":1}"#,
            br#"{"ts":1,"target":"a/b","metric":"m","value":1e999}"#,
            br#"{"ts":1,"target":"a/b","metric":"m","value":NaN}"#,
            br#"[{"ts":1,"target":"a/b","metric":"m","value":1}, 7]"#,
            b"\xff\xfe{",
            br#"{"ts":1e300,"target":"a/b","metric":"m","value":1}"#,
        ];
        for c in cases {
            assert_eq!(
                decode(c, 1 << 20).unwrap_err(),
                Rejection::Parse,
                "{:?}",
                String::from_utf8_lossy(c)
            );
        }
        // Invalid UTF-8 in the `labels` object, kept raw until a distinct
        // count reads it: sonic-rs, tried for speed, hands such bytes on as a
        // `str` (the fuzzer found it); serde_json rejects them.
        let raw_labels = b"{\"ts\":1,\"target\":\"a/b\",\"metric\":\"m\",\"value\":1,\"labels\":{\"\x80ser\":\"u3\"}}";
        assert_eq!(decode(raw_labels, 1 << 20).unwrap_err(), Rejection::Parse);
        let big = vec![b' '; 2 << 20];
        assert_eq!(decode(&big, 1 << 20).unwrap_err(), Rejection::TooLarge);
    }

    #[test]
    fn field_checks() {
        let s = |v: f64, target: &'static str| Sample {
            id: None,
            ts: 0,
            target: target.into(),
            metric: "m".into(),
            value: v,
            pod: None,
            labels: None,
        };
        assert_eq!(check(&s(1.0, "a/b")), Ok(()));
        assert_eq!(check(&s(-1.0, "a/b")), Err(Rejection::Negative));
        assert_eq!(check(&s(f64::INFINITY, "a/b")), Err(Rejection::NonFinite));
        assert_eq!(check(&s(1.0, "")), Err(Rejection::EmptyField));
    }
}
