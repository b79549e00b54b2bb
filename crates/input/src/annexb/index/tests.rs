//! The Annex-B index: POC derivation and display ranks against hand-made streams.

use super::*;

/// Writes RBSP bits and turns them into a NAL unit with start code and emulation
/// prevention, as an encoder does.
#[derive(Default)]
struct Bits(Vec<bool>);

impl Bits {
    fn u(mut self, n: u32, value: u64) -> Self {
        for i in (0..n).rev() {
            self.0.push(i < 64 && (value >> i) & 1 == 1);
        }
        self
    }
    fn ue(self, value: u64) -> Self {
        let code = value + 1;
        let len = 64 - code.leading_zeros();
        self.u(len - 1, 0).u(len, code)
    }
    fn se(self, value: i64) -> Self {
        let code = if value > 0 { 2 * value - 1 } else { -2 * value };
        self.ue(code as u64)
    }
    /// `00 00 01`, the header bytes, the RBSP with its stop bit, escaped.
    fn nal(self, header: &[u8]) -> Vec<u8> {
        let mut bits = self.0;
        bits.push(true);
        while bits.len() % 8 != 0 {
            bits.push(false);
        }
        let mut out = vec![0, 0, 1];
        out.extend_from_slice(header);
        let mut zeros = 0;
        for byte in bits.chunks(8) {
            let byte = byte.iter().fold(0u8, |b, &bit| (b << 1) | u8::from(bit));
            if zeros >= 2 && byte <= 3 {
                out.push(3);
                zeros = 0;
            }
            out.push(byte);
            zeros = if byte == 0 { zeros + 1 } else { 0 };
        }
        out
    }
}

/// Indexes access units given one by one (as the splitter cuts them).
fn index_of(syntax: Syntax, units: &[Vec<u8>]) -> SampleIndex {
    let mut indexer = RawIndexer::new(syntax);
    let mut offset = 0;
    for au in units {
        indexer.push(au, offset);
        offset += au.len() as u64;
    }
    indexer.finish()
}

fn pts_and_keys(index: &SampleIndex) -> (Vec<i64>, Vec<bool>) {
    (
        (0..index.len()).map(|i| index.pts(i).unwrap()).collect(),
        (0..index.len()).map(|i| index.is_key(i)).collect(),
    )
}

/// Baseline SPS 0, POC type 1 (one offset of 2 a reference frame, -1 for non-reference
/// pictures, +1 top to bottom), 4-bit frame_num, fields allowed; and PPS 0.
fn h264_parameter_sets() -> Vec<u8> {
    let sps = Bits::default()
        .u(8, 66)
        .u(8, 0)
        .u(8, 30)
        .ue(0)
        .ue(0)
        .ue(1)
        .u(1, 0)
        .se(-1)
        .se(1)
        .ue(1)
        .se(2)
        .ue(1)
        .u(1, 0)
        .ue(0)
        .ue(0)
        .u(1, 0)
        .nal(&[0x67]);
    let pps = Bits::default().ue(0).ue(0).u(1, 0).u(1, 0).nal(&[0x68]);
    [sps, pps].concat()
}

/// A slice NAL unit: `field` is None for a frame, Some(bottom) for a field.
fn h264_slice(idr: bool, reference: bool, frame_num: u64, field: Option<bool>) -> Vec<u8> {
    let mut bits = Bits::default()
        .ue(0)
        .ue(if idr { 7 } else { 5 })
        .ue(0)
        .u(4, frame_num)
        .u(1, u64::from(field.is_some()));
    if let Some(bottom) = field {
        bits = bits.u(1, u64::from(bottom));
    }
    if idr {
        bits = bits.ue(0);
    }
    let header = match (idr, reference) {
        (true, _) => 0x65,
        (false, true) => 0x41,
        (false, false) => 0x01,
    };
    bits.se(0).nal(&[header])
}

#[test]
fn h264_poc_type_1_frames_are_ranked_by_their_expected_order_count() {
    // I (POC 0), P (POC 2), non-reference B (POC 2 - 1 = 1): shown I, B, P.
    let units = [
        [h264_parameter_sets(), h264_slice(true, true, 0, None)].concat(),
        h264_slice(false, true, 1, None),
        h264_slice(false, false, 2, None),
    ];
    let (pts, keys) = pts_and_keys(&index_of(Syntax::H264, &units));
    assert_eq!(pts, [0, 2, 1]);
    assert_eq!(keys, [true, false, false]);
}

#[test]
fn h264_field_pairs_are_one_frame_ranked_at_their_first_field() {
    let units = [
        [
            h264_parameter_sets(),
            h264_slice(true, true, 0, Some(false)),
        ]
        .concat(),
        h264_slice(true, true, 0, Some(true)),
        h264_slice(false, true, 1, Some(false)),
        h264_slice(false, true, 1, Some(true)),
        h264_slice(false, false, 2, Some(false)),
        h264_slice(false, false, 2, Some(true)),
    ];
    let (pts, keys) = pts_and_keys(&index_of(Syntax::H264, &units));
    assert_eq!(pts, [0, NOT_SHOWN, 2, NOT_SHOWN, 1, NOT_SHOWN]);
    assert_eq!(keys, [true, false, false, false, false, false]);
}

#[test]
fn h264_slices_without_their_parameter_sets_are_not_shown() {
    let units = [
        h264_slice(false, true, 1, None),
        [h264_parameter_sets(), h264_slice(true, true, 0, None)].concat(),
    ];
    let (pts, keys) = pts_and_keys(&index_of(Syntax::H264, &units));
    assert_eq!(pts, [NOT_SHOWN, 0]);
    assert_eq!(keys, [false, true]);
}

fn hevc_parameter_sets() -> Vec<u8> {
    let sps = Bits::default()
        .u(4, 0)
        .u(3, 0)
        .u(1, 1)
        .u(96, 0)
        .ue(0)
        .ue(1)
        .ue(64)
        .ue(64)
        .u(1, 0)
        .ue(0)
        .ue(0)
        .ue(4)
        .nal(&[33 << 1, 1]);
    // pic_output_flag present.
    let pps = Bits::default()
        .ue(0)
        .ue(0)
        .u(1, 0)
        .u(1, 1)
        .u(3, 0)
        .nal(&[34 << 1, 1]);
    [sps, pps].concat()
}

fn hevc_slice(nal_type: u8, output: bool, poc_lsb: u64) -> Vec<u8> {
    let irap = (16..=23).contains(&nal_type);
    let mut bits = Bits::default().u(1, 1);
    if irap {
        bits = bits.u(1, 0);
    }
    bits = bits
        .ue(0)
        .ue(if irap { 2 } else { 1 })
        .u(1, u64::from(output));
    if !matches!(nal_type, 19 | 20) {
        bits = bits.u(8, poc_lsb);
    }
    bits.nal(&[nal_type << 1, 1])
}

#[test]
fn hevc_output_flag_end_of_sequence_and_rasl_after_a_starting_cra() {
    let eos = vec![0, 0, 1, 36 << 1, 1];
    let units = [
        [hevc_parameter_sets(), hevc_slice(19, true, 0)].concat(),
        hevc_slice(1, false, 2), // pic_output_flag 0
        [hevc_slice(1, true, 1), eos].concat(),
        hevc_slice(21, true, 5), // CRA after EOS: NoRaslOutputFlag 1
        hevc_slice(8, true, 3),  // its RASL picture: not output
        hevc_slice(1, true, 6),
        hevc_slice(21, true, 12), // CRA mid-sequence: its RASL pictures are output
        hevc_slice(8, true, 10),
    ];
    let (pts, keys) = pts_and_keys(&index_of(Syntax::Hevc, &units));
    assert_eq!(pts, [0, NOT_SHOWN, 1, 2, NOT_SHOWN, 3, 5, 4]);
    assert_eq!(keys, [true, false, false, true, false, false, true, false]);
}

#[test]
fn hevc_poc_msb_follows_lsb_wrapping() {
    // 8-bit lsb: 0, 100, 200, 44 (= 300), 250 (= 250, before 300).
    let units = [
        [hevc_parameter_sets(), hevc_slice(19, true, 0)].concat(),
        hevc_slice(1, true, 100),
        hevc_slice(1, true, 200),
        hevc_slice(1, true, 44),
        hevc_slice(1, true, 250),
    ];
    let (pts, _) = pts_and_keys(&index_of(Syntax::Hevc, &units));
    assert_eq!(pts, [0, 1, 2, 4, 3]);
}
