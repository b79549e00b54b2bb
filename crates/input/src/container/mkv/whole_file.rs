//! The whole-file reference: [`MkvDemux`] run over a file held in memory into a packet
//! table, which the tests compare the streaming drivers against.
//!
//! Invariant: the table stays within the container budget (`PacketTableBuilder`); a parser that stops
//! making progress is reported as an internal error, never looped on.

use super::{MkvDemux, Step, internal, truncated};
use crate::Result;
use crate::container::{Demuxed, PacketTableBuilder};
use crate::demux::Demux;

/// Demuxes the first video track of the Matroska/WebM file `bytes` into a packet table
/// (the whole-file reference for tests), by running [`MkvDemux`] over it.
pub(crate) fn demux(bytes: &[u8]) -> Result<Demuxed> {
    let mut parser = MkvDemux::new().without_frame_index();
    let mut out = Vec::new();
    let mut builder: Option<PacketTableBuilder> = None;
    let mut pos = 0usize;
    let mut error = None;
    // Steps in a row that neither moved nor handed out a packet: a parser bug if many.
    let mut idle = 0u8;
    loop {
        let input = bytes.get(pos..).unwrap_or(&[]);
        let step = match parser.step(input, pos as u64, true, &mut out) {
            Ok(step) => step,
            Err(e) if parser.track().is_none() => return Err(e),
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        let before = pos;
        match step {
            Step::Consumed(n) => pos = pos.saturating_add(n),
            Step::Packet { consumed, info } => {
                let Some(codec) = parser.codec() else {
                    return Err(internal("a packet before the track"));
                };
                let b = builder
                    .get_or_insert_with(|| PacketTableBuilder::new(codec, None, bytes.len()));
                if let Err(e) = b.push_copy(&out, info.pts) {
                    error = Some(e);
                    break;
                }
                idle = 0;
                pos = pos.saturating_add(consumed);
            }
            Step::SeekTo(to) => pos = usize::try_from(to).unwrap_or(usize::MAX).min(bytes.len()),
            Step::NeedMore(_) => {
                error = Some(truncated(
                    pos as u64,
                    "an element (more bytes asked at the end)",
                ));
                break;
            }
            Step::End => break,
        }
        if pos == before && !matches!(step, Step::Packet { .. }) {
            idle = idle.saturating_add(1);
            if idle > 2 {
                error = Some(internal("the reader made no progress"));
                break;
            }
        } else if pos != before {
            idle = 0;
        }
    }
    let (Some(codec), Some(track)) = (parser.codec(), parser.track().cloned()) else {
        return Err(error.unwrap_or_else(|| internal("ended without a track or an error")));
    };
    let builder = builder.unwrap_or_else(|| PacketTableBuilder::new(codec, None, bytes.len()));
    Ok(builder.finish(codec, track, error))
}
