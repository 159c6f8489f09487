//! `no_std` link check: a bare-metal binary with its own panic handler and entry point that
//! calls a drift operator and a Sinkhorn solve of `drifting` on fixed-capacity stack buffers.
//!
//! It proves at link time that the library and every dependency it pulls are `no_std` and
//! allocation-free: a crate linking `std` clashes with the panic handler below (duplicate
//! `panic_impl` lang item), and a crate linking `alloc` fails with "no global memory allocator
//! found". It is only built, never run (`.ci/run` builds it for thumbv7em-none-eabihf and
//! thumbv6m-none-eabi); `black_box` keeps the calls from being optimised out.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::panic::PanicInfo;

use drifting::{
    CloudView, Kernel, MeanShiftConfig, Negatives, ParticleBuffer, SinkhornConfig,
    SinkhornWorkspace, WeightedCloud, mean_shift_drift, sinkhorn_divergence,
};

const N: usize = 16;
const M: usize = 24;

#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// Fills a cloud with points on a small deterministic spiral.
fn fill<const CAP: usize>(cloud: &mut ParticleBuffer<2, CAP>, count: usize, shift: f32) -> bool {
    let mut ok = true;
    for i in 0..count {
        #[allow(clippy::cast_precision_loss)]
        let t = black_box(i as f32) * 0.37;
        let r = 0.1 + 0.02 * t;
        ok &= cloud
            .push([r * (1.0 - t * t / 2.0) + shift, r * t * (1.0 - t * t / 6.0)])
            .is_ok();
    }
    ok
}

fn run() -> f32 {
    let mut queries = ParticleBuffer::<2, N>::new();
    let mut data = ParticleBuffer::<2, M>::new();
    if !(fill(&mut queries, N, 0.0) && fill(&mut data, M, 0.5)) {
        return f32::NAN;
    }

    // A drift operator over a ParticleBuffer (structure of arrays) and a `&[[f32; 2]]` view.
    let mut points = [[0.0f32; 2]; M];
    for (p, q) in points.iter_mut().zip(data.view().points()) {
        *p = q;
    }
    let positives = CloudView::from_points(black_box(&points));
    let mut field = [0.0f32; 2 * N];
    let config = MeanShiftConfig::new(Kernel::laplace(0.3));
    if mean_shift_drift(
        &queries.view(),
        &positives,
        Negatives::Queries,
        &config,
        &mut field,
    )
    .is_err()
    {
        return f32::NAN;
    }

    // A Sinkhorn solve (the debiased divergence: three solves) in a stack workspace.
    let mut buffer = [0.0f32; SinkhornWorkspace::required_len(N, M)];
    let Ok(mut workspace) = SinkhornWorkspace::new(&mut buffer, N, M) else {
        return f32::NAN;
    };
    let sinkhorn = SinkhornConfig {
        blur: 0.1,
        ..SinkhornConfig::default()
    };
    let x = WeightedCloud::uniform(queries.view());
    let y = WeightedCloud::uniform(data.view());
    let divergence =
        sinkhorn_divergence(&x, &y, &sinkhorn, &mut workspace).map_or(f32::NAN, |d| d.value);
    field.iter().sum::<f32>() + divergence
}

/// Entry point (no runtime crate: this binary is linked, not run).
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    black_box(run());
    loop {
        core::hint::spin_loop();
    }
}
