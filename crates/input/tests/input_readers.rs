//! Specifications of the input readers (`nvcodec_input::input`) as property tests.
//!
//! For any bytes at all, every reader terminates without panicking, and what it yields is a
//! partition: non-empty, contiguous, non-overlapping sub-slices of the input that start at
//! the first start code (IVF: at the first frame) and reach the end of the input unless an
//! error, which is always the last item, cut the iteration short. For well-formed generated
//! streams, the packets are exactly the pictures that were generated.

mod common;

use std::path::Path;

use nvcodec_input::{AccessUnits, ElementaryStream, FormatHint, IvfReader, Mpeg2Pictures, Packet};
use nvcodec_input::{Codec, Result};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Checking a partition
// ---------------------------------------------------------------------------------------

/// Offset of the first `00 00 01` in `data`, by a naive scan.
fn first_prefix(data: &[u8]) -> Option<usize> {
    data.windows(3).position(|w| w == [0, 0, 1])
}

/// Where a splitter's first packet must begin: the first start code, with the zero byte
/// of a 4-byte Annex-B start code when `zero_byte` says so.
fn expected_first_start(data: &[u8], zero_byte: bool) -> Option<usize> {
    let p = first_prefix(data)?;
    Some(if zero_byte && p > 0 && data[p - 1] == 0 {
        p - 1
    } else {
        p
    })
}

/// Offset of `part` inside `data`; fails if it is not a sub-slice of it.
fn offset_in(data: &[u8], part: &[u8]) -> usize {
    let base = data.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    assert!(
        at >= base && at + part.len() <= base + data.len(),
        "packet is not a sub-slice of the input"
    );
    at - base
}

/// Drains a start-code splitter and checks that it partitions `data` from `first_start`:
/// returns the packets' offsets and whether it ended in an error.
fn check_split<'a>(
    data: &'a [u8],
    mut items: impl Iterator<Item = Result<&'a [u8]>>,
    first_start: Option<usize>,
) -> (Vec<usize>, bool) {
    let mut offsets = Vec::new();
    let mut cursor = first_start;
    let mut failed = false;
    for item in items.by_ref() {
        assert!(!failed, "an item followed an error");
        assert!(
            offsets.len() <= data.len(),
            "more packets than bytes: no termination"
        );
        match item {
            Ok(part) => {
                assert!(!part.is_empty(), "empty packet");
                let at = offset_in(data, part);
                assert_eq!(Some(at), cursor, "packets are not contiguous");
                assert!(part.starts_with(&[0, 0, 1]) || part.starts_with(&[0, 0, 0, 1]));
                offsets.push(at);
                cursor = Some(at + part.len());
            }
            Err(_) => failed = true,
        }
    }
    assert!(items.next().is_none(), "the iterator is not fused");
    match (first_start, failed) {
        (None, _) => {
            assert!(offsets.is_empty());
            assert_eq!(
                failed,
                !data.is_empty(),
                "no start code: error iff input non-empty"
            );
        }
        (Some(_), false) => assert_eq!(cursor, Some(data.len()), "packets stop short"),
        (Some(_), true) => {}
    }
    (offsets, failed)
}

fn check_h264(data: &[u8]) -> (Vec<usize>, bool) {
    check_split(
        data,
        AccessUnits::h264(data),
        expected_first_start(data, true),
    )
}

fn check_hevc(data: &[u8]) -> (Vec<usize>, bool) {
    check_split(
        data,
        AccessUnits::hevc(data),
        expected_first_start(data, true),
    )
}

fn check_mpeg2(data: &[u8]) -> (Vec<usize>, bool) {
    check_split(
        data,
        Mpeg2Pictures::new(data),
        expected_first_start(data, false),
    )
}

/// Drains an IVF reader (if the header parses) and checks that frames lie back to back
/// after the header, each behind its 12-byte frame header, up to the end of the file
/// unless an error ended the iteration. Returns the number of frames, or `None` if the
/// header was rejected.
fn check_ivf(data: &[u8]) -> Option<usize> {
    let reader = IvfReader::new(data).ok()?;
    let mut next_header = usize::from(reader.header().header_len);
    assert!(next_header >= 32 && next_header <= data.len());
    let mut frames = reader.frames();
    let mut count = 0;
    let mut failed = false;
    for frame in frames.by_ref() {
        assert!(!failed, "an item followed an error");
        match frame {
            Ok(Packet { data: payload, .. }) => {
                assert_eq!(offset_in(data, payload), next_header + 12);
                next_header += 12 + payload.len();
                count += 1;
            }
            Err(_) => failed = true,
        }
    }
    assert!(frames.next().is_none(), "the iterator is not fused");
    if !failed {
        assert_eq!(next_header, data.len(), "frames stop short of the end");
    }
    Some(count)
}

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

/// Bytes rich in zeros and ones, so that start codes (and near misses) are common.
fn start_code_rich_bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![4 => Just(0u8), 3 => Just(1u8), 3 => any::<u8>()];
    prop::collection::vec(byte, 0..max_len)
}

/// Payload bytes that cannot form a start code or trailing zeros: all non-zero.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8..=255, 0..6)
}

/// Bit flips (position modulo length, bit index) and a truncation point (modulo length + 1).
fn damage() -> impl Strategy<Value = (Vec<(usize, u8)>, Option<usize>)> {
    (
        prop::collection::vec((any::<usize>(), 0u8..8), 0..4),
        prop::option::of(any::<usize>()),
    )
}

fn apply_damage(mut data: Vec<u8>, (flips, cut): (Vec<(usize, u8)>, Option<usize>)) -> Vec<u8> {
    if !data.is_empty() {
        for (at, bit) in flips {
            let len = data.len();
            data[at % len] ^= 1 << bit;
        }
    }
    if let Some(cut) = cut {
        data.truncate(cut % (data.len() + 1));
    }
    data
}

/// One generated picture of an Annex-B or MPEG-2 stream: which optional units precede and
/// follow its slices, how many slices, and random payloads.
#[derive(Debug, Clone)]
struct PictureSpec {
    delimiter: bool,
    parameter_sets: bool,
    sei: bool,
    slices: usize,
    trailer: bool,
    keyframe: bool,
    payloads: Vec<Vec<u8>>,
    first_byte: u8,
}

fn picture_spec() -> impl Strategy<Value = PictureSpec> {
    (
        any::<[bool; 5]>(),
        1usize..4,
        prop::collection::vec(payload(), 12),
        any::<u8>(),
    )
        .prop_map(|(flags, slices, payloads, first_byte)| PictureSpec {
            delimiter: flags[0],
            parameter_sets: flags[1],
            sei: flags[2],
            trailer: flags[3],
            keyframe: flags[4],
            slices,
            payloads,
            first_byte,
        })
}

/// A stream generated from picture specs: its bytes and where each picture begins.
#[derive(Debug)]
struct Generated {
    bytes: Vec<u8>,
    picture_starts: Vec<usize>,
}

/// Appends NAL units / start-code units behind 3- or 4-byte start codes chosen by `long`.
struct Writer {
    bytes: Vec<u8>,
    long: Vec<bool>,
    units: usize,
}

impl Writer {
    fn new(long: Vec<bool>) -> Self {
        Self {
            bytes: Vec::new(),
            long,
            units: 0,
        }
    }

    /// Writes one unit; returns the offset its start code begins at.
    fn unit(&mut self, header: &[u8], payload: &[u8]) -> usize {
        let at = self.bytes.len();
        let four = self.long.get(self.units % self.long.len().max(1)) == Some(&true);
        self.units += 1;
        if four {
            self.bytes.push(0);
        }
        self.bytes.extend_from_slice(&[0, 0, 1]);
        self.bytes.extend_from_slice(header);
        self.bytes.extend_from_slice(payload);
        at
    }
}

/// The second slice-header byte: top bit set only for the first slice of a picture, never
/// zero (payloads are non-zero so no unintended start code or trailing zero appears).
fn slice_flag_byte(spec: &PictureSpec, slice: usize) -> u8 {
    if slice == 0 {
        spec.first_byte | 0x80
    } else {
        (spec.first_byte & 0x7f).max(1)
    }
}

fn h264_stream(pictures: &[PictureSpec], long: Vec<bool>) -> Generated {
    let mut w = Writer::new(long);
    let mut picture_starts = Vec::new();
    for spec in pictures {
        let mut first = None;
        let p = |i: usize| spec.payloads[i % spec.payloads.len()].clone();
        if spec.delimiter {
            first.get_or_insert(w.unit(&[0x09, 0xf0], &[]));
        }
        if spec.parameter_sets {
            first.get_or_insert(w.unit(&[0x67, 0x64], &p(0)));
            w.unit(&[0x68, 0xee], &p(1));
        }
        if spec.sei {
            first.get_or_insert(w.unit(&[0x06, 0x05], &p(2)));
        }
        let nal_header = if spec.keyframe { 0x65 } else { 0x41 };
        for s in 0..spec.slices {
            let at = w.unit(&[nal_header, slice_flag_byte(spec, s)], &p(3 + s));
            first.get_or_insert(at);
        }
        if spec.trailer {
            w.unit(&[0x0c, 0xff], &p(8)); // filler data stays with the picture
        }
        picture_starts.push(first.unwrap());
    }
    Generated {
        bytes: w.bytes,
        picture_starts,
    }
}

fn hevc_stream(pictures: &[PictureSpec], long: Vec<bool>) -> Generated {
    let mut w = Writer::new(long);
    let mut picture_starts = Vec::new();
    for spec in pictures {
        let mut first = None;
        let p = |i: usize| spec.payloads[i % spec.payloads.len()].clone();
        if spec.delimiter {
            first.get_or_insert(w.unit(&[0x46, 0x01, 0x50], &[]));
        }
        if spec.parameter_sets {
            first.get_or_insert(w.unit(&[0x40, 0x01], &p(0)));
            w.unit(&[0x42, 0x01], &p(1));
            w.unit(&[0x44, 0x01], &p(2));
        }
        if spec.sei {
            first.get_or_insert(w.unit(&[0x4e, 0x01], &p(3)));
        }
        // IDR_W_RADL (19) or TRAIL_R (1).
        let byte0 = if spec.keyframe { 19 << 1 } else { 1 << 1 };
        for s in 0..spec.slices {
            let at = w.unit(&[byte0, 0x01, slice_flag_byte(spec, s)], &p(4 + s));
            first.get_or_insert(at);
        }
        if spec.trailer {
            w.unit(&[0x50, 0x01], &p(9)); // suffix SEI stays with the picture
        }
        picture_starts.push(first.unwrap());
    }
    Generated {
        bytes: w.bytes,
        picture_starts,
    }
}

fn mpeg2_stream(pictures: &[PictureSpec], end_code: bool) -> Generated {
    let mut w = Writer::new(vec![false]);
    let mut picture_starts = Vec::new();
    for spec in pictures {
        let mut first = None;
        let p = |i: usize| spec.payloads[i % spec.payloads.len()].clone();
        if spec.parameter_sets {
            first.get_or_insert(w.unit(&[0xb3], &p(0)));
            w.unit(&[0xb5], &p(1)); // sequence extension
        }
        if spec.keyframe {
            first.get_or_insert(w.unit(&[0xb8], &p(2)));
        }
        first.get_or_insert(w.unit(&[0x00], &p(3)));
        if spec.sei {
            w.unit(&[0xb5], &p(4)); // picture coding extension
        }
        if spec.delimiter {
            w.unit(&[0xb2], &p(5)); // user data
        }
        for s in 0..spec.slices {
            w.unit(&[s as u8 + 1], &p(6 + s));
        }
        picture_starts.push(first.unwrap());
    }
    if end_code && !pictures.is_empty() {
        w.unit(&[0xb7], &[]);
    }
    Generated {
        bytes: w.bytes,
        picture_starts,
    }
}

fn ivf_file(fourcc: &[u8; 4], header_len: u16, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(b"DKIF");
    f.extend_from_slice(&0u16.to_le_bytes());
    f.extend_from_slice(&header_len.to_le_bytes());
    f.extend_from_slice(fourcc);
    f.extend_from_slice(&[0x80, 0x02, 0x68, 0x01]); // 640x360
    f.extend_from_slice(&[30, 0, 0, 0, 1, 0, 0, 0]);
    f.extend_from_slice(&(frames.len() as u32).to_le_bytes());
    f.extend_from_slice(&[0; 4]);
    f.resize(usize::from(header_len), 0);
    for (i, frame) in frames.iter().enumerate() {
        f.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        f.extend_from_slice(&(i as u64).to_le_bytes());
        f.extend_from_slice(frame);
    }
    f
}

fn hint() -> impl Strategy<Value = FormatHint> {
    prop_oneof![
        Just(FormatHint::Unknown),
        Just(FormatHint::Ivf),
        Just(FormatHint::Codec(Codec::H264)),
        Just(FormatHint::Codec(Codec::Hevc)),
        Just(FormatHint::Codec(Codec::Mpeg2)),
        Just(FormatHint::Codec(Codec::Vp9)),
        Just(FormatHint::Codec(Codec::Jpeg)),
    ]
}

/// The tests proper, in a module named `input` so that `cargo test input` selects them
/// together with the library's `input::` unit tests.
mod input {
    use super::*;

    // ---------------------------------------------------------------------------------------
    // Properties
    // ---------------------------------------------------------------------------------------

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn annex_b_splitters_partition_arbitrary_bytes(data in start_code_rich_bytes(512)) {
            check_h264(&data);
            check_hevc(&data);
        }

        #[test]
        fn mpeg2_splitter_partitions_arbitrary_bytes(data in start_code_rich_bytes(512)) {
            check_mpeg2(&data);
        }

        #[test]
        fn ivf_reader_never_reads_outside_arbitrary_bytes(
            mut data in prop::collection::vec(any::<u8>(), 0..256),
            magic in any::<bool>(),
            fourcc in prop::sample::select(vec![*b"VP80", *b"VP90", *b"AV01", *b"H264"]),
        ) {
            if magic && data.len() >= 12 {
                data[..4].copy_from_slice(b"DKIF");
                data[8..12].copy_from_slice(&fourcc);
                // Keep the header length small enough to be plausible half of the time.
                if data.len() >= 8 && data[7] & 1 == 0 {
                    data[6] = 32;
                    data[7] = 0;
                }
            }
            check_ivf(&data);
        }

        #[test]
        fn elementary_stream_never_panics_on_arbitrary_bytes_and_hints(
            data in start_code_rich_bytes(256),
            ivf_magic in any::<bool>(),
            hint in hint(),
        ) {
            let mut data = data;
            if ivf_magic {
                let mut file = ivf_file(b"VP90", 32, &[]);
                file.extend_from_slice(&data);
                data = file;
            }
            if let Ok(mut es) = ElementaryStream::from_bytes(data.clone(), hint) {
                let mut pts = Vec::new();
                while let Some(packet) = es.next_packet().transpose() {
                    match packet {
                        Ok(p) => {
                            // Every packet is bytes of the input, in order.
                            prop_assert!(data.windows(p.data.len().max(1)).any(|w| w == p.data)
                                || p.data.is_empty());
                            pts.push(p.pts);
                        }
                        Err(_) => break,
                    }
                }
                if es.ivf_header().is_none() {
                    let indices: Vec<i64> = (0..pts.len() as i64).collect();
                    prop_assert_eq!(pts, indices);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn h264_access_units_are_exactly_the_generated_pictures(
            // At least one picture: leading zeros alone are "no start code", an error.
            pictures in prop::collection::vec(picture_spec(), 1..8),
            long in prop::collection::vec(any::<bool>(), 1..8),
            leading_zeros in 0usize..4,
        ) {
            let g = h264_stream(&pictures, long);
            let mut data = vec![0; leading_zeros];
            data.extend_from_slice(&g.bytes);
            let (starts, failed) = check_h264(&data);
            prop_assert!(!failed);
            let skipped = data.len() - g.bytes.len();
            let expected: Vec<usize> = g.picture_starts.iter().map(|s| s + skipped).collect();
            // A 4-byte start code right after the leading zeros is indistinguishable from them;
            // only the first picture's start may move, and only into those zeros.
            prop_assert_eq!(starts.get(1..), expected.get(1..));
            prop_assert_eq!(starts.len(), expected.len());
        }

        #[test]
        fn hevc_access_units_are_exactly_the_generated_pictures(
            pictures in prop::collection::vec(picture_spec(), 0..8),
            long in prop::collection::vec(any::<bool>(), 1..8),
        ) {
            let g = hevc_stream(&pictures, long);
            let (starts, failed) = check_hevc(&g.bytes);
            prop_assert!(!failed);
            prop_assert_eq!(starts, g.picture_starts);
        }

        #[test]
        fn mpeg2_packets_are_exactly_the_generated_pictures(
            pictures in prop::collection::vec(picture_spec(), 0..8),
            end_code in any::<bool>(),
        ) {
            let g = mpeg2_stream(&pictures, end_code);
            let (starts, failed) = check_mpeg2(&g.bytes);
            prop_assert!(!failed);
            prop_assert_eq!(starts, g.picture_starts);
        }

        #[test]
        fn ivf_frames_are_exactly_the_written_frames(
            frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8),
            extra_header in 0u16..16,
        ) {
            let file = ivf_file(b"AV01", 32 + extra_header, &frames);
            let reader = IvfReader::new(&file).unwrap();
            let read: Vec<Packet<'_>> = reader.frames().map(|f| f.unwrap()).collect();
            prop_assert_eq!(read.len(), frames.len());
            for (i, (got, want)) in read.iter().zip(&frames).enumerate() {
                prop_assert_eq!(got.data, &want[..]);
                prop_assert_eq!(got.pts, i as i64);
            }
        }

        #[test]
        fn damaged_streams_still_split_into_a_partition(
            pictures in prop::collection::vec(picture_spec(), 1..6),
            long in prop::collection::vec(any::<bool>(), 1..4),
            damage in damage(),
        ) {
            check_h264(&apply_damage(h264_stream(&pictures, long.clone()).bytes, damage.clone()));
            check_hevc(&apply_damage(hevc_stream(&pictures, long).bytes, damage.clone()));
            check_mpeg2(&apply_damage(mpeg2_stream(&pictures, true).bytes, damage));
        }

        #[test]
        fn damaged_ivf_files_never_read_outside_the_file(
            frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..6),
            damage in damage(),
        ) {
            check_ivf(&apply_damage(ivf_file(b"VP90", 32, &frames), damage));
        }

        #[test]
        fn truncating_an_ivf_file_inside_a_frame_is_an_error_not_a_short_read(
            frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..64), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let file = ivf_file(b"VP80", 32, &frames);
            let cut = 32 + cut.index(file.len() - 32);
            // Frame boundaries: cutting exactly there loses frames silently (IVF has no index).
            let mut boundaries = vec![32];
            for f in &frames {
                boundaries.push(boundaries.last().unwrap() + 12 + f.len());
            }
            let results: Vec<_> = IvfReader::new(&file[..cut]).unwrap().frames().collect();
            let ended_in_error = results.last().is_some_and(|r| r.is_err());
            prop_assert_eq!(ended_in_error, !boundaries.contains(&cut));
        }
    }

    // ---------------------------------------------------------------------------------------
    // Reference clips (tests/data), when present
    // ---------------------------------------------------------------------------------------

    /// Frames listed in an ffmpeg `.framemd5` file: its lines that are not `#` comments.
    fn framemd5_frames(path: &Path) -> usize {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count()
    }

    #[test]
    fn packet_counts_of_the_reference_clips_match_their_framemd5_frame_counts() {
        let dir = common::data_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("skipped: {} does not exist", dir.display());
            return;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        let mut checked = 0;
        for clip in paths {
            let Some(name) = clip.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let reference = dir.join(format!("{name}.framemd5"));
            let is_ivf = name.ends_with(".ivf");
            if !reference.exists() && !is_ivf {
                continue;
            }
            let mut stream = ElementaryStream::open(&clip).unwrap();
            let packets: Vec<_> = stream.packets().collect::<Result<_>>().unwrap();
            if reference.exists() {
                assert_eq!(
                    packets.len(),
                    framemd5_frames(&reference),
                    "{name} ({}): packets vs frames in {}",
                    stream.codec(),
                    reference.display()
                );
            }
            // IVF writers may leave the count 0; where they filled it in, it must agree.
            if let Some(header) = stream.ivf_header().filter(|h| h.frame_count != 0) {
                assert_eq!(
                    packets.len(),
                    header.frame_count as usize,
                    "{name}: IVF frame count"
                );
            }
            eprintln!("{name}: {} packets ({})", packets.len(), stream.codec());
            checked += 1;
        }
        if checked == 0 {
            eprintln!(
                "skipped: no clip with a .framemd5 reference in {}",
                dir.display()
            );
        }
    }
}
