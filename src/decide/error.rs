//! Why a metric gave no replica count: the failures of the HPA's replica
//! calculator, worded as the HPA words them, with its `fmt.Errorf` wrapping
//! kept as a typed chain (`Context`, `On`) so the explanation reads the same.

/// A metric's replica calculation that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    #[error("no pods returned by selector while calculating replica count")]
    NoPods,
    #[error("did not receive metrics for targeted pods (pods might be unready)")]
    NoReadyPodMetrics,
    #[error("missing request for {resource} in container {container} of Pod {pod}")]
    MissingRequest {
        resource: String,
        container: String,
        pod: String,
    },
    #[error("container {container} not found in Pod {pod}")]
    ContainerNotFound { container: String, pod: String },
    #[error("no metrics returned matched known pods")]
    NoMatchingMetrics,
    #[error("no observation of this metric in the snapshot")]
    NoObservation,
    #[error("the observation has no value")]
    NoValue,
    /// The API (or source) returned no samples at all.
    #[error("no metrics returned from {0}")]
    NoMetricsFrom(&'static str),
    /// The failure the observation itself reports (from its source).
    #[error("{0}")]
    Observed(String),
    /// What was being done when `source` failed (Go's `fmt.Errorf("...: %v")`).
    #[error("{context}: {source}")]
    Context {
        context: String,
        source: Box<MetricError>,
    },
    /// `source`, about the object named.
    #[error("{source} on {object}")]
    On {
        source: Box<MetricError>,
        object: String,
    },
}

impl MetricError {
    /// This failure, as the cause of `context`.
    pub fn context(self, context: impl Into<String>) -> Self {
        MetricError::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// This failure, about `object`.
    pub fn on(self, object: impl Into<String>) -> Self {
        MetricError::On {
            source: Box::new(self),
            object: object.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MetricError;

    #[test]
    fn wrapping_reads_like_the_hpas_messages() {
        let e = MetricError::NoObservation
            .on("Service frontend")
            .context("unable to get metric rps");
        assert_eq!(
            e.to_string(),
            "unable to get metric rps: no observation of this metric in the snapshot on Service frontend"
        );
        assert!(std::error::Error::source(&e).is_some());
    }
}
