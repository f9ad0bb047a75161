"""The Python peer of the ingest benchmarks: the seed's stack (confluent-kafka
and json), doing the same work as scalepilot's hot path: decode each message,
dedupe by id, fold into 60 s tumbling windows per (target, metric) keeping
count, sum, min and max.

    bench_peer.py hot                       in-memory payloads, like benches/features.rs
    bench_peer.py raw BROKERS TOPIC N       the broker's ceiling: fetch N messages, no decode
    bench_peer.py full BROKERS TOPIC N      fetch N messages, decode, dedupe, fold
    bench_peer.py produce BROKERS TOPIC N   N single-sample messages of about 115 bytes
"""
import json
import sys
import time

T0 = 1767225600000


def sample(i):
    return json.dumps({"id": f"evt-{i}", "ts": T0 + i * 10, "target": f"shop/web-{i % 8}",
                       "metric": "http_requests", "value": i % 50 + 0.5, "pod": f"web-{i % 20}"},
                      separators=(",", ":"))


class Windows:
    def __init__(self):
        self.windows = {}
        self.seen = set()

    def fold(self, payload):
        data = json.loads(payload)
        for s in (data if isinstance(data, list) else [data]):
            if s["id"] in self.seen:
                continue
            self.seen.add(s["id"])
            key = (s["target"], s["metric"], s["ts"] // 60000)
            w = self.windows.get(key)
            v = s["value"]
            if w is None:
                self.windows[key] = [1, v, v, v]
            else:
                w[0] += 1
                w[1] += v
                w[2] = min(w[2], v)
                w[3] = max(w[3], v)


def hot():
    n = 100_000
    single = [sample(i).encode() for i in range(n)]
    batched = [("[" + ",".join(sample(m * 100 + k) for k in range(100)) + "]").encode() for m in range(n // 100)]
    out = {}
    for name, payloads in (("single", single), ("batch100", batched)):
        best = 0.0
        for _ in range(3):
            w = Windows()
            t = time.perf_counter()
            for p in payloads:
                w.fold(p)
            best = max(best, n / (time.perf_counter() - t))
        out[name] = round(best)
    print(json.dumps(out))


def consume(brokers, topic, n, decode):
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": brokers, "group.id": f"peer-{time.time_ns()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    w = Windows()
    got, first, nbytes = 0, None, 0
    while got < n:
        for m in c.consume(1000, timeout=1.0):
            if m.error():
                continue
            if first is None:
                first = time.perf_counter()
            got += 1
            nbytes += len(m.value())
            if decode:
                w.fold(m.value())
    elapsed = time.perf_counter() - first
    c.close()
    print(json.dumps({"messages": got, "seconds": round(elapsed, 3), "msgsPerSecond": round(got / elapsed),
                      "mbPerSecond": round(nbytes / elapsed / 1e6, 2)}))


def produce(brokers, topic, n):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": brokers, "linger.ms": 20})
    for i in range(n):
        s = sample(i)
        while True:
            try:
                p.produce(topic, key=f"shop/web-{i % 8}", value=s)
                break
            except BufferError:
                p.poll(0.5)
        if i % 1000 == 0:
            p.poll(0)
    p.flush(60)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "hot":
        hot()
    elif mode in ("raw", "full"):
        consume(sys.argv[2], sys.argv[3], int(sys.argv[4]), decode=(mode == "full"))
    elif mode == "produce":
        produce(sys.argv[2], sys.argv[3], int(sys.argv[4]))
