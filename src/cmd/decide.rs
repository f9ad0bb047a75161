//! `scalepilot decide --snapshot FILE|-`: one decision from a JSON snapshot,
//! printed as JSON or text. Exit 0 on a decision, 3 when the HPA computation
//! fails (the decision carries `error`), 2 on malformed input: a snapshot
//! that is not exactly one JSON document, or an inline policy `validate`
//! would refuse.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::OutputFormat;
use crate::decide::decide;
use crate::error::{Error, Result};
use crate::snapshot;

pub fn run(source: &str, output: OutputFormat) -> Result<ExitCode> {
    let (text, dir) = if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::Read {
                path: "<stdin>".into(),
                source: e,
            })?;
        (text, None)
    } else {
        let text = std::fs::read_to_string(source).map_err(|e| Error::Read {
            path: source.into(),
            source: e,
        })?;
        (text, Path::new(source).parent().map(Path::to_path_buf))
    };
    let label = if source == "-" { "<stdin>" } else { source };
    let snap = snapshot::parse(&text, label)?;
    let policy = snap.resolve_policy_from(dir.as_deref(), label)?;
    let input = snap.to_input(&policy)?;
    let decision = decide(&input, snap.history.clone());
    let rendered = match output {
        OutputFormat::Json => {
            serde_json::to_string_pretty(&decision).map_err(|e| Error::Output(e.into()))?
        }
        OutputFormat::Text => decision.to_text(),
    };
    super::simulate::print_stdout(&format!("{}\n", rendered.trim_end()))?;
    Ok(if decision.error.is_some() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
