//! Training on the core: the generator of `cases::train` trained from scratch with the crate's
//! `Trainer`, every buffer on the stack, compared with the same run on the host.
//!
//! Passes when (1) the sliced Wasserstein distance to the held-out sample falls at least
//! [`MIN_FALL`]× and (2) the final parameters, both SWDs and the first and last losses equal the
//! host's within [`TOLERANCE`] (relative). Training is chaotic: a one-ulp difference in any step
//! would grow over hundreds of steps far past `1e-5`, so passing (2) means the core and the
//! host follow the same trajectory; measured: bit-identical (error 0).

use crate::cases::train as case;
use crate::harness::{count, lib, Errors, Report, Test};

mod expected {
    include!(concat!(env!("OUT_DIR"), "/train_expected.rs"));
}

/// The requirement: SWD at the end at most a fifth of the SWD at step 0.
const MIN_FALL: f64 = 5.0;
const TOLERANCE: f32 = 1.0e-5;

// The setup of this core (the build script trains the same one on the host).
#[cfg(not(armv6m))]
const SETUP: case::Setup = case::M4F;
#[cfg(not(armv6m))]
const H: usize = case::M4F_HIDDEN;
#[cfg(armv6m)]
const SETUP: case::Setup = case::M0;
#[cfg(armv6m)]
const H: usize = case::M0_HIDDEN;

const PARAMETERS: usize = case::Net::<H>::PARAMETERS;
const WORKSPACE: usize = case::workspace_len::<H>(&SETUP);
const BATCH: usize = SETUP.batch;
/// The step whose instructions are reported (the first: nothing about a step's cost depends on
/// how far training has gone, except the data sampler's rejection-free draws).
const MEASURED_STEP: usize = 0;

pub const TESTS: &[Test] = &[("train_generator", train_generator)];

fn train_generator() -> Result<Report, &'static str> {
    let mut params = [0.0f32; PARAMETERS];
    let mut grads = [0.0f32; PARAMETERS];
    let mut m = [0.0f32; PARAMETERS];
    let mut v = [0.0f32; PARAMETERS];
    let mut workspace = [0.0f32; WORKSPACE];
    let mut data = [0.0f32; 2 * BATCH];
    let mut step_instructions = None;
    let (outcome, run_instructions) = count(|| {
        case::run::<H>(
            &SETUP,
            &mut params,
            &mut grads,
            &mut m,
            &mut v,
            &mut workspace,
            &mut data,
            &mut |index, step| {
                if index == MEASURED_STEP {
                    let (report, instructions) = count(step);
                    step_instructions = instructions;
                    report
                } else {
                    step()
                }
            },
        )
    });
    let outcome = lib(outcome)?;

    // One evaluation of the step's drift field alone, at the training size: the trained
    // generator's first batch of evaluation samples against the last data batch.
    let (work, rest) = workspace.split_at_mut(WORKSPACE - 4 * BATCH - case::drift_scratch_len(&SETUP));
    let (samples, rest) = rest.split_at_mut(2 * BATCH);
    let (field, scratch) = rest.split_at_mut(2 * BATCH);
    lib(case::generate::<H>(&SETUP, &params, work, samples))?;
    let (result, drift_instructions) = count(|| case::drift(&SETUP, samples, &data, scratch, field));
    lib(result)?;

    let fall = outcome.swd_start / outcome.swd_end;
    let buffers = 4 * (4 * PARAMETERS + WORKSPACE + 2 * BATCH);
    cortex_m_semihosting::hprintln!(
        "    {} steps of Mlp<2, {}, 2> on {} (batch {}, tau {}, lr {}): SWD {:.4} -> {:.4} ({:.2}x fall, need {}x; {} vs {} samples, {} directions); loss {:.3e} -> {:.3e}",
        outcome.steps,
        H,
        SETUP.dataset.name(),
        BATCH,
        SETUP.temperatures[0],
        SETUP.learning_rate,
        outcome.swd_start,
        outcome.swd_end,
        fall,
        MIN_FALL,
        SETUP.eval,
        SETUP.eval,
        SETUP.directions,
        outcome.loss_first,
        outcome.loss_last
    );
    cortex_m_semihosting::hprintln!(
        "    instructions: one training step {}, one drift evaluation ({} x {}) {}, whole run (2 SWD evaluations + {} steps) {}; buffers {} B",
        step_instructions.unwrap_or(0),
        BATCH,
        BATCH,
        drift_instructions.unwrap_or(0),
        outcome.steps,
        run_instructions.unwrap_or(0),
        buffers
    );
    if !(fall >= MIN_FALL) {
        return Err("the sliced Wasserstein distance fell less than 5x");
    }
    if outcome.steps != expected::STEPS {
        return Err("step count differs from the host's");
    }
    #[allow(clippy::cast_possible_truncation)] // compared as f32, relative to their own scale
    let mut errors = Errors::new();
    errors
        .field(&params, &expected::PARAMS_END)
        .scalar(outcome.swd_start as f32, expected::SWD_START as f32, 0.0)
        .scalar(outcome.swd_end as f32, expected::SWD_END as f32, 0.0)
        .scalar(outcome.loss_first, expected::LOSS_FIRST, 0.0)
        .scalar(outcome.loss_last, expected::LOSS_LAST, 0.0);
    Ok(errors.report(TOLERANCE, step_instructions))
}
