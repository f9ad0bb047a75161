//! The broker side of the Kafka-backed tests: where the broker is (set by
//! `.ci/run` after `scripts/kafka.sh start`), unique names, topic creation.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn brokers() -> String {
    std::env::var("SCALEPILOT_TEST_BROKERS").expect(
        "SCALEPILOT_TEST_BROKERS is not set: start a broker with `scripts/kafka.sh start DIR PORT` and export SCALEPILOT_TEST_BROKERS=127.0.0.1:PORT",
    )
}

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A name no other test run uses.
pub fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

pub fn create_topic(name: &str, partitions: u32) {
    let port = brokers().rsplit(':').next().unwrap().to_string();
    let status = Command::new(root().join("scripts/kafka.sh"))
        .args(["topic", &port, name, &partitions.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
