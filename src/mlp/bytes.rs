//! Saving and loading a generator as a little-endian byte blob.
//!
//! Format (version 1), all integers little-endian:
//!
//! | offset | size | field |
//! | ------ | ---- | ----- |
//! | 0      | 8    | magic `b"DRIFTMLP"` |
//! | 8      | 2    | format version (`1`) |
//! | 10     | 2    | depth: number of linear layers (`4`) |
//! | 12     | 4    | `I` |
//! | 16     | 4    | `H` |
//! | 20     | 4    | `O` |
//! | 24     | 1    | activation ([`Activation::code`]) |
//! | 25     | 3    | reserved, zero |
//! | 28     | 4    | parameter count |
//! | 32     | 4    | FNV-1a 32-bit hash of bytes `0..32` and of the parameters |
//! | 36     | 4·P  | the parameters as `f32` ([layout](crate::mlp)) |

use super::{Activation, Mlp};
use crate::error::Error;

/// The first 8 bytes of a saved generator.
pub const BLOB_MAGIC: [u8; 8] = *b"DRIFTMLP";
/// The format version this crate writes and reads.
pub const BLOB_VERSION: u16 = 1;
/// Header bytes before the parameters.
const HEADER: usize = 36;
/// Offset of the checksum.
const CHECKSUM: usize = 32;

/// FNV-1a, 32 bits (detects corruption; not an authenticity check).
fn fnv1a(mut hash: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}
const FNV_OFFSET: u32 = 0x811c_9dc5;

fn u32_le(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes()
}

impl<const I: usize, const H: usize, const O: usize> Mlp<I, H, O> {
    /// Length in bytes of a saved generator: `36 + 4·PARAMETERS`.
    #[must_use]
    pub const fn blob_len() -> usize {
        HEADER + 4 * Self::PARAMETERS
    }

    /// The 32 header bytes before the checksum.
    fn header(&self) -> [u8; CHECKSUM] {
        let mut h = [0_u8; CHECKSUM];
        let fields: [(usize, &[u8]); 7] = [
            (0, &BLOB_MAGIC),
            (8, &BLOB_VERSION.to_le_bytes()),
            (10, &4_u16.to_le_bytes()),
            (12, &u32_le(I)),
            (16, &u32_le(H)),
            (20, &u32_le(O)),
            (28, &u32_le(Self::PARAMETERS)),
        ];
        for (offset, bytes) in fields {
            for (d, s) in h.iter_mut().skip(offset).zip(bytes) {
                *d = *s;
            }
        }
        if let Some(code) = h.get_mut(24) {
            *code = self.activation.code();
        }
        h
    }

    /// Writes this generator (its activation and `params`) into `out` in the format above and
    /// returns the number of bytes written, [`Mlp::blob_len`]`()`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `params` does not hold [`Mlp::PARAMETERS`] values or `out` is
    /// shorter than [`Mlp::blob_len`]; [`Error::NonFinite`] if a parameter is NaN or infinite.
    ///
    /// # Example
    /// ```
    /// use drifting::{Activation, Error, Mlp};
    /// use rand_core::SeedableRng;
    /// use rand_xoshiro::Xoshiro256PlusPlus;
    /// type Generator = Mlp<2, 8, 2>;
    /// let generator = Generator::new(Activation::Silu);
    /// let mut params = [0.0_f32; Generator::PARAMETERS];
    /// Generator::init_pytorch(&mut params, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
    /// let mut blob = [0_u8; Generator::blob_len()]; // to flash; read back with include_bytes!
    /// assert_eq!(generator.save(&params, &mut blob)?, blob.len());
    ///
    /// let mut restored = [0.0_f32; Generator::PARAMETERS];
    /// let loaded = Generator::load(&blob, &mut restored)?;
    /// assert_eq!((loaded, restored), (generator, params)); // bit for bit, activation included
    /// blob[40] ^= 1; // one flipped bit in the parameters fails the checksum
    /// assert!(matches!(Generator::load(&blob, &mut restored), Err(Error::InvalidBlob { .. })));
    /// # Ok::<(), drifting::Error>(())
    /// ```
    pub fn save(&self, params: &[f32], out: &mut [u8]) -> Result<usize, Error> {
        Self::check_parameters(params, "params")?;
        let len = Self::blob_len();
        let Some(out) = out.get_mut(..len) else {
            return Err(Error::ShapeMismatch {
                input: "out",
                expected: len,
                found: out.len(),
            });
        };
        let (header, body) = out.split_at_mut(HEADER);
        let fixed = self.header();
        let mut hash = fnv1a(FNV_OFFSET, &fixed);
        for (chunk, p) in body.chunks_exact_mut(4).zip(params) {
            let bytes = p.to_le_bytes();
            chunk.copy_from_slice(&bytes);
            hash = fnv1a(hash, &bytes);
        }
        let (head, checksum) = header.split_at_mut(CHECKSUM);
        head.copy_from_slice(&fixed);
        checksum.copy_from_slice(&hash.to_le_bytes());
        Ok(len)
    }

    /// Reads a blob written by [`Mlp::save`] for this shape into `params` and returns the
    /// generator (with the saved activation). `params` is written only if the whole blob is
    /// valid.
    ///
    /// The header is read before the length is compared, so that a blob saved for another shape
    /// names the field that differs (`"hidden"`, …) rather than a byte count.
    ///
    /// # Errors
    /// In this order: [`Error::ShapeMismatch`] if `params` does not hold [`Mlp::PARAMETERS`]
    /// values; [`Error::InvalidBlob`] for a wrong magic; [`Error::ShapeMismatch`] (`"blob"`) if the
    /// blob is shorter than its 36-byte header; [`Error::InvalidBlob`] for an unsupported version,
    /// a different depth, shape (`"inputs"`, `"hidden"`, `"outputs"`) or parameter count;
    /// [`Error::ShapeMismatch`] (`"blob"`) if the blob is not exactly [`Mlp::blob_len`] bytes
    /// (truncated or trailing data); [`Error::InvalidBlob`] for an unknown activation, non-zero
    /// reserved bytes or a checksum mismatch; [`Error::NonFinite`] if a stored parameter is NaN
    /// or infinite.
    ///
    /// # Example
    /// ```
    /// use drifting::{Activation, Error, Mlp};
    /// let params = [0.25_f32; Mlp::<2, 8, 2>::PARAMETERS];
    /// let mut blob = [0_u8; Mlp::<2, 8, 2>::blob_len()];
    /// Mlp::<2, 8, 2>::new(Activation::Relu).save(&params, &mut blob)?;
    ///
    /// let mut restored = [0.0_f32; Mlp::<2, 8, 2>::PARAMETERS];
    /// assert_eq!(Mlp::<2, 8, 2>::load(&blob, &mut restored)?.activation, Activation::Relu);
    /// assert_eq!(restored, params);
    /// // A blob saved for another shape is refused (naming `"hidden"`); `params` is not written.
    /// let mut wider = [0.0_f32; Mlp::<2, 16, 2>::PARAMETERS];
    /// let refused = Mlp::<2, 16, 2>::load(&blob, &mut wider);
    /// assert!(matches!(refused, Err(Error::InvalidBlob { .. })));
    /// assert!(wider.iter().all(|&p| p == 0.0));
    /// # Ok::<(), drifting::Error>(())
    /// ```
    pub fn load(blob: &[u8], params: &mut [f32]) -> Result<Self, Error> {
        let len = Self::blob_len();
        if params.len() != Self::PARAMETERS {
            return Err(Error::ShapeMismatch {
                input: "params",
                expected: Self::PARAMETERS,
                found: params.len(),
            });
        }
        let field = |range: core::ops::Range<usize>| blob.get(range).unwrap_or(&[]);
        if blob.len() >= BLOB_MAGIC.len() && field(0..8) != BLOB_MAGIC {
            return Err(Error::InvalidBlob { field: "magic" });
        }
        if blob.len() < HEADER {
            return Err(Error::ShapeMismatch {
                input: "blob",
                expected: len,
                found: blob.len(),
            });
        }
        if field(8..10) != BLOB_VERSION.to_le_bytes() {
            return Err(Error::InvalidBlob { field: "version" });
        }
        if field(10..12) != 4_u16.to_le_bytes() {
            return Err(Error::InvalidBlob { field: "depth" });
        }
        for (range, value, name) in [
            (12..16, I, "inputs"),
            (16..20, H, "hidden"),
            (20..24, O, "outputs"),
            (28..32, Self::PARAMETERS, "parameter count"),
        ] {
            if field(range) != u32_le(value) {
                return Err(Error::InvalidBlob { field: name });
            }
        }
        if blob.len() != len {
            return Err(Error::ShapeMismatch {
                input: "blob",
                expected: len,
                found: blob.len(),
            });
        }
        let (header, body) = blob.split_at(HEADER);
        let field = |range: core::ops::Range<usize>| header.get(range).unwrap_or(&[]);
        let Some(activation) = header.get(24).copied().and_then(Activation::from_code) else {
            return Err(Error::InvalidBlob {
                field: "activation",
            });
        };
        if field(25..28) != [0, 0, 0] {
            return Err(Error::InvalidBlob { field: "reserved" });
        }
        let hash = fnv1a(fnv1a(FNV_OFFSET, field(0..CHECKSUM)), body);
        if field(CHECKSUM..HEADER) != hash.to_le_bytes() {
            return Err(Error::InvalidBlob { field: "checksum" });
        }
        let value =
            |c: &[u8]| f32::from_le_bytes([0, 1, 2, 3].map(|k| c.get(k).copied().unwrap_or(0)));
        if !body.chunks_exact(4).all(|c| value(c).is_finite()) {
            return Err(Error::NonFinite { input: "blob" });
        }
        for (p, c) in params.iter_mut().zip(body.chunks_exact(4)) {
            *p = value(c);
        }
        Ok(Self::new(activation))
    }
}
