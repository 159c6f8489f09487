//! Saving and loading a generator: bit-identical round trips, and typed errors (never a panic)
//! for every kind of damaged blob.
#![allow(clippy::unwrap_used)]

use drifting::mlp::{BLOB_MAGIC, BLOB_VERSION};
use drifting::{Activation, Error, Mlp};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

type Net = Mlp<2, 32, 2>;

fn saved(activation: Activation) -> (Vec<f32>, Vec<u8>) {
    let mut params = vec![0.0; Net::PARAMETERS];
    Net::init_pytorch(&mut params, &mut Xoshiro256PlusPlus::seed_from_u64(3)).unwrap();
    params[0] = -0.0;
    params[1] = f32::MIN_POSITIVE / 8.0; // a subnormal survives too
    let mut blob = vec![0_u8; Net::blob_len()];
    let written = Net::new(activation).save(&params, &mut blob).unwrap();
    assert_eq!(written, Net::blob_len());
    (params, blob)
}

#[test]
fn round_trip_is_bit_identical_for_every_activation() {
    for activation in Activation::ALL {
        let (params, blob) = saved(activation);
        assert_eq!(&blob[..8], &BLOB_MAGIC);
        assert_eq!(u16::from_le_bytes([blob[8], blob[9]]), BLOB_VERSION);
        let mut loaded = vec![1.0; Net::PARAMETERS];
        let net = Net::load(&blob, &mut loaded).unwrap();
        assert_eq!(net.activation, activation);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&params), bits(&loaded));
    }
}

#[test]
fn a_static_array_works_on_both_sides() {
    static PARAMS: [f32; Mlp::<2, 8, 2>::PARAMETERS] = [0.25; Mlp::<2, 8, 2>::PARAMETERS];
    let mut blob = [0_u8; Mlp::<2, 8, 2>::blob_len()];
    Mlp::<2, 8, 2>::new(Activation::Tanh)
        .save(&PARAMS, &mut blob)
        .unwrap();
    let mut back = [0.0_f32; Mlp::<2, 8, 2>::PARAMETERS];
    assert_eq!(
        Mlp::<2, 8, 2>::load(&blob, &mut back).unwrap().activation,
        Activation::Tanh
    );
    assert_eq!(back, PARAMS);
}

#[test]
fn truncated_or_padded_blobs_are_shape_errors() {
    let (_, blob) = saved(Activation::Silu);
    let mut params = vec![0.0; Net::PARAMETERS];
    for len in [0, 1, 8, 35, 36, blob.len() - 1] {
        assert!(matches!(
            Net::load(&blob[..len], &mut params),
            Err(Error::ShapeMismatch { input: "blob", .. })
        ));
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert!(matches!(
        Net::load(&longer, &mut params),
        Err(Error::ShapeMismatch { input: "blob", .. })
    ));
    assert!(params.iter().all(|p| *p == 0.0), "nothing written on error");
    let mut short = vec![0_u8; Net::blob_len() - 1];
    assert!(matches!(
        Net::new(Activation::Silu).save(&params, &mut short),
        Err(Error::ShapeMismatch { input: "out", .. })
    ));
    assert!(matches!(
        Net::load(&blob, &mut params[1..]),
        Err(Error::ShapeMismatch {
            input: "params",
            ..
        })
    ));
}

#[test]
fn damaged_headers_name_the_field() {
    let (_, blob) = saved(Activation::Relu);
    let mut params = vec![0.0; Net::PARAMETERS];
    for (offset, field) in [
        (0, "magic"),
        (7, "magic"),
        (8, "version"),
        (10, "depth"),
        (12, "inputs"),
        (16, "hidden"),
        (20, "outputs"),
        (26, "reserved"),
        (28, "parameter count"),
        (32, "checksum"),
        (40, "checksum"),
        (blob.len() - 1, "checksum"),
    ] {
        let mut bad = blob.clone();
        bad[offset] ^= 0x5a;
        assert_eq!(
            Net::load(&bad, &mut params),
            Err(Error::InvalidBlob { field }),
            "byte {offset}"
        );
    }
    let mut bad = blob.clone();
    bad[24] = 9;
    assert_eq!(
        Net::load(&bad, &mut params),
        Err(Error::InvalidBlob {
            field: "activation"
        })
    );
    // A blob of another shape.
    let other = vec![0.5; Mlp::<2, 16, 2>::PARAMETERS];
    let mut other_blob = vec![0; Mlp::<2, 16, 2>::blob_len()];
    Mlp::<2, 16, 2>::new(Activation::Silu)
        .save(&other, &mut other_blob)
        .unwrap();
    assert!(Net::load(&other_blob, &mut params).is_err());
    assert!(params.iter().all(|p| *p == 0.0));
}

#[test]
fn non_finite_values_are_refused_both_ways() {
    let (mut params, blob) = saved(Activation::Silu);
    params[5] = f32::NAN;
    let mut out = vec![0_u8; Net::blob_len()];
    assert_eq!(
        Net::new(Activation::Silu).save(&params, &mut out),
        Err(Error::NonFinite { input: "params" })
    );
    // Forge a blob with an infinity and a matching checksum.
    let mut bad = blob.clone();
    bad[36 + 4 * 7..36 + 4 * 8].copy_from_slice(&f32::INFINITY.to_le_bytes());
    let mut hash: u32 = 0x811c_9dc5;
    for (k, &b) in bad.iter().enumerate() {
        if (32..36).contains(&k) {
            continue;
        }
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    bad[32..36].copy_from_slice(&hash.to_le_bytes());
    let mut loaded = vec![0.0; Net::PARAMETERS];
    assert_eq!(
        Net::load(&bad, &mut loaded),
        Err(Error::NonFinite { input: "blob" })
    );
}
