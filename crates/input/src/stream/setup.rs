//! Starting a reader: the format told from the first bytes, the parser made for it, and the
//! first packet read to learn the codec.
//!
//! Invariant: a stream is only handed out with a known codec and format; what cannot be
//! read is refused here, with an error naming the input.

use super::{
    AnnexBDemux, Codec, Demux, DemuxDriver, FormatHint, Input, InputError, IvfDemux, IvfHeader,
    Mpeg2Demux, PacketInfo, Pulled, ReadError, Result, StreamFormat, TsDemux, TsSelect, detect,
};
#[cfg(feature = "containers")]
use super::{MkvDemux, Mp4Demux};

/// Tells the format from the window's first bytes; for IVF, parses the fixed header.
pub(crate) fn detect_head(
    input: &Input,
    hint: FormatHint,
    what: &str,
) -> Result<(StreamFormat, Option<IvfHeader>)> {
    let (head, _) = input.window();
    let format = detect::detect(head, hint, what)?;
    let ivf = match format {
        StreamFormat::Ivf => Some(IvfHeader::parse_fixed(head).map_err(|e| in_input(e, what))?),
        _ => None,
    };
    Ok((format, ivf))
}

/// The reader for `format`; raw streams take their codec from `hint`.
pub(crate) fn make_demux(
    format: StreamFormat,
    hint: FormatHint,
    what: &str,
) -> Result<Box<dyn Demux>> {
    Ok(match (format, hint) {
        (StreamFormat::AnnexB, FormatHint::Codec(codec)) => Box::new(AnnexBDemux::new(codec)?),
        (StreamFormat::Mpeg2, _) => Box::new(Mpeg2Demux::new()),
        (StreamFormat::Ivf, _) => Box::new(IvfDemux::new()),
        (StreamFormat::MpegTs, hint) => Box::new(TsDemux::new(ts_select(hint))),
        #[cfg(feature = "containers")]
        (StreamFormat::Mp4, _) => Box::new(Mp4Demux::new()),
        #[cfg(feature = "containers")]
        (StreamFormat::Matroska, _) => Box::new(MkvDemux::new()),
        // Without the `containers` feature: refused at once, naming the feature.
        #[cfg(not(feature = "containers"))]
        (StreamFormat::Mp4 | StreamFormat::Matroska, _) => {
            let kind = if format == StreamFormat::Mp4 {
                "MP4"
            } else {
                "Matroska/WebM"
            };
            return Err(InputError::unsupported(format!(
                "{what}: {kind} input needs this crate's `containers` cargo feature, which \
                 this build was made without"
            ))
            .into());
        }
        // `detect` returns Annex-B only for a codec hint.
        (_, _) => {
            return Err(InputError::Unrecognized {
                what: format!(
                    "{what}: unrecognised format; supported: {}",
                    detect::SUPPORTED
                ),
            }
            .into());
        }
    })
}

/// The transport-stream selection a hint asks for.
pub(super) fn ts_select(hint: FormatHint) -> TsSelect {
    match hint {
        FormatHint::MpegTs(select) => select,
        FormatHint::Codec(codec) => TsSelect::default().codec(codec),
        _ => TsSelect::default(),
    }
}

/// Steps the reader until it knows the codec; a packet read on the way is returned to be
/// handed out first.
pub(crate) fn prime(driver: &mut DemuxDriver, what: &str) -> Result<Option<PacketInfo>> {
    while driver.demux.codec().is_none() {
        match driver.step_once().map_err(|e| in_input(e, what))? {
            Some(Pulled::Packet(info)) => return Ok(Some(info)),
            Some(Pulled::End | Pulled::NeedInput) => break,
            None => {}
        }
    }
    Ok(None)
}

/// The codec the reader found, checked against a codec hint for self-describing formats.
pub(crate) fn checked_codec(
    driver: &DemuxDriver,
    format: StreamFormat,
    ivf: Option<&IvfHeader>,
    hint: FormatHint,
    what: &str,
) -> Result<Codec> {
    let codec = driver.demux.codec().ok_or_else(|| {
        ReadError::from(InputError::malformed(format!(
            "{what}: the input ends before its codec is known"
        )))
    })?;
    if let FormatHint::Codec(expected) = hint {
        if expected != codec && !matches!(format, StreamFormat::AnnexB | StreamFormat::Mpeg2) {
            let source = match (driver.demux.track(), ivf) {
                (Some(track), _) => format!(
                    "{what}: the {} video track (\"{}\")",
                    track.kind, track.codec_tag
                ),
                (None, Some(header)) => {
                    format!(
                        "{what}: the IVF fourcc \"{}\"",
                        header.fourcc.escape_ascii()
                    )
                }
                (None, None) => format!("{what}: the {format:?} header"),
            };
            return Err(InputError::CodecMismatch {
                expected,
                found: codec,
                what: source,
            }
            .into());
        }
    }
    Ok(codec)
}

/// `e` with the input's name `what` before its message, when it is an input error.
pub(crate) fn in_input(e: ReadError, what: &str) -> ReadError {
    match e {
        ReadError::Input(e) => ReadError::Input(e.in_input(what)),
        other => other,
    }
}
