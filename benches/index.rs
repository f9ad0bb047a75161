//! A second of ticks at 10 000 targets, as far as their Pods go: the label
//! index rebuilt once (as every [`MAX_AGE`]) over 20 000 Pods, then each
//! target's Pods selected through its `/scale` selector (parsed once, as
//! `gather` keeps it while its text is unchanged). In memory, one core.
//!
//! [`MAX_AGE`]: scalepilot::controller::index::MAX_AGE

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use kube::runtime::{reflector, watcher};

use scalepilot::controller::index::{labels, select, Indexed, PodSelector};
use scalepilot::controller::selector;
use scalepilot::controller::watched_pod::WatchedPod as Pod;

const TARGETS: usize = 10_000;
const PODS_PER_TARGET: usize = 2;

fn pod(target: usize, i: usize) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": format!("web-{target}-{i}"),
            "namespace": "shop",
            "labels": {
                "app": format!("web-{target}"),
                "pod-template-hash": format!("{:x}", target * 7919),
            },
        }
    }))
    .expect("a pod")
}

fn bench(c: &mut Criterion) {
    let (reader, mut writer) = reflector::store::<Pod>();
    writer.apply_watcher_event(&watcher::Event::Init);
    for t in 0..TARGETS {
        for i in 0..PODS_PER_TARGET {
            writer.apply_watcher_event(&watcher::Event::InitApply(pod(t, i)));
        }
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    let pods = Indexed::new(reader, labels);
    let selectors: Vec<PodSelector> = (0..TARGETS)
        .map(|t| PodSelector::new(selector::parse(&format!("app=web-{t}")).expect("a selector")))
        .collect();
    let round = || {
        pods.refresh();
        let mut n = 0;
        for sel in &selectors {
            n += black_box(select(&pods, sel)).len();
        }
        n
    };
    assert_eq!(
        round(),
        TARGETS * PODS_PER_TARGET,
        "every pod selected once"
    );
    let mut g = c.benchmark_group("index");
    g.sample_size(20);
    g.bench_function("rebuild_and_select_10k_targets_20k_pods", |b| b.iter(round));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
