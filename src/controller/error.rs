//! The controller's error type: what can stop `scalepilot run` from starting
//! (the HTTP port, the decisions file, the Kubernetes client) and what a step
//! of the live loop can fail with (Kubernetes, the Lease; Kafka failures are
//! the ingest's own (`KafkaError`, `ProgressError`), logged by its thread), each
//! countable by its `metric_label()`. Failures inside the loop are logged and
//! counted, never fatal.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("binding the HTTP port {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("opening --decisions {path}: {source}")]
    Decisions {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("finding the Kubernetes API (in-cluster or KUBECONFIG): {0}")]
    KubeConfig(#[source] kube::config::InferConfigError),
    #[error("the identity {0:?} is not a valid HTTP header value")]
    Identity(String),
    #[error("Kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("Lease {lease}: {source}")]
    Lease {
        lease: String,
        #[source]
        source: kube::Error,
    },
}

impl ControllerError {
    /// A short label for counting failures in metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            ControllerError::Bind { .. } => "bind",
            ControllerError::Decisions { .. } => "decisions",
            ControllerError::KubeConfig(_) => "kubeconfig",
            ControllerError::Identity(_) => "identity",
            ControllerError::Kube(_) => "kube",
            ControllerError::Lease { .. } => "lease",
        }
    }
}

pub type Result<T, E = ControllerError> = std::result::Result<T, E>;
