//! The picture of a run (plotters): the load, each autoscaler's ready
//! capacity as a step line with its scale actions marked, and the oracle,
//! against real dates when the trace's timestamps are absolute.

use std::path::Path;

use chrono::{DateTime, Utc};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::{Outcome, AUTO_UNITS_PER_REPLICA};
use crate::error::{Error, Result};

/// The picture's file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlotFormat {
    Svg,
    Png,
}

impl PlotFormat {
    /// From the file name's extension (`.svg` or `.png`).
    pub fn from_path(path: &Path) -> Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("svg") => Ok(PlotFormat::Svg),
            Some("png") => Ok(PlotFormat::Png),
            _ => Err(Error::Input(format!(
                "{}: --plot needs a .svg or .png file name",
                path.display()
            ))),
        }
    }
}

const FONT_PATHS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// Registers a TrueType font for labels (plotters lays text out with it).
pub(super) fn register_font() -> Result<()> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let registered = *REGISTERED.get_or_init(|| {
        let from_env = std::env::var("SCALEPILOT_FONT").ok();
        let candidates = from_env.iter().map(String::as_str).chain(FONT_PATHS);
        let found = candidates.into_iter().any(|path| {
            std::fs::read(path).is_ok_and(|bytes| {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
            })
        });
        found
    });
    if registered {
        Ok(())
    } else {
        Err(Error::Input("no TrueType font for the plot's labels: install fonts-dejavu-core or set SCALEPILOT_FONT to a .ttf file".into()))
    }
}

pub(super) const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// At most `n` points: the maximum of each bucket (an upper envelope keeps spikes visible).
fn envelope(points: &[(i64, f64)], n: usize) -> Vec<(i64, f64)> {
    if points.len() <= n {
        return points.to_vec();
    }
    let per = points.len().div_ceil(n);
    points
        .chunks(per)
        .map(|c| {
            c.iter()
                .copied()
                .fold((c[0].0, f64::MIN), |(t, m), (_, v)| (t, m.max(v)))
        })
        .collect()
}

/// A step function from change points, ending at `end`.
fn steps(changes: &[(i64, f64)], end: i64) -> Vec<(i64, f64)> {
    let mut out = Vec::with_capacity(changes.len() * 2 + 1);
    for (i, &(t, v)) in changes.iter().enumerate() {
        if i > 0 {
            out.push((t, changes[i - 1].1));
        }
        out.push((t, v));
    }
    if let Some(&(_, v)) = changes.last() {
        out.push((end, v));
    }
    out
}

/// Draws `outcome` to `path`.
pub fn plot(outcome: &Outcome, path: &Path) -> Result<()> {
    register_font()?;
    let draw_err = |e: String| Error::Input(format!("{}: cannot draw: {e}", path.display()));
    match PlotFormat::from_path(path)? {
        PlotFormat::Svg => {
            let root = SVGBackend::new(path, (1400, 700)).into_drawing_area();
            draw(outcome, &root).map_err(|e| draw_err(e.to_string()))?;
            root.present().map_err(|e| draw_err(e.to_string()))
        }
        PlotFormat::Png => {
            let root = BitMapBackend::new(path, (1400, 700)).into_drawing_area();
            draw(outcome, &root).map_err(|e| draw_err(e.to_string()))?;
            root.present().map_err(|e| draw_err(e.to_string()))
        }
    }
}

fn draw<DB: DrawingBackend>(
    outcome: &Outcome,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let trace = &outcome.trace;
    let (start, end) = (trace.start(), trace.end());
    let load: Vec<(i64, f64)> = trace
        .ts
        .iter()
        .copied()
        .zip(trace.values.iter().copied())
        .collect();
    let load = envelope(&load, 3000);
    let y_max = outcome
        .replays
        .iter()
        .flat_map(|r| r.capacity.iter().map(|c| c.1))
        .chain(load.iter().map(|p| p.1))
        .fold(1.0, f64::max)
        * 1.05;
    let unit = if (outcome.world.capacity - AUTO_UNITS_PER_REPLICA).abs() < f64::EPSILON {
        "load (units; one replica serves 100)".to_string()
    } else {
        format!(
            "load (trace units; one replica serves {})",
            outcome.world.capacity
        )
    };
    let absolute = trace.absolute_time;
    let x_label = |t: &i64| -> String {
        if absolute {
            DateTime::<Utc>::from_timestamp(*t, 0)
                .map_or_else(|| t.to_string(), |d| d.format("%m-%d %H:%M").to_string())
        } else {
            format!("{:.1} h", (*t - start) as f64 / 3600.0)
        }
    };
    let caption = format!("{}: load and ready capacity per autoscaler", trace.name);
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(start..end, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc(if absolute {
            "time (UTC)"
        } else {
            "time since the trace began"
        })
        .y_desc(unit)
        .x_label_formatter(&x_label)
        .x_labels(10)
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    chart
        .draw_series(LineSeries::new(load, BLACK.mix(0.55).stroke_width(1)))?
        .label("load")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.55)));
    for (i, r) in outcome.replays.iter().enumerate() {
        let oracle = r.score.name == "oracle";
        let color = if oracle {
            RGBColor(120, 120, 120)
        } else {
            COLORS[i % COLORS.len()]
        };
        let style = if oracle {
            color.mix(0.6).stroke_width(1)
        } else {
            color.stroke_width(2)
        };
        let line = envelope(&steps(&r.capacity, end), 6000);
        let label = if oracle {
            "oracle (knows the future)".to_string()
        } else {
            format!("{} capacity", r.score.name)
        };
        chart
            .draw_series(LineSeries::new(line, style))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        if !oracle && r.actions.len() <= 2000 {
            let marks = r.actions.iter().map(|&(t, n)| {
                Circle::new(
                    (t, f64::from(n) * outcome.world.capacity),
                    3,
                    color.filled(),
                )
            });
            chart.draw_series(marks)?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}
