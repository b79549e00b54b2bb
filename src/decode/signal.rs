//! The stream's colour description from the bytes NVDEC reports it in.
//!
//! Invariant: every 4-byte value maps to a description (unknown code points are kept as
//! `Reserved(n)`, see [`ColourDescription`]), so no driver-written byte can be an invalid enum.

use nvcodec_media::{
    ColourDescription, ColourPrimaries, ColourRange, MatrixCoefficients, TransferCharacteristics,
};

/// From the four bytes of NVDEC's `CUVIDEOFORMAT::video_signal_description`: byte 0 holds the
/// bit-fields `video_format:3, video_full_range_flag:1, reserved:4` (allocated from the least
/// significant bit, as GCC and MSVC lay out `unsigned char` bit-fields on little-endian
/// targets), then one byte each of primaries, transfer and matrix.
pub(crate) fn colour_from_cuvid_signal(bytes: [u8; 4]) -> ColourDescription {
    let [flags, primaries, transfer, matrix] = bytes;
    ColourDescription::new(
        ColourPrimaries::from_code(primaries),
        TransferCharacteristics::from_code(transfer),
        MatrixCoefficients::from_code(matrix),
        if flags & 0b1000 != 0 {
            ColourRange::Full
        } else {
            ColourRange::Limited
        },
    )
}

#[cfg(test)]
mod tests {
    use super::colour_from_cuvid_signal as from_signal;
    use nvcodec_media::{ColourDescription, ColourRange, MatrixCoefficients};

    #[test]
    fn the_driver_bytes_of_a_full_range_bt709_stream_read_as_such() {
        // video_format 5 (unspecified) in bits 0..3, full range in bit 3.
        let d = from_signal([5 | 0b1000, 1, 1, 1]);
        assert_eq!(d.range, ColourRange::Full);
        assert_eq!(d.matrix, MatrixCoefficients::Bt709);
        assert_eq!(d.to_string(), "bt709/bt709/bt709, pc");
        let limited = from_signal([5, 2, 2, 2]);
        assert_eq!(limited, ColourDescription::default());
        assert_eq!(
            limited.to_string(),
            "unspecified/unspecified/unspecified, tv"
        );
        let hdr = from_signal([0, 9, 16, 9]);
        assert_eq!(hdr.to_string(), "bt2020nc/bt2020/smpte2084, tv");
        assert_eq!(
            from_signal([0, 200, 200, 200]).to_string(),
            "reserved(200)/reserved(200)/reserved(200), tv"
        );
    }
}
