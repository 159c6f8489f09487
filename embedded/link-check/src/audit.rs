//! Panic audit: a bare-metal binary that calls **every public entry point** of `drifting` on
//! opaque inputs, so that `.ci/panic-audit` can check in its disassembly that no code path of
//! the library can reach a panic.
//!
//! Every input goes through `black_box`, so the optimiser cannot prove a length, a capacity or a
//! parameter and drop a check that a caller with other values would reach; every result goes
//! through `black_box` too, so no call is removed. The panic handler below is the only panic
//! machinery the binary may contain: `.ci/panic-audit` fails if any `core::panicking`,
//! bounds-check, slice-index, `unwrap`/`expect` or length-mismatch routine is linked, because such
//! a routine is only linked when some reachable code calls it.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::panic::PanicInfo;

use drifting::metrics::{
    MmdConfig, SlicedWassersteinConfig, data_floor, energy_distance, mmd, sliced_wasserstein,
    sliced_wasserstein_scratch_len,
};
use drifting::sample::fill_standard_normal;
use drifting::schedule::AnnealingSchedule;
use drifting::{
    Activation, Adam, AdamState, CloudView, Dataset, DriftField, DriftShape, DriftWorkspace,
    Kernel, MeanShiftConfig, Mlp, MultiTemperatureConfig, Negatives, ParticleBuffer, SelfMask,
    SinkhornConfig, SinkhornWorkspace, Trainer, TrainerConfig, TwoAxisConfig, WeightedCloud,
    barycentric_projection, entropic_transport, mean_shift_drift, multi_temperature_drift,
    multi_temperature_scratch_len, sinkhorn_divergence, sinkhorn_drift, sinkhorn_proxy_drift,
    stop_gradient_loss, two_axis_scratch_len, two_axis_softmax_drift,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro128PlusPlus;

const N: usize = 16;
const M: usize = 24;
type Generator = Mlp<2, 8, 2>;
const PARAMETERS: usize = Generator::PARAMETERS;

#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// Sinks a result (so the call is kept) and returns whether it was `Ok`.
fn keep<T, E>(result: Result<T, E>) -> bool {
    black_box(result).is_ok()
}

/// The dense path (feature `dense`): the two-axis and multi-temperature drifts with each distance
/// form forced, and the grouped feature-space loss over one and several keys.
fn dense_path(queries: &CloudView<'_, 2>, positives: &CloudView<'_, 2>, out: &mut [f32]) -> bool {
    use drifting::{
        DistanceMethod, Evaluation, FeatureKey, GroupShape, GroupedDriftConfig, feature_drift_loss,
        grouped_drift_loss,
    };
    let mut ok = true;
    let mut scratch = [0.0_f32; 8192];
    for method in [DistanceMethod::Expanded, DistanceMethod::Difference] {
        let evaluation = black_box(Evaluation::Dense(method));
        let two_axis = TwoAxisConfig {
            evaluation,
            ..TwoAxisConfig::new(Kernel::laplace(black_box(0.3)))
        };
        ok &= keep(two_axis_softmax_drift(
            queries,
            positives,
            black_box(Negatives::Queries),
            &two_axis,
            black_box(&mut scratch[..]),
            black_box(&mut *out),
        ));
        let multi = MultiTemperatureConfig {
            evaluation,
            ..MultiTemperatureConfig::official()
        };
        ok &= keep(multi_temperature_drift(
            queries,
            positives,
            &multi,
            black_box(&mut scratch[..]),
            black_box(&mut *out),
        ));
    }
    // Two groups of 5 generated, 2 unconditional and 4 positive samples with 16 channels.
    let shape = black_box(GroupShape {
        groups: 2,
        generated: 5,
        unconditional: 2,
        positives: 4,
        channels: 16,
    });
    let mut features = [0.0_f32; 2 * 11 * 16];
    for (k, v) in features.iter_mut().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let t = black_box(k as f32);
        *v = (t * 0.37) % 2.0 - 1.0;
    }
    let (generated, rest) = features.split_at(2 * 5 * 16);
    let (unconditional, positives) = rest.split_at(2 * 2 * 16);
    let alpha = [1.5_f32, 3.0];
    let config = GroupedDriftConfig {
        guidance: Some(black_box(&alpha[..])),
        ..GroupedDriftConfig::official()
    };
    let mut field = [0.0_f32; 2 * 5 * 16];
    let mut losses = [0.0_f32; 2];
    ok &= keep(grouped_drift_loss(
        &shape,
        black_box(generated),
        black_box(unconditional),
        black_box(positives),
        &config,
        black_box(&mut scratch[..]),
        black_box(&mut field[..]),
        Some(black_box(&mut losses[..])),
    ));
    let mut gradient = [0.0_f32; 2 * 5 * 16];
    let mut keys = [FeatureKey {
        shape,
        generated,
        unconditional,
        positives,
        config,
        gradient: black_box(&mut gradient[..]),
    }];
    ok &= keep(feature_drift_loss(
        black_box(&mut keys[..]),
        black_box(&mut scratch[..]),
    ));
    ok
}

fn clouds_and_drifts(rng: &mut Xoshiro128PlusPlus) -> bool {
    let mut ok = true;
    // Particle buffers at and over capacity, from points and from a view.
    let mut points = [[0.0_f32; 2]; M];
    let mut flat = [0.0_f32; 2 * M];
    fill_standard_normal(rng, black_box(&mut flat[..]));
    let (xs, ys) = flat.split_at(M);
    for ((p, x), y) in points.iter_mut().zip(xs).zip(ys) {
        *p = [*x, *y];
    }
    let mut queries = ParticleBuffer::<2, N>::new();
    ok &= keep(queries.extend_from_points(points.get(..black_box(N)).unwrap_or(&[])));
    ok &= keep(queries.push(black_box([0.5, 0.5])));
    let data_view = CloudView::<2>::from_coordinate_major(black_box(&flat[..]), black_box(M));
    let Ok(positives) = data_view else {
        return false;
    };
    let mut copy = ParticleBuffer::<2, M>::new();
    ok &= keep(copy.extend_from_view(&positives));
    let queries = queries.view();
    let negatives = CloudView::from_points(black_box(&points[..]));

    let mut out = [0.0_f32; 2 * N];
    let mean_shift = MeanShiftConfig::new(Kernel::gaussian(black_box(0.4)));
    ok &= keep(mean_shift_drift(
        &queries,
        &positives,
        black_box(Negatives::Cloud(negatives)),
        &mean_shift,
        black_box(&mut out[..]),
    ));
    let mut scratch = [0.0_f32; two_axis_scratch_len(N, M, M)];
    let two_axis = TwoAxisConfig {
        kernel: Kernel::laplace(black_box(0.2)),
        self_mask: SelfMask::OFFICIAL_DEMO,
        evaluation: drifting::Evaluation::Auto,
    };
    ok &= keep(two_axis_softmax_drift(
        &queries,
        &positives,
        black_box(Negatives::Queries),
        &two_axis,
        black_box(&mut scratch[..]),
        &mut out,
    ));
    let mut scratch = [0.0_f32; multi_temperature_scratch_len(N, M, 2)];
    let multi = MultiTemperatureConfig {
        temperatures: black_box(&[0.02, 0.05, 0.2][..]),
        ..MultiTemperatureConfig::official()
    };
    ok &= keep(multi_temperature_drift(
        &queries,
        &positives,
        &multi,
        black_box(&mut scratch[..]),
        &mut out,
    ));
    ok &= dense_path(&queries, &positives, &mut out);

    // Sinkhorn: transport, divergence, projection, drift and proxy drift.
    let mut buffer = [0.0_f32; SinkhornWorkspace::required_len(N, M)];
    let Ok(mut workspace) =
        SinkhornWorkspace::new(black_box(&mut buffer[..]), black_box(N), black_box(M))
    else {
        return false;
    };
    let config = SinkhornConfig {
        blur: black_box(0.1),
        ..SinkhornConfig::default()
    };
    let (x, y) = (
        WeightedCloud::uniform(queries),
        WeightedCloud::uniform(positives),
    );
    ok &= keep(entropic_transport(&x, &y, &config, &mut workspace));
    ok &= keep(sinkhorn_divergence(&x, &y, &config, &mut workspace));
    ok &= keep(barycentric_projection(
        &x,
        &y,
        &config,
        &mut workspace,
        &mut out,
    ));
    ok &= keep(sinkhorn_drift(&x, &y, &config, &mut workspace, &mut out));
    // ε given directly, and a warm start from potentials written into the workspace.
    ok &= keep(config.validate());
    let direct = config.with_epsilon(black_box(0.01));
    ok &= keep(entropic_transport(&x, &y, &direct, &mut workspace));
    for f in workspace.f_mut() {
        *f = black_box(0.0);
    }
    for g in workspace.g_mut() {
        *g = black_box(0.0);
    }
    for f in workspace.f_aa_mut() {
        *f = black_box(0.0);
    }
    for g in workspace.g_bb_mut() {
        *g = black_box(0.0);
    }
    let warm = SinkhornConfig {
        warm_start: black_box(true),
        ..config
    };
    ok &= keep(sinkhorn_divergence(&x, &y, &warm, &mut workspace));
    ok &= black_box(SinkhornWorkspace::checked_required_len(
        black_box(N),
        black_box(M),
    ))
    .is_some();
    ok &= black_box(drifting::sinkhorn::checked_sinkhorn_proxy_scratch_len(
        black_box(N),
        black_box(M),
    ))
    .is_some();
    let mut proxy = [0.0_f32; drifting::sinkhorn::sinkhorn_proxy_scratch_len(N, M)];
    ok &= keep(sinkhorn_proxy_drift(
        &x,
        &y,
        &config,
        black_box(&mut proxy[..]),
        &mut out,
    ));
    let mut gradient = [0.0_f32; 2 * N];
    ok &= keep(stop_gradient_loss(
        black_box(&out[..]),
        black_box(1.0),
        black_box(&mut gradient[..]),
    ));

    // Metrics and the data floor.
    let mut sw = [0.0_f32; sliced_wasserstein_scratch_len(M)];
    let sw_config = SlicedWassersteinConfig {
        directions: black_box(8),
        ..SlicedWassersteinConfig::new()
    };
    ok &= keep(sliced_wasserstein(
        &positives,
        &negatives,
        &sw_config,
        rng,
        black_box(&mut sw[..]),
    ));
    ok &= keep(mmd(&queries, &positives, &MmdConfig::new()));
    ok &= keep(energy_distance(&queries, &positives));
    let (mut first, mut second) = ([0.0_f32; 2 * M], [0.0_f32; 2 * M]);
    let dataset = black_box(Dataset::two_moons());
    ok &= keep(data_floor(
        &dataset,
        rng,
        black_box(M),
        &mut first,
        &mut second,
        |a, b| energy_distance(&a, &b),
    ));
    ok
}

fn generator_and_training(rng: &mut Xoshiro128PlusPlus) -> bool {
    let mut ok = true;
    let mlp = Generator::new(black_box(Activation::Silu));
    let mut params = [0.0_f32; PARAMETERS];
    ok &= keep(Generator::init_pytorch(black_box(&mut params[..]), rng));
    let mut input = [0.0_f32; 2 * N];
    fill_standard_normal(rng, &mut input);
    let mut cache = [0.0_f32; Generator::cache_len(N)];
    let mut output = [0.0_f32; 2 * N];
    ok &= keep(mlp.forward(
        &params,
        black_box(&input[..]),
        black_box(N),
        black_box(&mut cache[..]),
        black_box(&mut output[..]),
    ));
    let mut grads = [0.0_f32; PARAMETERS];
    let mut grad_input = [0.0_f32; 2 * N];
    let mut scratch = [0.0_f32; Generator::backward_scratch_len(N)];
    ok &= keep(mlp.backward(
        &params,
        &cache,
        black_box(&output[..]),
        black_box(N),
        black_box(&mut grads[..]),
        Some(black_box(&mut grad_input[..])),
        black_box(&mut scratch[..]),
    ));
    let (mut m, mut v) = ([0.0_f32; PARAMETERS], [0.0_f32; PARAMETERS]);
    let mut state = AdamState::new();
    ok &= keep(black_box(Adam::adamw()).step(
        &mut state,
        black_box(&mut params[..]),
        &grads,
        &mut m,
        &mut v,
    ));
    let mut blob = [0_u8; Generator::blob_len()];
    ok &= keep(mlp.save(&params, black_box(&mut blob[..])));
    ok &= keep(Generator::load(black_box(&blob[..]), &mut params));

    // One training step per drift field, with an annealing schedule.
    let schedule = AnnealingSchedule::Cosine {
        initial: black_box(1.0),
        end: 0.5,
        steps: 10,
    };
    ok &= keep(schedule.validate());
    ok &=
        black_box(schedule.final_factor()) > 0.0 && black_box(schedule.factor(black_box(3))) > 0.0;
    ok &= keep(black_box(Dataset::two_moons()).validate());
    ok &= keep(black_box(Adam::new()).validate());
    let mut data = [0.0_f32; 2 * N];
    // Every operator of the registry.
    for &field in DriftField::CATALOGUE {
        let config = TrainerConfig {
            field: black_box(field),
            temperatures: black_box(&[0.05_f32, 0.2][..]),
            annealing: Some(schedule),
            batch: black_box(N),
            ..TrainerConfig::official_demo()
        };
        let mut workspace = [0.0_f32; 4096];
        ok &= black_box(Trainer::<2, 8, 2>::checked_workspace_len(
            &config,
            black_box(N),
        ))
        .is_some_and(|len| len == Trainer::<2, 8, 2>::workspace_len(&config, N));
        ok &= black_box(field.checked_workspace_len(black_box(N), black_box(N), 2))
            .is_some_and(|len| len == field.workspace_len(N, N, 2));
        let (mut p, mut g, mut m, mut v) = (
            params,
            [0.0_f32; PARAMETERS],
            [0.0_f32; PARAMETERS],
            [0.0_f32; PARAMETERS],
        );
        let Ok(mut trainer) = Trainer::<2, 8, 2>::new(
            config,
            black_box(N),
            &mut p,
            &mut g,
            &mut m,
            &mut v,
            black_box(&mut workspace[..]),
        ) else {
            return false;
        };
        ok &= keep(Dataset::checkerboard().sample(rng, &mut data, black_box(N)));
        if let Ok(batch) = CloudView::<2>::from_coordinate_major(&data, N) {
            ok &= keep(trainer.step(rng, &batch));
            // The same field on particles (no generator).
            let mut out = [0.0_f32; 2 * N];
            ok &= keep(field.evaluate(
                black_box(&[0.05_f32][..]),
                rng,
                &batch,
                &batch,
                black_box(&mut workspace[..]),
                &mut out,
            ));
        }
    }
    // The typed workspace of one operator: checked once, then run.
    let shape = DriftShape::training(N, N, 2);
    let operator = TwoAxisConfig::new(Kernel::laplace(black_box(0.2)));
    let mut buffer = [0.0_f32; 3 * N];
    if let (Ok(mut workspace), Ok(batch)) = (
        DriftWorkspace::new(operator, black_box(shape), black_box(&mut buffer[..])),
        CloudView::<2>::from_coordinate_major(&data, N),
    ) {
        let mut out = [0.0_f32; 2 * N];
        ok &= keep(workspace.run(&batch, &batch, Negatives::Queries, rng, &mut out));
    }
    ok
}

/// Entry point (no runtime crate: this binary is linked and disassembled, not run).
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(black_box(7));
    black_box(clouds_and_drifts(&mut rng));
    black_box(generator_and_training(&mut rng));
    loop {
        core::hint::spin_loop();
    }
}
