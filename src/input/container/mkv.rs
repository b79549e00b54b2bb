//! Matroska / WebM demuxing through `matroska-demuxer`.
//!
//! Invariant: the demuxer reads from an in-memory cursor over the file, so every element it
//! allocates for has been checked against the bytes that remain (the crate does this); frames
//! are copied (and converted for H.264/HEVC) into one table within the byte budget. A frame
//! that cannot be read ends the table with an error after the frames before it.

use std::io::Cursor;
use std::num::NonZeroU64;

use matroska_demuxer::{ContentEncodingValue, Frame, MatroskaFile, TrackType};

use super::nal::NalConfig;
use super::{Builder, ContainerKind, ContainerTrack, Demuxed, Rational, invalid};
use crate::{Codec, Error, Result};

/// Codec IDs read, with their codec.
const CODECS: &[(&str, Codec)] = &[
    ("V_MPEG4/ISO/AVC", Codec::H264),
    ("V_MPEGH/ISO/HEVC", Codec::Hevc),
    ("V_VP8", Codec::Vp8),
    ("V_VP9", Codec::Vp9),
    ("V_AV1", Codec::Av1),
];

fn demux_error(e: matroska_demuxer::DemuxError) -> Error {
    invalid(format!("Matroska: {e}"))
}

/// Demuxes the first video track of the Matroska/WebM file `bytes`.
pub(super) fn demux(bytes: &[u8]) -> Result<Demuxed> {
    let mut mkv = MatroskaFile::open(Cursor::new(bytes)).map_err(demux_error)?;
    let kind = if mkv.ebml_header().doc_type() == "webm" {
        ContainerKind::WebM
    } else {
        ContainerKind::Matroska
    };
    let track = mkv
        .tracks()
        .iter()
        .find(|t| t.track_type() == TrackType::Video)
        .ok_or_else(|| {
            let kinds: Vec<String> = mkv
                .tracks()
                .iter()
                .map(|t| format!("{:?} {}", t.track_type(), t.codec_id()))
                .collect();
            invalid(format!(
                "{kind} file has no video track (tracks: [{}])",
                kinds.join(", ")
            ))
        })?;
    let codec_id = track.codec_id().to_string();
    let codec = CODECS
        .iter()
        .find(|(id, _)| *id == codec_id)
        .map(|&(_, c)| c)
        .ok_or_else(|| {
            invalid(format!(
                "{kind} video codec '{codec_id}' is not supported; supported: {}",
                CODECS
                    .iter()
                    .map(|(id, _)| *id)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    if let Some(enc) = track.content_encodings().unwrap_or(&[]).first() {
        match enc.encoding() {
            ContentEncodingValue::Encryption(_) => {
                return Err(invalid(format!(
                    "the {kind} video track is encrypted (ContentEncryption); encrypted \
                     tracks are not supported"
                )));
            }
            ContentEncodingValue::Compression(_) | ContentEncodingValue::Unknown => {
                return Err(invalid(format!(
                    "the {kind} video track uses ContentCompression (or an unknown \
                     ContentEncoding); compressed tracks are not supported"
                )));
            }
        }
    }
    let config = match codec {
        Codec::H264 | Codec::Hevc => {
            let private = track.codec_private().ok_or_else(|| {
                invalid(format!(
                    "{kind} {codec} track has no CodecPrivate (the avcC/hvcC record)"
                ))
            })?;
            let parsed = if codec == Codec::H264 {
                NalConfig::parse_avcc(private)
            } else {
                NalConfig::parse_hvcc(private)
            };
            Some(parsed.map_err(|e| match e {
                Error::InvalidInput(m) => invalid(format!("{kind} CodecPrivate: {m}")),
                other => other,
            })?)
        }
        _ => None,
    };
    let number = track.track_number().get();
    let scale = mkv.info().timestamp_scale().get();
    let time_base = Rational::new(scale, 1_000_000_000)
        .ok_or_else(|| invalid(format!("{kind} TimestampScale is 0")))?;
    let frame_rate = track
        .default_duration()
        .map(NonZeroU64::get)
        .and_then(|ns| Rational::new(1_000_000_000, ns));
    let duration = mkv
        .info()
        .duration()
        .filter(|d| d.is_finite() && *d >= 0.0 && *d < 9.0e18)
        .map(|d| d.round() as u64);
    let dimensions = track.video().and_then(|v| {
        u32::try_from(v.pixel_width().get())
            .ok()
            .zip(u32::try_from(v.pixel_height().get()).ok())
    });
    let info = ContainerTrack {
        kind,
        track_id: number,
        codec_tag: codec_id,
        time_base,
        frame_rate,
        duration,
        dimensions,
        packet_count: 0,
    };

    let mut builder = Builder::new(codec, config.as_ref(), bytes.len());
    let mut frame = Frame::default();
    let mut error = None;
    loop {
        match mkv.next_frame(&mut frame) {
            Ok(false) => break,
            Ok(true) if frame.track != number => {}
            Ok(true) => {
                let pts = i64::try_from(frame.timestamp).unwrap_or(i64::MAX);
                if let Err(e) = builder.push_copy(&frame.data, pts) {
                    error = Some(e);
                    break;
                }
            }
            Err(e) => {
                error = Some(demux_error(e));
                break;
            }
        }
    }
    Ok(builder.finish(codec, info, error))
}
