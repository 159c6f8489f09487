//! Row chunks: the one fixed partition of a lane cloud that the serial loop and the parallel
//! driver share.
//!
//! Every pair reduction of the crate produces one value (or one `D`-vector) per particle of its
//! lane cloud, computed by a [`Block`](crate::engine::Block) of [`LANES`] particles that sweeps
//! the whole partner cloud. The lane cloud is cut into chunks of [`CHUNK`] particles (a multiple
//! of [`LANES`], so the blocks inside a chunk start exactly where the blocks of an unchunked loop
//! start); a chunk is the unit of work, run serially in index order ([`Exec::Serial`], the
//! `no_std` core) or handed to the current rayon pool ([`Exec::Rayon`], feature `std`).
//!
//! Determinism follows from the partition alone: a block's arithmetic does not depend on which
//! chunk or thread runs it, chunks write disjoint rows, and the only reductions across chunks
//! ([`fold_chunks`]) combine per-chunk partials in chunk order after all of them are computed.
//! The partition depends on the number of rows only, never on the number of threads, so every
//! result is bit-identical whatever the pool size, and equal to the serial result.

use crate::engine::simd::{F32s, LANES};

/// Lane particles per chunk: 32 blocks of 8. Large enough that a chunk's sweep (`256 × M`
/// pairs) dwarfs the scheduling cost, small enough that `N = 4096` gives 16 chunks to balance.
pub(crate) const CHUNK: usize = 32 * LANES;

/// How the chunks of a pair reduction run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exec {
    /// One after the other, in chunk order, on the calling thread.
    Serial,
    /// In the current rayon pool (the global one unless called inside `ThreadPool::install`).
    #[cfg(feature = "std")]
    Rayon,
}

#[cfg_attr(not(feature = "dense"), allow(dead_code))]
impl Exec {
    /// The execution of every public entry point: with feature `std`, the current rayon pool
    /// (the global one, or the pool of an enclosing `ThreadPool::install`) when it has more than
    /// one thread; serial otherwise, and always without `std`. The results are the same bits
    /// either way, so the choice never shows in a signature.
    pub(crate) fn current() -> Self {
        #[cfg(feature = "std")]
        {
            if rayon::current_num_threads() > 1 {
                return Self::Rayon;
            }
        }
        Self::Serial
    }
}

/// The rows `start..start + len` of the `W` output columns of one chunk.
pub(crate) struct Rows<'a, const W: usize> {
    /// First row of the chunk.
    pub(crate) start: usize,
    /// `columns[c][k]` is row `start + k` of output column `c`.
    pub(crate) columns: [&'a mut [f32]; W],
}

impl<const W: usize> Rows<'_, W> {
    /// Writes lanes `0..valid` of `v` to rows `first..first + valid` (global row indices) of
    /// column `column`.
    #[inline]
    pub(crate) fn write(&mut self, column: usize, first: usize, valid: usize, v: F32s) {
        let base = first.wrapping_sub(self.start);
        if let Some(dst) = self
            .columns
            .get_mut(column)
            .and_then(|c| c.get_mut(base..base.saturating_add(valid)))
        {
            for (o, x) in dst.iter_mut().zip(v.to_array()) {
                *o = x;
            }
        }
    }

    /// Rows `first..first + LANES` of column `column` (0 past the chunk).
    #[inline]
    pub(crate) fn read(&self, column: usize, first: usize) -> F32s {
        let base = first.wrapping_sub(self.start);
        let values = self.columns.get(column).map_or(&[][..], |c| &**c);
        F32s::new(core::array::from_fn(|k| {
            values.get(base.wrapping_add(k)).copied().unwrap_or(0.0)
        }))
    }
}

/// The chunks of `n` rows of the column-major buffer `out` (`W` columns of `n` values), in
/// order.
fn split<const W: usize>(n: usize, out: &mut [f32]) -> impl Iterator<Item = Rows<'_, W>> {
    let mut columns = out.chunks_mut(n.max(1));
    let mut pieces: [_; W] = core::array::from_fn(|_| {
        columns
            .next()
            .unwrap_or(&mut [])
            .get_mut(..n)
            .unwrap_or(&mut [])
            .chunks_mut(CHUNK)
    });
    (0..n).step_by(CHUNK).map(move |start| Rows {
        start,
        columns: pieces.each_mut().map(|p| p.next().unwrap_or(&mut [])),
    })
}

/// Runs `body` on every chunk of `n` rows, handing it the chunk's rows of the `W` columns of
/// `out` (column-major: row `i` of column `c` at `out[c·n + i]`). Chunks write disjoint rows.
pub(crate) fn for_each_chunk<const W: usize>(
    exec: Exec,
    n: usize,
    out: &mut [f32],
    body: impl Fn(&mut Rows<'_, W>) + Send + Sync,
) {
    match exec {
        Exec::Serial => split::<W>(n, out).for_each(|mut rows| body(&mut rows)),
        #[cfg(feature = "std")]
        Exec::Rayon => {
            use rayon::iter::{IntoParallelIterator, ParallelIterator};
            let chunks: std::vec::Vec<Rows<'_, W>> = split::<W>(n, out).collect();
            chunks.into_par_iter().for_each(|mut rows| body(&mut rows));
        }
    }
}

/// Maps every chunk `start..end` of `n` rows through `map` and folds the results **in chunk
/// order** with `combine`, whatever the execution: the same sum in the same order on one thread
/// or many.
pub(crate) fn fold_chunks<T: Send, A>(
    exec: Exec,
    n: usize,
    init: A,
    map: impl Fn(usize, usize) -> T + Send + Sync,
    mut combine: impl FnMut(A, T) -> A,
) -> A {
    let ranges = (0..n).step_by(CHUNK).map(|s| (s, (s + CHUNK).min(n)));
    match exec {
        Exec::Serial => ranges.fold(init, |acc, (s, e)| combine(acc, map(s, e))),
        #[cfg(feature = "std")]
        Exec::Rayon => {
            use rayon::iter::{IntoParallelIterator, ParallelIterator};
            let ranges: std::vec::Vec<(usize, usize)> = ranges.collect();
            let partials: std::vec::Vec<T> =
                ranges.into_par_iter().map(|(s, e)| map(s, e)).collect();
            partials.into_iter().fold(init, combine)
        }
    }
}

/// The block starts of the rows `start..end` of a chunk.
pub(crate) fn block_starts(start: usize, end: usize) -> impl Iterator<Item = usize> {
    (start..end).step_by(LANES)
}

#[cfg(feature = "dense")]
impl<const W: usize> Rows<'_, W> {
    /// Writes this chunk's rows from token-major values (`W` per row: row `i`, column `c` at
    /// `values[i·W + c]`), transposed in `8 × 8` blocks in registers: contiguous loads of eight
    /// rows, contiguous stores of eight values per column.
    pub(crate) fn write_token_major(&mut self, values: &[f32]) {
        let len = self.columns.first().map_or(0, |c| c.len());
        for base in (0..len).step_by(LANES) {
            let valid = (len - base).min(LANES);
            let first = self.start + base;
            for c0 in (0..W).step_by(LANES) {
                let block: [F32s; LANES] = core::array::from_fn(|k| {
                    let start = (first + k) * W;
                    if k < valid {
                        crate::engine::dense::load(values, start + c0, start + W, 0.0)
                    } else {
                        F32s::splat(0.0)
                    }
                });
                for (l, v) in F32s::transpose(block).iter().enumerate().take(W - c0) {
                    if let Some(dst) = self
                        .columns
                        .get_mut(c0 + l)
                        .and_then(|c| c.get_mut(base..base + valid))
                    {
                        match dst.first_chunk_mut::<LANES>() {
                            Some(whole) => *whole = v.to_array(),
                            None => {
                                for (o, x) in dst.iter_mut().zip(v.to_array()) {
                                    *o = x;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

impl<const W: usize> Rows<'_, W> {
    /// The block starts of this chunk.
    pub(crate) fn block_starts(&self) -> impl Iterator<Item = usize> + use<W> {
        let len = self.columns.first().map_or(0, |c| c.len());
        block_starts(self.start, self.start + len)
    }
}

/// How a buffer handed to [`map_blocks`] is shared among the blocks.
#[cfg(feature = "dense")]
#[derive(Clone, Copy, Debug)]
pub(crate) enum Share {
    /// Row-major, this many values per row: a block gets its own rows.
    PerRow(usize),
    /// This many values per block, whatever its number of rows (per-block partials).
    PerBlock(usize),
}

#[cfg(feature = "dense")]
impl Share {
    /// Values of a block of `count` rows.
    const fn len(self, count: usize) -> usize {
        match self {
            Self::PerRow(width) => count.saturating_mul(width),
            Self::PerBlock(len) => len,
        }
    }
}

/// Runs `body(first, count, rows, scratch)` on consecutive blocks of `block` rows of a problem of
/// `rows` rows (the last block shorter), handing it its part of each of the `K` buffers (its rows
/// of a [`Share::PerRow`] buffer, its own slice of a [`Share::PerBlock`] one) and a scratch of
/// `scratch_len` values, and hands the blocks' results to `combine` **in block order**.
///
/// Serially the blocks run in order with `scratch`; on the current rayon pool the blocks are cut
/// into one contiguous run per thread, the first using `scratch` and each other one scratch
/// allocated for the call. Blocks write disjoint rows, a block's arithmetic does not depend on
/// which run or thread computes it, and the block size does not depend on the number of threads:
/// the results are the same bits whatever the pool.
#[cfg(feature = "dense")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn map_blocks<const K: usize, T: Send>(
    exec: Exec,
    rows: usize,
    block: usize,
    buffers: [(&mut [f32], Share); K],
    scratch: &mut [f32],
    scratch_len: usize,
    body: impl Fn(usize, usize, [&mut [f32]; K], &mut [f32]) -> T + Send + Sync,
    mut combine: impl FnMut(T),
) {
    let block = block.max(1);
    let mut remaining = buffers;
    let mut next = move |start: usize| {
        let count = (rows - start).min(block);
        let parts = core::array::from_fn::<&mut [f32], K, _>(|k| {
            let (buffer, share) = match remaining.get_mut(k) {
                Some(slot) => (core::mem::take(&mut slot.0), slot.1),
                None => (&mut [][..], Share::PerBlock(0)),
            };
            let (head, tail) = buffer.split_at_mut(share.len(count).min(buffer.len()));
            if let Some(slot) = remaining.get_mut(k) {
                slot.0 = tail;
            }
            head
        });
        (start, count, parts)
    };
    let scratch = scratch.get_mut(..scratch_len).unwrap_or(&mut []);
    match exec {
        Exec::Serial => {
            for start in (0..rows).step_by(block) {
                let (first, count, parts) = next(start);
                combine(body(first, count, parts, scratch));
            }
        }
        #[cfg(feature = "std")]
        Exec::Rayon => {
            use rayon::iter::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
            let blocks: std::vec::Vec<_> = (0..rows).step_by(block).map(&mut next).collect();
            let threads = rayon::current_num_threads().clamp(1, blocks.len().max(1));
            let per_run = blocks.len().div_ceil(threads).max(1);
            let mut runs: std::vec::Vec<std::vec::Vec<_>> = std::vec::Vec::new();
            let mut blocks = blocks.into_iter();
            loop {
                let run: std::vec::Vec<_> = blocks.by_ref().take(per_run).collect();
                if run.is_empty() {
                    break;
                }
                runs.push(run);
            }
            let mut extra = std::vec![0.0_f32; runs.len().saturating_sub(1) * scratch_len];
            let mut scratches: std::vec::Vec<&mut [f32]> = std::vec![scratch];
            let mut rest = extra.as_mut_slice();
            while scratches.len() < runs.len() {
                let whole = core::mem::take(&mut rest);
                let (head, tail) = whole.split_at_mut(scratch_len.min(whole.len()));
                scratches.push(head);
                rest = tail;
            }
            let results: std::vec::Vec<std::vec::Vec<T>> = runs
                .into_par_iter()
                .zip(scratches)
                .map(|(run, scratch)| {
                    run.into_iter()
                        .map(|(first, count, parts)| body(first, count, parts, scratch))
                        .collect()
                })
                .collect();
            results.into_iter().flatten().for_each(combine);
        }
    }
}

/// [`map_blocks`] for bodies without a result.
#[cfg(feature = "dense")]
pub(crate) fn for_each_block<const K: usize>(
    exec: Exec,
    rows: usize,
    block: usize,
    buffers: [(&mut [f32], Share); K],
    scratch: &mut [f32],
    scratch_len: usize,
    body: impl Fn(usize, usize, [&mut [f32]; K], &mut [f32]) + Send + Sync,
) {
    map_blocks(
        exec,
        rows,
        block,
        buffers,
        scratch,
        scratch_len,
        body,
        |()| {},
    );
}

#[cfg(all(test, feature = "dense"))]
#[allow(clippy::indexing_slicing, clippy::cast_precision_loss)]
mod tests {
    extern crate std;
    use super::{Exec, for_each_chunk};
    use std::vec::Vec;

    /// `write_token_major` puts value `(i, c)` at `out[c·n + i]` for every row and column, with
    /// ragged edges in both directions (rows past a chunk, columns past a block of 8) and more
    /// than one chunk.
    #[test]
    fn token_major_rows_land_in_their_columns() {
        fn check<const W: usize>(n: usize) {
            let values: Vec<f32> = (0..n * W).map(|k| k as f32).collect();
            let mut out = std::vec![f32::NAN; n * W];
            for_each_chunk::<W>(Exec::Serial, n, &mut out, |rows| {
                rows.write_token_major(&values);
            });
            for i in 0..n {
                for c in 0..W {
                    assert_eq!(
                        out[c * n + i],
                        values[i * W + c],
                        "W = {W}, n = {n}: ({i}, {c})"
                    );
                }
            }
        }
        for n in [1, 7, 8, 9, 300, 517] {
            check::<1>(n);
            check::<3>(n);
            check::<8>(n);
            check::<13>(n);
            check::<64>(n);
        }
    }
}
