"""A real consumer group for the consumer-lag tests, with confluent-kafka
(librdkafka through Python: independent of scalepilot's own client).

  lag.py BROKERS produce TOPIC N          produce N messages round-robin over the partitions
  lag.py BROKERS consume TOPIC GROUP N    consume N messages in GROUP, commit, leave
  lag.py BROKERS lag TOPIC GROUP POLICY   print {"lag": total, "partitions": n, "per": {...}}
  lag.py BROKERS bench TOPIC GROUP N      time N lag computations in this process

The lag is computed as scalepilot defines it: per partition, the high
watermark minus the group's committed offset; a partition the group never
committed counts 1 with POLICY latest, high minus low watermark with earliest.
"""
import json
import sys

from confluent_kafka import Consumer, Producer, TopicPartition


def partitions(brokers, topic):
    c = Consumer({"bootstrap.servers": brokers, "group.id": "lag-py-metadata"})
    md = c.list_topics(topic, timeout=10)
    ids = sorted(md.topics[topic].partitions)
    c.close()
    return ids


def produce(brokers, topic, n):
    ids = partitions(brokers, topic)
    p = Producer({"bootstrap.servers": brokers})
    for i in range(n):
        p.produce(topic, value=b"job-%d" % i, partition=ids[i % len(ids)])
        if i % 1000 == 0:
            p.poll(0)
    assert p.flush(30) == 0


def consume(brokers, topic, group, n):
    c = Consumer({
        "bootstrap.servers": brokers, "group.id": group,
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
    })
    c.subscribe([topic])
    got = 0
    while got < n:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        got += 1
    c.commit(asynchronous=False)
    c.close()


def lag(brokers, topic, group, policy, quiet=False):
    c = Consumer({"bootstrap.servers": brokers, "group.id": group})
    tps = [TopicPartition(topic, p) for p in c.list_topics(topic, timeout=10).topics[topic].partitions]
    committed = c.committed(tps, timeout=10)
    per = {}
    for tp in committed:
        low, high = c.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
        if tp.offset >= 0:
            per[tp.partition] = high - tp.offset
        else:
            per[tp.partition] = 1 if policy == "latest" else high - low
    c.close()
    if not quiet:
        print(json.dumps({"lag": sum(per.values()), "partitions": len(per), "per": per}))
    return sum(per.values())


def bench(brokers, topic, group, n):
    import statistics
    import time
    times = []
    for _ in range(n):
        t = time.perf_counter()
        total = lag(brokers, topic, group, "latest", quiet=True)
        times.append(time.perf_counter() - t)
    print(f"median {statistics.median(times) * 1000:.1f} ms over {n} refreshes (lag {total})")


if __name__ == "__main__":
    brokers, cmd, *rest = sys.argv[1:]
    if cmd == "produce":
        produce(brokers, rest[0], int(rest[1]))
    elif cmd == "consume":
        consume(brokers, rest[0], rest[1], int(rest[2]))
    elif cmd == "bench":
        bench(brokers, rest[0], rest[1], int(rest[2]))
    elif cmd == "lag":
        lag(brokers, rest[0], rest[1], rest[2])
    else:
        sys.exit(f"unknown command {cmd}")
