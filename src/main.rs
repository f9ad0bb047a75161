//! The `scalepilot` binary: parse the command line, set up logging, dispatch.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use scalepilot::cli::{Cli, Command, LogFormat};
use scalepilot::cmd;

/// jemalloc rather than glibc's malloc: the controller's tokio workers, ingest
/// thread and librdkafka threads each grew a glibc arena of their own, and
/// freed memory stayed in them (README, "Measured at scale").
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cli.log))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let result: anyhow::Result<ExitCode> = match cli.command {
        Command::Simulate(args) => cmd::simulate::run(&args)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        Command::ImportHpa(args) => cmd::import_hpa::run(&args)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        Command::Tune(args) => cmd::tune::run(&args)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        Command::Features(args) => cmd::features::run(&args)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        Command::Observe(args) => cmd::observe::run(&args)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        Command::Run(args) => cmd::run::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Status(args) => cmd::status::run(&args)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        Command::Train(args) => cmd::train::run(&args)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        Command::Report { files, output } => cmd::report::run(&files, output)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        Command::Validate { paths } => Ok(cmd::validate::run(&paths)),
        Command::Decide { snapshot, output } => {
            cmd::decide::run(&snapshot, output).map_err(Into::into)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scalepilot: {e:#}");
            ExitCode::from(2)
        }
    }
}
