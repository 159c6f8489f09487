//! Criterion bench `mlp`: the generator's forward and forward + backward passes, in samples per
//! second (criterion's "elements"); GFLOP/s = samples/s × flops per sample, printed once at the
//! start (a layer's forward is one product, its backward two, `2·in·out` flops each per sample).
//!
//! ```sh
//! cargo bench --bench mlp -- --warm-up-time 1 --measurement-time 3
//! RUSTFLAGS="-C target-cpu=x86-64-v3" cargo bench --bench mlp -- --warm-up-time 1 --measurement-time 3
//! python3 benches/baselines/torch_mlp.py   # the same shapes in PyTorch
//! ```
//! Adam is not included (it is `src/adam.rs`, `O(parameters)` per step).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use drifting::{Activation, Mlp};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn bench_shape<const I: usize, const H: usize, const O: usize>(
    c: &mut Criterion,
    name: &str,
    batch: usize,
) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let mut params = vec![0.0; Mlp::<I, H, O>::PARAMETERS];
    Mlp::<I, H, O>::init_pytorch(&mut params, &mut rng).unwrap();
    let mut input = vec![0.0; I * batch];
    drifting::sample::fill_standard_normal(&mut rng, &mut input);
    let mut grad_output = vec![0.0; O * batch];
    drifting::sample::fill_standard_normal(&mut rng, &mut grad_output);
    let mut cache = vec![0.0; Mlp::<I, H, O>::cache_len(batch)];
    let mut output = vec![0.0; O * batch];
    let mut grads = vec![0.0; params.len()];
    let mut scratch = vec![0.0; Mlp::<I, H, O>::backward_scratch_len(batch)];
    let mlp = Mlp::<I, H, O>::new(Activation::Silu);
    let mac = Mlp::<I, H, O>::MULTIPLY_ADDS as f64;
    let forward_flops = 2.0 * mac;
    // Backward: two products per layer, minus the input gradient of the first layer.
    let backward_flops = 4.0 * mac - 2.0 * (I * H) as f64;
    eprintln!(
        "mlp {name}: {I}->{H}->{H}->{H}->{O} batch {batch}: forward {:.1} MFLOP, forward+backward {:.1} MFLOP per call",
        forward_flops * batch as f64 / 1e6,
        (forward_flops + backward_flops) * batch as f64 / 1e6
    );
    let mut group = c.benchmark_group(format!("mlp_{name}"));
    group.throughput(Throughput::Elements(batch as u64));
    group.bench_function(BenchmarkId::new("forward", batch), |b| {
        b.iter(|| {
            mlp.forward(&params, black_box(&input), batch, &mut cache, &mut output)
                .unwrap();
            black_box(&output);
        });
    });
    group.bench_function(BenchmarkId::new("forward_backward", batch), |b| {
        b.iter(|| {
            mlp.forward(&params, black_box(&input), batch, &mut cache, &mut output)
                .unwrap();
            mlp.backward(
                &params,
                &cache,
                black_box(&grad_output),
                batch,
                &mut grads,
                None,
                &mut scratch,
            )
            .unwrap();
            black_box(&grads);
        });
    });
    group.finish();

    // A direct GFLOP/s line (median of a few timed calls) for the side-by-side table.
    let time = |f: &mut dyn FnMut()| {
        let mut samples: Vec<f64> = (0..15)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    };
    let fwd = time(&mut || {
        mlp.forward(&params, &input, batch, &mut cache, &mut output)
            .unwrap();
    });
    let both = time(&mut || {
        mlp.forward(&params, &input, batch, &mut cache, &mut output)
            .unwrap();
        mlp.backward(
            &params,
            &cache,
            &grad_output,
            batch,
            &mut grads,
            None,
            &mut scratch,
        )
        .unwrap();
    });
    println!(
        "{{\"impl\":\"drifting\",\"op\":\"mlp_fwd\",\"shape\":\"{I}-{H}-{O}\",\"n\":{batch},\"median_s\":{fwd:.3e},\"gflops\":{:.1}}}",
        forward_flops * batch as f64 / fwd / 1e9
    );
    println!(
        "{{\"impl\":\"drifting\",\"op\":\"mlp_fwd_bwd\",\"shape\":\"{I}-{H}-{O}\",\"n\":{batch},\"median_s\":{both:.3e},\"gflops\":{:.1}}}",
        (forward_flops + backward_flops) * batch as f64 / both / 1e9
    );
}

fn mlp(c: &mut Criterion) {
    bench_shape::<32, 256, 2>(c, "demo", 2048);
    bench_shape::<2, 32, 2>(c, "small", 256);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = mlp
}
criterion_main!(benches);
