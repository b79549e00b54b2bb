//! The conversion math, in one place: Y′CbCr code values → R′G′B′ on the 0–1 scale.
//!
//! Invariant: every number the GPU kernel uses that depends on the matrix, the range, the bit
//! depth or the sample storage comes from [`Coefficients::new`]; the kernel only samples,
//! multiplies, clamps and stores. The CPU reference in the tests
//! (`tests/convert_reference/mod.rs`) restates the same formulas independently and checks
//! both against published values.
//!
//! The formulas (ITU-T H.273 §8.3 and the matrices of BT.601, BT.709, BT.2020), for a
//! `b`-bit code value `D` stored in the high bits of `s`-bit samples (`D·2^(s−b)`):
//!
//! - limited range: `Y′ = (D_Y − 16·2^(b−8)) / (219·2^(b−8))`,
//!   `Cb′ = (D_Cb − 128·2^(b−8)) / (224·2^(b−8))` (same for Cr′);
//! - full range: `Y′ = D_Y / (2^b − 1)`, `Cb′ = (D_Cb − 2^(b−1)) / (2^b − 1)`;
//! - `R′ = Y′ + 2(1−Kr)·Cr′`, `B′ = Y′ + 2(1−Kb)·Cb′`,
//!   `G′ = Y′ − 2Kb(1−Kb)/Kg·Cb′ − 2Kr(1−Kr)/Kg·Cr′`, `Kg = 1 − Kr − Kb`.
//!
//! Folded into `rgb = M · (S_Y − y_offset, S_Cb − c_offset, S_Cr − c_offset)` on the stored
//! samples `S`, so the kernel does one 3×3 product per pixel. Precision: the kernel computes
//! in `f32` (24-bit mantissa), far finer than a 16-bit sample, so 10-bit sources keep their
//! precision in float outputs.

use crate::error::{Error, Result};
use nvcodec_media::{ColourRange, MatrixCoefficients};

/// `(Kr, Kb)` of a matrix that is a linear map of Y′CbCr, as its standard defines them.
pub fn luma_weights(matrix: MatrixCoefficients) -> Option<(f64, f64)> {
    use MatrixCoefficients as M;
    match matrix {
        M::Bt709 => Some((0.2126, 0.0722)),
        M::Bt470Bg | M::Smpte170M => Some((0.299, 0.114)),
        M::Bt2020Ncl => Some((0.2627, 0.0593)),
        M::Fcc => Some((0.30, 0.11)),
        M::Smpte240M => Some((0.212, 0.087)),
        _ => None,
    }
}

/// The numbers of one Y′CbCr → R′G′B′ conversion, in units of the stored samples.
///
/// `rgb = matrix · (S_Y − y_offset, S_Cb − c_offset, S_Cr − c_offset)`, unclamped; a
/// converter clamps each channel to `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Coefficients {
    /// Black level of luma, in stored-sample units.
    pub y_offset: f64,
    /// The chroma zero level, in stored-sample units.
    pub c_offset: f64,
    /// Rows R, G, B; columns Y, Cb, Cr.
    pub matrix: [[f64; 3]; 3],
}

impl Coefficients {
    /// The coefficients for `matrix` and `range`, for `bit_depth`-bit code values stored in
    /// the high bits of `storage_bits`-bit samples (NV12: 8 in 8; P016 of a 10-bit stream:
    /// 10 in 16).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a matrix that is not a linear map of Y′CbCr (identity,
    /// YCgCo, constant luminance, ICtCp, unspecified: resolve it first, see
    /// [`ColourDescription::conversion_matrix`](super::ColourDescription::conversion_matrix));
    /// [`Error::InvalidConfig`] for a bit depth outside `8..=storage_bits` or storage other
    /// than 8 or 16 bits.
    pub fn new(
        matrix: MatrixCoefficients,
        range: ColourRange,
        bit_depth: u8,
        storage_bits: u8,
    ) -> Result<Coefficients> {
        let (kr, kb) = luma_weights(matrix).ok_or_else(|| Error::Unsupported {
            what: format!("conversion with the {matrix} matrix"),
            supported: "bt709, bt470bg, smpte170m, bt2020nc, fcc, smpte240m".into(),
        })?;
        if !matches!(storage_bits, 8 | 16) || !(8..=storage_bits).contains(&bit_depth) {
            return Err(Error::InvalidConfig {
                parameter: "bit depth",
                reason: format!(
                    "{bit_depth}-bit samples stored in {storage_bits} bits (expected 8 in 8, or 8..=16 in 16)"
                ),
            });
        }
        let shift = f64::from(1u32 << (storage_bits - bit_depth));
        let step = f64::from(1u32 << (bit_depth - 8)); // one 8-bit code value, in b-bit units
        let (y_offset, y_scale, c_offset, c_scale) = match range {
            ColourRange::Limited => (
                16.0 * step * shift,
                1.0 / (219.0 * step * shift),
                128.0 * step * shift,
                1.0 / (224.0 * step * shift),
            ),
            ColourRange::Full => {
                let max = f64::from((1u32 << bit_depth) - 1);
                (
                    0.0,
                    1.0 / (max * shift),
                    f64::from(1u32 << (bit_depth - 1)) * shift,
                    1.0 / (max * shift),
                )
            }
        };
        let kg = 1.0 - kr - kb;
        let matrix = [
            [y_scale, 0.0, 2.0 * (1.0 - kr) * c_scale],
            [
                y_scale,
                -2.0 * kb * (1.0 - kb) / kg * c_scale,
                -2.0 * kr * (1.0 - kr) / kg * c_scale,
            ],
            [y_scale, 2.0 * (1.0 - kb) * c_scale, 0.0],
        ];
        Ok(Coefficients {
            y_offset,
            c_offset,
            matrix,
        })
    }

    /// R′, G′, B′ (unclamped, 0–1 scale) of one pixel's stored samples.
    pub fn to_rgb(&self, y: f64, cb: f64, cr: f64) -> [f64; 3] {
        let v = [y - self.y_offset, cb - self.c_offset, cr - self.c_offset];
        self.matrix
            .map(|row| row[0] * v[0] + row[1] * v[1] + row[2] * v[2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_bt709_white_black_and_grey_are_exact() {
        let c = Coefficients::new(MatrixCoefficients::Bt709, ColourRange::Limited, 8, 8).unwrap();
        let close = |a: [f64; 3], b: f64| a.iter().all(|v| (v - b).abs() < 1e-12);
        assert!(close(c.to_rgb(235.0, 128.0, 128.0), 1.0));
        assert!(close(c.to_rgb(16.0, 128.0, 128.0), 0.0));
        // The same in P016 of a 10-bit stream: 940 << 6.
        let p = Coefficients::new(MatrixCoefficients::Bt709, ColourRange::Limited, 10, 16).unwrap();
        assert!(close(
            p.to_rgb(940.0 * 64.0, 512.0 * 64.0, 512.0 * 64.0),
            1.0
        ));
    }

    #[test]
    fn unresolved_or_nonlinear_matrices_are_refused() {
        for m in [
            MatrixCoefficients::Unspecified,
            MatrixCoefficients::YCgCo,
            MatrixCoefficients::ICtCp,
        ] {
            assert!(matches!(
                Coefficients::new(m, ColourRange::Full, 8, 8),
                Err(Error::Unsupported { .. })
            ));
        }
        assert!(Coefficients::new(MatrixCoefficients::Bt709, ColourRange::Full, 10, 8).is_err());
        assert!(Coefficients::new(MatrixCoefficients::Bt709, ColourRange::Full, 7, 16).is_err());
    }
}
