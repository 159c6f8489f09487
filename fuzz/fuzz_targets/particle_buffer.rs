//! Particle buffers at their capacity edges: push/extend/clear/view never panic, overflow is
//! `CapacityExceeded` and leaves the buffer unchanged, the view always shows what was accepted.
#![no_main]

use arbitrary::Unstructured;
use drifting::{Error, ParticleBuffer};
use drifting_fuzz::cloud;
use libfuzzer_sys::fuzz_target;

const CAP: usize = 13;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut buffer = ParticleBuffer::<3, CAP>::new();
    let mut mirror: Vec<[f32; 3]> = Vec::new();
    // Bounded: `Unstructured` keeps answering (with its lower bound) once the data is used up.
    for _ in 0..256 {
        if u.is_empty() {
            break;
        }
        let Ok(op) = u.int_in_range(0u8..=3) else {
            break;
        };
        match op {
            0 => {
                let Ok(points) = cloud::<3>(&mut u, 1) else {
                    break;
                };
                let Some(p) = points.first() else { continue };
                let result = buffer.push(*p);
                if mirror.len() < CAP {
                    assert_eq!(result, Ok(()));
                    mirror.push(*p);
                } else {
                    assert_eq!(
                        result,
                        Err(Error::CapacityExceeded {
                            capacity: CAP,
                            required: CAP + 1
                        })
                    );
                }
            }
            1 => {
                let Ok(points) = cloud::<3>(&mut u, 2 * CAP) else {
                    break;
                };
                let result = buffer.extend_from_points(&points);
                if mirror.len() + points.len() <= CAP {
                    assert_eq!(result, Ok(()));
                    mirror.extend_from_slice(&points);
                } else {
                    assert_eq!(
                        result,
                        Err(Error::CapacityExceeded {
                            capacity: CAP,
                            required: mirror.len() + points.len()
                        })
                    );
                }
            }
            2 => {
                buffer.clear();
                mirror.clear();
            }
            _ => {
                // Extending from its own view (a copy, as a borrowed view cannot alias).
                let copy = buffer.clone();
                let result = buffer.extend_from_view(&copy.view());
                if 2 * mirror.len() <= CAP {
                    assert_eq!(result, Ok(()));
                    let again = mirror.clone();
                    mirror.extend_from_slice(&again);
                } else {
                    assert!(result.is_err());
                }
            }
        }
        assert_eq!(buffer.len(), mirror.len());
        let view = buffer.view();
        assert_eq!(view.len(), mirror.len());
        for (k, p) in mirror.iter().enumerate() {
            let got = view.point(k).unwrap();
            assert!(got.iter().zip(p).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
        assert_eq!(view.point(mirror.len()), None);
    }
});
