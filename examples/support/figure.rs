//! PNG figures for the examples (plotters, bitmap backend). Text needs a TrueType font: the
//! DejaVu Sans of most Linux distributions is used when present, otherwise the figures are drawn
//! without labels (the examples print every number anyway).
#![allow(dead_code)]

use plotters::prelude::*;
use std::path::Path;

type Failure = Box<dyn std::error::Error>;

const FONT_CANDIDATES: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// Registers a system font for plotters' text, once; returns whether text can be drawn.
pub fn fonts_available() -> bool {
    use std::sync::OnceLock;
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        for path in FONT_CANDIDATES {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

/// A scatter panel: a title and a coordinate-major 2D cloud (`x` then `y`, `n` each).
pub struct Scatter<'a> {
    pub title: String,
    pub points: &'a [f32],
    pub color: RGBColor,
}

/// One labelled `(step, value)` series and its colour.
pub type Series<'a> = (&'a str, &'a [(f32, f32)], RGBColor);

/// A horizontal reference line (a metric's data floor): label, value, colour; drawn dashed.
pub type Floor = (String, f32, RGBColor);

/// A curve panel: a title and series drawn on a log-scale value axis whose decades reach every
/// value shown, with optional axis titles and dashed reference lines.
#[derive(Default)]
pub struct Curves<'a> {
    pub title: String,
    pub series: Vec<Series<'a>>,
    /// The horizontal axis's title (empty: none).
    pub x_title: String,
    /// The vertical axis's title (empty: none).
    pub y_title: String,
    /// Dashed horizontal lines (floors), included in the axis range.
    pub floors: Vec<Floor>,
}

/// The decade-aligned range `[10^⌊log₁₀ lo⌋, 10^⌈log₁₀ hi⌉]` of the positive finite values, so
/// that the labelled decades of a log axis enclose every value drawn; `(1e-6, 1)` if none.
pub fn log_range(values: impl Iterator<Item = f32>) -> (f32, f32) {
    let (lo, hi) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (1e-6, 1.0);
    }
    let lo = 10f32.powf(lo.log10().floor());
    let mut hi = 10f32.powf(hi.log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    (lo, hi)
}

/// A log-axis label at the ticks `1`, `2` and `5` of each decade (`1e-3`, `2e-3`, `5e-3`, …);
/// the other ticks stay unlabelled so the labels never overlap.
fn log_label(y: &f32) -> String {
    let e = y.log10().floor();
    let m = (y / 10f32.powf(e)).round();
    // The axis has a tick at `10·10^e` (rounded to just below the next decade) as well as at the
    // decade itself: label only the latter.
    if m == 1.0 || m == 2.0 || m == 5.0 {
        format!("{m}e{e}")
    } else {
        String::new()
    }
}

/// The colours of labelled series, in order (cycled).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

impl<'a> Curves<'a> {
    /// A panel of `(label, points)` series coloured by [`PALETTE`].
    pub fn labelled(title: &str, named: &'a [(String, Vec<(f32, f32)>)]) -> Self {
        Self {
            title: title.into(),
            series: named
                .iter()
                .zip(PALETTE.iter().cycle())
                .map(|((n, c), color)| (n.as_str(), &c[..], *color))
                .collect(),
            ..Self::default()
        }
    }
}

/// Draws scatter panels side by side on `[−extent, extent]²`, then the curve panels, in one row.
pub fn draw(
    path: &Path,
    extent: f32,
    scatters: &[Scatter<'_>],
    curves: &[Curves<'_>],
) -> Result<(), Failure> {
    let text = fonts_available();
    let panels = scatters.len() + curves.len();
    let root = BitMapBackend::new(path, (420 * panels as u32, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((1, panels));
    for (area, scatter) in areas.iter().zip(scatters) {
        let mut builder = ChartBuilder::on(area);
        builder.margin(12);
        if text {
            builder
                .caption(&scatter.title, ("sans-serif", 18))
                .x_label_area_size(24)
                .y_label_area_size(32);
        }
        let mut chart = builder.build_cartesian_2d(-extent..extent, -extent..extent)?;
        let mut mesh = chart.configure_mesh();
        mesh.disable_mesh();
        if !text {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw()?;
        let n = scatter.points.len() / 2;
        let (xs, ys) = scatter.points.split_at(n);
        chart.draw_series(
            xs.iter()
                .zip(ys)
                .filter(|(x, y)| x.abs() <= extent && y.abs() <= extent)
                .map(|(x, y)| Circle::new((*x, *y), 1, scatter.color.mix(0.5).filled())),
        )?;
    }
    for (area, panel) in areas.iter().skip(scatters.len()).zip(curves) {
        let steps = panel
            .series
            .iter()
            .flat_map(|(_, s, _)| s.iter().map(|p| p.0))
            .fold(1.0_f32, f32::max);
        let values = panel
            .series
            .iter()
            .flat_map(|(_, s, _)| s.iter().map(|p| p.1))
            .chain(panel.floors.iter().map(|f| f.1));
        let (lo, hi) = log_range(values);
        let mut builder = ChartBuilder::on(area);
        builder.margin(12);
        if text {
            builder
                .caption(&panel.title, ("sans-serif", 18))
                .x_label_area_size(if panel.x_title.is_empty() { 24 } else { 40 })
                .y_label_area_size(if panel.y_title.is_empty() { 48 } else { 64 });
        }
        let mut chart = builder.build_cartesian_2d(0.0..steps, (lo..hi).log_scale())?;
        let mut mesh = chart.configure_mesh();
        mesh.disable_mesh()
            .x_labels(5)
            .y_labels(24)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&log_label);
        if text {
            if !panel.x_title.is_empty() {
                mesh.x_desc(panel.x_title.as_str());
            }
            if !panel.y_title.is_empty() {
                mesh.y_desc(panel.y_title.as_str());
            }
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw()?;
        for (label, series, color) in &panel.series {
            let drawn = chart.draw_series(LineSeries::new(
                series
                    .iter()
                    .filter(|p| p.1 > 0.0 && p.1.is_finite())
                    .copied(),
                color,
            ))?;
            if text {
                let color = *color;
                drawn
                    .label(*label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
            }
        }
        for (label, value, color) in &panel.floors {
            if !(*value > 0.0 && value.is_finite()) {
                continue;
            }
            let drawn = chart.draw_series(DashedLineSeries::new(
                [(0.0, *value), (steps, *value)],
                6,
                4,
                color.stroke_width(1),
            ))?;
            if text {
                let color = *color;
                drawn.label(label.as_str()).legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (6, 0)], color)
                        + PathElement::new(vec![(10, 0), (16, 0)], color)
                });
            }
        }
        if text {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }
    }
    root.present()?;
    Ok(())
}
