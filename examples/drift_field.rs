//! Computes the drift field between a cloud of "generated" samples and a data set, prints a
//! table, and draws the field as an SVG picture.
//!
//! ```sh
//! cargo run --release --example drift_field            # writes drift_field.svg
//! cargo run --release --example drift_field -- out.svg
//! ```
//!
//! Data: eight Gaussians on the unit circle (std 0.08). Generated samples: a standard normal
//! blob scaled by 0.5, i.e. what an untrained generator produces. Each generated sample gets
//! the two-axis softmax drift of the method's Algorithm 2 (Laplace kernel, the self-pair
//! excluded) and the Gaussian mean-shift drift; both point from the blob toward the modes while
//! pushing the samples apart.

use std::fmt::Write as _;

use drifting::sample::{fill_standard_normal, uniform};
use drifting::{
    CloudView, Kernel, MeanShiftConfig, Negatives, TwoAxisConfig, mean_shift_drift,
    two_axis_scratch_len, two_axis_softmax_drift,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

const N: usize = 400; // generated samples (queries and negatives)
const P: usize = 800; // data samples (positives)

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "drift_field.svg".into());
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2026);

    // Data: 8 Gaussians on the unit circle, as points [x, y].
    let mut noise = vec![0.0_f32; 2 * P];
    fill_standard_normal(&mut rng, &mut noise);
    let data: Vec<[f32; 2]> = noise
        .chunks_exact(2)
        .map(|z| {
            let mode = (uniform(&mut rng) * 8.0).floor();
            let angle = mode * std::f32::consts::FRAC_PI_4;
            [angle.cos() + 0.08 * z[0], angle.sin() + 0.08 * z[1]]
        })
        .collect();
    // Generated samples: coordinate-major (all x, then all y).
    let mut generated = vec![0.0_f32; 2 * N];
    fill_standard_normal(&mut rng, &mut generated);
    generated.iter_mut().for_each(|v| *v *= 0.5);

    let queries = CloudView::<2>::from_coordinate_major(&generated, N)?;
    let positives = CloudView::from_points(&data);

    let mut two_axis = vec![0.0_f32; 2 * N];
    let mut scratch = vec![0.0_f32; two_axis_scratch_len(N, P, N)];
    let config = TwoAxisConfig::new(Kernel::laplace(0.2));
    two_axis_softmax_drift(
        &queries,
        &positives,
        Negatives::Queries,
        &config,
        &mut scratch,
        &mut two_axis,
    )?;

    let mut mean_shift = vec![0.0_f32; 2 * N];
    let config = MeanShiftConfig::new(Kernel::gaussian(0.3));
    mean_shift_drift(
        &queries,
        &positives,
        Negatives::Queries,
        &config,
        &mut mean_shift,
    )?;

    println!(
        "drift of {N} generated samples toward {P} data samples (8 Gaussians on the unit circle)"
    );
    println!(
        "{:>18}  {:>22}  {:>22}",
        "sample", "two-axis V (τ=0.2)", "mean-shift V (σ=0.3)"
    );
    for i in (0..N).step_by(N / 12) {
        let x = queries.point(i).unwrap_or_default();
        println!(
            "({:>7.3}, {:>7.3})  ({:>9.4}, {:>9.4})  ({:>9.4}, {:>9.4})",
            x[0],
            x[1],
            two_axis[i],
            two_axis[N + i],
            mean_shift[i],
            mean_shift[N + i]
        );
    }
    let rms = |v: &[f32]| (v.iter().map(|a| a * a).sum::<f32>() / v.len() as f32).sqrt();
    println!(
        "RMS drift: two-axis {:.4}, mean-shift {:.4}",
        rms(&two_axis),
        rms(&mean_shift)
    );

    std::fs::write(&path, svg(&data, &generated, &two_axis, &mean_shift))?;
    println!("wrote {path}");
    Ok(())
}

/// Data in grey, samples in blue, two-axis drift in red and mean-shift drift in green (each arrow
/// scaled so the longest has length 0.25).
fn svg(data: &[[f32; 2]], generated: &[f32], two_axis: &[f32], mean_shift: &[f32]) -> String {
    let to_px = |v: f32| 300.0 + 140.0 * v;
    let mut s = String::from(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"600\" viewBox=\"0 0 600 600\">\n\
         <rect width=\"600\" height=\"600\" fill=\"white\"/>\n",
    );
    for p in data {
        let _ = writeln!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.5\" fill=\"#999\"/>",
            to_px(p[0]),
            to_px(-p[1])
        );
    }
    for (field, colour) in [(two_axis, "#d62728"), (mean_shift, "#2ca02c")] {
        let longest = (0..N)
            .map(|i| field[i].hypot(field[N + i]))
            .fold(1e-12_f32, f32::max);
        let scale = 0.25 / longest;
        for i in 0..N {
            let (x, y) = (generated[i], generated[N + i]);
            let (u, v) = (x + scale * field[i], y + scale * field[N + i]);
            let _ = writeln!(
                s,
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"1\" opacity=\"0.7\"/>",
                to_px(x),
                to_px(-y),
                to_px(u),
                to_px(-v)
            );
        }
    }
    for i in 0..N {
        let _ = writeln!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\" fill=\"#1f77b4\"/>",
            to_px(generated[i]),
            to_px(-generated[N + i])
        );
    }
    s.push_str(
        "<text x=\"10\" y=\"20\" font-family=\"sans-serif\" font-size=\"13\">grey: data, blue: samples, \
         red: two-axis drift, green: mean-shift drift</text>\n</svg>\n",
    );
    s
}
