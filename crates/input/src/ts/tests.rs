//! Transport streams built byte by byte: PES with and without length, duplicates, losses,
//! discontinuities, lost sync, AV1 and refused streams.

use super::psi::crc32;
use crate::{Codec, ElementaryStream, FormatHint, InputError, OwnedPacket, ReadError, TsStats};

const VIDEO: u16 = 0x100;
const PMT: u16 = 0x1000;

/// A minimal transport-stream multiplexer.
#[derive(Default)]
struct Mux {
    out: Vec<u8>,
    cc: std::collections::HashMap<u16, u8>,
}

#[derive(Clone, Copy, Default)]
struct Flags {
    discontinuity: bool,
    random_access: bool,
}

impl Mux {
    /// One packet; `payload` at most 184 bytes (fewer are padded by adaptation stuffing).
    fn packet(&mut self, pid: u16, start: bool, payload: &[u8], flags: Flags) {
        assert!(payload.len() <= 184);
        let cc = self.cc.entry(pid).or_insert(15);
        *cc = (*cc + 1) & 15;
        let with_af = payload.len() < 184 || flags.discontinuity || flags.random_access;
        let mut p = vec![
            0x47,
            (u8::from(start) << 6) | (pid >> 8) as u8,
            pid as u8,
            0x10 | if with_af { 0x20 } else { 0 } | *cc,
        ];
        if with_af {
            let room = 184 - payload.len();
            assert!(room >= 2 || !(flags.discontinuity || flags.random_access));
            let af_len = room - 1;
            p.push(af_len as u8);
            if af_len > 0 {
                p.push(u8::from(flags.discontinuity) << 7 | u8::from(flags.random_access) << 6);
                p.resize(p.len() + af_len - 1, 0xff);
            }
        }
        p.extend_from_slice(payload);
        assert_eq!(p.len(), 188);
        self.out.extend_from_slice(&p);
    }

    fn section(&mut self, pid: u16, mut section: Vec<u8>) {
        let crc = crc32(&section);
        section.extend_from_slice(&crc.to_be_bytes());
        let mut payload = vec![0];
        payload.extend_from_slice(&section);
        payload.resize(184, 0xff);
        self.packet(pid, true, &payload, Flags::default());
    }

    fn pat(&mut self, version: u8) {
        self.section(
            0,
            vec![
                0,
                0xb0,
                13,
                0,
                1,
                0xc1 | version << 1,
                0,
                0,
                0,
                1,
                0xe0 | (PMT >> 8) as u8,
                PMT as u8,
            ],
        );
    }

    /// A PAT listing `programs` as (program_number, PMT PID).
    fn pat_of(&mut self, programs: &[(u16, u16)]) {
        let mut section = vec![0, 0xb0, (9 + 4 * programs.len()) as u8, 0, 1, 0xc1, 0, 0];
        for (program, pid) in programs {
            section.extend_from_slice(&program.to_be_bytes());
            section.extend_from_slice(&[0xe0 | (pid >> 8) as u8, *pid as u8]);
        }
        self.section(0, section);
    }

    /// A PMT for program 1 listing `streams` (stream_type, PID, ES descriptors).
    fn pmt(&mut self, version: u8, streams: &[(u8, u16, &[u8])]) {
        self.pmt_of(PMT, 1, version, streams);
    }

    /// A PMT on `pid` for `program` listing `streams` (stream_type, PID, ES descriptors).
    fn pmt_of(&mut self, pid: u16, program: u16, version: u8, streams: &[(u8, u16, &[u8])]) {
        let mut body = vec![0xe0 | (VIDEO >> 8) as u8, VIDEO as u8, 0xf0, 0];
        for (stream_type, pid, descriptors) in streams {
            body.extend_from_slice(&[
                *stream_type,
                0xe0 | (pid >> 8) as u8,
                *pid as u8,
                0xf0,
                descriptors.len() as u8,
            ]);
            body.extend_from_slice(descriptors);
        }
        let len = 5 + body.len() + 4;
        let [hi, lo] = program.to_be_bytes();
        let mut section = vec![2, 0xb0, len as u8, hi, lo, 0xc1 | version << 1, 0, 0];
        section.extend_from_slice(&body);
        self.section(pid, section);
    }

    fn tables(&mut self, stream_type: u8) {
        self.pat(0);
        self.pmt(0, &[(stream_type, VIDEO, &[])]);
    }

    /// One PES of `data` with PTS `pts`, split into packets; `sized`: with PES_packet_length.
    fn pes(&mut self, pid: u16, pts: Option<u64>, data: &[u8], sized: bool, flags: Flags) {
        let mut pes = vec![0, 0, 1, 0xe0, 0, 0, 0x80];
        match pts {
            Some(pts) => {
                pes.extend_from_slice(&[0x80, 5]);
                pes.extend_from_slice(&[
                    0x21 | ((pts >> 29) & 0x0e) as u8,
                    (pts >> 22) as u8,
                    ((pts >> 14) | 1) as u8,
                    (pts >> 7) as u8,
                    ((pts << 1) | 1) as u8,
                ]);
            }
            None => pes.extend_from_slice(&[0, 0]),
        }
        pes.extend_from_slice(data);
        if sized {
            let len = (pes.len() - 6) as u16;
            pes[4..6].copy_from_slice(&len.to_be_bytes());
        }
        for (i, chunk) in pes.chunks(182).enumerate() {
            let f = if i == 0 { flags } else { Flags::default() };
            self.packet(pid, i == 0, chunk, f);
        }
    }
}

/// An H.264 access unit: AUD, then an IDR or non-IDR first slice with `body` bytes.
fn h264_au(idr: bool, body: usize, seed: u8) -> Vec<u8> {
    let mut au = vec![
        0,
        0,
        0,
        1,
        0x09,
        0xf0,
        0,
        0,
        0,
        1,
        if idr { 0x65 } else { 0x41 },
        0x88,
    ];
    au.extend((0..body).map(|i| 0x10 + ((i as u8) ^ seed) % 0xe0));
    au
}

fn read(bytes: Vec<u8>) -> (Vec<OwnedPacket>, TsStats) {
    let mut stream = ElementaryStream::from_bytes(bytes, FormatHint::Unknown).unwrap();
    let packets = stream.packets().map(|p| p.unwrap()).collect();
    (packets, stream.transport_stats().unwrap())
}

fn h264_stream(sized: bool, count: usize) -> (Mux, Vec<Vec<u8>>) {
    let mut mux = Mux::default();
    mux.tables(0x1b);
    let aus: Vec<Vec<u8>> = (0..count)
        .map(|i| h264_au(i % 4 == 0, 300 + i * 37, i as u8))
        .collect();
    for (i, au) in aus.iter().enumerate() {
        mux.pes(
            VIDEO,
            Some(9000 + 3000 * i as u64),
            au,
            sized,
            Flags::default(),
        );
    }
    (mux, aus)
}

#[test]
fn pes_with_and_without_length_give_each_access_unit_with_its_pts() {
    for sized in [false, true] {
        let (mux, aus) = h264_stream(sized, 6);
        let (packets, stats) = read(mux.out);
        let want: Vec<OwnedPacket> = aus
            .iter()
            .enumerate()
            .map(|(i, au)| OwnedPacket {
                data: au.clone(),
                pts: 9000 + 3000 * i as i64,
            })
            .collect();
        assert_eq!(packets, want, "sized {sized}");
        assert_eq!(stats.gaps + stats.dropped_access_units, 0, "{stats:?}");
    }
}

#[test]
fn an_access_unit_without_a_pts_gets_the_previous_one_plus_one() {
    let mut mux = Mux::default();
    mux.tables(0x1b);
    mux.pes(
        VIDEO,
        Some(500),
        &h264_au(true, 50, 1),
        false,
        Flags::default(),
    );
    mux.pes(VIDEO, None, &h264_au(false, 50, 2), false, Flags::default());
    let (packets, _) = read(mux.out);
    assert_eq!(
        packets.iter().map(|p| p.pts).collect::<Vec<_>>(),
        [500, 501]
    );
}

#[test]
fn a_duplicate_packet_is_dropped_and_a_lost_one_drops_its_access_unit() {
    let (mux, aus) = h264_stream(false, 6);
    let packets: Vec<&[u8]> = mux.out.chunks(188).collect();
    // Packet 4 is the second packet of the first PES (tables are 0 and 1).
    let mut duplicated = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        duplicated.extend_from_slice(p);
        if i == 3 {
            duplicated.extend_from_slice(p);
        }
    }
    let (got, stats) = read(duplicated);
    assert_eq!(got.len(), aus.len());
    assert_eq!((stats.duplicate_packets, stats.gaps), (1, 0), "{stats:?}");

    // Packet 7 is the second of the third access unit's PES: that access unit is torn.
    // Packet 6 is the first: then the second access unit, complete but not yet known to be
    // (its end is where the next begins), is dropped and counted, and the third never began.
    for (lost, out, dropped) in [(7, aus.len() - 1, 1), (6, aus.len() - 2, 1)] {
        let mut lossy = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            if i != lost {
                lossy.extend_from_slice(p);
            }
        }
        let (got, stats) = read(lossy);
        assert_eq!(
            (stats.gaps, stats.lost_packets, stats.dropped_access_units),
            (1, 1, dropped),
            "packet {lost} lost: {stats:?}"
        );
        assert_eq!(got.len(), out, "packet {lost} lost");
        for p in &got {
            assert!(aus.contains(&p.data), "a torn access unit came out");
        }
    }
}

#[test]
fn the_same_counter_on_other_bytes_is_a_loss_of_sixteen() {
    let (mux, aus) = h264_stream(false, 4);
    let mut packets: Vec<Vec<u8>> = mux.out.chunks(188).map(<[u8]>::to_vec).collect();
    // Give packet 5 the counter of packet 4: 16 packets between them seem lost.
    let cc4 = packets[4][3] & 15;
    packets[5][3] = (packets[5][3] & 0xf0) | cc4;
    for p in packets.iter_mut().skip(6) {
        p[3] = (p[3] & 0xf0) | (p[3].wrapping_sub(1) & 15);
    }
    let (got, stats) = read(packets.concat());
    assert_eq!((stats.gaps, stats.lost_packets), (1, 16), "{stats:?}");
    assert!(got.iter().all(|p| aus.contains(&p.data)));
}

#[test]
fn a_discontinuity_starts_a_new_time_base_without_a_jump() {
    for announced in [true, false] {
        let mut mux = Mux::default();
        mux.tables(0x1b);
        for i in 0..3u64 {
            mux.pes(
                VIDEO,
                Some(900_000 + 3000 * i),
                &h264_au(i == 0, 40, i as u8),
                false,
                Flags::default(),
            );
        }
        let flags = Flags {
            discontinuity: announced,
            random_access: true,
        };
        mux.pes(VIDEO, Some(7), &h264_au(true, 40, 9), false, flags);
        mux.pes(
            VIDEO,
            Some(3007),
            &h264_au(false, 40, 10),
            false,
            Flags::default(),
        );
        let (packets, stats) = read(mux.out);
        let pts: Vec<i64> = packets.iter().map(|p| p.pts).collect();
        if announced {
            assert_eq!(pts, [900_000, 903_000, 906_000, 909_000, 912_000]);
            assert_eq!(stats.discontinuities, 1);
        } else {
            // Unannounced, the jump is taken as it is (nearest value modulo 2^33).
            assert_eq!(pts, [900_000, 903_000, 906_000, 7, 3007]);
        }
    }
}

#[test]
fn a_pts_that_wraps_keeps_increasing() {
    let mut mux = Mux::default();
    mux.tables(0x1b);
    let start = (1u64 << 33) - 6000;
    for i in 0..5u64 {
        let pts = (start + 3000 * i) & ((1 << 33) - 1);
        mux.pes(
            VIDEO,
            Some(pts),
            &h264_au(i == 0, 40, i as u8),
            false,
            Flags::default(),
        );
    }
    let (packets, _) = read(mux.out);
    let pts: Vec<i64> = packets.iter().map(|p| p.pts).collect();
    let start = start as i64;
    assert_eq!(
        pts,
        [
            start,
            start + 3000,
            start + 6000,
            start + 9000,
            start + 12000
        ]
    );
}

#[test]
fn garbage_between_packets_is_skipped_and_counted() {
    let (mux, aus) = h264_stream(false, 5);
    let mut bytes = mux.out.clone();
    let at = 188 * 5;
    bytes.splice(at..at, [1, 2, 3, 0x47, 9, 9, 0x47, 0, 5]);
    let (got, stats) = read(bytes);
    assert_eq!(
        (stats.sync_losses, stats.skipped_bytes),
        (1, 9),
        "{stats:?}"
    );
    assert_eq!(got.len(), aus.len());
    assert!(got.iter().zip(&aus).all(|(p, au)| &p.data == au));
}

#[test]
fn av1_registered_in_the_pmt_is_one_low_overhead_packet_per_pes_keyed_by_random_access() {
    let mut mux = Mux::default();
    mux.pat(0);
    mux.pmt(0, &[(0x06, VIDEO, &[0x05, 4, b'A', b'V', b'0', b'1'])]);
    // Start-code format: a temporal delimiter with its size field, then a frame OBU without
    // one whose payload holds an emulation-prevention byte; out in low-overhead format.
    let carried: Vec<Vec<u8>> = (0..3u8)
        .map(|i| vec![0, 0, 1, 0x12, 0, 0, 0, 1, 0x30, i, 0, 0, 3, 1, 7])
        .collect();
    let units: Vec<Vec<u8>> = (0..3u8)
        .map(|i| vec![0x12, 0, 0x32, 5, i, 0, 0, 1, 7])
        .collect();
    for (i, unit) in carried.iter().enumerate() {
        let flags = Flags {
            discontinuity: false,
            random_access: i == 0,
        };
        mux.pes(VIDEO, Some(100 * i as u64), unit, true, flags);
    }
    let mut stream = ElementaryStream::from_bytes(mux.out, FormatHint::Unknown).unwrap();
    assert_eq!(stream.codec(), Codec::Av1);
    let got: Vec<OwnedPacket> = stream.packets().map(|p| p.unwrap()).collect();
    assert_eq!(got.len(), units.len());
    assert!(got.iter().zip(&units).all(|(p, unit)| &p.data == unit));
    assert_eq!(got.iter().map(|p| p.pts).collect::<Vec<_>>(), [0, 100, 200]);
    let index = stream.build_index().unwrap();
    assert!(index.is_key(0) && !index.is_key(1) && !index.is_key(2));
}

#[test]
fn unsupported_video_and_a_codec_change_are_refused() {
    let mut mux = Mux::default();
    mux.pat(0);
    mux.pmt(0, &[(0x03, 0x101, &[]), (0xea, VIDEO, &[])]);
    let err = ElementaryStream::from_bytes(mux.out, FormatHint::Unknown).unwrap_err();
    assert!(
        matches!(&err, ReadError::Input(InputError::Unsupported { what }) if what.contains("VC-1")),
        "{err}"
    );

    let (mut mux, _) = h264_stream(false, 2);
    mux.pmt(1, &[(0x24, 0x200, &[])]);
    mux.pes(
        0x200,
        Some(1),
        &[0, 0, 1, 0x46, 1, 0x50],
        false,
        Flags::default(),
    );
    let mut stream = ElementaryStream::from_bytes(mux.out, FormatHint::Unknown).unwrap();
    let err = stream.packets().find_map(Result::err).unwrap();
    assert!(err.to_string().contains("changes the video"), "{err}");
}

#[test]
fn a_scrambled_video_pid_is_unsupported() {
    let (mut mux, _) = h264_stream(false, 1);
    let p = 188 * 2;
    mux.out[p + 3] |= 0x80;
    // Met while the reader looks for the first access unit, so when the stream is opened.
    let err = match ElementaryStream::from_bytes(mux.out, FormatHint::Unknown) {
        Ok(mut stream) => stream.packets().find_map(Result::err).unwrap(),
        Err(e) => e,
    };
    assert!(
        matches!(err, ReadError::Input(InputError::Unsupported { .. })),
        "{err}"
    );
}

#[test]
fn the_first_program_with_video_is_read_unless_another_is_chosen() {
    let mut mux = Mux::default();
    mux.pat_of(&[(1, 0x1000), (2, 0x1001)]);
    // Program 1: audio only. Program 2: HEVC, then H.264.
    mux.pmt_of(0x1000, 1, 0, &[(0x0f, 0x110, &[])]);
    mux.pmt_of(0x1001, 2, 0, &[(0x24, 0x120, &[]), (0x1b, 0x121, &[])]);
    let hevc = [0, 0, 0, 1, 0x46, 1, 0x50, 0, 0, 0, 1, 0x26, 1, 0xaf, 9, 9];
    let h264 = h264_au(true, 30, 3);
    for i in 0..2 {
        mux.pes(0x120, Some(i), &hevc, false, Flags::default());
        mux.pes(0x121, Some(i), &h264, false, Flags::default());
    }
    let open = |hint| ElementaryStream::from_bytes(mux.out.clone(), hint).unwrap();
    let first = open(FormatHint::Unknown);
    assert_eq!(
        (first.codec(), first.container().unwrap().track_id),
        (Codec::Hevc, 0x120)
    );
    let mut h264_stream = open(FormatHint::Codec(Codec::H264));
    assert_eq!(h264_stream.container().unwrap().track_id, 0x121);
    let packets: Vec<OwnedPacket> = h264_stream.packets().map(|p| p.unwrap()).collect();
    assert_eq!(packets.len(), 2);
    assert!(packets.iter().all(|p| p.data == h264));
    let by_pid = open(FormatHint::MpegTs(crate::TsSelect::default().pid(0x121)));
    assert_eq!(by_pid.codec(), Codec::H264);
    let err = ElementaryStream::from_bytes(
        mux.out.clone(),
        FormatHint::MpegTs(crate::TsSelect::default().program(1)),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ReadError::Input(InputError::Unsupported { what }) if what.contains("program 1")),
        "{err}"
    );
}
