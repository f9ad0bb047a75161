//! `scalepilot train`: fit a forecasting model of the load one horizon ahead
//! from CSV traces, cross-validate it with a rolling origin, print the report
//! (MAE, MAPE, MASE per fold against seasonal-naive and last-value), and write
//! the versioned model file.

use std::time::Instant;

use crate::cli::TrainArgs;
use crate::error::{Error, Result};
use crate::model::{data_hash, dataset, train, FeatureSpec, ModelFile, Series, TrainingSummary};
use crate::sim::Trace;

pub fn run(args: &TrainArgs) -> Result<()> {
    let started = Instant::now();
    let mut traces = Vec::new();
    for path in &args.trace {
        let t = Trace::from_csv_file(path)?;
        traces.push((path.display().to_string(), t));
    }
    if let Some(w) = args.workload {
        let t = w
            .try_generate(args.seed, args.duration.0, 60)
            .map_err(|e| Error::Input(format!("--duration {}s: {e}", args.duration.0)))?;
        traces.push((
            format!("workload {w:?} seed {} ({} s)", args.seed, args.duration.0),
            t,
        ));
    }
    if !(args.fraction > 0.0 && args.fraction <= 1.0) {
        return Err(Error::Input(format!(
            "--fraction {}: must be in (0, 1]",
            args.fraction
        )));
    }
    let traces: Vec<(String, Trace, usize)> = traces
        .into_iter()
        .map(|(p, t)| {
            let keep = ((t.values.len() as f64) * args.fraction).floor() as usize;
            (p, t, keep)
        })
        .collect();
    let step = traces[0].1.interval_s;
    if let Some((p, t, _)) = traces.iter().find(|(_, t, _)| t.interval_s != step) {
        return Err(Error::Input(format!(
            "{p}: interval {} s differs from the first trace's {step} s: train one model per interval",
            t.interval_s
        )));
    }
    let horizon_s = args.horizon.0;
    if !(0..=crate::model::MAX_HORIZON_S).contains(&horizon_s) {
        return Err(Error::Input(format!(
            "--horizon {horizon_s}s: must be at most {} s",
            crate::model::MAX_HORIZON_S
        )));
    }
    if !(1..=crate::model::MAX_STEP_S).contains(&step) {
        return Err(Error::Input(format!(
            "{}: interval {step} s: a model's step must be 1 s to {} s",
            traces[0].0,
            crate::model::MAX_STEP_S
        )));
    }
    let horizon_steps = ((horizon_s as f64 / step as f64).round() as usize).max(1);
    if horizon_steps as i64 * step > crate::model::MAX_HORIZON_S {
        return Err(Error::Input(format!(
            "--horizon {horizon_s}s: {horizon_steps} steps of {step} s is more than {} s ahead",
            crate::model::MAX_HORIZON_S
        )));
    }
    let spec = FeatureSpec::new(step, horizon_steps);
    let series: Vec<Series> = traces
        .iter()
        .map(|(_, t, keep)| Series {
            t0: t.ts[0],
            values: &t.values[..*keep],
        })
        .collect();
    let data = dataset(&spec, &series);
    let bar = indicatif::ProgressBar::new(5);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "training {bar:30} {pos}/{len} folds+fit {elapsed}",
        )
        .map_err(|e| Error::Input(e.to_string()))?,
    );
    let trained = train(&data, &spec, || bar.inc(1)).map_err(|e| Error::Input(e.to_string()))?;
    bar.finish_and_clear();

    println!(
        "{} rows, {} features, step {step} s, horizon {} steps ({} s)",
        data.rows.len(),
        spec.names.len(),
        horizon_steps,
        horizon_steps as i64 * step
    );
    println!("fold  rows(train/val)   model MAE / MAPE% / MASE      seasonal-naive            last-value");
    for f in &trained.folds {
        let e =
            |x: &crate::model::Errors| format!("{:>9.3} {:>6.1} {:>5.2}", x.mae, x.mape, x.mase);
        println!(
            "{:>4}  {:>7}/{:<7}  {}   {}   {}",
            f.fold,
            f.train_rows,
            f.validation_rows,
            e(&f.model),
            e(&f.seasonal_naive),
            e(&f.last_value)
        );
    }
    for (name, mae) in &trained.candidates {
        println!("candidate {name}: mean validation MAE {mae:.3}");
    }
    println!(
        "chosen: {} (margin: {:.2} × the row's expected error, the {:.0}th percentile of validation residuals over it); trained in {:.2} s",
        trained.params.name(),
        trained.margin.factor,
        trained.margin.quantile * 100.0,
        started.elapsed().as_secs_f64()
    );
    let cycle = &trained.daily_cycle;
    println!(
        "{}: {}",
        cycle.describe(),
        if cycle.detected() {
            "policies may act on the forecasts"
        } else {
            "policies using this model stay reactive"
        }
    );
    let all_values = series.iter().flat_map(|s| s.values.iter());
    let rows = data.rows.len();
    let file = ModelFile::new(
        trained,
        spec,
        TrainingSummary {
            sources: traces.iter().map(|(p, _, _)| p.clone()).collect(),
            hash: data_hash(all_values),
            start: traces.iter().map(|(_, t, _)| t.ts[0]).min().unwrap_or(0),
            end: traces
                .iter()
                .map(|(_, t, keep)| t.ts[keep.saturating_sub(1)] + step)
                .max()
                .unwrap_or(0),
            interval_s: step,
            samples: traces.iter().map(|(_, _, k)| k).sum(),
            rows,
        },
    );
    file.save(&args.out)
        .map_err(|e| Error::Input(format!("{e}; no model written")))?;
    println!("wrote {}", args.out.display());
    Ok(())
}
