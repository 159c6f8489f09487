//! Command-line arguments and wall-clock timing shared by the benchmark-style examples.

use std::time::Instant;

/// The number after `name` on the command line, or `default`.
pub fn argument(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|k| args.get(k + 1))
        .map_or(default, |v| v.parse().unwrap())
}

/// The word after `name` on the command line, or `default`.
#[allow(dead_code)]
pub fn text_argument(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|k| args.get(k + 1))
        .map_or(default.to_owned(), Clone::clone)
}

/// Runs `call` `repeats` times; returns the median wall time in seconds and the last result.
pub fn timed<T>(repeats: usize, mut call: impl FnMut() -> T) -> (f64, Option<T>) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeats {
        let start = Instant::now();
        last = Some(call());
        times.push(start.elapsed().as_secs_f64());
    }
    (if times.is_empty() { 0.0 } else { median(times) }, last)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
