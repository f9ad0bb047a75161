//! scalepilot: a Kubernetes autoscaling decision controller. Policies in YAML
//! (HPA v2 shapes), a pure decision chain that replicates the HPA exactly and
//! explains every step, and the commands around them.
#![forbid(unsafe_code)]

pub mod cli;
pub mod clock;
pub mod cmd;
pub mod controller;
pub mod decide;
pub mod duration;
pub mod error;
pub mod features;
pub mod ingest;
pub mod model;
pub mod policy;
pub mod quantity;
pub mod records;
pub mod report;
pub mod sim;
pub mod snapshot;
pub mod sources;
