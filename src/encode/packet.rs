//! [`EncodedPacket`]s and the decode timestamps the encoder derives for them.

use std::collections::VecDeque;

use nvidia_video_codec_sdk::sys::nvEncodeAPI::NV_ENC_PIC_TYPE;

/// The type NVENC gave an encoded picture (`NV_ENC_PIC_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PictureType {
    /// Predicted.
    P,
    /// Bi-predicted.
    B,
    /// Intra, not a random-access point.
    I,
    /// Instantaneous decoder refresh: a random-access point (AV1: key frame).
    Idr,
    /// Bi-predicted intra.
    Bi,
    /// Skipped.
    Skipped,
    /// Intra refresh.
    IntraRefresh,
    /// Non-reference P.
    NonRefP,
    /// A value this crate's header does not know (newer driver), or `UNKNOWN`.
    Unknown(u32),
}

impl PictureType {
    /// From the raw `NV_ENC_PIC_TYPE` value the driver wrote.
    pub(crate) fn from_raw(raw: u32) -> Self {
        use NV_ENC_PIC_TYPE as T;
        match raw {
            r if r == T::NV_ENC_PIC_TYPE_P as u32 => PictureType::P,
            r if r == T::NV_ENC_PIC_TYPE_B as u32 => PictureType::B,
            r if r == T::NV_ENC_PIC_TYPE_I as u32 => PictureType::I,
            r if r == T::NV_ENC_PIC_TYPE_IDR as u32 => PictureType::Idr,
            r if r == T::NV_ENC_PIC_TYPE_BI as u32 => PictureType::Bi,
            r if r == T::NV_ENC_PIC_TYPE_SKIPPED as u32 => PictureType::Skipped,
            r if r == T::NV_ENC_PIC_TYPE_INTRA_REFRESH as u32 => PictureType::IntraRefresh,
            r if r == T::NV_ENC_PIC_TYPE_NONREF_P as u32 => PictureType::NonRefP,
            other => PictureType::Unknown(other),
        }
    }

    /// Whether a decoder can start at this picture.
    pub fn is_keyframe(self) -> bool {
        self == PictureType::Idr
    }
}

/// One encoded picture (an access unit; Annex-B for H.264/HEVC, OBUs for AV1), in decode
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPacket {
    /// The bitstream bytes. Stream headers precede every IDR (they are also available
    /// separately from [`Encoder::sequence_headers`](super::Encoder::sequence_headers)).
    pub data: Vec<u8>,
    /// Presentation timestamp: the `pts` passed with the frame.
    pub pts: i64,
    /// Decode timestamp: non-decreasing in packet order and never after `pts`; equal to it
    /// without B-frames (see [`Encoder::encode`](super::Encoder::encode)).
    pub dts: i64,
    /// Whether this is a random-access point (an IDR picture).
    pub keyframe: bool,
    /// The picture type.
    pub picture_type: PictureType,
}

/// Derives decode timestamps from the input timestamps.
///
/// Packets come out in decode order, each picture at most `delay` (the B-frame count)
/// positions after where it was submitted. The `k`-th packet gets the `k - delay`-th input
/// timestamp (inputs are in presentation order, so that is never after the packet's own
/// pts); the first `delay` packets extrapolate below the first input by the first frame
/// interval. The result is the same shift ffmpeg applies to NVENC's output.
#[derive(Debug, Clone, Default)]
pub(crate) struct DtsClock {
    delay: u32,
    /// Input timestamps not yet used as a dts, oldest first.
    inputs: VecDeque<i64>,
    /// The first two inputs of the segment, for the extrapolation step.
    first: Option<i64>,
    second: Option<i64>,
    emitted: u64,
}

impl DtsClock {
    pub(crate) fn new(b_frames: u32) -> Self {
        DtsClock {
            delay: b_frames,
            ..Default::default()
        }
    }

    /// Records a submitted frame's pts (in submission = presentation order).
    pub(crate) fn submit(&mut self, pts: i64) {
        if self.first.is_none() {
            self.first = Some(pts);
        } else if self.second.is_none() {
            self.second = Some(pts);
        }
        self.inputs.push_back(pts);
    }

    /// The dts of the next packet in decode order.
    pub(crate) fn next(&mut self) -> i64 {
        let k = self.emitted;
        self.emitted = self.emitted.saturating_add(1);
        if k < u64::from(self.delay) {
            let first = self.first.unwrap_or(0);
            let step = match (self.first, self.second) {
                (Some(a), Some(b)) if b > a => b.saturating_sub(a),
                _ => 1,
            };
            let back = i64::try_from(u64::from(self.delay) - k).unwrap_or(i64::MAX);
            return first.saturating_sub(step.saturating_mul(back));
        }
        self.inputs.pop_front().unwrap_or(0)
    }

    /// Starts a new segment (after a flush).
    pub(crate) fn reset(&mut self) {
        *self = DtsClock::new(self.delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_picture_types_map_from_raw_values() {
        assert_eq!(PictureType::from_raw(0), PictureType::P);
        assert_eq!(PictureType::from_raw(1), PictureType::B);
        assert_eq!(PictureType::from_raw(2), PictureType::I);
        assert_eq!(PictureType::from_raw(3), PictureType::Idr);
        assert_eq!(PictureType::from_raw(7), PictureType::NonRefP);
        assert_eq!(PictureType::from_raw(255), PictureType::Unknown(255));
        assert_eq!(PictureType::from_raw(42), PictureType::Unknown(42));
        assert!(PictureType::Idr.is_keyframe());
        assert!(!PictureType::I.is_keyframe());
    }

    #[test]
    fn encode_dts_equals_pts_without_b_frames() {
        let mut clock = DtsClock::new(0);
        for pts in [0, 3000, 6000] {
            clock.submit(pts);
            assert_eq!(clock.next(), pts);
        }
    }

    #[test]
    fn encode_dts_never_passes_pts_with_b_frames() {
        // 2 B-frames: display I0 B1 B2 P3 B4 B5 P6, decode I0 P3 B1 B2 P6 B4 B5.
        let step = 512;
        let mut clock = DtsClock::new(2);
        let decode_order = [0i64, 3, 1, 2, 6, 4, 5];
        for i in 0..7 {
            clock.submit(i * step);
        }
        let mut last = i64::MIN;
        for display in decode_order {
            let pts = display * step;
            let dts = clock.next();
            assert!(dts <= pts, "dts {dts} after pts {pts}");
            assert!(dts > last, "dts not increasing: {dts} after {last}");
            last = dts;
        }
        clock.reset();
        clock.submit(100);
        clock.submit(101);
        assert_eq!(clock.next(), 98);
    }
}
