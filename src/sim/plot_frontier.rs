//! The picture of a sweep (plotters): each autoscaler's frontier, cost
//! (replica-hours) against under-provisioned time, one marked point per
//! target, the HPA's reference point circled and the oracle's cost as a
//! vertical line (it is never short).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::plot::{palette, register_font, ORACLE};
use super::{PlotFormat, SweepOutcome};
use crate::error::{Error, Result};

/// Draws the frontiers of `sweep` of `trace_name` to `path` (.svg or .png).
pub fn plot_frontiers(sweep: &SweepOutcome, trace_name: &str, path: &Path) -> Result<()> {
    register_font()?;
    let err = |e: String| Error::Input(format!("{}: cannot draw: {e}", path.display()));
    match PlotFormat::from_path(path)? {
        PlotFormat::Svg => {
            let root = SVGBackend::new(path, (1100, 750)).into_drawing_area();
            draw(sweep, trace_name, &root).map_err(|e| err(e.to_string()))?;
            root.present().map_err(|e| err(e.to_string()))
        }
        PlotFormat::Png => {
            let root = BitMapBackend::new(path, (1100, 750)).into_drawing_area();
            draw(sweep, trace_name, &root).map_err(|e| err(e.to_string()))?;
            root.present().map_err(|e| err(e.to_string()))
        }
    }
}

fn draw<DB: DrawingBackend>(
    sweep: &SweepOutcome,
    trace_name: &str,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let points = sweep.frontiers.iter().flat_map(|f| &f.points);
    let costs = points
        .clone()
        .map(|p| p.replica_hours)
        .chain(sweep.oracle_replica_hours);
    let (x_min, x_max) = costs.fold((f64::INFINITY, 0.0f64), |(lo, hi), c| {
        (lo.min(c), hi.max(c))
    });
    let x_min = if x_min.is_finite() { x_min * 0.97 } else { 0.0 };
    let x_max = (x_max * 1.03).max(x_min + 1.0);
    let y_max = points
        .map(|p| p.under_provisioned_pct)
        .fold(0.0f64, f64::max)
        .max(0.1)
        * 1.08;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "{trace_name}: cost against under-provisioned time, targets {:?} %",
                sweep.targets
            ),
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x_min..x_max, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("replica-hours (cost)")
        .y_desc("under-provisioned time, % (τU)")
        .draw()?;
    if let Some(o) = sweep.oracle_replica_hours {
        let style = ORACLE.stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new([(o, 0.0), (o, y_max)], 6, 4, style))?
            .label(format!("oracle: {o:.0} replica-h, never short"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 7, y)], style));
    }
    let colors = palette(sweep.frontiers.iter().map(|f| f.name.as_str()));
    for (f, &color) in sweep.frontiers.iter().zip(&colors) {
        let line: Vec<(f64, f64)> = f
            .points
            .iter()
            .map(|p| (p.replica_hours, p.under_provisioned_pct))
            .collect();
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
            .label(f.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart.draw_series(line.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        chart.draw_series(f.points.iter().map(|p| {
            Text::new(
                format!("{}", p.target),
                (p.replica_hours, p.under_provisioned_pct),
                ("sans-serif", 11).into_font().color(&color),
            )
        }))?;
    }
    if let Some(r) = &sweep.reference {
        chart
            .draw_series([Circle::new(
                (r.replica_hours, r.under_provisioned_pct),
                9,
                BLACK.stroke_width(2),
            )])?
            .label(format!("HPA at {} % (the reference)", r.target))
            .legend(|(x, y)| Circle::new((x + 9, y), 5, BLACK.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    Ok(())
}
