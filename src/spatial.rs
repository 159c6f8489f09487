//! Spatial ordering of low-dimensional clouds: a Morton (Z-order) permutation, tiles of
//! consecutive points in that order with their bounding boxes, and certified bounds of the
//! squared distance between any point of one box and any point of another.
//!
//! These are the first pieces of tile pruning for large 2D/3D clouds (a pair of tiles whose
//! smallest possible distance makes every kernel value negligible is skipped, with an error bound
//! that follows from [`BoundingBox::squared_distance_bounds`]). They do not allocate: the
//! permutation lives in a caller buffer of `u64` ([`MortonOrder::sort`]), the boxes in a caller
//! slice ([`tile_boxes`]); the points themselves are never moved, so every result can be returned
//! in the caller's order.
//!
//! **Morton order.** Each coordinate is quantised over the cube of the bounding box's largest
//! extent (one scale for every axis, so the cells are cubes) to `⌊32/D⌋` bits (`D ≤ 32`: 16 bits
//! per axis in 2D, 10 in 3D), the bits are interleaved into a 32-bit key (coordinate 0 in the
//! lowest bit of each group), and the points are sorted by `(key, index)`. Consecutive runs of
//! `2^{kD}` keys are the points of one cell of a `2^k`-grid, so a run of points in this order lies
//! in a few neighbouring cells: tiles are compact, which is what makes their boxes small. The key's
//! precision only affects that compactness, never the bounds, which come from the points
//! themselves.

use crate::error::Error;

/// The most points [`MortonOrder::sort`] accepts (indices are stored in 32 bits).
pub const MAX_ORDERED_POINTS: usize = u32::MAX as usize;

/// Bits of the Morton key per coordinate in dimension `dim` (`⌊32/dim⌋`, 0 past 32 axes).
#[must_use]
pub const fn key_bits(dim: usize) -> u32 {
    if dim == 0 || dim > 32 {
        0
    } else {
        (32 / dim) as u32
    }
}

/// A Morton order of a cloud: entry `k` is the index of the `k`-th point in Z-order. Borrowed
/// from the caller's buffer (`(key << 32) | index` per point, sorted).
#[derive(Debug)]
pub struct MortonOrder<'a> {
    entries: &'a [u64],
}

impl<'a> MortonOrder<'a> {
    /// Sorts `points` into Morton order in `buffer` (exactly one `u64` per point): `O(N log N)`,
    /// no allocation, deterministic (ties of the key are broken by index).
    ///
    /// # Errors
    /// [`Error::EmptyCloud`] for no points; [`Error::InvalidParameter`] (`"dimension"`) for
    /// `D = 0` or `D > 32`; [`Error::CapacityExceeded`] above [`MAX_ORDERED_POINTS`];
    /// [`Error::ShapeMismatch`] (`"buffer"`) when `buffer.len() ≠ N`; [`Error::NonFinite`]
    /// (`"points"`) for a NaN or infinite coordinate.
    pub fn sort<const D: usize>(points: &[[f32; D]], buffer: &'a mut [u64]) -> Result<Self, Error> {
        let n = points.len();
        if n == 0 {
            return Err(Error::EmptyCloud { input: "points" });
        }
        let bits = key_bits(D);
        if bits == 0 {
            return Err(Error::InvalidParameter { input: "dimension" });
        }
        if n > MAX_ORDERED_POINTS {
            return Err(Error::CapacityExceeded {
                capacity: MAX_ORDERED_POINTS,
                required: n,
            });
        }
        if buffer.len() != n {
            return Err(Error::ShapeMismatch {
                input: "buffer",
                expected: n,
                found: buffer.len(),
            });
        }
        let Some(bounds) = BoundingBox::of(points.iter()) else {
            return Err(Error::NonFinite { input: "points" });
        };
        // Cells per axis minus one, and the scale from coordinates to cells (f64: exact enough
        // for 16 bits, and no overflow for any finite extent). One scale for every axis, from
        // the largest extent: the cells are cubes, so a run of points is compact in every
        // direction (per-axis scales made flat cells on a flat cloud: on a torus of extent
        // 8 × 8 × 2 with 262 144 points, the median box diagonal of 64 consecutive points was
        // 12.3 τ at τ = 0.05, 9.3 τ with cubes).
        #[allow(clippy::cast_precision_loss)]
        let top = ((1_u64 << bits) - 1) as f64;
        let extent = bounds
            .min
            .iter()
            .zip(&bounds.max)
            .map(|(&lo, &hi)| f64::from(hi) - f64::from(lo))
            .fold(0.0, f64::max);
        let scales = [if extent > 0.0 { top / extent } else { 0.0 }; D];
        for ((slot, point), index) in buffer.iter_mut().zip(points).zip(0_u64..) {
            let mut key = 0_u64;
            for (d, ((&x, &scale), &lo)) in point.iter().zip(&scales).zip(&bounds.min).enumerate() {
                let cell = ((f64::from(x) - f64::from(lo)) * scale).clamp(0.0, top);
                // `cell` is in [0, 2^bits − 1]: the truncation is exact.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let cell = cell as u64;
                key |= spread(cell, bits, D) << d;
            }
            *slot = (key << 32) | index;
        }
        buffer.sort_unstable();
        Ok(Self { entries: buffer })
    }

    /// Number of points.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the order is empty (never, for an order returned by [`sort`](Self::sort)).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The index of the `k`-th point in Morton order (`None` past the end).
    #[must_use]
    pub fn index(&self, k: usize) -> Option<usize> {
        self.entries.get(k).map(|&e| (e & 0xFFFF_FFFF) as usize)
    }

    /// The indices in Morton order.
    pub fn indices(&self) -> impl ExactSizeIterator<Item = usize> + '_ {
        self.entries.iter().map(|&e| (e & 0xFFFF_FFFF) as usize)
    }
}

/// The low `bits` bits of `value` spread `stride` apart (bit `b` moves to bit `b·stride`).
#[inline]
fn spread(value: u64, bits: u32, stride: usize) -> u64 {
    let mut out = 0_u64;
    for b in 0..bits as usize {
        out |= ((value >> b) & 1) << (b * stride);
    }
    out
}

/// The axis-aligned bounding box of a set of points (each coordinate's minimum and maximum) and
/// the number of points in it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoundingBox<const D: usize> {
    /// Smallest coordinate per axis.
    pub min: [f32; D],
    /// Largest coordinate per axis.
    pub max: [f32; D],
    /// Number of points the box was made of.
    pub count: usize,
}

impl<const D: usize> BoundingBox<D> {
    /// The box of `points`; `None` when there are none or one coordinate is not finite.
    pub fn of<'p>(points: impl Iterator<Item = &'p [f32; D]>) -> Option<Self> {
        let mut out = Self {
            min: [f32::INFINITY; D],
            max: [f32::NEG_INFINITY; D],
            count: 0,
        };
        for p in points {
            for ((lo, hi), &x) in out.min.iter_mut().zip(out.max.iter_mut()).zip(p) {
                if !x.is_finite() {
                    return None;
                }
                *lo = lo.min(x);
                *hi = hi.max(x);
            }
            out.count += 1;
        }
        (out.count > 0).then_some(out)
    }

    /// Certified bounds `(lower, upper)` of `‖a − b‖²` over every point `a` in `self` and `b` in
    /// `other`: per axis the gap between the intervals (0 when they overlap) and the largest
    /// distance between their ends, squared and summed in `f64` (the differences of two `f32` are
    /// exact there, the squares too), then rounded outward to `f32` with a margin for the `f64`
    /// additions. So `lower ≤ ‖a − b‖² ≤ upper` holds for the exact squared distance of every pair,
    /// hence also for any faithfully rounded one within the same margin. Lower bounds are 0 for
    /// overlapping boxes; the upper bound saturates at `f32::MAX`.
    #[must_use]
    pub fn squared_distance_bounds(&self, other: &Self) -> (f32, f32) {
        let (mut lower, mut upper) = (0.0_f64, 0.0_f64);
        let axes = self
            .min
            .iter()
            .zip(&self.max)
            .zip(other.min.iter().zip(&other.max));
        for ((&a_lo, &a_hi), (&b_lo, &b_hi)) in axes {
            let (a_lo, a_hi) = (f64::from(a_lo), f64::from(a_hi));
            let (b_lo, b_hi) = (f64::from(b_lo), f64::from(b_hi));
            let gap = (b_lo - a_hi).max(a_lo - b_hi).max(0.0);
            let span = (b_hi - a_lo).max(a_hi - b_lo);
            lower += gap * gap;
            upper += span * span;
        }
        // D additions in f64: relative error below D·2^−53; widen by 2^−40 (far above it).
        let margin = 1.0 / (1_u64 << 40) as f64;
        (
            round_down(lower * (1.0 - margin)),
            round_up(upper * (1.0 + margin)),
        )
    }
}

/// The largest `f32` not above `v` (`v` itself when infinite or NaN; never negative for
/// `v ≥ 0`: the step down from a positive `f32` ends at 0 at worst).
pub(crate) fn round_down(v: f64) -> f32 {
    #[allow(clippy::cast_possible_truncation)]
    let f = v as f32;
    if f64::from(f) > v { f.next_down() } else { f }
}

/// The smallest `f32` not below `v ≥ 0` (`f32::MAX` when `v` exceeds it).
fn round_up(v: f64) -> f32 {
    #[allow(clippy::cast_possible_truncation)]
    let f = v as f32;
    if !f.is_finite() {
        return f32::MAX;
    }
    if f64::from(f) < v {
        f.next_up().min(f32::MAX)
    } else {
        f
    }
}

/// The bounding boxes of the tiles of `tile` consecutive points in `order` (the last tile may be
/// shorter) into `boxes`, which must hold exactly `⌈N/tile⌉` entries.
///
/// # Errors
/// [`Error::InvalidParameter`] (`"tile"`) for `tile = 0`; [`Error::ShapeMismatch`] (`"points"`)
/// when `order` was made for another number of points, (`"boxes"`) when `boxes` has the wrong
/// length; [`Error::NonFinite`] (`"points"`) for a non-finite coordinate.
pub fn tile_boxes<const D: usize>(
    points: &[[f32; D]],
    order: &MortonOrder<'_>,
    tile: usize,
    boxes: &mut [BoundingBox<D>],
) -> Result<(), Error> {
    if tile == 0 {
        return Err(Error::InvalidParameter { input: "tile" });
    }
    if order.len() != points.len() {
        return Err(Error::ShapeMismatch {
            input: "points",
            expected: order.len(),
            found: points.len(),
        });
    }
    let tiles = points.len().div_ceil(tile);
    if boxes.len() != tiles {
        return Err(Error::ShapeMismatch {
            input: "boxes",
            expected: tiles,
            found: boxes.len(),
        });
    }
    for (t, slot) in boxes.iter_mut().enumerate() {
        let members = order
            .entries
            .get(t * tile..((t + 1) * tile).min(order.len()))
            .unwrap_or(&[])
            .iter()
            .filter_map(|&e| points.get((e & 0xFFFF_FFFF) as usize));
        *slot = BoundingBox::of(members).ok_or(Error::NonFinite { input: "points" })?;
    }
    Ok(())
}
