//! Spatial ordering on arbitrary clouds: `MortonOrder::sort` and `tile_boxes` never panic; for
//! valid input the order is a permutation, every tile box holds its points and the box-to-box
//! bounds enclose the squared distance of every pair; non-finite points are `NonFinite`.
#![no_main]

use arbitrary::Unstructured;
use drifting::Error;
use drifting::spatial::{BoundingBox, MortonOrder, tile_boxes};
use drifting_fuzz::cloud;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(points) = cloud::<3>(&mut u, 64) else {
        return;
    };
    let Ok(tile) = u.int_in_range(0usize..=9) else {
        return;
    };
    let mut buffer = vec![0_u64; points.len()];
    let order = match MortonOrder::sort(&points, &mut buffer) {
        Ok(order) => order,
        Err(Error::EmptyCloud { .. }) => {
            assert!(points.is_empty());
            return;
        }
        Err(Error::NonFinite { .. }) => {
            assert!(points.iter().flatten().any(|v| !v.is_finite()));
            return;
        }
        Err(e) => panic!("unexpected error {e:?}"),
    };
    let mut seen = vec![false; points.len()];
    for i in order.indices() {
        assert!(!std::mem::replace(&mut seen[i], true), "index {i} twice");
    }
    let empty = BoundingBox {
        min: [0.0; 3],
        max: [0.0; 3],
        count: 0,
    };
    if tile == 0 {
        let mut boxes = vec![empty; 1];
        assert_eq!(
            tile_boxes(&points, &order, 0, &mut boxes),
            Err(Error::InvalidParameter { input: "tile" })
        );
        return;
    }
    let mut boxes = vec![empty; points.len().div_ceil(tile)];
    tile_boxes(&points, &order, tile, &mut boxes).unwrap();
    let members =
        |t: usize| (t * tile..((t + 1) * tile).min(points.len())).map(|k| order.index(k).unwrap());
    for (s, a) in boxes.iter().enumerate() {
        for (t, b) in boxes.iter().enumerate() {
            let (lower, upper) = a.squared_distance_bounds(b);
            assert!(lower <= upper);
            for i in members(s) {
                for j in members(t) {
                    let exact: f64 = points[i]
                        .iter()
                        .zip(&points[j])
                        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
                        .sum();
                    assert!(f64::from(lower) <= exact, "{lower} > {exact}");
                    assert!(
                        exact <= f64::from(upper) || upper == f32::MAX,
                        "{exact} > {upper}"
                    );
                }
            }
        }
    }
});
