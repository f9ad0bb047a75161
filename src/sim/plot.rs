//! The picture of a run (plotters): the load as a grey area, each
//! autoscaler's ready capacity as a step line in its own colour (the same in
//! every picture) with its scale actions marked, the oracle dashed, a
//! replicas axis beside the load axis, and under the chart one lane per
//! autoscaler shaded where it was under-provisioned; over the whole run or a
//! window of it, against real dates when the trace's timestamps are absolute.

use std::path::Path;

use chrono::{DateTime, Utc};
use plotters::coord::combinators::BindKeyPoints;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::plot_time::{label, ticks, window, PlotTime};
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

/// The HPA, KEDA and the oracle keep their colours in every picture;
/// policies take the others in order.
const HPA: RGBColor = RGBColor(214, 39, 40);
const KEDA: RGBColor = RGBColor(255, 127, 14);
pub(super) const ORACLE: RGBColor = RGBColor(0, 0, 0);
const POLICY_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(23, 190, 207),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

/// Each autoscaler's colour, in the order of `names`.
pub(super) fn palette<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<RGBColor> {
    let mut policies = 0;
    names
        .into_iter()
        .map(|n| match n {
            "hpa" => HPA,
            "keda" => KEDA,
            n if n.starts_with("oracle") => ORACLE,
            _ => {
                policies += 1;
                POLICY_COLORS[(policies - 1) % POLICY_COLORS.len()]
            }
        })
        .collect()
}

/// Each replay's colour, in the outcome's order.
pub(super) fn replay_colors(outcome: &Outcome) -> Vec<RGBColor> {
    palette(outcome.replays.iter().map(|r| r.score.name.as_str()))
}

/// At most `n` points: the maximum of each bucket (an upper envelope keeps spikes visible).
pub(super) fn envelope(points: &[(i64, f64)], n: usize) -> Vec<(i64, f64)> {
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

/// A step function from change points, within `[from, to]`: the value in
/// force at `from`, each change inside, held until `to`.
fn steps(changes: &[(i64, f64)], from: i64, to: i64) -> Vec<(i64, f64)> {
    let first = changes.partition_point(|&(t, _)| t <= from);
    let mut out = Vec::new();
    if let Some(&(_, v)) = first.checked_sub(1).map(|i| &changes[i]) {
        out.push((from, v));
    }
    for &(t, v) in changes[first..].iter().take_while(|&&(t, _)| t <= to) {
        if let Some(&(_, prev)) = out.last() {
            out.push((t, prev));
        }
        out.push((t, v));
    }
    if let Some(&(_, v)) = out.last() {
        out.push((to, v));
    }
    out
}

/// The intervals within `[from, to]`, those less than `gap` apart merged
/// (thousands of one-step intervals would be one smear of rectangles).
fn merged(intervals: &[(i64, i64)], from: i64, to: i64, gap: i64) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &(a, b) in intervals {
        let (a, b) = (a.max(from), b.min(to));
        if a >= b {
            continue;
        }
        match out.last_mut() {
            Some(last) if a - last.1 < gap => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Seconds of `intervals` within `[from, to]`.
fn short_within(intervals: &[(i64, i64)], from: i64, to: i64) -> i64 {
    intervals
        .iter()
        .map(|&(a, b)| (b.min(to) - a.max(from)).max(0))
        .sum()
}

const WIDTH: u32 = 1400;
const CHART_HEIGHT: u32 = 660;
const LANE_HEIGHT: u32 = 26;
/// Left and right of the plotting area, the same in the chart and the lanes
/// so that their time axes line up.
const LEFT: u32 = 150;
const RIGHT: u32 = 60;

/// Draws `outcome` to `path`, the window `from..to` of it (default: all).
pub fn plot(
    outcome: &Outcome,
    path: &Path,
    from: Option<PlotTime>,
    to: Option<PlotTime>,
) -> Result<()> {
    register_font()?;
    let trace = &outcome.trace;
    let span = window(from, to, trace.start(), trace.end(), trace.absolute_time)
        .map_err(|e| Error::Input(e.to_string()))?;
    let lanes = outcome
        .replays
        .iter()
        .filter(|r| !r.score.name.starts_with("oracle"))
        .count() as u32;
    let size = (WIDTH, CHART_HEIGHT + 60 + lanes * LANE_HEIGHT);
    let draw_err = |e: String| Error::Input(format!("{}: cannot draw: {e}", path.display()));
    match PlotFormat::from_path(path)? {
        PlotFormat::Svg => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            draw(outcome, span, &root).map_err(|e| draw_err(e.to_string()))?;
            root.present().map_err(|e| draw_err(e.to_string()))
        }
        PlotFormat::Png => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            draw(outcome, span, &root).map_err(|e| draw_err(e.to_string()))?;
            root.present().map_err(|e| draw_err(e.to_string()))
        }
    }
}

type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(
    outcome: &Outcome,
    (from, to): (i64, i64),
    root: &DrawingArea<DB, Shift>,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (chart_area, lane_area) = root.split_vertically(CHART_HEIGHT);
    let trace = &outcome.trace;
    let (start, absolute) = (trace.start(), trace.absolute_time);
    let long_span =
        to - from > 86_400 || (absolute && from.div_euclid(86_400) != to.div_euclid(86_400));
    let key_points = ticks(from, to, start, absolute, 12);
    let x_label = move |t: &i64| label(*t, start, absolute, long_span);
    let x_desc = match (absolute, long_span) {
        (true, true) => "time (UTC)".to_string(),
        (true, false) => format!(
            "time (UTC) on {}",
            DateTime::<Utc>::from_timestamp(from, 0)
                .map_or(String::new(), |d| d.format("%Y-%m-%d").to_string())
        ),
        (false, true) => "time since the trace began (days hh:mm)".to_string(),
        (false, false) => "time since the trace began (h:mm)".to_string(),
    };
    let colors = replay_colors(outcome);
    draw_chart(
        outcome,
        (from, to),
        &chart_area,
        &key_points,
        &x_label,
        &x_desc,
        &colors,
    )?;
    draw_lanes(
        outcome,
        (from, to),
        &lane_area,
        &key_points,
        &x_label,
        &colors,
    )
}

fn draw_chart<DB: DrawingBackend>(
    outcome: &Outcome,
    (from, to): (i64, i64),
    area: &DrawingArea<DB, Shift>,
    key_points: &[i64],
    x_label: &dyn Fn(&i64) -> String,
    x_desc: &str,
    colors: &[RGBColor],
) -> DrawResult<DB> {
    let trace = &outcome.trace;
    let capacity = outcome.world.capacity;
    let i0 = trace.ts.partition_point(|&t| t < from).saturating_sub(1);
    let i1 = (trace.ts.partition_point(|&t| t <= to) + 1).min(trace.ts.len());
    let load: Vec<(i64, f64)> = trace.ts[i0..i1]
        .iter()
        .copied()
        .zip(trace.values[i0..i1].iter().copied())
        .map(|(t, v)| (t.clamp(from, to), v))
        .collect();
    let load = envelope(&load, 3000);
    let lines: Vec<Vec<(i64, f64)>> = outcome
        .replays
        .iter()
        .map(|r| envelope(&steps(&r.capacity, from, to), 6000))
        .collect();
    // The top of the load axis is a whole number of replicas, so the
    // replicas axis beside it lines up.
    let peak = lines
        .iter()
        .flatten()
        .chain(load.iter())
        .map(|p| p.1)
        .fold(1.0, f64::max)
        * 1.05;
    let replicas_max = ((peak / capacity).ceil() as i64).max(1);
    let y_max = replicas_max as f64 * capacity;
    let unit = if (capacity - AUTO_UNITS_PER_REPLICA).abs() < f64::EPSILON {
        "load (units; one replica serves 100)".to_string()
    } else {
        format!("load (trace units; one replica serves {capacity})")
    };
    let replica_step = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
        .into_iter()
        .find(|s| replicas_max / s <= 10)
        .unwrap_or(replicas_max / 10 + 1);
    let replica_ticks: Vec<i64> = (0..=replicas_max).step_by(replica_step as usize).collect();
    let caption = format!("{}: load and ready capacity per autoscaler", trace.name);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(LEFT)
        .right_y_label_area_size(RIGHT)
        .build_cartesian_2d((from..to).with_key_points(key_points.to_vec()), 0.0..y_max)?
        .set_secondary_coord(
            (from..to).with_key_points(key_points.to_vec()),
            (0..replicas_max).with_key_points(replica_ticks),
        );
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(unit)
        .x_label_formatter(x_label)
        .y_label_formatter(&|v: &f64| format!("{v:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("replicas (ready capacity ÷ one replica's)")
        .draw()?;
    let grey = RGBColor(150, 150, 150);
    chart
        .draw_series(AreaSeries::new(load, 0.0, grey.mix(0.25)).border_style(grey))?
        .label("load")
        .legend(move |(x, y)| {
            Rectangle::new([(x, y - 5), (x + 18, y + 5)], grey.mix(0.4).filled())
        });
    for ((r, line), &color) in outcome.replays.iter().zip(lines).zip(colors) {
        if r.score.name.starts_with("oracle") {
            let style = color.stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(line, 6, 4, style))?
                .label(format!("{} (knows the future)", r.score.name))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 7, y)], style));
            continue;
        }
        let style = color.stroke_width(2);
        chart
            .draw_series(LineSeries::new(line, style))?
            .label(format!("{} capacity", r.score.name))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        let marks: Vec<_> = r
            .actions
            .iter()
            .filter(|(t, _)| (from..=to).contains(t))
            .collect();
        if marks.len() <= 2000 {
            chart.draw_series(
                marks
                    .into_iter()
                    .map(|&(t, n)| Circle::new((t, f64::from(n) * capacity), 3, color.filled())),
            )?;
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

/// One lane per autoscaler (the oracle is never short), shaded in its colour
/// where its ready capacity was below the load.
fn draw_lanes<DB: DrawingBackend>(
    outcome: &Outcome,
    (from, to): (i64, i64),
    area: &DrawingArea<DB, Shift>,
    key_points: &[i64],
    x_label: &dyn Fn(&i64) -> String,
    colors: &[RGBColor],
) -> DrawResult<DB> {
    let lanes: Vec<(&super::Replay, RGBColor)> = outcome
        .replays
        .iter()
        .zip(colors.iter().copied())
        .filter(|(r, _)| !r.score.name.starts_with("oracle"))
        .collect();
    if lanes.is_empty() {
        return Ok(());
    }
    let n = lanes.len();
    let gap = ((to - from) / i64::from(WIDTH)).max(1);
    let names: Vec<String> = lanes
        .iter()
        .map(|(r, _)| {
            let pct = 100.0 * short_within(&r.short, from, to) as f64 / (to - from) as f64;
            format!("{}: short {pct:.2} %", r.score.name)
        })
        .collect();
    // Lane k (from the top) spans [2(n-1-k), 2(n-k)] and is labelled at its middle.
    let lane_label = move |y: &i64| -> String {
        usize::try_from((2 * n as i64 - 1 - *y) / 2)
            .ok()
            .and_then(|k| names.get(k))
            .cloned()
            .unwrap_or_default()
    };
    let mut chart = ChartBuilder::on(area)
        .margin_left(15)
        .margin_right(15 + RIGHT)
        .x_label_area_size(35)
        .y_label_area_size(LEFT)
        .build_cartesian_2d(
            (from..to).with_key_points(key_points.to_vec()),
            (0..2 * n as i64).with_key_points((0..n as i64).map(|k| 2 * k + 1).collect()),
        )?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_labels(0)
        .x_label_formatter(x_label)
        .y_label_formatter(&lane_label)
        .bold_line_style(BLACK.mix(0.08))
        .x_desc("shaded: under-provisioned (ready capacity below the load), % of the time drawn")
        .draw()?;
    for (k, (r, color)) in lanes.iter().enumerate() {
        let y = 2 * (n - 1 - k) as i64;
        let spans = merged(&r.short, from, to, gap);
        chart.draw_series(
            spans
                .into_iter()
                .map(|(a, b)| Rectangle::new([(a, y), (b, y + 2)], color.mix(0.75).filled())),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_keep_their_colours_whatever_comes_first() {
        let a = palette(["checkout", "hpa", "keda", "oracle"]);
        let b = palette(["hpa", "oracle", "x", "y", "keda"]);
        assert_eq!((a[1], a[2], a[3]), (HPA, KEDA, ORACLE));
        assert_eq!((b[0], b[1], b[4]), (HPA, ORACLE, KEDA));
        assert_eq!(a[0], b[2], "the first policy has the first policy colour");
        assert_ne!(b[2], b[3]);
        assert!(!b[2..4].contains(&HPA) && !b[2..4].contains(&KEDA));
    }

    #[test]
    fn steps_are_clipped_to_the_window_with_the_value_in_force() {
        let changes = [(0, 1.0), (10, 2.0), (20, 3.0)];
        assert_eq!(
            steps(&changes, 15, 25),
            [(15, 2.0), (20, 2.0), (20, 3.0), (25, 3.0)]
        );
        assert_eq!(
            steps(&changes, 0, 12),
            [(0, 1.0), (10, 1.0), (10, 2.0), (12, 2.0)]
        );
    }

    #[test]
    fn short_intervals_are_clipped_and_merged_within_a_pixel() {
        let short = [(0, 5), (6, 8), (20, 30), (40, 50)];
        assert_eq!(merged(&short, 2, 45, 3), [(2, 8), (20, 30), (40, 45)]);
        assert_eq!(merged(&short, 2, 45, 11), [(2, 8), (20, 45)]);
        assert!(merged(&short, 31, 39, 1).is_empty());
        assert_eq!(short_within(&short, 2, 45), 3 + 2 + 10 + 5);
    }
}
