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

/// A curve panel: a title and series drawn on a log-scale value axis.
pub struct Curves<'a> {
    pub title: String,
    pub series: Vec<Series<'a>>,
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
            .filter(|v| *v > 0.0 && v.is_finite());
        let (lo, hi) = values.fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = if lo < hi {
            (lo * 0.8, hi * 1.25)
        } else {
            (1e-6, 1.0)
        };
        let mut builder = ChartBuilder::on(area);
        builder.margin(12);
        if text {
            builder
                .caption(&panel.title, ("sans-serif", 18))
                .x_label_area_size(24)
                .y_label_area_size(48);
        }
        let mut chart = builder.build_cartesian_2d(0.0..steps, (lo..hi).log_scale())?;
        let mut mesh = chart.configure_mesh();
        mesh.disable_mesh()
            .x_labels(5)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0e}"));
        if !text {
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
        if text {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }
    }
    root.present()?;
    Ok(())
}
