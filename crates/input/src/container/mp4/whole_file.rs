//! The whole-file reference: [`Mp4Demux`] run over a file held in memory into a packet
//! table, which the tests compare the streaming drivers against.

use super::{Demux, Mp4Demux, Result, Step, internal, invalid};
use crate::container::{Demuxed, PacketTableBuilder};

/// Demuxes the first video track of the MP4 file `bytes` into a packet table, driving
/// [`Mp4Demux`] over the bytes in memory: the whole-file reference the tests compare the
/// streaming drivers against.
pub(crate) fn demux(bytes: &[u8]) -> Result<Demuxed> {
    let mut parser = Mp4Demux::new();
    let mut out = Vec::new();
    let mut pos = 0u64;
    let mut builder: Option<PacketTableBuilder> = None;
    let mut stalls = 0u32;
    let error = loop {
        let from = usize::try_from(pos).map_or(bytes.len(), |p| p.min(bytes.len()));
        let input = bytes.get(from..).unwrap_or(&[]);
        let step = match parser.step(input, pos, true, &mut out) {
            Ok(step) => step,
            Err(e) => break Some(e),
        };
        if builder.is_none() {
            builder = parser
                .codec()
                .map(|codec| PacketTableBuilder::new(codec, None, bytes.len()));
        }
        match step {
            Step::Consumed(n) => {
                pos = pos.saturating_add(n as u64);
                stalls = if n == 0 { stalls + 1 } else { 0 };
            }
            Step::SeekTo(to) => {
                pos = to;
                stalls += 1;
            }
            Step::Packet { consumed, info } => {
                let Some(table) = &mut builder else {
                    break Some(internal("a packet before its track"));
                };
                if let Err(e) = table.push_copy(&out, info.pts) {
                    break Some(e);
                }
                pos = pos.saturating_add(consumed as u64);
                stalls = 0;
            }
            Step::NeedMore(n) => {
                break Some(internal(format!(
                    "asked for {n} bytes at byte offset {pos} after the end"
                )));
            }
            Step::End => break None,
        }
        if stalls > 8 {
            break Some(internal(format!("no progress at byte offset {pos}")));
        }
    };
    match (parser.codec(), parser.track(), builder) {
        (Some(codec), Some(track), Some(table)) => Ok(table.finish(codec, track.clone(), error)),
        _ => Err(error.unwrap_or_else(|| invalid("MP4 file has no video track"))),
    }
}
