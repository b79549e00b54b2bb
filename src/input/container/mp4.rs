//! MP4 (ISO base media file format) demuxing: boxes decoded by `mp4-atom`, the sample table
//! resolved here.
//!
//! Invariant: every sample range is checked against the file before use, every count against
//! the file size before allocating, and all timestamp arithmetic saturates; a sample that
//! cannot be read ends the table with an error after the samples before it.

use mp4_atom::{Atom, Codec as Entry4, Moof, Moov, Trak};

use super::nal::NalConfig;
use super::{Builder, ContainerKind, ContainerTrack, Demuxed, Rational, invalid};
use crate::{Codec, Result};

/// `sample_is_non_sync_sample` in the sample flags of `trex`/`tfhd`/`trun`.
const NON_SYNC: u32 = 0x1_0000;

/// One sample before conversion.
#[derive(Debug, Clone, Copy)]
struct Sample {
    offset: u64,
    size: u64,
    dts: i64,
    cts_offset: i64,
    duration: u64,
}

/// A top-level box: its type, where its body lies, and where the box starts.
struct TopBox {
    kind: [u8; 4],
    start: usize,
    body: std::ops::Range<usize>,
}

/// The top-level boxes of `bytes`, each checked against the file; a truncated last `mdat`
/// is clamped to the file (its samples are checked one by one later).
fn top_boxes(bytes: &[u8]) -> Result<Vec<TopBox>> {
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let head = bytes.get(at..at.saturating_add(8)).ok_or_else(|| {
            invalid(format!(
                "MP4 box header at byte offset {at} is truncated ({} of 8 bytes)",
                bytes.len() - at
            ))
        })?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        let (header, size) = match size32 {
            0 => (8u64, (bytes.len() - at) as u64),
            1 => {
                let large = bytes.get(at + 8..at.saturating_add(16)).ok_or_else(|| {
                    invalid(format!(
                        "MP4 box '{}' at byte offset {at}: 64-bit size truncated",
                        kind.escape_ascii()
                    ))
                })?;
                let mut b = [0u8; 8];
                b.copy_from_slice(large);
                (16, u64::from_be_bytes(b))
            }
            n => (8, u64::from(n)),
        };
        if size < header {
            return Err(invalid(format!(
                "MP4 box '{}' at byte offset {at} declares {size} bytes, less than its header",
                kind.escape_ascii()
            )));
        }
        let left = (bytes.len() - at) as u64;
        let size = if size > left {
            if &kind != b"mdat" {
                return Err(invalid(format!(
                    "MP4 box '{}' at byte offset {at} declares {size} bytes, but only {left} \
                     remain in the file (truncated?)",
                    kind.escape_ascii()
                )));
            }
            left
        } else {
            size
        };
        // Both fit in usize: they are at most the file's length.
        let (header, size) = (header as usize, size as usize);
        boxes.push(TopBox {
            kind,
            start: at,
            body: at + header..at + size,
        });
        at += size;
    }
    Ok(boxes)
}

/// Decodes the body of a `moov` or `moof` box with mp4-atom.
fn decode<T: Atom>(bytes: &[u8], b: &TopBox) -> Result<T> {
    let mut body = bytes.get(b.body.clone()).unwrap_or(&[]);
    T::decode_body(&mut body).map_err(|e| {
        invalid(format!(
            "MP4 '{}' box at byte offset {}: {e}",
            b.kind.escape_ascii(),
            b.start
        ))
    })
}

/// The codec of a sample entry, its parameter sets, and its declared size.
fn codec_of(entry: &Entry4) -> Result<(Codec, Option<NalConfig>, (u16, u16))> {
    let avc = |a: &mp4_atom::Avcc| {
        NalConfig::checked(
            usize::from(a.length_size),
            a.sequence_parameter_sets.clone(),
            a.picture_parameter_sets.clone(),
        )
    };
    let hevc = |h: &mp4_atom::Hvcc| {
        let nals = h.arrays.iter().flat_map(|a| a.nalus.iter().cloned());
        NalConfig::checked(
            usize::from(h.length_size_minus_one & 3) + 1,
            nals.collect(),
            Vec::new(),
        )
    };
    let size = |v: &mp4_atom::Visual| (v.width, v.height);
    Ok(match entry {
        Entry4::Avc1(a) => (Codec::H264, Some(avc(&a.avcc)?), size(&a.visual)),
        Entry4::Avc3(a) => (Codec::H264, Some(avc(&a.avcc)?), size(&a.visual)),
        Entry4::Hvc1(h) => (Codec::Hevc, Some(hevc(&h.hvcc)?), size(&h.visual)),
        Entry4::Hev1(h) => (Codec::Hevc, Some(hevc(&h.hvcc)?), size(&h.visual)),
        Entry4::Vp08(v) => (Codec::Vp8, None, size(&v.visual)),
        Entry4::Vp09(v) => (Codec::Vp9, None, size(&v.visual)),
        Entry4::Av01(a) => (Codec::Av1, None, size(&a.visual)),
        Entry4::Unknown(fourcc, _) if fourcc.to_string() == "encv" => {
            return Err(invalid(
                "the MP4 video track is encrypted (sample entry 'encv'); encrypted tracks are \
                 not supported",
            ));
        }
        other => {
            let name = format!("{other:?}");
            let name = name.split('(').next().unwrap_or("?").to_ascii_lowercase();
            let name = match other {
                Entry4::Unknown(fourcc, _) => fourcc.to_string(),
                _ => name,
            };
            return Err(invalid(format!(
                "MP4 video codec '{name}' is not supported; supported: avc1, avc3 (h264), \
                 hvc1, hev1 (hevc), vp08, vp09, av01"
            )));
        }
    })
}

/// The codec tag of a supported sample entry, as stored.
fn tag_of(entry: &Entry4) -> &'static str {
    match entry {
        Entry4::Avc1(_) => "avc1",
        Entry4::Avc3(_) => "avc3",
        Entry4::Hvc1(_) => "hvc1",
        Entry4::Hev1(_) => "hev1",
        Entry4::Vp08(_) => "vp08",
        Entry4::Vp09(_) => "vp09",
        Entry4::Av01(_) => "av01",
        _ => "?",
    }
}

/// Samples of a progressive `trak` (its `stbl` tables). At most `max` samples.
fn table_samples(trak: &Trak, max: usize) -> Result<Vec<Sample>> {
    let stbl = &trak.mdia.minf.stbl;
    let (count, fixed) = match &stbl.stsz.samples {
        mp4_atom::StszSamples::Identical { count, size } => (*count as usize, Some(*size)),
        mp4_atom::StszSamples::Different { sizes } => (sizes.len(), None),
    };
    if count > max {
        return Err(invalid(format!(
            "MP4 sample table lists {count} samples, more than a {max}-byte file can hold"
        )));
    }
    let size_of = |i: usize| -> u64 {
        match (&stbl.stsz.samples, fixed) {
            (_, Some(s)) => u64::from(s),
            (mp4_atom::StszSamples::Different { sizes }, None) => {
                sizes.get(i).copied().map_or(0, u64::from)
            }
            _ => 0,
        }
    };
    let chunks: Vec<u64> = match (&stbl.stco, &stbl.co64) {
        (Some(stco), _) => stco.entries.iter().map(|&o| u64::from(o)).collect(),
        (None, Some(co64)) => co64.entries.clone(),
        (None, None) if count == 0 => Vec::new(),
        (None, None) => return Err(invalid("MP4 sample table has no chunk offsets (stco/co64)")),
    };
    let mut samples = Vec::with_capacity(count);
    // Offsets: walk chunks; stsc gives samples per chunk from each first_chunk on.
    let stsc = &stbl.stsc.entries;
    let mut run = 0usize;
    'chunks: for (ci, &chunk_offset) in chunks.iter().enumerate() {
        let chunk_no = ci as u64 + 1;
        while stsc
            .get(run + 1)
            .is_some_and(|next| u64::from(next.first_chunk) <= chunk_no)
        {
            run += 1;
        }
        let per_chunk = stsc.get(run).map_or(0, |e| e.samples_per_chunk);
        let mut offset = chunk_offset;
        for _ in 0..per_chunk {
            if samples.len() == count {
                break 'chunks;
            }
            let size = size_of(samples.len());
            samples.push(Sample {
                offset,
                size,
                dts: 0,
                cts_offset: 0,
                duration: 0,
            });
            offset = offset.saturating_add(size);
        }
    }
    if samples.len() < count {
        return Err(invalid(format!(
            "MP4 sample table lists {count} samples, but its chunks (stsc/stco) hold only {}",
            samples.len()
        )));
    }
    // Decode times from stts; a table shorter than the samples repeats its last delta.
    let mut deltas = stbl
        .stts
        .entries
        .iter()
        .flat_map(|e| std::iter::repeat_n(e.sample_delta, e.sample_count as usize));
    let mut last_delta = 0u32;
    let mut dts = 0i64;
    for s in &mut samples {
        let delta = deltas.next().unwrap_or(last_delta);
        last_delta = delta;
        s.dts = dts;
        s.duration = u64::from(delta);
        dts = dts.saturating_add(i64::from(delta));
    }
    // Composition offsets from ctts.
    if let Some(ctts) = &stbl.ctts {
        let mut offsets = ctts
            .entries
            .iter()
            .flat_map(|e| std::iter::repeat_n(e.sample_offset, e.sample_count as usize));
        for s in &mut samples {
            s.cts_offset = offsets.next().unwrap_or(0);
        }
    }
    Ok(samples)
}

/// Samples of track `track_id` in the movie fragments, appended after `samples`.
fn fragment_samples(
    bytes: &[u8],
    boxes: &[TopBox],
    moov: &Moov,
    track_id: u32,
    samples: &mut Vec<Sample>,
    max: usize,
) -> Result<()> {
    let trex = moov
        .mvex
        .as_ref()
        .and_then(|m| m.trex.iter().find(|t| t.track_id == track_id));
    let mut next_dts = samples
        .last()
        .map_or(0, |s| s.dts.saturating_add_unsigned(s.duration));
    for b in boxes.iter().filter(|b| &b.kind == b"moof") {
        let moof: Moof = decode(bytes, b)?;
        let moof_start = b.start as u64;
        let mut data_end = moof_start;
        for traf in moof.traf.iter().filter(|t| t.tfhd.track_id == track_id) {
            let tfhd = &traf.tfhd;
            let base = match tfhd.base_data_offset {
                Some(base) => base,
                None if tfhd.default_base_is_moof => moof_start,
                // The first traf of a moof without explicit base starts at the moof.
                None => data_end,
            };
            let default_duration = tfhd
                .default_sample_duration
                .or(trex.map(|t| t.default_sample_duration))
                .unwrap_or(0);
            let default_size = tfhd
                .default_sample_size
                .or(trex.map(|t| t.default_sample_size))
                .unwrap_or(0);
            let default_flags = tfhd
                .default_sample_flags
                .or(trex.map(|t| t.default_sample_flags))
                .unwrap_or(0);
            if let Some(tfdt) = &traf.tfdt {
                next_dts = i64::try_from(tfdt.base_media_decode_time).unwrap_or(i64::MAX);
            }
            let mut offset = base;
            for trun in &traf.trun {
                if let Some(d) = trun.data_offset {
                    offset = base.saturating_add_signed(i64::from(d));
                }
                if samples.len().saturating_add(trun.entries.len()) > max {
                    return Err(invalid(format!(
                        "MP4 fragments list more samples than a {max}-byte file can hold"
                    )));
                }
                for e in &trun.entries {
                    let size = u64::from(e.size.unwrap_or(default_size));
                    let duration = u64::from(e.duration.unwrap_or(default_duration));
                    let _sync = e.flags.unwrap_or(default_flags) & NON_SYNC == 0;
                    samples.push(Sample {
                        offset,
                        size,
                        dts: next_dts,
                        cts_offset: i64::from(e.cts.unwrap_or(0)),
                        duration,
                    });
                    offset = offset.saturating_add(size);
                    next_dts = next_dts.saturating_add_unsigned(duration);
                }
            }
            data_end = offset;
        }
    }
    Ok(())
}

/// The shift from composition time to presentation time given by the edit list: an initial
/// empty edit delays, the first real edit's media time is subtracted.
fn edit_shift(trak: &Trak, movie_timescale: u32, media_timescale: u32) -> i64 {
    let Some(elst) = trak.edts.as_ref().and_then(|e| e.elst.as_ref()) else {
        return 0;
    };
    let mut shift = 0i64;
    for e in &elst.entries {
        match e.media_time {
            None => {
                let delay = u128::from(e.segment_duration) * u128::from(media_timescale)
                    / u128::from(movie_timescale.max(1));
                shift = shift.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
            }
            Some(t) => {
                return shift.saturating_sub(i64::try_from(t).unwrap_or(i64::MAX));
            }
        }
    }
    shift
}

/// Demuxes the first video track of the MP4 file `bytes`.
pub(super) fn demux(bytes: &[u8]) -> Result<Demuxed> {
    let boxes = top_boxes(bytes)?;
    let moov_box = boxes.iter().find(|b| &b.kind == b"moov").ok_or_else(|| {
        invalid("MP4 file has no 'moov' box (the index; truncated before it, or not an MP4 file)")
    })?;
    let moov: Moov = decode(bytes, moov_box)?;
    let trak = moov
        .trak
        .iter()
        .find(|t| t.mdia.hdlr.handler.to_string() == "vide")
        .ok_or_else(|| {
            let kinds: Vec<String> = moov
                .trak
                .iter()
                .map(|t| t.mdia.hdlr.handler.to_string())
                .collect();
            invalid(format!(
                "MP4 file has no video track (track handlers: [{}])",
                kinds.join(", ")
            ))
        })?;
    let entry = trak
        .mdia
        .minf
        .stbl
        .stsd
        .codecs
        .first()
        .ok_or_else(|| invalid("MP4 video track has no sample description (stsd)"))?;
    let (codec, config, (width, height)) = codec_of(entry)?;
    let timescale = trak.mdia.mdhd.timescale;
    let time_base = Rational::new(1, u64::from(timescale))
        .ok_or_else(|| invalid("MP4 video track has a zero timescale (mdhd)"))?;
    let track_id = trak.tkhd.track_id;

    let max = bytes.len();
    let mut samples = table_samples(trak, max)?;
    if moov.mvex.is_some() || boxes.iter().any(|b| &b.kind == b"moof") {
        fragment_samples(bytes, &boxes, &moov, track_id, &mut samples, max)?;
    }

    let shift = edit_shift(trak, moov.mvhd.timescale, timescale);
    let frame_rate = {
        let mut d = samples.iter().map(|s| s.duration);
        match d.next() {
            Some(first) if first > 0 && d.all(|x| x == first) => {
                Rational::new(u64::from(timescale), first)
            }
            _ => None,
        }
    };
    let summed = samples
        .iter()
        .fold(0u64, |acc, s| acc.saturating_add(s.duration));
    let duration = match trak.mdia.mdhd.duration {
        0 | 0xffff_ffff | u64::MAX => moov
            .mvex
            .as_ref()
            .and_then(|m| m.mehd.as_ref())
            .map(|m| m.fragment_duration)
            .filter(|&d| d != 0)
            .map(|d| {
                let t =
                    u128::from(d) * u128::from(timescale) / u128::from(moov.mvhd.timescale.max(1));
                u64::try_from(t).unwrap_or(u64::MAX)
            })
            .or((summed > 0).then_some(summed)),
        d => Some(d),
    };
    let dimensions = if width != 0 && height != 0 {
        Some((u32::from(width), u32::from(height)))
    } else {
        None
    };
    let track = ContainerTrack {
        kind: ContainerKind::Mp4,
        track_id: u64::from(track_id),
        codec_tag: tag_of(entry).to_string(),
        time_base,
        frame_rate,
        duration,
        dimensions,
        packet_count: 0,
    };

    let mut builder = Builder::new(codec, config.as_ref(), bytes.len());
    builder.reserve(samples.len())?;
    let mut error = None;
    for (i, s) in samples.iter().enumerate() {
        let range = usize::try_from(s.offset)
            .ok()
            .zip(usize::try_from(s.offset.saturating_add(s.size)).ok())
            .filter(|&(_, end)| end <= bytes.len());
        let Some((start, end)) = range else {
            error = Some(invalid(format!(
                "MP4 sample {i} at byte offset {} ({} bytes) lies outside the {}-byte file \
                 (truncated?)",
                s.offset,
                s.size,
                bytes.len()
            )));
            break;
        };
        let pts = s.dts.saturating_add(s.cts_offset).saturating_add(shift);
        if let Err(e) = builder.push_file_range(bytes, start, end, pts) {
            error = Some(e);
            break;
        }
    }
    Ok(builder.finish(codec, track, error))
}
