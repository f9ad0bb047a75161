"""An independent OTLP producer for the Kafka tests: the PyPI packages
opentelemetry-proto (the protobuf classes and protobuf's JSON mapping) and
confluent-kafka, as the OpenTelemetry Collector's Kafka exporter would write.

    produce_otlp.py BROKERS OTLP_TOPIC JSON_TOPIC ENCODING STEPS TARGETS PODS STEP_MS DUP_EVERY [garbage]

For each step s (event time T0 + s*STEP_MS) and target t, one
ExportMetricsServiceRequest on OTLP_TOPIC: one resource (k8s.namespace.name
"shop", k8s.deployment.name "t<t>"), keyed by its resource attributes (as the
exporter's partition_metrics_by_resource_attributes does, so not by target),
holding per pod (point attribute k8s.pod.name):
  - queue_depth: a gauge (as_double or as_int),
  - requests_total: a cumulative monotonic sum, reset now and then (a new
    start time, the total back to zero),
  - latency_seconds: a cumulative histogram (count and sum, reset with it).
ENCODING: proto (otlp_proto), json (otlp_json: protobuf's JSON mapping, 64-bit
integers as strings, enums as integers, as the collector writes it), or mixed
(every third message JSON). Every DUP_EVERY-th message (0: none) is sent again
three messages later, as a producer retry would.

The same data as scalepilot JSON samples goes to JSON_TOPIC ("-": none), keyed
by target: gauge points as they are, and for the cumulative series the
increase since the series' previous point (the value itself after a reset,
nothing for a series' first point), computed here independently; histograms
as latency_seconds_count and latency_seconds_sum. With `garbage`, OTLP_TOPIC
also gets a message that is not OTLP and a resource without a deployment.

Prints one JSON line: messages and points sent, JSON samples, OTLP messages
per partition, and the expected 60 s windows: "target|metric|start" ->
[count, sum].
"""
import json
import sys

from confluent_kafka import Producer
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AGGREGATION_TEMPORALITY_CUMULATIVE

T0 = 1767225600000
WINDOW_MS = 60000


def kv(key, value):
    return KeyValue(key=key, value=AnyValue(string_value=value))


def main():
    brokers, otlp_topic, json_topic, encoding = sys.argv[1:5]
    steps, targets, pods, step_ms, dup_every = map(int, sys.argv[5:10])
    garbage = sys.argv[10:] == ["garbage"]
    producer = Producer({"bootstrap.servers": brokers, "linger.ms": 5, "message.max.bytes": 2_000_000})
    per_partition = {}
    sent = {"messages": 0, "points": 0, "samples": 0}
    windows = {}

    def delivered(err, msg):
        if err is not None:
            raise SystemExit(f"delivery failed: {err}")
        if msg.topic() == otlp_topic:
            per_partition[msg.partition()] = per_partition.get(msg.partition(), 0) + 1

    def send(topic, key, value):
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=delivered)
                break
            except BufferError:  # local queue full: let deliveries drain
                producer.poll(0.5)
        if topic == otlp_topic:
            sent["messages"] += 1
            if sent["messages"] % 1000 == 0:
                producer.poll(0)

    def expect(target, metric, ts, value):
        start = ts // WINDOW_MS * WINDOW_MS
        w = windows.setdefault(f"{target}|{metric}|{start}", [0, 0.0])
        w[0] += 1
        w[1] += value

    # Per (target, pod): the running totals, their start time, and the previous point's.
    start = {}
    total = {}
    count = {}
    hsum = {}
    previous = {}
    resend = []
    n = 0
    for s in range(steps):
        ts = T0 + s * step_ms
        time_ns = ts * 1_000_000
        for t in range(targets):
            target = f"shop/t{t}"
            req = ExportMetricsServiceRequest()
            rm = req.resource_metrics.add()
            rm.resource.attributes.extend([kv("k8s.namespace.name", "shop"), kv("k8s.deployment.name", f"t{t}")])
            sm = rm.scope_metrics.add()
            sm.scope.name = "produce_otlp"
            gauge = sm.metrics.add(name="queue_depth").gauge
            counter = sm.metrics.add(name="requests_total").sum
            counter.aggregation_temporality = AGGREGATION_TEMPORALITY_CUMULATIVE
            counter.is_monotonic = True
            hist = sm.metrics.add(name="latency_seconds").histogram
            hist.aggregation_temporality = AGGREGATION_TEMPORALITY_CUMULATIVE
            samples = []

            def sample(metric, pod, value):
                samples.append({"id": f"{metric}/{pod}/{ts}", "ts": ts, "target": target,
                                "metric": metric, "value": value, "pod": pod})
                expect(target, metric, ts, value)

            for p in range(pods):
                pod = f"t{t}-pod{p}"
                dp = gauge.data_points.add(time_unix_nano=time_ns)
                dp.attributes.append(kv("k8s.pod.name", pod))
                if (s + p) % 2:
                    dp.as_int = (s * 5 + p) % 9
                    sample("queue_depth", pod, dp.as_int)
                else:
                    dp.as_double = ((s * 7 + t * 3 + p) % 11) + 0.5
                    sample("queue_depth", pod, dp.as_double)
            for p in range(pods):
                pod = f"t{t}-pod{p}"
                key = (t, p)
                if key not in start or (s % 37 == (p * 11) % 37):
                    # A (re)start: new start time, totals from zero.
                    start[key] = time_ns - 1
                    total[key], count[key], hsum[key] = 0, 0, 0.0
                total[key] += (s * 3 + p + t) % 7
                more = (s + p) % 4
                count[key] += more
                hsum[key] += more * 0.25
                c = counter.data_points.add(start_time_unix_nano=start[key], time_unix_nano=time_ns, as_int=total[key])
                c.attributes.append(kv("k8s.pod.name", pod))
                h = hist.data_points.add(start_time_unix_nano=start[key], time_unix_nano=time_ns,
                                         count=count[key], sum=hsum[key])
                h.attributes.append(kv("k8s.pod.name", pod))
                now = (start[key], total[key], count[key], hsum[key])
                before = previous.get(key)
                if before is not None:
                    reset = now[0] != before[0]
                    for metric, i in [("requests_total", 1), ("latency_seconds_count", 2), ("latency_seconds_sum", 3)]:
                        dropped = now[i] < before[i]
                        sample(metric, pod, now[i] if reset or dropped else now[i] - before[i])
                previous[key] = now
            sent["points"] += 4 * pods
            n += 1
            as_json = encoding == "json" or (encoding == "mixed" and n % 3 == 0)
            payload = (json_format.MessageToJson(req, use_integers_for_enums=True, indent=None).encode()
                       if as_json else req.SerializeToString())
            key = "k8s.deployment.name=t%d,k8s.namespace.name=shop" % t
            send(otlp_topic, key, payload)
            if json_topic != "-" and samples:
                send(json_topic, target, json.dumps(samples))
                sent["samples"] += len(samples)
            if dup_every and n % dup_every == 0:
                resend.append((n + 3, key, payload, target, json.dumps(samples)))
            while resend and resend[0][0] <= n:
                _, k, again, tgt, js = resend.pop(0)
                send(otlp_topic, k, again)
                if json_topic != "-" and js != "[]":
                    send(json_topic, tgt, js)
    for _, k, again, tgt, js in resend:
        send(otlp_topic, k, again)
        if json_topic != "-" and js != "[]":
            send(json_topic, tgt, js)
    if garbage:
        send(otlp_topic, "junk", b"\x0a\x05not otlp at all")
        req = ExportMetricsServiceRequest()
        rm = req.resource_metrics.add()
        rm.resource.attributes.append(kv("k8s.namespace.name", "shop"))
        g = rm.scope_metrics.add().metrics.add(name="queue_depth").gauge
        g.data_points.add(time_unix_nano=(T0 + steps * step_ms) * 1_000_000, as_double=1.0)
        send(otlp_topic, "k8s.namespace.name=shop", req.SerializeToString())
    producer.flush(60)
    print(json.dumps({**sent, "perPartition": per_partition, "windows": windows}))


if __name__ == "__main__":
    main()
