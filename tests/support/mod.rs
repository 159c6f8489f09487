//! Helpers shared by several test files.

pub mod clouds;

/// Whether two fields are the same bits, value for value (and of the same length).
pub fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}
