//! Every operator of the registry (`DriftField::CATALOGUE`) through `DriftField::evaluate` and
//! the `DriftOperator` interface (`DriftWorkspace`): fuzzed clouds in 2D, fuzzed temperatures
//! (including zero, negative, non-finite and extreme ones), short workspaces and separate
//! negative clouds. Contract: a typed error, or a finite field; never a panic.
#![no_main]

use arbitrary::Unstructured;
use drifting::{
    CloudView, DriftField, DriftOperator, DriftShape, DriftWorkspace, Negatives, OperatorVisitor,
    SinkhornConfig, TemperatureUse,
};
use drifting_fuzz::{cloud, scale};
use libfuzzer_sys::fuzz_target;
use rand_core::SeedableRng;

/// Runs the visited operator at `t` through a workspace of the fuzzed length.
struct Through<'a> {
    t: f32,
    x: &'a [[f32; 2]],
    y: &'a [[f32; 2]],
    separate: bool,
    short: bool,
}

impl OperatorVisitor<'_> for Through<'_> {
    type Output = ();
    fn visit<O: DriftOperator, F: Fn(f32) -> O>(self, _: TemperatureUse, operator_at: F) {
        let (qx, qy) = (
            CloudView::from_points(self.x),
            CloudView::from_points(self.y),
        );
        let negatives = if self.separate {
            Negatives::Cloud(qy)
        } else {
            Negatives::Queries
        };
        let operator = operator_at(self.t);
        let shape = DriftShape::of(&qx, &qy, negatives);
        let Some(len) = operator.workspace_len(&shape) else {
            return;
        };
        let mut buffer = vec![
            0.0;
            if self.short {
                len.saturating_sub(1)
            } else {
                len
            }
        ];
        let Ok(mut workspace) = DriftWorkspace::new(operator, shape, &mut buffer) else {
            return;
        };
        let mut out = vec![0.0; self.x.len() * 2];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        if workspace
            .run(&qx, &qy, negatives, &mut rng, &mut out)
            .is_ok()
        {
            assert!(
                out.iter().all(|v| v.is_finite()),
                "{}: non-finite field",
                O::NAME
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(x), Ok(y), Ok(pick), Ok(count), Ok(t0), Ok(t1), Ok(separate), Ok(short)) = (
        cloud::<2>(&mut u, 32),
        cloud::<2>(&mut u, 32),
        u.int_in_range(0..=DriftField::CATALOGUE.len() - 1),
        u.int_in_range(0usize..=3),
        scale(&mut u),
        scale(&mut u),
        u.arbitrary::<bool>(),
        u.ratio(1u8, 8u8),
    ) else {
        return;
    };
    let field = match DriftField::CATALOGUE[pick] {
        // Hostile clouds need not converge: cap the solve.
        DriftField::Sinkhorn(config) => DriftField::Sinkhorn(SinkhornConfig {
            max_iterations: 5,
            ..config
        }),
        other => other,
    };
    let temperatures = [t0, t1, t0 * t1];
    let temperatures = &temperatures[..count];
    let (qx, qy) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let len = field.workspace_len(x.len(), y.len(), 2);
    if len < (1 << 20) {
        let mut scratch = vec![0.0; if short { len.saturating_sub(1) } else { len }];
        let mut out = vec![0.0; x.len() * 2];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(0);
        if field
            .evaluate(temperatures, &mut rng, &qx, &qy, &mut scratch, &mut out)
            .is_ok()
        {
            assert!(
                out.iter().all(|v| v.is_finite()),
                "{field:?}: non-finite field"
            );
        }
    }
    field.visit(
        temperatures,
        Through {
            t: t0,
            x: &x,
            y: &y,
            separate,
            short,
        },
    );
});
