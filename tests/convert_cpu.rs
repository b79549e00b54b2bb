//! The colour conversion math, on the CPU: the crate's coefficients against the reference
//! converter (`convert_reference`), both against published colour-bar values, for every
//! matrix × range × bit depth; and the committed PTX against its CUDA source.

mod convert_reference;

use convert_reference::Coding;
use nvcodec_guard::convert::{
    Coefficients, ColourDescription, ColourRange, MatrixCoefficients, default_matrix,
};
use sha2::{Digest, Sha256};

/// 75 % colour bars, 8-bit limited range (white, yellow, cyan, green, magenta, red, blue),
/// as published: BT.709 in SMPTE RP 219 / ITU-R BT.2111, BT.601 in SMPTE EG 1 / RP 178.
const BARS_709_8: [(u32, u32, u32); 7] = [
    (180, 128, 128),
    (168, 44, 136),
    (145, 147, 44),
    (133, 63, 52),
    (63, 193, 204),
    (51, 109, 212),
    (28, 212, 120),
];
const BARS_601_8: [(u32, u32, u32); 7] = [
    (180, 128, 128),
    (162, 44, 142),
    (131, 156, 44),
    (112, 72, 58),
    (84, 184, 198),
    (65, 100, 212),
    (35, 212, 114),
];
/// BT.2020 75 % bars, 10-bit limited range (ITU-R BT.2111 table for BT.2020 colour bars).
const BARS_2020_10: [(u32, u32, u32); 7] = [
    (721, 512, 512),
    (682, 176, 539),
    (548, 606, 176),
    (509, 270, 203),
    (276, 754, 821),
    (237, 418, 848),
    (103, 848, 485),
];
/// BT.709 75 % bars, 10-bit limited range (SMPTE RP 219).
const BARS_709_10: [(u32, u32, u32); 7] = [
    (721, 512, 512),
    (674, 176, 543),
    (581, 589, 176),
    (534, 253, 207),
    (251, 771, 817),
    (204, 435, 848),
    (111, 848, 481),
];
/// The RGB each bar stands for, on the 0–1 scale.
const BAR_RGB: [[f64; 3]; 7] = [
    [0.75, 0.75, 0.75],
    [0.75, 0.75, 0.0],
    [0.0, 0.75, 0.75],
    [0.0, 0.75, 0.0],
    [0.75, 0.0, 0.75],
    [0.75, 0.0, 0.0],
    [0.0, 0.0, 0.75],
];

const MATRICES: [(MatrixCoefficients, u8); 3] = [
    (MatrixCoefficients::Bt709, 1),
    (MatrixCoefficients::Smpte170M, 6),
    (MatrixCoefficients::Bt2020Ncl, 9),
];
/// (significant bits, storage bits): NV12, P016 of 8/10/12-bit streams.
const DEPTHS: [(u32, u32); 4] = [(8, 8), (8, 16), (10, 16), (12, 16)];

fn published(matrix: u8) -> (u32, &'static [(u32, u32, u32); 7]) {
    match matrix {
        1 => (8, &BARS_709_8),
        6 => (8, &BARS_601_8),
        9 => (10, &BARS_2020_10),
        _ => unreachable!(),
    }
}

/// A published limited-range code value re-expressed in `bits` bits and `full` range: the
/// same signal level, rounded as an encoder would.
fn recode(code: u32, from_bits: u32, chroma: bool, bits: u32, full: bool) -> f64 {
    let k = 2f64.powi(from_bits as i32 - 8);
    let level = if chroma {
        (f64::from(code) - 128.0 * k) / (224.0 * k)
    } else {
        (f64::from(code) - 16.0 * k) / (219.0 * k)
    };
    let n = bits as i32;
    if full {
        let max = 2f64.powi(n) - 1.0;
        (level * max + if chroma { 2f64.powi(n - 1) } else { 0.0 }).round()
    } else {
        let k = 2f64.powi(n - 8);
        (level * if chroma { 224.0 } else { 219.0 } * k + if chroma { 128.0 } else { 16.0 } * k)
            .round()
    }
}

fn coefficients(matrix: MatrixCoefficients, full: bool, bits: u32, storage: u32) -> Coefficients {
    let range = if full {
        ColourRange::Full
    } else {
        ColourRange::Limited
    };
    Coefficients::new(matrix, range, bits as u8, storage as u8).unwrap()
}

#[test]
fn bt709_limited_235_128_128_is_white_and_16_is_black_at_every_depth() {
    for (bits, storage) in DEPTHS {
        let coding = Coding {
            matrix: 1,
            full: false,
            bits,
            storage,
        };
        let k = f64::from(1u32 << (bits - 8));
        let c = coefficients(MatrixCoefficients::Bt709, false, bits, storage);
        for (y, want) in [(235.0, 1.0), (16.0, 0.0)] {
            let s = |v: f64| coding.store(v * k);
            let reference = coding.rgb(s(y), s(128.0), s(128.0));
            let crate_value = c.to_rgb(s(y), s(128.0), s(128.0));
            for ch in 0..3 {
                assert!(
                    (reference[ch] - want).abs() < 1e-12,
                    "{bits}/{storage}: {reference:?}"
                );
                assert!(
                    (crate_value[ch] - want).abs() < 1e-9,
                    "{bits}/{storage}: {crate_value:?}"
                );
            }
        }
    }
}

#[test]
fn full_range_extremes_are_black_and_white() {
    for (matrix, code) in MATRICES {
        for (bits, storage) in DEPTHS {
            let coding = Coding {
                matrix: code,
                full: true,
                bits,
                storage,
            };
            let c = coefficients(matrix, true, bits, storage);
            let max = coding.store(2f64.powi(bits as i32) - 1.0);
            let mid = coding.store(2f64.powi(bits as i32 - 1));
            for (y, want) in [(max, 1.0), (0.0, 0.0)] {
                for v in [coding.rgb(y, mid, mid), c.to_rgb(y, mid, mid)] {
                    assert!(
                        v.iter().all(|x| (x - want).abs() < 1e-9),
                        "{matrix} {bits}: {v:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn seventy_five_percent_bars_of_every_matrix_range_and_depth_come_back_as_published() {
    for (matrix, code) in MATRICES {
        let (from_bits, bars) = published(code);
        for full in [false, true] {
            for (bits, storage) in DEPTHS {
                let coding = Coding {
                    matrix: code,
                    full,
                    bits,
                    storage,
                };
                let c = coefficients(matrix, full, bits, storage);
                // Published values are rounded to whole code values: allow that rounding
                // (half a code value of each component, amplified by the matrix: < 2.5 LSB
                // of the coarser of the two depths) and nothing more.
                let lsb = 1.0 / (2f64.powi(bits.min(from_bits) as i32) - 1.0);
                let tolerance = 2.5 * lsb * if full || bits < from_bits { 2.0 } else { 1.0 };
                for (bar, &(y, cb, cr)) in bars.iter().enumerate() {
                    let s = |v: u32, chroma: bool| {
                        coding.store(recode(v, from_bits, chroma, bits, full))
                    };
                    let (sy, scb, scr) = (s(y, false), s(cb, true), s(cr, true));
                    let reference = coding.rgb(sy, scb, scr);
                    let ours = c.to_rgb(sy, scb, scr);
                    for ch in 0..3 {
                        let want = BAR_RGB[bar][ch];
                        assert!(
                            (reference[ch] - want).abs() < tolerance,
                            "{matrix} full={full} {bits}/{storage} bar {bar}: reference {reference:?}"
                        );
                        assert!(
                            (ours[ch] - reference[ch]).abs() < 1e-9,
                            "{matrix} full={full} {bits}/{storage} bar {bar}: crate {ours:?} vs {reference:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn bt709_bars_at_10_bit_match_their_own_published_table() {
    let coding = Coding {
        matrix: 1,
        full: false,
        bits: 10,
        storage: 16,
    };
    let c = coefficients(MatrixCoefficients::Bt709, false, 10, 16);
    for (bar, &(y, cb, cr)) in BARS_709_10.iter().enumerate() {
        let s = |v: u32| coding.store(f64::from(v));
        let ours = c.to_rgb(s(y), s(cb), s(cr));
        let reference = coding.rgb(s(y), s(cb), s(cr));
        for ch in 0..3 {
            assert!(
                (reference[ch] - BAR_RGB[bar][ch]).abs() < 3.0 / 1023.0,
                "bar {bar}"
            );
            assert!((ours[ch] - reference[ch]).abs() < 1e-9);
        }
    }
}

#[test]
fn the_crate_and_the_reference_agree_on_every_code_value_combination_tried() {
    let all = [
        (MatrixCoefficients::Bt709, 1),
        (MatrixCoefficients::Bt470Bg, 5),
        (MatrixCoefficients::Smpte170M, 6),
        (MatrixCoefficients::Bt2020Ncl, 9),
        (MatrixCoefficients::Fcc, 4),
        (MatrixCoefficients::Smpte240M, 7),
    ];
    for (matrix, code) in all {
        for full in [false, true] {
            for (bits, storage) in DEPTHS {
                let coding = Coding {
                    matrix: code,
                    full,
                    bits,
                    storage,
                };
                let c = coefficients(matrix, full, bits, storage);
                let max = (1u32 << bits) - 1;
                for y in (0..=max).step_by((max / 17) as usize) {
                    for cb in (0..=max).step_by((max / 7) as usize) {
                        for cr in (0..=max).step_by((max / 5) as usize) {
                            let s = |v: u32| coding.store(f64::from(v));
                            let a = coding.rgb(s(y), s(cb), s(cr));
                            let b = c.to_rgb(s(y), s(cb), s(cr));
                            for ch in 0..3 {
                                assert!((a[ch] - b[ch]).abs() < 1e-9, "{matrix} {y} {cb} {cr}");
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn an_unspecified_matrix_is_bt601_below_720_rows_and_bt709_from_720() {
    assert_eq!(default_matrix(480), MatrixCoefficients::Smpte170M);
    assert_eq!(default_matrix(719), MatrixCoefficients::Smpte170M);
    assert_eq!(default_matrix(720), MatrixCoefficients::Bt709);
    assert_eq!(
        ColourDescription::default().conversion_matrix(2160),
        Some(MatrixCoefficients::Bt709)
    );
}

#[test]
fn the_committed_ptx_was_generated_from_the_committed_kernel_source() {
    let root = env!("CARGO_MANIFEST_DIR");
    let source = std::fs::read(format!("{root}/kernels/convert.cu")).unwrap();
    let ptx = std::fs::read_to_string(format!("{root}/kernels/convert.ptx")).unwrap();
    let hash: String = Sha256::digest(&source)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let header = ptx
        .lines()
        .find_map(|l| l.strip_prefix("// source-sha256: "))
        .expect("kernels/convert.ptx has a `// source-sha256:` header line");
    assert_eq!(
        header.trim(),
        hash,
        "kernels/convert.cu changed without regenerating kernels/convert.ptx \
         (run scripts/gpu-frames.sh on a machine with nvcc)"
    );
    for kernel in [
        "yuv8_to_u8",
        "yuv8_to_f16",
        "yuv8_to_f32",
        "yuv16_to_u8",
        "yuv16_to_f16",
        "yuv16_to_f32",
    ] {
        assert!(
            ptx.contains(&format!(".entry {kernel}(")),
            "kernels/convert.ptx lacks {kernel}"
        );
    }
}
