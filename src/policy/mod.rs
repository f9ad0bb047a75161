//! Scaling policies: the YAML schema (HPA v2 shapes, strict), the defaults the
//! API server would fill in, loading from files and folders with positions, and
//! the semantic checks of `scalepilot validate`.
//!
//! Pure: imports `quantity` and serde/YAML crates, never `kube` or `rdkafka`.

mod defaults;
mod load;
mod schema;
mod sources;
mod spans;
mod validate;

pub use defaults::{
    ResolvedBehavior, ResolvedRules, DEFAULT_CPU_UTILIZATION, DEFAULT_MIN_REPLICAS,
};
pub use load::{
    load_file, load_paths, load_text, policy_files, yaml_message, LoadReport, LoadedPolicy, Problem,
};
pub use schema::*;
pub use sources::{
    check_sources, source_of, source_problems, NoSource, SourceKind, METRICS_API_RESOURCES,
};
pub use validate::{validate_spec, Issue};
