//! Loading a generator from bytes: any byte string either loads (and then saves back to the same
//! bytes) or gives a typed error; `params` is untouched on error. A blob saved for another shape
//! names the header field that differs, whatever its length (issue 15: it reported a byte count).
#![no_main]

use drifting::Mlp;
use libfuzzer_sys::fuzz_target;

type Net = Mlp<2, 4, 2>;

fuzz_target!(|data: &[u8]| {
    let mut params = vec![7.0_f32; Net::PARAMETERS];
    // Mostly start from a valid blob with a few bytes changed, so the fuzzer reaches past the
    // header checks; otherwise take the bytes as they are.
    let blob: Vec<u8> = if data.first().is_some_and(|b| b % 2 == 0) {
        let mut valid = vec![0u8; Net::blob_len()];
        let source: Vec<f32> = (0..Net::PARAMETERS).map(|k| k as f32 * 0.01).collect();
        let written = Net::new(drifting::Activation::Tanh)
            .save(&source, &mut valid)
            .unwrap();
        valid.truncate(written);
        for pair in data[1..].chunks_exact(2) {
            if pair[0] == 255 {
                valid.truncate(usize::from(pair[1]) % (valid.len() + 1));
            } else if !valid.is_empty() {
                let k = usize::from(pair[0]) * 7 % valid.len();
                valid[k] ^= pair[1];
            }
        }
        valid
    } else {
        data.to_vec()
    };
    // Blobs of other shapes, possibly truncated or extended: the shape field is named.
    if data.first().is_some_and(|b| b % 4 == 1) {
        let mut other = vec![0u8; Mlp::<2, 6, 2>::blob_len()];
        let source = vec![0.5_f32; Mlp::<2, 6, 2>::PARAMETERS];
        let written = Mlp::<2, 6, 2>::new(drifting::Activation::Silu)
            .save(&source, &mut other)
            .unwrap();
        other.truncate(written);
        let cut = data.get(1).map_or(0, |&c| usize::from(c));
        if cut % 2 == 0 {
            other.truncate(36.max(written.saturating_sub(cut)));
        } else {
            other.extend(std::iter::repeat_n(0u8, cut));
        }
        assert_eq!(
            Net::load(&other, &mut params).map(|_| ()),
            Err(drifting::Error::InvalidBlob { field: "hidden" })
        );
    }
    match Net::load(&blob, &mut params) {
        Ok(net) => {
            assert!(params.iter().all(|p| p.is_finite()));
            let mut again = vec![0u8; Net::blob_len()];
            let written = net.save(&params, &mut again).unwrap();
            assert_eq!(
                &again[..written],
                &blob[..],
                "a loaded blob must save back to the same bytes"
            );
        }
        Err(_) => assert!(params.iter().all(|p| *p == 7.0), "params written on error"),
    }
});
