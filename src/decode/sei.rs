//! SEI messages delivered with the frame they belong to, in display order (opt-in:
//! [`DecoderConfig::with_sei`](super::DecoderConfig::with_sei)).
//!
//! Invariant: the messages of a picture are kept by its decode surface index from NVDEC's
//! SEI callback (which runs in decode order) until the display callback of that surface takes
//! them into the frame, so a frame carries exactly the messages of its own access unit
//! whatever the reordering. Memory is bounded: at most [`MAX_SEI_BYTES`] of payload and
//! [`MAX_SEI_MESSAGES`] messages per picture (a picture exceeding either keeps none and is
//! counted in [`DecoderStats::sei_dropped`](super::DecoderStats)), and one slot per decode
//! surface (at most 64).
//!
//! Why by surface index: the parser reports SEI with the index of the surface the picture is
//! decoded into (`CUVIDSEIMESSAGEINFO::picIdx`) and displays by the same index; a surface is
//! handed out again only after its picture was displayed, which is when the messages move
//! into the queued frame.

/// Most payload bytes kept for one picture.
pub const MAX_SEI_BYTES: usize = 64 * 1024;
/// Most messages kept for one picture.
pub const MAX_SEI_MESSAGES: usize = 64;

/// One SEI message: its payload type (H.264 / HEVC `payloadType`) and payload bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeiMessage {
    payload_type: u8,
    payload: Vec<u8>,
}

/// `user_data_unregistered`.
pub const SEI_USER_DATA_UNREGISTERED: u8 = 5;
/// `user_data_registered_itu_t_t35` (closed captions travel here).
pub const SEI_USER_DATA_REGISTERED: u8 = 4;
/// `mastering_display_colour_volume`.
pub const SEI_MASTERING_DISPLAY: u8 = 137;
/// `content_light_level_info`.
pub const SEI_CONTENT_LIGHT_LEVEL: u8 = 144;

/// SMPTE ST 2086 mastering display colour volume, as coded (chromaticities in units of
/// 0.00002, luminance in units of 0.0001 cd/m²).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MasteringDisplay {
    /// `(x, y)` of the three primaries in bitstream order (G, B, R in HDR10 streams).
    pub primaries: [(u16, u16); 3],
    /// `(x, y)` of the white point.
    pub white_point: (u16, u16),
    /// Maximum display mastering luminance.
    pub max_luminance: u32,
    /// Minimum display mastering luminance.
    pub min_luminance: u32,
}

/// Content light level (CTA-861.3 MaxCLL / MaxFALL), cd/m².
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContentLightLevel {
    /// MaxCLL.
    pub max_content: u16,
    /// MaxFALL.
    pub max_frame_average: u16,
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

impl SeiMessage {
    /// A message of `payload_type` with `payload`.
    pub fn new(payload_type: u8, payload: Vec<u8>) -> Self {
        SeiMessage {
            payload_type,
            payload,
        }
    }

    /// The payload type.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The mastering display colour volume, if this is one. NVDEC hands this message over
    /// parsed, as its `SEIMASTERINGDISPLAYINFO` (24 bytes, host byte order): the three `x`,
    /// then the three `y` of the primaries, the white point's `x` and `y`, then the maximum and
    /// minimum luminance (not the coded big-endian layout: read as such, the driver's bytes
    /// give nonsense).
    pub fn mastering_display(&self) -> Option<MasteringDisplay> {
        if self.payload_type != SEI_MASTERING_DISPLAY {
            return None;
        }
        let p = &self.payload;
        let xy = |i: usize| Some((le16(p, 2 * i)?, le16(p, 6 + 2 * i)?));
        Some(MasteringDisplay {
            primaries: [xy(0)?, xy(1)?, xy(2)?],
            white_point: (le16(p, 12)?, le16(p, 14)?),
            max_luminance: le32(p, 16)?,
            min_luminance: le32(p, 20)?,
        })
    }

    /// The content light level, if this is one: NVDEC's parsed `SEICONTENTLIGHTLEVELINFO`
    /// (MaxCLL, MaxFALL as host-order `u16`, then 4 reserved bytes).
    pub fn content_light_level(&self) -> Option<ContentLightLevel> {
        if self.payload_type != SEI_CONTENT_LIGHT_LEVEL {
            return None;
        }
        Some(ContentLightLevel {
            max_content: le16(&self.payload, 0)?,
            max_frame_average: le16(&self.payload, 2)?,
        })
    }

    /// `(uuid, user data)` of a user-data-unregistered message.
    pub fn user_data_unregistered(&self) -> Option<([u8; 16], &[u8])> {
        if self.payload_type != SEI_USER_DATA_UNREGISTERED {
            return None;
        }
        let uuid: [u8; 16] = self.payload.get(..16)?.try_into().ok()?;
        Some((uuid, &self.payload[16..]))
    }

    /// The ATSC A/53 `cc_data` bytes (`cc_count` triplets after the flags byte and the
    /// reserved byte) of a closed-caption message: ITU-T T.35, country 0xB5 (USA), provider
    /// 0x0031, user identifier `GA94`, user data type 3.
    pub fn closed_captions(&self) -> Option<&[u8]> {
        if self.payload_type != SEI_USER_DATA_REGISTERED {
            return None;
        }
        let p = &self.payload;
        if p.get(..8)? != [0xB5, 0x00, 0x31, b'G', b'A', b'9', b'4', 3] {
            return None;
        }
        let count = usize::from(*p.get(8)? & 0x1f);
        p.get(10..10 + 3 * count)
    }
}

/// Copies one picture's messages out of the driver's buffers, within the bounds. `None`:
/// over the bounds (the picture keeps none).
///
/// `sizes` are the driver's per-message sizes and `types` their payload types; `data` is the
/// concatenated payloads the driver handed over, read only up to the sum of `sizes`, which is
/// checked against [`MAX_SEI_BYTES`] before any byte is read.
pub(crate) fn collect(
    types_and_sizes: &[(u8, u32)],
    data: impl FnOnce(usize) -> Option<Vec<u8>>,
) -> Option<Vec<SeiMessage>> {
    if types_and_sizes.len() > MAX_SEI_MESSAGES {
        return None;
    }
    let mut total = 0usize;
    for &(_, size) in types_and_sizes {
        total = total.checked_add(usize::try_from(size).ok()?)?;
        if total > MAX_SEI_BYTES {
            return None;
        }
    }
    let bytes = data(total)?;
    let mut messages = Vec::with_capacity(types_and_sizes.len());
    let mut at = 0usize;
    for &(kind, size) in types_and_sizes {
        let size = size as usize; // ≤ total, checked above
        messages.push(SeiMessage::new(kind, bytes.get(at..at + size)?.to_vec()));
        at += size;
    }
    Some(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hdr10_mastering_display_and_light_level_read_as_nvdec_hands_them_over() {
        // x265 --master-display G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)
        // as NVDEC's SEIMASTERINGDISPLAYINFO: x[3], y[3], white x, white y, max, min.
        let mut p = Vec::new();
        for v in [13250u16, 7500, 34000, 34500, 3000, 16000, 15635, 16450] {
            p.extend_from_slice(&v.to_le_bytes());
        }
        p.extend_from_slice(&10_000_000u32.to_le_bytes());
        p.extend_from_slice(&1u32.to_le_bytes());
        let md = SeiMessage::new(SEI_MASTERING_DISPLAY, p)
            .mastering_display()
            .unwrap();
        assert_eq!(md.primaries, [(13250, 34500), (7500, 3000), (34000, 16000)]);
        assert_eq!(md.white_point, (15635, 16450));
        assert_eq!((md.max_luminance, md.min_luminance), (10_000_000, 1));
        let cll = SeiMessage::new(
            SEI_CONTENT_LIGHT_LEVEL,
            vec![0xE8, 0x03, 0x90, 0x01, 0, 0, 0, 0],
        );
        let cll = cll.content_light_level().unwrap();
        assert_eq!((cll.max_content, cll.max_frame_average), (1000, 400));
        // Short payloads and other types are None, never a panic.
        assert!(
            SeiMessage::new(SEI_MASTERING_DISPLAY, vec![0; 23])
                .mastering_display()
                .is_none()
        );
        assert!(
            SeiMessage::new(SEI_CONTENT_LIGHT_LEVEL, vec![1])
                .content_light_level()
                .is_none()
        );
        assert!(
            SeiMessage::new(5, vec![0; 40])
                .content_light_level()
                .is_none()
        );
    }

    #[test]
    fn captions_and_unregistered_user_data_are_found_by_their_headers() {
        let mut cc = vec![0xB5, 0x00, 0x31, b'G', b'A', b'9', b'4', 3, 0x40 | 2, 0xFF];
        cc.extend_from_slice(&[0xFC, 0x94, 0x20, 0xFC, 0x94, 0xAE, 0xFF]);
        let msg = SeiMessage::new(SEI_USER_DATA_REGISTERED, cc);
        assert_eq!(
            msg.closed_captions(),
            Some(&[0xFC, 0x94, 0x20, 0xFC, 0x94, 0xAE][..])
        );
        let truncated = SeiMessage::new(SEI_USER_DATA_REGISTERED, msg.payload()[..12].to_vec());
        assert_eq!(truncated.closed_captions(), None);
        let mut un = vec![7u8; 16];
        un.extend_from_slice(b"x264 - core");
        let msg = SeiMessage::new(SEI_USER_DATA_UNREGISTERED, un);
        assert_eq!(
            msg.user_data_unregistered(),
            Some(([7u8; 16], &b"x264 - core"[..]))
        );
        assert!(
            SeiMessage::new(SEI_USER_DATA_UNREGISTERED, vec![1; 15])
                .user_data_unregistered()
                .is_none()
        );
    }

    #[test]
    fn a_picture_over_the_bounds_keeps_nothing_and_nothing_is_read() {
        let read = |n: usize| Some(vec![0xAB; n]);
        let ok = collect(&[(5, 20), (137, 24)], read).unwrap();
        assert_eq!(
            ok.iter().map(|m| m.payload().len()).collect::<Vec<_>>(),
            vec![20, 24]
        );
        let too_big = collect(
            &[(5, MAX_SEI_BYTES as u32), (5, 1)],
            |_| -> Option<Vec<u8>> { panic!("read although over the bound") },
        );
        assert!(too_big.is_none());
        let absurd = collect(&[(5, u32::MAX)], |_| -> Option<Vec<u8>> { panic!("read") });
        assert!(absurd.is_none());
        let many = vec![(5u8, 0u32); MAX_SEI_MESSAGES + 1];
        assert!(collect(&many, |_| -> Option<Vec<u8>> { panic!("read") }).is_none());
    }
}
