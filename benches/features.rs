//! The ingest hot path without the broker: decode → dedupe → windows, payloads
//! in memory, one core. Single-sample messages and 100-sample batches, into a
//! 60 s tumbling window and into a 60 s window sliding every 5 s.

use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use scalepilot::features::{
    decode, identity, EngineConfig, Partition, Plan, SeriesPlan, WindowSpec,
};

const T0: i64 = 1_767_225_600_000;
const EVENTS: usize = 100_000;

fn sample(i: usize) -> String {
    format!(
        r#"{{"id":"evt-{i}","ts":{},"target":"shop/web-{}","metric":"http_requests","value":{}.5,"pod":"web-{}"}}"#,
        T0 + (i as i64) * 10,
        i % 8,
        i % 50,
        i % 20
    )
}

fn payloads(batch: usize) -> Vec<Vec<u8>> {
    (0..EVENTS / batch)
        .map(|m| {
            let items: Vec<String> = (0..batch).map(|k| sample(m * batch + k)).collect();
            if batch == 1 {
                items[0].clone().into_bytes()
            } else {
                format!("[{}]", items.join(",")).into_bytes()
            }
        })
        .collect()
}

fn run(messages: &[Vec<u8>], plan: &Arc<Plan>) -> u64 {
    let mut p = Partition::new(EngineConfig::default(), Arc::clone(plan));
    for (offset, m) in messages.iter().enumerate() {
        match decode(m, 1 << 20) {
            Ok(samples) => {
                for (i, s) in samples.iter().enumerate() {
                    let id = identity(s.id.as_deref(), "scalepilot.metrics", 0, offset as i64, i);
                    p.fold(s, id, offset as i64, T0 + 10_000_000);
                }
            }
            Err(r) => p.reject(r),
        }
    }
    p.counters.counted
}

fn bench(c: &mut Criterion) {
    let tumbling = Arc::new(Plan::everything(SeriesPlan {
        windows: vec![WindowSpec::tumbling(60_000)],
        distinct_label: None,
        per_pod: false,
    }));
    let sliding = Arc::new(Plan::everything(SeriesPlan {
        windows: vec![WindowSpec {
            size_ms: 60_000,
            slide_ms: 5_000,
        }],
        distinct_label: None,
        per_pod: false,
    }));
    let single = payloads(1);
    let batched = payloads(100);
    assert_eq!(run(&single, &tumbling), EVENTS as u64);
    let mut g = c.benchmark_group("hot_path");
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.sample_size(20);
    g.bench_function("single_tumbling", |b| {
        b.iter(|| run(black_box(&single), &tumbling))
    });
    g.bench_function("batch100_tumbling", |b| {
        b.iter(|| run(black_box(&batched), &tumbling))
    });
    g.bench_function("batch100_sliding_60s_5s", |b| {
        b.iter(|| run(black_box(&batched), &sliding))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
