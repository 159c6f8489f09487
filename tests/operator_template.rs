//! The shared test template of the drift operators: every operator of the registry
//! ([`DriftField::CATALOGUE`]) goes through the same checks, through the [`DriftOperator`]
//! interface, so that a new operator is tested by adding its registry line.
//!
//! Per operator, in 2 and 3 dimensions:
//! - **accuracy**: against the plain `f64` reference of `tests/reference/mod.rs` where the
//!   operator has one here (mean shift, two-axis, multi-temperature: relative error below `1e-5`
//!   of the field's largest value); the MMD flow and the sliced flow are checked against their
//!   references in `tests/drift_flows.rs`, the Sinkhorn drifts against POT/GeomLoss in
//!   `tests/sinkhorn_reference.rs`;
//! - **laws**: translating every cloud leaves the field unchanged, permuting the queries permutes
//!   it (both within `1e-4` of the field's largest value; `2e-3` for the Sinkhorn drift, whose
//!   solve stops at a marginal tolerance), the field is finite;
//! - **registry**: [`DriftField::evaluate`] is the operator's run (summed over temperatures
//!   where it takes each), bit for bit;
//! - **workspace**: the length the operator asks for is enough and one value less is refused
//!   naming the buffer; clouds of another shape are refused;
//! - **errors**: non-finite points, empty clouds, a wrong output length, a separate negative
//!   cloud for the operators that take the queries as negatives: typed errors, no panic;
//! - **determinism** (feature `std`): pools of 1, 2 and 3 threads give the same bits.
#![allow(clippy::cast_precision_loss)]

use crate::reference;

use drifting::sample::fill_standard_normal;
use drifting::{
    CloudView, DriftField, DriftOperator, DriftShape, DriftWorkspace, Error, KernelFamily,
    Negatives, OperatorVisitor, TemperatureUse,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use reference::{Points, RefKernel, RefMask};

const N: usize = 24;
const P: usize = 20;
const T: f32 = 0.4;

fn cloud<const D: usize>(seed: u64, n: usize, shift: f32) -> Vec<[f32; D]> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut flat = vec![0.0_f32; n * D];
    fill_standard_normal(&mut rng, &mut flat);
    flat.chunks_exact(D)
        .map(|c| core::array::from_fn(|d| 0.5 * c[d] + shift))
        .collect()
}

fn rng() -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(11)
}

fn max_abs(values: &[f32]) -> f32 {
    values.iter().fold(0.0_f32, |m, v| m.max(v.abs()))
}

fn to_ref<const D: usize>(points: &[[f32; D]]) -> Points {
    points
        .iter()
        .map(|p| p.iter().map(|&c| f64::from(c)).collect())
        .collect()
}

/// The tolerance of the laws, relative to the field's largest value.
fn law_tolerance(name: &str) -> f32 {
    if name == "Sinkhorn drift" {
        2.0e-3
    } else {
        1.0e-4
    }
}

/// Runs `operator` on these clouds with a fresh workspace of exactly its length.
fn run<O: DriftOperator, const D: usize>(
    operator: &O,
    x: &[[f32; D]],
    y: &[[f32; D]],
) -> Result<Vec<f32>, Error> {
    let (qx, qy) = (CloudView::from_points(x), CloudView::from_points(y));
    let shape = DriftShape::of(&qx, &qy, Negatives::Queries);
    let mut buffer = vec![0.0; operator.workspace_len(&shape).expect("fits usize")];
    let mut out = vec![0.0; x.len() * D];
    operator.run(
        &qx,
        &qy,
        Negatives::Queries,
        &mut rng(),
        &mut buffer,
        &mut out,
    )?;
    Ok(out)
}

/// The checks of one operator, generic over it.
struct Template<'a, const D: usize> {
    field: &'a DriftField,
    x: &'a [[f32; D]],
    y: &'a [[f32; D]],
}

impl<const D: usize> OperatorVisitor<'_> for Template<'_, D> {
    type Output = ();

    fn visit<O: DriftOperator, F: Fn(f32) -> O>(self, usage: TemperatureUse, operator_at: F) {
        let Self { field, x, y } = self;
        let operator = operator_at(T);
        let name = O::NAME;
        assert_eq!(name, field.name());
        let field_values = run(&operator, x, y).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(field_values.iter().all(|v| v.is_finite()), "{name}: finite");
        let scale = max_abs(&field_values);
        assert!(scale > 0.0, "{name}: a non-zero field on distinct clouds");
        let tolerance = law_tolerance(name) * scale;

        // Translation: only displacements count.
        let shift = |p: &[f32; D]| -> [f32; D] { core::array::from_fn(|d| p[d] + 3.0 - d as f32) };
        let (xs, ys): (Vec<_>, Vec<_>) =
            (x.iter().map(shift).collect(), y.iter().map(shift).collect());
        let moved = run(&operator, &xs, &ys).expect("translated");
        let worst = moved
            .iter()
            .zip(&field_values)
            .fold(0.0_f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            worst <= tolerance,
            "{name} D={D}: translation moves the field by {worst:e} (scale {scale:e})"
        );

        // Permutation of the queries (a rotation by 5): the field is permuted the same way. The
        // sliced flow ranks the projections, so a permutation changes only tie-breaking: none
        // here (continuous clouds).
        let n = x.len();
        let rotated: Vec<[f32; D]> = (0..n).map(|i| x[(i + 5) % n]).collect();
        let permuted = run(&operator, &rotated, y).expect("permuted");
        let mut worst = 0.0_f32;
        for i in 0..n {
            for d in 0..D {
                worst = worst.max((permuted[d * n + i] - field_values[d * n + (i + 5) % n]).abs());
            }
        }
        assert!(
            worst <= tolerance,
            "{name} D={D}: permutation error {worst:e} (scale {scale:e})"
        );

        // Registry: the field's evaluation is the operator's run, bit for bit.
        let temperatures = [T, 2.5 * T];
        let (qx, qy) = (CloudView::from_points(x), CloudView::from_points(y));
        let mut scratch = vec![0.0; field.workspace_len(n, y.len(), D)];
        let mut evaluated = vec![0.0; n * D];
        let used = match usage {
            TemperatureUse::EachSummed => &temperatures[..],
            TemperatureUse::All => &temperatures[..],
            TemperatureUse::First | TemperatureUse::Unused => &temperatures[..1],
        };
        field
            .evaluate(used, &mut rng(), &qx, &qy, &mut scratch, &mut evaluated)
            .unwrap_or_else(|e| panic!("{name}: evaluate {e:?}"));
        let expected: Vec<f32> = match usage {
            TemperatureUse::EachSummed => {
                let a = run(&operator_at(temperatures[0]), x, y).expect("first");
                let b = run(&operator_at(temperatures[1]), x, y).expect("second");
                a.iter().zip(&b).map(|(a, b)| a + b).collect()
            }
            // The multi-temperature operator holds the list the field was visited with.
            TemperatureUse::All => {
                let mut out = vec![0.0; n * D];
                field.visit(
                    used,
                    RunAll {
                        x,
                        y,
                        out: &mut out,
                    },
                );
                out
            }
            TemperatureUse::First | TemperatureUse::Unused => {
                run(&operator_at(T), x, y).expect("run")
            }
        };
        let differing = evaluated
            .iter()
            .zip(&expected)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        assert_eq!(
            differing, 0,
            "{name}: DriftField::evaluate differs from the operator's run"
        );

        // Workspace: enough, one value less refused naming it, other shapes refused.
        let shape = DriftShape::of(&qx, &qy, Negatives::Queries);
        let len = operator.workspace_len(&shape).expect("fits usize");
        let mut buffer = vec![0.0; len];
        let mut out = vec![0.0; n * D];
        let mut workspace = DriftWorkspace::new(operator, shape, &mut buffer).expect("workspace");
        workspace
            .run(&qx, &qy, Negatives::Queries, &mut rng(), &mut out)
            .expect("workspace run");
        assert_eq!(out, field_values, "{name}: the workspace runs the operator");
        let other = CloudView::from_points(&y[..y.len() - 1]);
        assert!(matches!(
            workspace.run(&qx, &other, Negatives::Queries, &mut rng(), &mut out),
            Err(Error::ShapeMismatch {
                input: "positives",
                ..
            })
        ));
        if len > 0 {
            let mut short = vec![0.0; len - 1];
            let refused = DriftWorkspace::new(operator, shape, &mut short).err();
            assert_eq!(
                refused,
                Some(Error::ScratchTooSmall {
                    input: "workspace",
                    required: len,
                    provided: len - 1
                }),
                "{name}"
            );
        }

        // Errors: typed, never a panic or a silent NaN.
        let mut bad = x.to_vec();
        bad[3][0] = f32::NAN;
        assert!(
            matches!(run(&operator, &bad, y), Err(Error::NonFinite { .. })),
            "{name}: NaN"
        );
        bad[3][0] = f32::INFINITY;
        assert!(
            matches!(run(&operator, &bad, y), Err(Error::NonFinite { .. })),
            "{name}: ∞"
        );
        assert!(run(&operator, x, &[]).is_err(), "{name}: no positives");
        assert!(run(&operator, &[], y).is_err(), "{name}: no queries");
        let mut wrong = vec![0.0; n * D + 1];
        let mut buffer = vec![0.0; len];
        assert!(
            matches!(
                operator.run(
                    &qx,
                    &qy,
                    Negatives::Queries,
                    &mut rng(),
                    &mut buffer,
                    &mut wrong
                ),
                Err(Error::ShapeMismatch { input: "out", .. })
            ),
            "{name}: output length"
        );
        let negatives = Negatives::Cloud(qy);
        let shape = DriftShape::of(&qx, &qy, negatives);
        let mut buffer = vec![0.0; operator.workspace_len(&shape).expect("fits usize")];
        let separate = operator.run(&qx, &qy, negatives, &mut rng(), &mut buffer, &mut out);
        if O::SEPARATE_NEGATIVES {
            // Negatives equal to the positives: attraction and repulsion cancel.
            separate.expect("separate negatives");
            assert!(
                max_abs(&out) <= 1.0e-4 * scale,
                "{name}: p = q gives no field"
            );
        } else {
            assert_eq!(
                separate,
                Err(Error::InvalidParameter { input: "negatives" }),
                "{name}"
            );
        }

        // Determinism across thread counts.
        #[cfg(feature = "std")]
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let again = pool.install(|| run(&operator, x, y)).expect("pool run");
            let same = again
                .iter()
                .zip(&field_values)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{name}: {threads} threads give other bits");
        }
    }
}

/// Runs the operator of a [`TemperatureUse::All`] field into `out`.
struct RunAll<'a, const D: usize> {
    x: &'a [[f32; D]],
    y: &'a [[f32; D]],
    out: &'a mut Vec<f32>,
}

impl<const D: usize> OperatorVisitor<'_> for RunAll<'_, D> {
    type Output = ();
    fn visit<O: DriftOperator, F: Fn(f32) -> O>(self, _: TemperatureUse, operator_at: F) {
        *self.out = run(&operator_at(T), self.x, self.y).expect("run");
    }
}

fn check_every_operator<const D: usize>() {
    let x = cloud::<D>(1, N, 0.0);
    let y = cloud::<D>(2, P, 0.6);
    for field in DriftField::CATALOGUE {
        field.visit(
            &[T],
            Template {
                field,
                x: &x,
                y: &y,
            },
        );
    }
}

#[test]
fn every_operator_passes_the_template_in_2d() {
    check_every_operator::<2>();
}

#[test]
fn every_operator_passes_the_template_in_3d() {
    check_every_operator::<3>();
}

/// The plain `f64` reference of a catalogue field at temperature `T`, where one lives in
/// `tests/reference/mod.rs`.
fn reference_field(field: &DriftField, x: &Points, y: &Points) -> Option<Points> {
    let kernel = |family: KernelFamily| match family {
        KernelFamily::Laplace => RefKernel::Laplace(f64::from(T)),
        KernelFamily::Gaussian => RefKernel::Gaussian(f64::from(T)),
    };
    match *field {
        DriftField::MeanShift(family) => {
            Some(reference::mean_shift(x, y, None, kernel(family), 1.0, true))
        }
        DriftField::TwoAxis(family, mask) => {
            let mask = match mask {
                drifting::SelfMask::Exclude => RefMask::Exclude,
                drifting::SelfMask::AddDistance(d) => RefMask::AddDistance(f64::from(d)),
            };
            Some(reference::two_axis(x, y, None, kernel(family), mask))
        }
        DriftField::MultiTemperature {
            affinity_floor,
            self_mask_distance,
        } => Some(
            reference::multi_temperature(
                x,
                y,
                &[f64::from(T)],
                f64::from(affinity_floor),
                f64::from(self_mask_distance),
                &vec![1.0; x.len()],
                &vec![1.0; y.len()],
            )
            .force,
        ),
        _ => None,
    }
}

fn accuracy<const D: usize>() -> usize {
    let x = cloud::<D>(3, N, 0.0);
    let y = cloud::<D>(4, P, 0.6);
    let (qx, qy) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let mut checked = 0;
    for field in DriftField::CATALOGUE {
        let Some(want) = reference_field(field, &to_ref(&x), &to_ref(&y)) else {
            continue;
        };
        let mut scratch = vec![0.0; field.workspace_len(N, P, D)];
        let mut got = vec![0.0; N * D];
        field
            .evaluate(&[T], &mut rng(), &qx, &qy, &mut scratch, &mut got)
            .expect("evaluate");
        let scale = want.iter().flatten().fold(0.0_f64, |m, v| m.max(v.abs()));
        let mut worst = 0.0_f64;
        for (i, point) in want.iter().enumerate() {
            for (d, v) in point.iter().enumerate() {
                worst = worst.max((f64::from(got[d * N + i]) - v).abs());
            }
        }
        assert!(
            worst <= 1.0e-5 * scale,
            "{field:?} D={D}: error {:e} of the scale",
            worst / scale
        );
        checked += 1;
    }
    checked
}

#[test]
fn operators_with_an_f64_reference_match_it() {
    assert_eq!(accuracy::<2>(), 5);
    assert_eq!(accuracy::<3>(), 5);
}
