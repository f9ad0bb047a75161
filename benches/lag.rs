//! The cost of one consumer-lag refresh (`kafkaLag` source): metadata,
//! OffsetFetch of the group's committed offsets and ListOffsets of the
//! watermarks, for every partition of a topic, against a real broker.
//! `scripts/bench-lag.sh` starts tansu with a 1 000-partition topic and sets
//! SCALEPILOT_BENCH_BROKERS / _TOPIC / _GROUP; without them this prints why
//! it measured nothing.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

use scalepilot::policy::MetricSpec;
use scalepilot::sources::{KafkaLag, Source, Target};

fn lag_refresh(c: &mut Criterion) {
    let (Ok(brokers), Ok(topic), Ok(group)) = (
        std::env::var("SCALEPILOT_BENCH_BROKERS"),
        std::env::var("SCALEPILOT_BENCH_TOPIC"),
        std::env::var("SCALEPILOT_BENCH_GROUP"),
    ) else {
        eprintln!("lag_refresh: not measured: needs a broker (run scripts/bench-lag.sh)");
        return;
    };
    let metric: MetricSpec = serde_saphyr::from_str(&format!(
        "{{type: External, external: {{metric: {{name: lag}}, target: {{type: AverageValue, averageValue: '100'}}}}, \
         kafkaLag: {{group: {group}, topic: {topic}}}}}"
    ))
    .expect("a valid metric");
    let source = KafkaLag::new(&brokers, &[], Duration::ZERO);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let target = Target {
        key: "bench/consumer",
        namespace: "bench",
        name: "consumer",
        selector: None,
    };
    let now = chrono::Utc::now();
    // One read outside the timing: the client connects and learns the leaders.
    runtime.block_on(source.refresh(&target, vec![&metric]));
    let first = source.observe(&target, &metric, now);
    assert!(first.missing.is_none(), "{:?}", first.missing);
    eprintln!(
        "lag_refresh: lag {:?} (milli) over the topic's partitions",
        first.observation.values
    );
    let mut g = c.benchmark_group("lag");
    g.sample_size(20);
    g.bench_function("refresh", |b| {
        b.iter(|| runtime.block_on(source.refresh(&target, vec![&metric])))
    });
    g.finish();
}

criterion_group!(benches, lag_refresh);
criterion_main!(benches);
