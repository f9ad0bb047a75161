//! The command line (clap derive): one subcommand per job.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// scalepilot: Kubernetes autoscaling decisions that are HPA-exact, explained and replayable.
#[derive(Debug, Parser)]
#[command(name = "scalepilot", version, about)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `scalepilot=debug`.
    #[arg(long, global = true, env = "SCALEPILOT_LOG", default_value = "warn")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check policy files and folders; print every problem as file:line:column: path: message.
    Validate {
        /// Policy files or folders (searched recursively for *.yaml and *.yml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Decide once from a JSON snapshot and explain the decision.
    Decide {
        /// The snapshot file, or `-` for standard input.
        #[arg(long)]
        snapshot: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
        output: OutputFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Json,
    Text,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
