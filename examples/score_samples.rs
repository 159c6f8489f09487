//! Scores 2D samples stored as little-endian `f32`, coordinate-major (`x` then `y`), with the
//! crate's metrics, against fresh samples of a dataset: the same code and seeds that
//! `examples/train.rs` uses for its final table, so that another implementation's generator
//! (e.g. `benches/baselines/torch_train.py --out FILE`) is scored exactly like ours.
//!
//! ```text
//! cargo run --release --example score_samples -- --dataset checkerboard /tmp/torch_checker.f32
//! ```

use drifting::metrics::{
    DEFAULT_MMD_BANDWIDTHS, MmdConfig, SlicedWassersteinConfig, energy_distance, mmd,
    sliced_wasserstein, sliced_wasserstein_scratch_len,
};
use drifting::{CloudView, Dataset};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut dataset = Dataset::checkerboard();
    let mut path = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dataset" => {
                dataset = match args.next().as_deref() {
                    Some("checkerboard") => Dataset::checkerboard(),
                    Some("swiss_roll") => Dataset::swiss_roll(),
                    Some("two_moons") => Dataset::two_moons(),
                    other => return Err(format!("unknown dataset {other:?}").into()),
                }
            }
            _ => path = Some(a),
        }
    }
    let path = path.ok_or("usage: score_samples [--dataset NAME] FILE")?;
    let bytes = std::fs::read(&path)?;
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let n = values.len() / 2;
    let samples = CloudView::<2>::from_coordinate_major(&values, n)?;
    // The fixed data sample of examples/train.rs (seed 0xda7a).
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0xda7a);
    let mut data = vec![0.0; 2 * n];
    dataset.sample(&mut rng, &mut data, n)?;
    let data = CloudView::<2>::from_coordinate_major(&data, n)?;
    let mut scratch = vec![0.0; sliced_wasserstein_scratch_len(n)];
    let mut directions = Xoshiro256PlusPlus::seed_from_u64(7);
    let swd = sliced_wasserstein(
        &samples,
        &data,
        &SlicedWassersteinConfig::default(),
        &mut directions,
        &mut scratch,
    )?;
    let mmd2 = mmd(
        &samples,
        &data,
        &MmdConfig {
            bandwidths: &DEFAULT_MMD_BANDWIDTHS,
        },
    )?
    .value;
    let energy = energy_distance(&samples, &data)?.value;
    println!(
        "{path}: {n} samples vs {}: SWD {swd:.4e}, MMD² {mmd2:.4e}, energy {energy:.4e}",
        dataset.name()
    );
    Ok(())
}
