//! The stream's colour description: primaries, transfer characteristics, matrix
//! coefficients and range, as the bitstream states them (ITU-T H.273 code points, which
//! H.264/HEVC VUI, MPEG-2 sequence display extensions and AV1 colour configs share).
//!
//! Invariant: a description is exactly what the bitstream (or the decoder reading it) stated,
//! code point for code point.
//! "Unspecified" stays [`unspecified`](MatrixCoefficients::Unspecified) here, and a code point
//! this crate does not name is kept as `Reserved(n)`; nothing is guessed at this level. The
//! guess for an unspecified matrix (BT.601 below 720 rows, BT.709 at and above, the rule
//! ffmpeg, libplacebo and most players follow) is made only when converting, by
//! [`ColourDescription::conversion_matrix`], and documented there.
//!
//! Why integers first: decoders report these fields as bytes, and a future stream may carry a
//! code point newer than this crate; every byte maps to a variant, so no reported value can
//! be an invalid enum.

use std::fmt;

/// Chromaticity of the source primaries (H.273 `ColourPrimaries`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColourPrimaries {
    /// 1: BT.709 / sRGB.
    Bt709,
    /// 2: not stated by the stream.
    Unspecified,
    /// 4: BT.470 System M.
    Bt470M,
    /// 5: BT.470 System B/G (PAL, BT.601 625-line).
    Bt470Bg,
    /// 6: SMPTE 170M (NTSC, BT.601 525-line).
    Smpte170M,
    /// 7: SMPTE 240M.
    Smpte240M,
    /// 8: generic film (illuminant C).
    Film,
    /// 9: BT.2020 / BT.2100.
    Bt2020,
    /// 10: SMPTE ST 428-1 (CIE XYZ).
    Smpte428,
    /// 11: SMPTE RP 431-2 (DCI-P3).
    Smpte431,
    /// 12: SMPTE EG 432-1 (Display P3).
    Smpte432,
    /// 22: EBU Tech. 3213-E.
    Ebu3213,
    /// Any other code point (reserved in H.273 today).
    Reserved(u8),
}

/// Opto-electronic transfer characteristic (H.273 `TransferCharacteristics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransferCharacteristics {
    /// 1: BT.709.
    Bt709,
    /// 2: not stated by the stream.
    Unspecified,
    /// 4: gamma 2.2 (BT.470 System M).
    Gamma22,
    /// 5: gamma 2.8 (BT.470 System B/G).
    Gamma28,
    /// 6: SMPTE 170M (BT.601).
    Smpte170M,
    /// 7: SMPTE 240M.
    Smpte240M,
    /// 8: linear.
    Linear,
    /// 9: logarithmic, 100:1 range.
    Log100,
    /// 10: logarithmic, 100·√10:1 range.
    Log316,
    /// 11: IEC 61966-2-4 (xvYCC).
    Iec61966_2_4,
    /// 12: BT.1361 extended colour gamut.
    Bt1361,
    /// 13: IEC 61966-2-1 (sRGB).
    Srgb,
    /// 14: BT.2020, 10-bit.
    Bt2020_10,
    /// 15: BT.2020, 12-bit.
    Bt2020_12,
    /// 16: SMPTE ST 2084 (PQ, HDR10).
    Pq,
    /// 17: SMPTE ST 428-1.
    Smpte428,
    /// 18: ARIB STD-B67 (HLG).
    Hlg,
    /// Any other code point (reserved in H.273 today).
    Reserved(u8),
}

/// How luma and chroma were derived from RGB (H.273 `MatrixCoefficients`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MatrixCoefficients {
    /// 0: identity (the planes are G, B, R; only meaningful for 4:4:4).
    Identity,
    /// 1: BT.709 (Kr 0.2126, Kb 0.0722).
    Bt709,
    /// 2: not stated by the stream.
    Unspecified,
    /// 4: US FCC 73.682 (Kr 0.30, Kb 0.11).
    Fcc,
    /// 5: BT.470 System B/G = BT.601 625-line (Kr 0.299, Kb 0.114).
    Bt470Bg,
    /// 6: SMPTE 170M = BT.601 525-line (Kr 0.299, Kb 0.114).
    Smpte170M,
    /// 7: SMPTE 240M (Kr 0.212, Kb 0.087).
    Smpte240M,
    /// 8: YCgCo.
    YCgCo,
    /// 9: BT.2020 non-constant luminance (Kr 0.2627, Kb 0.0593).
    Bt2020Ncl,
    /// 10: BT.2020 constant luminance.
    Bt2020Cl,
    /// 11: SMPTE ST 2085 (Y'D'zD'x).
    Smpte2085,
    /// 12: chromaticity-derived non-constant luminance.
    ChromaDerivedNcl,
    /// 13: chromaticity-derived constant luminance.
    ChromaDerivedCl,
    /// 14: BT.2100 ICtCp.
    ICtCp,
    /// Any other code point (reserved in H.273 today).
    Reserved(u8),
}

/// Whether samples use the whole code range or the "studio" (limited) range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ColourRange {
    /// Limited ("TV", "MPEG") range: 8-bit luma 16–235, chroma 16–240 (scaled by
    /// `2^(bits-8)` for deeper samples). What a stream without a range flag means.
    #[default]
    Limited,
    /// Full ("PC", "JPEG") range: 0–255 (0–`2^bits-1`).
    Full,
}

macro_rules! code_points {
    ($ty:ident { $($value:literal => $variant:ident, $name:literal;)* }) => {
        impl $ty {
            /// The variant for an H.273 code point; unknown ones are kept as `Reserved(n)`.
            pub fn from_code(code: u8) -> Self {
                match code {
                    $($value => $ty::$variant,)*
                    other => $ty::Reserved(other),
                }
            }

            /// The H.273 code point.
            pub fn code(self) -> u8 {
                match self {
                    $($ty::$variant => $value,)*
                    $ty::Reserved(code) => code,
                }
            }
        }

        impl fmt::Display for $ty {
            /// The name ffmpeg uses for the code point (`bt709`, `smpte170m`, ...), or
            /// `reserved(n)`.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($ty::$variant => f.write_str($name),)*
                    $ty::Reserved(code) => write!(f, "reserved({code})"),
                }
            }
        }
    };
}

code_points!(ColourPrimaries {
    1 => Bt709, "bt709";
    2 => Unspecified, "unspecified";
    4 => Bt470M, "bt470m";
    5 => Bt470Bg, "bt470bg";
    6 => Smpte170M, "smpte170m";
    7 => Smpte240M, "smpte240m";
    8 => Film, "film";
    9 => Bt2020, "bt2020";
    10 => Smpte428, "smpte428";
    11 => Smpte431, "smpte431";
    12 => Smpte432, "smpte432";
    22 => Ebu3213, "ebu3213";
});

code_points!(TransferCharacteristics {
    1 => Bt709, "bt709";
    2 => Unspecified, "unspecified";
    4 => Gamma22, "gamma22";
    5 => Gamma28, "gamma28";
    6 => Smpte170M, "smpte170m";
    7 => Smpte240M, "smpte240m";
    8 => Linear, "linear";
    9 => Log100, "log100";
    10 => Log316, "log316";
    11 => Iec61966_2_4, "iec61966-2-4";
    12 => Bt1361, "bt1361e";
    13 => Srgb, "iec61966-2-1";
    14 => Bt2020_10, "bt2020-10";
    15 => Bt2020_12, "bt2020-12";
    16 => Pq, "smpte2084";
    17 => Smpte428, "smpte428";
    18 => Hlg, "arib-std-b67";
});

code_points!(MatrixCoefficients {
    0 => Identity, "gbr";
    1 => Bt709, "bt709";
    2 => Unspecified, "unspecified";
    4 => Fcc, "fcc";
    5 => Bt470Bg, "bt470bg";
    6 => Smpte170M, "smpte170m";
    7 => Smpte240M, "smpte240m";
    8 => YCgCo, "ycgco";
    9 => Bt2020Ncl, "bt2020nc";
    10 => Bt2020Cl, "bt2020c";
    11 => Smpte2085, "smpte2085";
    12 => ChromaDerivedNcl, "chroma-derived-nc";
    13 => ChromaDerivedCl, "chroma-derived-c";
    14 => ICtCp, "ictcp";
});

impl fmt::Display for ColourRange {
    /// `tv` (limited) or `pc` (full), as ffmpeg names them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColourRange::Limited => "tv",
            ColourRange::Full => "pc",
        })
    }
}

/// The colour description of a stream, from its latest sequence header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ColourDescription {
    /// Colour primaries.
    pub primaries: ColourPrimaries,
    /// Transfer characteristics.
    pub transfer: TransferCharacteristics,
    /// Matrix coefficients.
    pub matrix: MatrixCoefficients,
    /// Sample range.
    pub range: ColourRange,
}

impl Default for ColourDescription {
    /// Everything unspecified, limited range: what a stream that says nothing means.
    fn default() -> Self {
        ColourDescription {
            primaries: ColourPrimaries::Unspecified,
            transfer: TransferCharacteristics::Unspecified,
            matrix: MatrixCoefficients::Unspecified,
            range: ColourRange::Limited,
        }
    }
}

impl fmt::Display for ColourDescription {
    /// `matrix/primaries/transfer, range`, e.g. `bt709/bt709/bt709, tv`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}, {}",
            self.matrix, self.primaries, self.transfer, self.range
        )
    }
}

/// The first row height at which an unspecified matrix is taken as BT.709, not BT.601.
pub const HD_ROWS: u32 = 720;

impl ColourDescription {
    /// A description from its parts.
    pub fn new(
        primaries: ColourPrimaries,
        transfer: TransferCharacteristics,
        matrix: MatrixCoefficients,
        range: ColourRange,
    ) -> Self {
        ColourDescription {
            primaries,
            transfer,
            matrix,
            range,
        }
    }

    /// The matrix a conversion of a picture `height` rows tall uses when nothing overrides
    /// it: the stream's, when it is one of the non-constant-luminance matrices a conversion
    /// can apply (BT.601 in either spelling, BT.709, BT.2020 NCL, FCC, SMPTE 240M);
    /// otherwise the usual rule for unspecified streams — BT.601 (`smpte170m`) below
    /// [`HD_ROWS`] rows, BT.709 at and above. An identity matrix on a 4:2:0 stream (which
    /// the standards forbid; some drivers report 0 for codecs whose bitstream has no
    /// description) counts as unspecified too. Matrices that are not a 3×3 linear map of
    /// Y′CbCr (YCgCo, constant luminance, ICtCp, ...) are refused by the converter unless
    /// overridden, never silently replaced: that is [`None`] here.
    pub fn conversion_matrix(&self, height: u32) -> Option<MatrixCoefficients> {
        use MatrixCoefficients as M;
        match self.matrix {
            M::Bt709 | M::Bt470Bg | M::Smpte170M | M::Bt2020Ncl | M::Fcc | M::Smpte240M => {
                Some(self.matrix)
            }
            M::Unspecified | M::Identity | M::Reserved(3) => Some(default_matrix(height)),
            M::Reserved(_)
            | M::YCgCo
            | M::Bt2020Cl
            | M::Smpte2085
            | M::ChromaDerivedNcl
            | M::ChromaDerivedCl
            | M::ICtCp => None,
        }
    }
}

/// The matrix assumed for a stream that does not state one: BT.601 below [`HD_ROWS`] rows,
/// BT.709 at and above.
pub fn default_matrix(height: u32) -> MatrixCoefficients {
    if height < HD_ROWS {
        MatrixCoefficients::Smpte170M
    } else {
        MatrixCoefficients::Bt709
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips_through_its_code_point() {
        for code in 0..=u8::MAX {
            assert_eq!(ColourPrimaries::from_code(code).code(), code);
            assert_eq!(TransferCharacteristics::from_code(code).code(), code);
            assert_eq!(MatrixCoefficients::from_code(code).code(), code);
        }
    }

    #[test]
    fn unspecified_stays_unspecified_and_is_resolved_only_for_conversion() {
        let d = ColourDescription::default();
        assert_eq!(d.matrix, MatrixCoefficients::Unspecified);
        assert_eq!(
            d.conversion_matrix(719),
            Some(MatrixCoefficients::Smpte170M)
        );
        assert_eq!(d.conversion_matrix(720), Some(MatrixCoefficients::Bt709));
        assert_eq!(d.conversion_matrix(1080), Some(MatrixCoefficients::Bt709));
        let stated = ColourDescription {
            matrix: MatrixCoefficients::Bt709,
            ..d
        };
        assert_eq!(
            stated.conversion_matrix(360),
            Some(MatrixCoefficients::Bt709)
        );
        let ycgco = ColourDescription {
            matrix: MatrixCoefficients::YCgCo,
            ..d
        };
        assert_eq!(ycgco.conversion_matrix(1080), None);
    }
}
