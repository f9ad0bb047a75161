"""An independent producer for the Kafka tests (confluent-kafka from PyPI).

    produce.py BROKERS TOPIC samples N TARGETS STEP_MS
        N samples: sample i is {"id": "s<i>", "ts": T0 + i*STEP_MS, "target":
        "shop/t<i % TARGETS>", "metric": "rps", "value": (i*7) % 11}, keyed by its
        target, in messages of 1..5 samples of one target. Every 10th sample is
        sent a second time a few messages later (same id): a duplicate.
    produce.py BROKERS TOPIC garbage
        malformed messages (see below) and 10 good ones.

Prints one JSON line: messages and samples sent, and messages per partition.
"""
import json
import sys

from confluent_kafka import Producer

T0 = 1767225600000


def main():
    brokers, topic, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    producer = Producer({"bootstrap.servers": brokers, "linger.ms": 5, "message.max.bytes": 2_000_000})
    per_partition = {}
    sent = {"messages": 0, "samples": 0}

    def delivered(err, msg):
        if err is not None:
            raise SystemExit(f"delivery failed: {err}")
        per_partition[msg.partition()] = per_partition.get(msg.partition(), 0) + 1

    def send(key, value):
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=delivered)
                break
            except BufferError:  # local queue full: let deliveries drain
                producer.poll(0.5)
        sent["messages"] += 1
        if sent["messages"] % 1000 == 0:
            producer.poll(0)

    if mode == "samples":
        n, targets, step = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
        pending = {t: [] for t in range(targets)}
        resend = []
        for i in range(n):
            t = i % targets
            sample = {"id": f"s{i}", "ts": T0 + i * step, "target": f"shop/t{t}", "metric": "rps", "value": (i * 7) % 11}
            pending[t].append(sample)
            if i % 10 == 0:
                resend.append((i + 5 * targets, sample))
            if len(pending[t]) >= 1 + (i // targets) % 5:
                send(f"shop/t{t}", json.dumps(pending[t]) if len(pending[t]) > 1 else json.dumps(pending[t][0]))
                sent["samples"] += len(pending[t])
                pending[t] = []
            while resend and resend[0][0] <= i:
                _, dup = resend.pop(0)
                send(dup["target"], json.dumps(dup))
        for t, rest in pending.items():
            if rest:
                send(f"shop/t{t}", json.dumps(rest))
                sent["samples"] += len(rest)
        for _, dup in resend:
            send(dup["target"], json.dumps(dup))
    elif mode == "garbage":
        good = lambda i: json.dumps({"id": f"g{i}", "ts": T0 + i * 1000, "target": "shop/g", "metric": "rps", "value": 2})
        garbage = [
            ("shop/g", "{not json"),                                                            # parse
            ("shop/g", '{"ts": 1, "target": "shop/g", "metric": "rps", "value": NaN}'),       # parse (NaN is not JSON)
            ("shop/g", '{"ts": 1, "target": "shop/g", "metric": "rps", "value": 1e999}'),     # parse (out of range)
            ("shop/g", '{"ts": 1, "target": "shop/g", "metric": "rps", "value": "12"}'),      # parse (wrong type)
            ("shop/g", "x" * 1_000_000),                                                        # too_large (limit set to 100 kB)
            (None, good(100)),                                                                  # key (empty)
            ("shop/other", good(101)),                                                          # key (differs from target)
            ("shop/g", json.dumps({"ts": T0, "target": "shop/g", "metric": "rps", "value": -3})),  # negative
            ("shop/g", json.dumps({"ts": T0, "target": "shop/g", "metric": "", "value": 3})),      # empty_field
        ]
        for i in range(10):
            send("shop/g", good(i))
            if i < len(garbage):
                key, value = garbage[i]
                send(key, value)
        sent["samples"] = 10
    else:
        raise SystemExit(f"unknown mode {mode}")
    producer.flush(30)
    print(json.dumps({**sent, "perPartition": per_partition}))


if __name__ == "__main__":
    main()
