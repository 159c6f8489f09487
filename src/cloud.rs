//! Point clouds: the borrowed [`CloudView`] every algorithm takes, and the fixed-capacity
//! [`ParticleBuffer`] for targets without a heap.
//!
//! Both store or view coordinates as *structure of arrays* when they can (one slice per
//! coordinate, lanes over particles); a `&[[f32; D]]` of points is viewed in place too, without a
//! copy. Hot loops read a cloud through a private accessor chosen once per call, so either layout
//! runs the same code.

use crate::engine::all_finite;
#[cfg(feature = "dense")]
use crate::engine::simd::{F32s, LANES};
use crate::error::Error;

/// A borrowed cloud of `len` points in `R^D`.
///
/// Build it from one slice per coordinate ([`CloudView::from_coordinates`], e.g. a `Vec<f32>`
/// per coordinate on the heap), from one coordinate-major buffer
/// ([`CloudView::from_coordinate_major`]), from a slice of points ([`CloudView::from_points`]), or
/// from a [`ParticleBuffer`]. Nothing is copied, so a cloud of any size on the heap feeds the
/// algorithms without touching the stack.
///
/// The three layouts of the same two points are the same cloud to every operator:
///
/// ```
/// use drifting::CloudView;
/// let points = [[0.0_f32, 1.0], [2.0, 3.0]];
/// let (xs, ys) = ([0.0_f32, 2.0], [1.0_f32, 3.0]);
/// let coordinate_major = [0.0_f32, 2.0, 1.0, 3.0]; // every x, then every y
///
/// let a = CloudView::from_points(&points);
/// let b = CloudView::from_coordinates([&xs, &ys])?;
/// let c = CloudView::<2>::from_coordinate_major(&coordinate_major, 2)?;
/// assert!(a.points().eq(b.points()) && b.points().eq(c.points()));
/// # Ok::<(), drifting::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct CloudView<'a, const D: usize> {
    layout: Layout<'a, D>,
    len: usize,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Layout<'a, const D: usize> {
    Coordinates(Coordinates<'a, D>),
    Points(&'a [[f32; D]]),
}

/// One slice per coordinate, each at least `len` long (checked when the view is built).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Coordinates<'a, const D: usize>(pub(crate) [&'a [f32]; D]);

/// Read access to the points of a cloud, implemented once per layout so that hot loops are
/// monomorphised for the layout they run on (see [`dispatch_points!`]).
pub(crate) trait Points<const D: usize>: Copy {
    /// Point `j`. `j < len` in every call the crate makes; an index past the end reads zeros
    /// rather than panicking.
    fn point(&self, j: usize) -> [f32; D];
    /// Copies the coordinates of points `start..start + TILE` (those that exist) into `tile`,
    /// coordinate-major: `tile[d][t]` is coordinate `d` of point `start + t`.
    fn fill_tile<const TILE: usize>(&self, start: usize, tile: &mut [[f32; TILE]; D]);
}

impl<const D: usize> Points<D> for Coordinates<'_, D> {
    #[inline(always)]
    fn point(&self, j: usize) -> [f32; D] {
        self.0.map(|c| c.get(j).copied().unwrap_or(0.0))
    }
    #[inline(always)]
    fn fill_tile<const TILE: usize>(&self, start: usize, tile: &mut [[f32; TILE]; D]) {
        for (row, column) in tile.iter_mut().zip(self.0.iter()) {
            match column.get(start..start + TILE) {
                Some(full) => row.copy_from_slice(full),
                None => {
                    let rest = column.get(start..).unwrap_or(&[]);
                    for (slot, &value) in row.iter_mut().zip(rest) {
                        *slot = value;
                    }
                }
            }
        }
    }
}

impl<const D: usize> Points<D> for &[[f32; D]] {
    #[inline(always)]
    fn point(&self, j: usize) -> [f32; D] {
        self.get(j).copied().unwrap_or([0.0; D])
    }
    #[inline(always)]
    fn fill_tile<const TILE: usize>(&self, start: usize, tile: &mut [[f32; TILE]; D]) {
        let source = self.get(start..).unwrap_or(&[]);
        for (t, point) in source.iter().take(TILE).enumerate() {
            for (row, &value) in tile.iter_mut().zip(point) {
                if let Some(slot) = row.get_mut(t) {
                    *slot = value;
                }
            }
        }
    }
}

/// Runs `$body` with `$p` bound to the layout-specific accessor of `$view`.
macro_rules! dispatch_points {
    ($view:expr, $p:ident => $body:expr) => {
        match $view.layout() {
            $crate::cloud::Layout::Coordinates($p) => $body,
            $crate::cloud::Layout::Points($p) => $body,
        }
    };
}
pub(crate) use dispatch_points;

impl<'a, const D: usize> CloudView<'a, D> {
    /// A view of `D` coordinate slices of equal length (`coords[d][j]` is coordinate `d` of
    /// point `j`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the slices differ in length.
    ///
    /// # Example
    /// ```
    /// use drifting::{CloudView, Error};
    /// let (xs, ys) = (vec![0.0_f32, 0.5, 1.0], vec![1.0_f32, 1.5, 2.0]); // e.g. on the heap
    /// let cloud = CloudView::from_coordinates([&xs, &ys])?;
    /// assert_eq!(cloud.point(1), Some([0.5, 1.5]));
    /// // Every coordinate slice must hold one value per point.
    /// let short = [0.0_f32; 2];
    /// assert!(matches!(
    ///     CloudView::from_coordinates([&xs, &short]),
    ///     Err(Error::ShapeMismatch { .. })
    /// ));
    /// # Ok::<(), drifting::Error>(())
    /// ```
    pub fn from_coordinates(coords: [&'a [f32]; D]) -> Result<Self, Error> {
        let len = coords.first().map_or(0, |c| c.len());
        if let Some(bad) = coords.iter().find(|c| c.len() != len) {
            return Err(Error::ShapeMismatch {
                input: "coordinates",
                expected: len,
                found: bad.len(),
            });
        }
        Ok(Self {
            layout: Layout::Coordinates(Coordinates(coords)),
            len,
        })
    }

    /// A view of a coordinate-major buffer of `len · D` values: coordinate `d` of point `j` at
    /// `data[d·len + j]` (the layout the drift operators write their output in).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `data.len() != len · D`.
    ///
    /// # Example
    /// A generator's batch and a drift's output are such buffers, viewed without a copy:
    ///
    /// ```
    /// use drifting::CloudView;
    /// // Three points in 2D: x coordinates first, then y coordinates.
    /// let data = [0.0_f32, 1.0, 2.0, 10.0, 11.0, 12.0];
    /// let cloud = CloudView::<2>::from_coordinate_major(&data, 3)?;
    /// assert_eq!(cloud.point(2), Some([2.0, 12.0]));
    /// assert!(CloudView::<2>::from_coordinate_major(&data, 2).is_err()); // 6 ≠ 2·2 values
    /// # Ok::<(), drifting::Error>(())
    /// ```
    pub fn from_coordinate_major(data: &'a [f32], len: usize) -> Result<Self, Error> {
        let expected = len.saturating_mul(D);
        if data.len() != expected {
            return Err(Error::ShapeMismatch {
                input: "coordinate-major data",
                expected,
                found: data.len(),
            });
        }
        let coords = core::array::from_fn(|d| data.get(d * len..(d + 1) * len).unwrap_or(&[]));
        Ok(Self {
            layout: Layout::Coordinates(Coordinates(coords)),
            len,
        })
    }

    /// A view of a slice of points, in place.
    ///
    /// `const`, so a fixed cloud (a calibration set, a target on a device) can be a `const` or
    /// a `static`:
    ///
    /// ```
    /// use drifting::CloudView;
    /// const TARGET: CloudView<'static, 2> = CloudView::from_points(&[[0.0, 0.0], [1.0, 0.0]]);
    /// assert_eq!(TARGET.len(), 2);
    /// assert_eq!(TARGET.points().last(), Some([1.0, 0.0]));
    /// ```
    #[must_use]
    pub const fn from_points(points: &'a [[f32; D]]) -> Self {
        Self {
            layout: Layout::Points(points),
            len: points.len(),
        }
    }

    /// Number of points.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the cloud has no point.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Point `j`, or `None` past the end.
    #[must_use]
    pub fn point(&self, j: usize) -> Option<[f32; D]> {
        (j < self.len).then(|| dispatch_points!(self, p => p.point(j)))
    }

    /// Iterates over the points in order.
    pub fn points(&self) -> impl Iterator<Item = [f32; D]> + '_ {
        (0..self.len).map(move |j| dispatch_points!(self, p => p.point(j)))
    }

    pub(crate) const fn layout(&self) -> Layout<'a, D> {
        self.layout
    }

    #[cfg(feature = "dense")]
    /// The points as token-major rows (`D` values per point): the slice of points itself, or the
    /// coordinate slices transposed into `buffer` (`len·D` values) in 8 × 8 blocks.
    pub(crate) fn token_major<'r>(&self, buffer: &'r mut [f32]) -> &'r [f32]
    where
        'a: 'r,
    {
        match self.layout {
            Layout::Points(p) => p.as_flattened(),
            Layout::Coordinates(Coordinates(c)) => {
                let n = self.len;
                for j0 in (0..n).step_by(LANES) {
                    let points = (n - j0).min(LANES);
                    for d0 in (0..D).step_by(LANES) {
                        let coords = (D - d0).min(LANES);
                        let block: [F32s; LANES] = core::array::from_fn(|k| {
                            let column = if k < coords { c.get(d0 + k) } else { None };
                            let values = column.and_then(|c| c.get(j0..)).unwrap_or(&[]);
                            match values.first_chunk::<LANES>() {
                                Some(v) => F32s::new(*v),
                                None => F32s::new(core::array::from_fn(|l| {
                                    values.get(l).copied().unwrap_or(0.0)
                                })),
                            }
                        });
                        let rows = F32s::transpose(block);
                        for (l, row) in rows.iter().enumerate().take(points) {
                            let start = (j0 + l) * D + d0;
                            if let Some(dst) = buffer.get_mut(start..start + coords) {
                                match dst.first_chunk_mut::<LANES>() {
                                    Some(whole) => *whole = row.to_array(),
                                    None => {
                                        for (o, v) in dst.iter_mut().zip(row.to_array()) {
                                            *o = v;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                buffer.get(..n * D).unwrap_or(&[])
            }
        }
    }

    /// Widens `bounds` (per coordinate `[min, max]`) to contain every point. The extremes are
    /// found in `f32` (exact) with eight lanes, then widened into the `f64` bounds.
    pub(crate) fn widen_bounds(&self, bounds: &mut [(f64, f64); D]) {
        use crate::engine::simd::{F32s, LANES};
        let widen = |bound: &mut (f64, f64), lo: f32, hi: f32| {
            if lo <= hi {
                bound.0 = bound.0.min(f64::from(lo));
                bound.1 = bound.1.max(f64::from(hi));
            }
        };
        match self.layout {
            Layout::Coordinates(Coordinates(c)) => {
                for (column, bound) in c.iter().zip(bounds.iter_mut()) {
                    let column = column.get(..self.len).unwrap_or(column);
                    let (chunks, tail) = column.as_chunks::<LANES>();
                    let (mut lo, mut hi) =
                        (F32s::splat(f32::INFINITY), F32s::splat(f32::NEG_INFINITY));
                    for c in chunks {
                        let v = F32s::new(*c);
                        lo = lo.fast_min(v);
                        hi = hi.fast_max(v);
                    }
                    let lo = tail
                        .iter()
                        .chain(lo.to_array().iter())
                        .fold(f32::INFINITY, |m, &v| m.min(v));
                    let hi = tail
                        .iter()
                        .chain(hi.to_array().iter())
                        .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                    widen(bound, lo, hi);
                }
            }
            Layout::Points(p) => {
                let mut lo = [f32::INFINITY; D];
                let mut hi = [f32::NEG_INFINITY; D];
                for point in p {
                    for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(point) {
                        *l = l.min(v);
                        *h = h.max(v);
                    }
                }
                for ((bound, l), h) in bounds.iter_mut().zip(lo).zip(hi) {
                    widen(bound, l, h);
                }
            }
        }
    }

    /// Checks the cloud is non-empty and finite.
    pub(crate) fn validate(&self, input: &'static str) -> Result<(), Error> {
        if self.is_empty() {
            return Err(Error::EmptyCloud { input });
        }
        self.validate_finite(input)
    }

    /// Checks every coordinate is finite (an empty cloud passes).
    pub(crate) fn validate_finite(&self, input: &'static str) -> Result<(), Error> {
        let finite = match self.layout {
            Layout::Coordinates(Coordinates(c)) => {
                c.iter().all(|s| all_finite(s.get(..self.len).unwrap_or(s)))
            }
            Layout::Points(p) => all_finite(p.as_flattened()),
        };
        if finite {
            Ok(())
        } else {
            Err(Error::NonFinite { input })
        }
    }
}

impl<'a, const D: usize> From<&'a [[f32; D]]> for CloudView<'a, D> {
    fn from(points: &'a [[f32; D]]) -> Self {
        Self::from_points(points)
    }
}

/// A fixed-capacity cloud of up to `CAP` points in `R^D`, stored as structure of arrays
/// (`D` arrays of `CAP` coordinates), with no heap.
///
/// `const fn new` lets it live in a `static` (e.g. in a microcontroller's `.bss`). `push` and
/// `extend` report overflow as [`Error::CapacityExceeded`] and leave the buffer unchanged.
///
/// ```
/// use drifting::{CloudView, ParticleBuffer};
/// let mut cloud = ParticleBuffer::<2, 4>::new();
/// cloud.push([0.0, 1.0])?;
/// cloud.extend_from_points(&[[2.0, 3.0], [4.0, 5.0]])?;
/// assert!(cloud.extend_from_points(&[[0.0; 2]; 2]).is_err()); // 5 > 4: nothing written
/// let view: CloudView<'_, 2> = cloud.view();
/// assert_eq!(view.len(), 3);
/// assert_eq!(view.point(2), Some([4.0, 5.0]));
/// assert_eq!(cloud.coordinate(1), Some(&[1.0, 3.0, 5.0][..])); // structure of arrays
/// # Ok::<(), drifting::Error>(())
/// ```
///
/// In a `static`, built at compile time (on a microcontroller, behind a
/// `critical_section::Mutex<RefCell<_>>` rather than `std`'s `Mutex`):
///
/// ```
/// use std::sync::Mutex;
/// use drifting::ParticleBuffer;
/// static PARTICLES: Mutex<ParticleBuffer<2, 256>> = Mutex::new(ParticleBuffer::new());
///
/// let mut particles = PARTICLES.lock().unwrap();
/// particles.push([0.25, -0.5])?;
/// assert_eq!((particles.len(), particles.capacity()), (1, 256));
/// # Ok::<(), drifting::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ParticleBuffer<const D: usize, const CAP: usize> {
    coords: [[f32; CAP]; D],
    len: usize,
}

impl<const D: usize, const CAP: usize> Default for ParticleBuffer<D, CAP> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const D: usize, const CAP: usize> ParticleBuffer<D, CAP> {
    /// An empty buffer.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            coords: [[0.0; CAP]; D],
            len: 0,
        }
    }

    /// The fixed capacity `CAP`.
    #[must_use]
    pub const fn capacity(&self) -> usize {
        CAP
    }

    /// Number of points held.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no point.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every point.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends one point.
    ///
    /// # Errors
    /// [`Error::CapacityExceeded`] when the buffer is full (the buffer is unchanged).
    pub fn push(&mut self, point: [f32; D]) -> Result<(), Error> {
        self.reserve(1)?;
        let j = self.len;
        for (column, value) in self.coords.iter_mut().zip(point) {
            if let Some(slot) = column.get_mut(j) {
                *slot = value;
            }
        }
        self.len += 1;
        Ok(())
    }

    /// Appends all `points`, or none of them.
    ///
    /// # Errors
    /// [`Error::CapacityExceeded`] when they do not all fit (the buffer is unchanged).
    pub fn extend_from_points(&mut self, points: &[[f32; D]]) -> Result<(), Error> {
        self.extend_from_view(&CloudView::from_points(points))
    }

    /// Appends every point of a view, or none of them.
    ///
    /// # Errors
    /// [`Error::CapacityExceeded`] when they do not all fit (the buffer is unchanged).
    pub fn extend_from_view(&mut self, cloud: &CloudView<'_, D>) -> Result<(), Error> {
        self.reserve(cloud.len())?;
        for (j, point) in (self.len..).zip(cloud.points()) {
            for (column, value) in self.coords.iter_mut().zip(point) {
                if let Some(slot) = column.get_mut(j) {
                    *slot = value;
                }
            }
        }
        self.len += cloud.len();
        Ok(())
    }

    /// Coordinate `d` of every point held, or `None` if `d ≥ D`.
    #[must_use]
    pub fn coordinate(&self, d: usize) -> Option<&[f32]> {
        self.coords.get(d).and_then(|c| c.get(..self.len))
    }

    /// A borrowed view of the points held.
    #[must_use]
    pub fn view(&self) -> CloudView<'_, D> {
        let coords = self
            .coords
            .each_ref()
            .map(|c| c.get(..self.len).unwrap_or(&[]));
        CloudView {
            layout: Layout::Coordinates(Coordinates(coords)),
            len: self.len,
        }
    }

    fn reserve(&self, extra: usize) -> Result<(), Error> {
        let required = self.len.saturating_add(extra);
        if required > CAP {
            Err(Error::CapacityExceeded {
                capacity: CAP,
                required,
            })
        } else {
            Ok(())
        }
    }
}
