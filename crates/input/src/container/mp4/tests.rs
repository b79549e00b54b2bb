//! The MP4 [`Demux`] as a specification: the same packets whether the file is handed over
//! whole, in random chunks, or through a source that cannot seek; hostile tables cost what
//! their bytes cost.

use super::check::{Feed, Rng, Run, drive, drive_from};
use super::*;
use crate::demux::Demux;

fn clip(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/containers")
        .join(name);
    std::fs::read(path).unwrap()
}

/// The file with `moov` moved before `mdat` (`-movflags +faststart`), chunk offsets fixed.
fn faststart(bytes: &[u8]) -> Vec<u8> {
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        boxes.push((&bytes[at + 4..at + 8], at..at + size));
        at += size;
    }
    let moov = boxes.iter().find(|b| b.0 == b"moov").unwrap().1.clone();
    let mut moov_bytes = bytes[moov.clone()].to_vec();
    let shift = moov_bytes.len() as u32;
    let stco = moov_bytes.windows(4).position(|w| w == b"stco").unwrap();
    let count = u32::from_be_bytes(moov_bytes[stco + 8..stco + 12].try_into().unwrap());
    for i in 0..count as usize {
        let e = stco + 12 + 4 * i;
        let v = u32::from_be_bytes(moov_bytes[e..e + 4].try_into().unwrap());
        moov_bytes[e..e + 4].copy_from_slice(&(v + shift).to_be_bytes());
    }
    let mut out = Vec::new();
    for (kind, range) in &boxes {
        if *kind == b"mdat" {
            out.extend_from_slice(&moov_bytes);
        }
        if *kind != b"moov" {
            out.extend_from_slice(&bytes[range.clone()]);
        }
    }
    out
}

const MP4_CLIPS: &[&str] = &[
    "h264.mp4",
    "h264_frag.mp4",
    "hevc_hvc1.mp4",
    "hevc_hev1.mp4",
    "vp9.mp4",
    "av1.mp4",
];

#[test]
fn random_chunks_give_exactly_the_packets_of_the_whole_file() {
    for name in MP4_CLIPS {
        let bytes = clip(name);
        let whole = drive(&bytes, Feed::Whole, true);
        assert_eq!(whole.error, None, "{name}");
        assert_eq!(whole.packets.len(), 12, "{name}");
        for seed in 1..20 {
            let max = [1, 7, 64, 1000, 100_000][seed as usize % 5];
            let chunked = drive(&bytes, Feed::Chunks { seed, max }, true);
            assert_eq!(chunked.error, None, "{name} seed {seed}");
            assert!(chunked.packets == whole.packets, "{name} seed {seed}");
        }
    }
}

#[test]
fn packets_are_numbered_in_decode_order_with_key_flags() {
    for name in MP4_CLIPS {
        let run = drive(&clip(name), Feed::Whole, true);
        for (i, (_, info)) in run.packets.iter().enumerate() {
            assert_eq!(info.index, i as u64, "{name}");
        }
        assert!(
            run.packets[0].1.key,
            "{name}: the first packet is a key frame"
        );
        assert!(
            run.packets.iter().filter(|p| p.1.key).count() < run.packets.len(),
            "{name}: not every packet is a key frame"
        );
    }
}

#[test]
fn moov_first_files_stream_without_seeking_back_and_moov_last_files_need_seek() {
    for name in ["h264.mp4", "vp9.mp4", "hevc_hvc1.mp4"] {
        let original = clip(name);
        let reference = drive(&original, Feed::Whole, true);
        // moov at the end: the parser skips mdat, reads moov, seeks back.
        let pipe = drive(&original, Feed::Chunks { seed: 3, max: 500 }, false);
        assert!(
            pipe.error
                .as_deref()
                .is_some_and(|e| e.contains("seek back")),
            "{name}: {:?}",
            pipe.error
        );
        let fast = faststart(&original);
        let streamed = drive(&fast, Feed::Chunks { seed: 5, max: 300 }, false);
        assert_eq!(streamed.error, None, "{name}");
        let strip = |r: &Run| {
            r.packets
                .iter()
                .map(|p| (p.0.clone(), p.1))
                .collect::<Vec<_>>()
        };
        assert!(strip(&streamed) == strip(&reference), "{name}");
        // The window stays one box or one sample (plus a chunk), not the file.
        let largest_sample = reference.packets.iter().map(|p| p.0.len()).max().unwrap();
        let largest_box = 1024; // stsd with its avcC/hvcC
        assert!(
            streamed.largest_window <= largest_sample.max(largest_box) + 300,
            "{name}: {}",
            streamed.largest_window
        );
    }
    let frag = clip("h264_frag.mp4");
    let run = drive(&frag, Feed::Chunks { seed: 9, max: 100 }, false);
    assert_eq!((run.error, run.packets.len()), (None, 12));
}

#[test]
fn progressive_index_matches_the_packets_and_seeks_land_on_the_sample() {
    let bytes = clip("vp9.mp4");
    let all = drive(&bytes, Feed::Whole, true);
    let mut parser = Mp4Demux::new();
    let first = drive_from(&mut parser, &bytes, 0, Feed::Whole, true, 1);
    assert_eq!(first.packets.len(), 1);
    let index = parser
        .index()
        .expect("progressive index after moov")
        .clone();
    assert_eq!(index.len(), all.packets.len());
    for (i, (data, info)) in all.packets.iter().enumerate() {
        assert_eq!(index.size(i), Some(data.len() as u32));
        assert_eq!(index.pts(i), Some(info.pts));
        assert_eq!(index.is_key(i), info.key);
    }
    for target in [7, 0, 11, 3] {
        let at = parser.seek_to_sample(target).unwrap();
        assert_eq!(Some(at), index.offset(target));
        let rest = drive_from(&mut parser, &bytes, at, Feed::Whole, true, usize::MAX);
        assert_eq!(rest.error, None);
        assert!(
            rest.packets[..] == all.packets[target..],
            "seek to {target}"
        );
    }
    assert!(parser.seek_to_sample(12).is_err());

    // H.264: after a seek the parameter sets come again before the key frame.
    let bytes = clip("h264.mp4");
    let mut parser = Mp4Demux::new();
    let all = drive_from(&mut parser, &bytes, 0, Feed::Whole, true, usize::MAX);
    let key = parser.index().unwrap().key_at_or_before(11).unwrap();
    let at = parser.seek_to_sample(key).unwrap();
    let rest = drive_from(&mut parser, &bytes, at, Feed::Whole, true, 1);
    assert_eq!(rest.packets[0].0, all.packets[key].0);
    assert!(rest.packets[0].0.starts_with(&[0, 0, 0, 1, 0x67]));
}

// ---- Crafted files ----------------------------------------------------------------------

fn bx(kind: &[u8; 4], parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut b = ((8 + len) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    for p in parts {
        b.extend_from_slice(p);
    }
    b
}

fn full(kind: &[u8; 4], version_flags: u32, fields: &[u32]) -> Vec<u8> {
    let mut body = version_flags.to_be_bytes().to_vec();
    for f in fields {
        body.extend_from_slice(&f.to_be_bytes());
    }
    bx(kind, &[&body])
}

fn vp09_stsd() -> Vec<u8> {
    let mut entry = vec![0u8; 78];
    entry[7] = 1; // data reference index
    entry[24..26].copy_from_slice(&320u16.to_be_bytes());
    entry[26..28].copy_from_slice(&240u16.to_be_bytes());
    let entry = bx(b"vp09", &[&entry]);
    bx(b"stsd", &[&0u32.to_be_bytes(), &1u32.to_be_bytes(), &entry])
}

/// A `moov` with one VP9 video track (id 1, timescale 1000) whose `stbl` is `stbl_tables`.
fn moov(stbl_tables: &[Vec<u8>], mvex: bool) -> Vec<u8> {
    let mvhd = full(b"mvhd", 0, &[0, 0, 1000, 0]);
    let tkhd = full(b"tkhd", 0, &[0, 0, 1]);
    let mdhd = full(b"mdhd", 0, &[0, 0, 1000, 0]);
    let hdlr = full(b"hdlr", 0, &[0, u32::from_be_bytes(*b"vide"), 0, 0, 0]);
    let mut stbl_parts: Vec<&[u8]> = Vec::new();
    let stsd = vp09_stsd();
    stbl_parts.push(&stsd);
    for t in stbl_tables {
        stbl_parts.push(t);
    }
    let stbl = bx(b"stbl", &stbl_parts);
    let minf = bx(b"minf", &[&stbl]);
    let mdia = bx(b"mdia", &[&mdhd, &hdlr, &minf]);
    let trak = bx(b"trak", &[&tkhd, &mdia]);
    let trex = full(b"trex", 0, &[1, 1, 40, 0, 0]);
    let mvex_box = bx(b"mvex", &[&trex]);
    if mvex {
        bx(b"moov", &[&mvhd, &trak, &mvex_box])
    } else {
        bx(b"moov", &[&mvhd, &trak])
    }
}

fn ftyp() -> Vec<u8> {
    bx(b"ftyp", &[b"isom", &[0, 0, 2, 0], b"isomiso6"])
}

fn empty_tables() -> Vec<Vec<u8>> {
    vec![
        full(b"stts", 0, &[0]),
        full(b"stsc", 0, &[0]),
        full(b"stsz", 0, &[0, 0]),
        full(b"stco", 0, &[0]),
    ]
}

/// A trun bomb: one `moof` whose `traf` holds `truns` 16-byte `trun` boxes, each
/// declaring 4,096 samples of the default size (0), then a small `mdat`.
fn trun_bomb(truns: usize) -> Vec<u8> {
    let mut file = ftyp();
    file.extend(moov(&empty_tables(), true));
    let tfhd = full(b"tfhd", 0x2_0000, &[1]);
    let trun = full(b"trun", 0, &[4096]);
    assert_eq!(trun.len(), 16);
    let mut traf_body = tfhd;
    for _ in 0..truns {
        traf_body.extend_from_slice(&trun);
    }
    let traf = bx(b"traf", &[&traf_body]);
    let mfhd = full(b"mfhd", 0, &[1]);
    file.extend(bx(b"moof", &[&mfhd, &traf]));
    file.extend(bx(b"mdat", &[&[0u8; 64]]));
    file
}

#[test]
fn a_trun_bomb_costs_o_of_its_bytes() {
    let file = trun_bomb(66_000);
    assert!(file.len() > 1_050_000, "{}", file.len());
    let started = std::time::Instant::now();
    for feed in [Feed::Whole, Feed::Chunks { seed: 7, max: 5000 }] {
        let run = drive(&file, feed, false);
        assert_eq!(run.error, None);
        assert!(run.packets.is_empty(), "empty samples are not handed out");
        assert!(run.largest_heap < 64 << 10, "heap {}", run.largest_heap);
        if let Feed::Chunks { max, .. } = feed {
            assert!(
                run.largest_window <= 64 + max,
                "window {}",
                run.largest_window
            );
        }
    }
    // 270 million declared samples: seconds if walked one by one, milliseconds if not.
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    // And through the packet-table path `ElementaryStream` uses.
    let demuxed = demux(&file).unwrap();
    assert_eq!((demuxed.entries.len(), demuxed.error), (0, None));
}

#[test]
fn a_trun_whose_samples_do_not_fit_in_its_mdat_is_refused() {
    let mut file = ftyp();
    file.extend(moov(&empty_tables(), true));
    // 4,096 samples of 100 bytes (tfhd default size) in a 64-byte mdat.
    let tfhd = full(b"tfhd", 0x2_0010, &[1, 100]);
    let trun = full(b"trun", 0, &[4096]);
    let traf = bx(b"traf", &[&tfhd, &trun]);
    file.extend(bx(b"moof", &[&traf]));
    file.extend(bx(b"mdat", &[&[0u8; 64]]));
    let run = drive(&file, Feed::Whole, true);
    assert_eq!(run.error_kind, Some("Malformed"));
    let err = run.error.unwrap();
    assert!(
        err.contains("not inside") && err.contains("409600 bytes"),
        "{err}"
    );
    assert!(run.packets.is_empty());
}

#[test]
fn fragment_samples_come_out_as_each_fragment_arrives() {
    let mut file = ftyp();
    file.extend(moov(&empty_tables(), true));
    let mut expected = Vec::new();
    let mut fragment_ends = Vec::new();
    for f in 0..3u32 {
        let tfhd = full(b"tfhd", 0x2_0000, &[1]);
        let tfdt = full(b"tfdt", 0, &[f * 1000]);
        // data offset, then per-sample sizes: 10, 0 (skipped), 20
        let trun_len = 8 + 4 + 4 + 4 + 12;
        let moof_len = 8 + tfhd.len() + tfdt.len() + 8 + trun_len;
        let data_offset = moof_len as u32 + 8;
        let trun = full(b"trun", 0x201, &[3, data_offset, 10, 0, 20]);
        let traf = bx(b"traf", &[&tfhd, &tfdt, &trun]);
        let moof = bx(b"moof", &[&traf]);
        assert_eq!(moof.len(), moof_len);
        file.extend(moof);
        let payload: Vec<u8> = (0..30).map(|i| (f * 30 + i) as u8).collect();
        expected.push((payload[..10].to_vec(), i64::from(f * 1000)));
        expected.push((payload[10..].to_vec(), i64::from(f * 1000 + 80)));
        file.extend(bx(b"mdat", &[&payload]));
        fragment_ends.push(file.len());
    }
    let whole = drive(&file, Feed::Whole, false);
    assert_eq!(whole.error, None);
    let got: Vec<_> = whole
        .packets
        .iter()
        .map(|p| (p.0.clone(), p.1.pts))
        .collect();
    assert_eq!(got, expected);
    // Live: each fragment's packets come out before the next fragment exists.
    for (f, &end) in fragment_ends.iter().enumerate() {
        let partial = drive(&file[..end], Feed::Chunks { seed: 3, max: 50 }, false);
        assert_eq!(partial.error, None);
        assert!(
            partial.packets[..] == whole.packets[..2 * (f + 1)],
            "fragment {f}"
        );
    }
    for seed in 1..10 {
        let chunked = drive(&file, Feed::Chunks { seed, max: 9 }, false);
        assert!(chunked.packets == whole.packets, "seed {seed}");
    }
}

#[test]
fn huge_table_claims_cost_only_the_bytes_present() {
    // stsz declaring 2^32-1 sizes in a box of 20 bytes: refused by the box size.
    let mut tables = empty_tables();
    tables[2] = full(b"stsz", 0, &[0, u32::MAX]);
    let mut file = ftyp();
    file.extend(moov(&tables, false));
    let run = drive(&file, Feed::Whole, true);
    let err = run.error.unwrap();
    assert!(err.contains("4294967295 entries"), "{err}");

    // Fixed-size stsz declaring 2^32-1 one-byte samples in one chunk: bounded by the bytes
    // read up to the end of moov (plus an allowance), refused before any walk.
    let mut tables = empty_tables();
    tables[0] = full(b"stts", 0, &[1, u32::MAX, 1]);
    tables[1] = full(b"stsc", 0, &[1, 1, u32::MAX, 1]);
    tables[2] = full(b"stsz", 0, &[1, u32::MAX]);
    tables[3] = full(b"stco", 0, &[1, 1000]);
    let mut file = ftyp();
    file.extend(moov(&tables, false));
    file.extend(bx(b"mdat", &[&[0u8; 100]]));
    let started = std::time::Instant::now();
    let run = drive(&file, Feed::Whole, true);
    assert_eq!(run.error_kind, Some("LimitExceeded"));
    let err = run.error.unwrap();
    assert!(
        err.contains("exceeds the limit") && err.contains("4294967295"),
        "{err}"
    );
    assert!(run.largest_heap < 64 << 10, "heap {}", run.largest_heap);
    assert!(started.elapsed().as_secs() < 2);

    // 2^32-1 chunk offsets declared in a 16-byte stco: refused by the box size.
    let mut tables = empty_tables();
    tables[3] = full(b"stco", 0, &[u32::MAX]);
    let mut file = ftyp();
    file.extend(moov(&tables, false));
    let err = drive(&file, Feed::Whole, true).error.unwrap();
    assert!(err.contains("stco") && err.contains("entries"), "{err}");
}

#[test]
fn a_table_in_a_box_running_past_the_file_holds_only_what_was_read() {
    // A moov whose trak declares 4 GiB; its stsz declares 2^30 entries and the box the room
    // for them, but the file ends after 64 KiB of entries.
    let mut file = ftyp();
    let mvhd = full(b"mvhd", 0, &[0, 0, 1000, 0]);
    let tkhd = full(b"tkhd", 0, &[0, 0, 1]);
    let mdhd = full(b"mdhd", 0, &[0, 0, 1000, 0]);
    let hdlr = full(b"hdlr", 0, &[0, u32::from_be_bytes(*b"vide"), 0, 0, 0]);
    let stsd = vp09_stsd();
    let entries = 1u64 << 30;
    // Every box with a 16-byte header (64-bit size).
    let stsz_len = 16 + 12 + 4 * entries;
    let stbl_len = 16 + stsd.len() as u64 + stsz_len;
    let minf_len = 16 + stbl_len;
    let mdia_len = 16 + (mdhd.len() + hdlr.len()) as u64 + minf_len;
    let trak_len = 16 + tkhd.len() as u64 + mdia_len;
    let moov_len = 16 + mvhd.len() as u64 + trak_len;
    let head = |len: u64, kind: &[u8; 4]| {
        let mut h = 1u32.to_be_bytes().to_vec();
        h.extend_from_slice(kind);
        h.extend_from_slice(&len.to_be_bytes());
        h
    };
    file.extend(head(moov_len, b"moov"));
    file.extend(&mvhd);
    file.extend(head(trak_len, b"trak"));
    file.extend(&tkhd);
    file.extend(head(mdia_len, b"mdia"));
    file.extend(&mdhd);
    file.extend(&hdlr);
    file.extend(head(minf_len, b"minf"));
    file.extend(head(stbl_len, b"stbl"));
    file.extend(&stsd);
    file.extend(head(stsz_len, b"stsz"));
    file.extend(0u32.to_be_bytes());
    file.extend(0u32.to_be_bytes());
    file.extend((entries as u32).to_be_bytes());
    file.extend(vec![0u8; 64 << 10]);
    let run = drive(
        &file,
        Feed::Chunks {
            seed: 11,
            max: 4096,
        },
        true,
    );
    assert_eq!(run.error_kind, Some("Truncated"));
    let err = run.error.unwrap();
    assert!(err.contains("cut short"), "{err}");
    // What was read (64 KiB of entries = 16 Ki sizes) is held, no more.
    assert!(run.largest_heap < 256 << 10, "heap {}", run.largest_heap);
}

#[test]
fn a_mutated_clip_never_panics_or_outgrows_its_bounds_in_any_feed() {
    let mut rng = Rng(0x1234_5678);
    for name in ["h264.mp4", "h264_frag.mp4", "hevc_hvc1.mp4"] {
        let original = clip(name);
        for round in 0..300 {
            let mut data = original.clone();
            for _ in 0..1 + rng.below(6) {
                let at = rng.below(data.len());
                data[at] = rng.next() as u8;
            }
            let whole = drive(&data, Feed::Whole, true);
            let chunked = drive(
                &data,
                Feed::Chunks {
                    seed: round + 1,
                    max: 700,
                },
                true,
            );
            assert!(
                chunked.packets == whole.packets
                    && chunked.error.is_some() == whole.error.is_some(),
                "{name} round {round}: {:?} vs {:?}",
                whole.error,
                chunked.error
            );
            let out: usize = whole.packets.iter().map(|p| p.0.len()).sum();
            assert!(out <= 4 * data.len() + (1 << 20), "{name} round {round}");
        }
    }
}

#[test]
fn fragments_are_indexed_as_they_pass_and_seeks_go_back_to_their_moof() {
    let bytes = clip("h264_frag.mp4");
    let mut parser = Mp4Demux::new();
    let first = drive_from(&mut parser, &bytes, 0, Feed::Whole, true, 3);
    assert_eq!(first.packets.len(), 3);
    assert!(parser.index().is_none(), "incomplete until the end");
    // A sample already read can be sought.
    let at = parser.seek_to_sample(1).unwrap();
    let again = drive_from(&mut parser, &bytes, at, Feed::Whole, true, 2);
    assert_eq!(again.packets[1], first.packets[2]);
    assert!(parser.seek_to_sample(11).is_err(), "not read yet");

    let mut parser = Mp4Demux::new();
    let all = drive_from(&mut parser, &bytes, 0, Feed::Whole, true, usize::MAX);
    assert_eq!(all.error, None);
    let index = parser.index().expect("complete after the end").clone();
    assert_eq!(index.len(), 12);
    for (i, (_, info)) in all.packets.iter().enumerate() {
        assert_eq!((index.pts(i), index.is_key(i)), (Some(info.pts), info.key));
    }
    for target in [11, 0, 6, 5, 7] {
        let at = parser.seek_to_sample(target).unwrap();
        let rest = drive_from(
            &mut parser,
            &bytes,
            at,
            Feed::Chunks { seed: 4, max: 99 },
            true,
            usize::MAX,
        );
        assert_eq!(rest.error, None, "seek to {target}");
        assert_eq!(rest.packets.len(), 12 - target, "seek to {target}");
        for (got, want) in rest.packets.iter().zip(&all.packets[target..]) {
            assert_eq!(got.1, want.1, "seek to {target}");
        }
        assert!(
            rest.packets[1..] == all.packets[target + 1..],
            "seek to {target}"
        );
        if all.packets[target].1.key {
            assert_eq!(rest.packets[0].0, all.packets[target].0, "seek to {target}");
        }
    }
    // The track's statistics are not counted twice by the revisits.
    assert_eq!(
        parser.track().unwrap().frame_rate,
        Rational::new(12800, 512)
    );
}

fn regressions() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/fuzz-regressions/mp4")
}

#[test]
fn every_fuzz_regression_file_passes_the_fuzz_checks() {
    // The committed small bomb is what the generator here makes.
    let small_bomb = std::fs::read(regressions().join("issue12-trun-bomb-small.mp4")).unwrap();
    assert!(small_bomb == trun_bomb(4000));
    let mut replayed = 0;
    for entry in std::fs::read_dir(regressions()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| super::check::fuzz_demux(&data));
        assert!(outcome.is_ok(), "{}", path.display());
        replayed += 1;
    }
    assert!(replayed >= 1);
}

#[test]
fn the_fuzz_checks_hold_for_every_clip_and_their_mutations() {
    let mut rng = Rng(0x5eed);
    for name in MP4_CLIPS {
        let original = clip(name);
        super::check::fuzz_demux(&original);
        for _ in 0..100 {
            let mut data = original.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(data.len());
                data[at] ^= 1 << rng.below(8);
            }
            if rng.below(4) == 0 {
                data.truncate(rng.below(data.len()));
            }
            super::check::fuzz_demux(&data);
        }
    }
}

#[test]
fn a_sample_past_the_end_is_an_error_whether_or_not_the_driver_stops_at_the_end() {
    // moov first, mdat cut: the last samples lie past the end. A driver over memory stops
    // at the end when asked to seek past it (`Feed::Whole`); a file reports the offset and
    // then the end (`Feed::Chunks`). Neither may make the parser ask again forever.
    let fast = faststart(&clip("vp9.mp4"));
    let cut = &fast[..fast.len() - 3000];
    for feed in [Feed::Whole, Feed::Chunks { seed: 2, max: 64 }] {
        let run = drive(cut, feed, true);
        assert!(
            !run.packets.is_empty() && run.packets.len() < 12,
            "{feed:?}"
        );
        let err = run.error.unwrap();
        assert!(err.contains("outside"), "{feed:?}: {err}");
        assert_eq!(run.error_kind, Some("Truncated"));
    }
    // A skipped top-level box running past the end is the end of the file.
    let mut padded = clip("vp9.mp4");
    padded.extend_from_slice(&[0, 0, 0x10, 0, b'f', b'r', b'e', b'e']);
    for feed in [Feed::Whole, Feed::Chunks { seed: 2, max: 64 }] {
        let run = drive(&padded, feed, true);
        assert_eq!((run.error, run.packets.len()), (None, 12), "{feed:?}");
    }
}

#[test]
fn an_edit_list_that_saturates_every_pts_indexes_shown_frames_at_i64_max() {
    use crate::{ElementaryStream, FormatHint, RandomAccessSource};
    // An empty edit of 2^64-1 movie ticks before the media: every pts saturates to i64::MAX.
    let mut elst_body = 0x0100_0000u32.to_be_bytes().to_vec();
    elst_body.extend_from_slice(&1u32.to_be_bytes());
    elst_body.extend_from_slice(&u64::MAX.to_be_bytes());
    elst_body.extend_from_slice(&(-1i64).to_be_bytes());
    elst_body.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    let edts = bx(b"edts", &[&bx(b"elst", &[&elst_body])]);
    let build = |chunk_offset: u32| {
        let tables = [
            full(b"stts", 0, &[1, 4, 40]),
            full(b"stsc", 0, &[1, 1, 4, 1]),
            full(b"stsz", 0, &[0, 4, 3, 3, 3, 3]),
            full(b"stco", 0, &[1, chunk_offset]),
        ];
        let with_edts = moov(&tables, false);
        // Put `edts` after `tkhd`, the first box of `trak`.
        let trak = with_edts.windows(4).position(|w| w == b"trak").unwrap() - 4;
        let tkhd = u32::from_be_bytes(with_edts[trak + 8..trak + 12].try_into().unwrap());
        let at = trak + 8 + tkhd as usize;
        let mut out = with_edts[..at].to_vec();
        out.extend_from_slice(&edts);
        out.extend_from_slice(&with_edts[at..]);
        for (pos, grow) in [(0usize, edts.len()), (trak, edts.len())] {
            let size = u32::from_be_bytes(out[pos..pos + 4].try_into().unwrap());
            out[pos..pos + 4].copy_from_slice(&(size + grow as u32).to_be_bytes());
        }
        out
    };
    let head = ftyp().len() + build(0).len() + 8;
    let mut file = ftyp();
    file.extend(build(head as u32));
    file.extend(bx(
        b"mdat",
        &[&[0x82, 0, 0, 0x82, 0, 1, 0x82, 0, 2, 0x82, 0, 3]],
    ));
    let mut stream = ElementaryStream::from_bytes(file, FormatHint::Unknown).unwrap();
    let index = stream.sample_index().unwrap().clone();
    assert_eq!(index.len(), 4);
    assert!((0..4).all(|i| index.pts(i) == Some(i64::MAX) && index.is_shown(i)));
    // Random access tells them apart by decode order (VP8/VP9/AV1) or by the bitstream's
    // picture order, never by these timestamps.
}
