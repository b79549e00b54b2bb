//! Container input: MP4 (progressive and fragmented) and Matroska/WebM, demuxed into the same
//! [`Packet`](super::Packet)s as the elementary-stream readers.
//!
//! Invariant: a demuxed file is a table of packets in decode order, each with its
//! presentation timestamp in the track's [time base](ContainerTrack::time_base); packet bytes
//! are what NVDEC's parser wants (Annex-B for H.264/HEVC, the stored frame for VP8/VP9/AV1).
//! Nothing here panics on malformed input, and every allocation is bounded by a small multiple
//! of the file size (checked before allocating: see [`MAX_EXPANSION`]).
//!
//! **MP4** (cargo feature `containers`, on by default) is read by this crate's own sans-I/O
//! box parser (`container/mp4.rs`): it holds one small box at a time, reads the sample tables
//! (`stts`/`ctts`/`stss`/`stsc`/`stsz`/`stco`) entry by entry into a 20-byte-a-sample index,
//! keeps a fragment's `trun`s as runs rather than one record per sample, and checks every
//! count against the bytes that carry it; see that module for its memory bound. Not
//! `mp4-atom`: it decodes whole boxes before any check of ours could run (a 1 MB fragmented
//! file declaring empty samples takes 4 GB). Nor `re_mp4` (MIT only, Rust 1.92, and
//! its sample-table code indexes and allocates from unchecked box counts), `mp4` 0.14
//! (unmaintained since 2023, same sample-table code), `mp4parse` (MPL-2.0).
//!
//! **Matroska/WebM** is read by this crate's own EBML parser (`mkv`: a sans-I/O reader with a
//! documented memory bound; not `matroska-demuxer` 0.8, which panics on a relative block
//! timestamp of −32768).
//!
//! **Conversions.** H.264 and HEVC samples are length-prefixed NAL units; they become Annex-B
//! exactly as ffmpeg's `h264_mp4toannexb` / `hevc_mp4toannexb` (5.x) write them, so packets are
//! byte-identical to `ffmpeg -c:v copy -bsf:v h264_mp4toannexb`:
//!
//! * H.264: the `avcC` SPS and PPS (4-byte start codes) go before the first IDR slice of a
//!   sample that carries no SPS/PPS of its own; other NAL units get a 4-byte start code when
//!   first in the packet or a parameter set, else 3 bytes. A first packet that is not IDR and
//!   carries no SPS (an open-GOP start) also gets them, before its first NAL unit, since NVDEC
//!   cannot start without them (ffmpeg omits them there).
//! * HEVC: every `hvcC` array (VPS, SPS, PPS, SEI, in record order) goes before the first IRAP
//!   NAL unit (types 16-23) of each sample; all start codes are 4 bytes.
//!
//! **Output bound.** The packets handed out from a start or a seek on hold at most
//! [`MAX_EXPANSION`] × the sample bytes read, plus one copy of the parameter sets (≤ 2 ×
//! [`MAX_CONFIG_RECORD`]): start codes at most 2.5 × the NAL units they replace, and
//! parameter sets repeated before later key frames only while the repeated bytes stay within
//! the sample bytes read (past that, a hostile file of large records and tiny key frames, they
//! are left out: the decoder holds them already). Real files never reach that limit, so their
//! packets stay byte-identical to ffmpeg's. Every sample byte is a file byte, so the bytes a
//! decoder is handed grow linearly with the bytes read, never with a record's size times the
//! key frame count.
//!
//! VP8, VP9 and AV1 samples pass through as stored (AV1: the temporal unit's OBUs, without the
//! temporal delimiter that IVF writers add).
//!
//! **Timestamps** are the container's: MP4 `pts = dts + ctts/trun offset - edit-list media
//! time` (the first edit; an initial empty edit delays), in the `mdhd` timescale; Matroska block
//! timestamps in `TimestampScale` units (1/1000 s by default). They match ffmpeg's packet pts.
//!
//! **Not supported** (clear errors): encrypted tracks (`encv`/`sinf`, Matroska
//! `ContentEncryption`), compressed Matroska tracks (`ContentCompression`, header stripping),
//! codecs other than H.264/HEVC/VP8/VP9/AV1, and files without a video track. Only the first
//! video track is read; sample descriptions other than the first (`stsd` index > 1), multiple
//! edits beyond an initial empty one, and MP4 data references to other files are ignored.

use super::InputError;
#[cfg(feature = "containers")]
use crate::Result;
pub use crate::track::{ContainerKind, ContainerTrack};
use crate::{Codec, ReadError};

#[cfg(feature = "containers")]
mod mkv;
#[cfg(feature = "containers")]
mod mp4;
#[cfg(feature = "containers")]
mod nal;

#[cfg(feature = "containers")]
pub(crate) use mkv::MkvDemux;
#[cfg(feature = "containers")]
pub(crate) use mp4::Mp4Demux;

/// The MP4 reader's fuzz entry (only in builds with `--cfg fuzzing`, as `cargo fuzz` makes):
/// see `fuzz/fuzz_targets/mp4.rs`.
#[cfg(all(fuzzing, feature = "containers"))]
#[doc(hidden)]
pub use mp4::fuzz_demux as fuzz_mp4;

/// The Matroska reader run as a streaming driver would, with its step contract checked
/// (only in builds with `--cfg fuzzing`, as `cargo fuzz` makes): see
/// `fuzz/fuzz_targets/mkv.rs`.
#[cfg(all(fuzzing, feature = "containers"))]
#[doc(hidden)]
pub use mkv::fuzz_hooks::fuzz_streaming as fuzz_mkv_streaming;

/// The Matroska reader with `Cues` read first, against one in file order (only in builds
/// with `--cfg fuzzing`): see `fuzz/fuzz_targets/mkv_cues_first.rs`.
#[cfg(all(fuzzing, feature = "containers"))]
#[doc(hidden)]
pub use mkv::fuzz_hooks::fuzz_cues_first as fuzz_mkv_cues_first;

/// A packet table's bytes may grow to at most this many times the file size (plus
/// [`EXPANSION_SLACK`]): Annex-B start codes can outgrow 1- or 2-byte length prefixes, and
/// parameter sets are repeated before key frames. A larger need means a corrupt or hostile
/// file and is refused before anything is allocated.
pub const MAX_EXPANSION: usize = 4;
/// Fixed allowance on top of [`MAX_EXPANSION`] × file size, for tiny files.
pub const EXPANSION_SLACK: usize = 1 << 20;
/// The largest H.264/HEVC decoder configuration record read (MP4 `avcC`/`hvcC`, Matroska
/// `CodecPrivate`): 64 KiB, against well under 1 KiB in real files. Its parameter sets are
/// what the conversion to Annex-B inserts before key frames, so a larger record is refused
/// with [`InputError::LimitExceeded`].
pub const MAX_CONFIG_RECORD: usize = 64 << 10;

/// Where an [`Entry`]'s bytes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "containers"), allow(dead_code))]
pub(crate) enum EntryBytes {
    /// A range of the file's bytes (pass-through samples; unused since the MP4 reader
    /// hands packets out one at a time).
    #[allow(dead_code)]
    File,
    /// A range of [`Demuxed::data`] (converted or copied samples).
    Data,
}

/// One packet of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) bytes_in: EntryBytes,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) pts: i64,
}

// The whole-file packet table: the reference the parsers' tests compare the streaming path
// (`Mp4Demux`, `MkvDemux` under the drivers) against; reading never builds it.
#[allow(dead_code)]
/// A demuxed container track: packets in decode order, then possibly the error that stopped
/// demuxing (yielded after them).
#[derive(Debug, Clone)]
pub(crate) struct Demuxed {
    pub(crate) codec: Codec,
    pub(crate) track: ContainerTrack,
    pub(crate) data: Vec<u8>,
    pub(crate) entries: Vec<Entry>,
    pub(crate) error: Option<InputError>,
}

// The whole-file packet table: the reference the parsers' tests compare the streaming path
// (`Mp4Demux`, `MkvDemux` under the drivers) against; reading never builds it.
#[allow(dead_code)]
impl Demuxed {
    /// Bytes held by the table (packet bytes plus entries), for [`memory_footprint`].
    ///
    /// [`memory_footprint`]: super::ElementaryStream::memory_footprint
    pub(crate) fn heap_bytes(&self) -> usize {
        self.data
            .capacity()
            .saturating_add(self.entries.capacity().saturating_mul(size_of::<Entry>()))
            .saturating_add(self.track.codec_tag.capacity())
    }

    /// The packet bytes of `entry`, given the file's bytes.
    pub(crate) fn bytes<'a>(&'a self, file: &'a [u8], entry: &Entry) -> &'a [u8] {
        let from = match entry.bytes_in {
            EntryBytes::File => file,
            EntryBytes::Data => &self.data,
        };
        from.get(entry.start..entry.end).unwrap_or(&[])
    }
}

/// Builds a [`Demuxed`] packet table sample by sample, converting H.264/HEVC to Annex-B.
#[cfg(feature = "containers")]
#[derive(Debug)]
pub(crate) struct PacketTableBuilder {
    converter: Option<nal::AnnexBConverter>,
    data: Vec<u8>,
    entries: Vec<Entry>,
    budget: usize,
}

// The whole-file packet table: the reference the parsers' tests compare the streaming path
// (`Mp4Demux`, `MkvDemux` under the drivers) against; reading never builds it.
#[allow(dead_code)]
#[cfg(feature = "containers")]
impl PacketTableBuilder {
    /// A table for `codec`; `config` (required for H.264/HEVC) gives the parameter sets.
    pub(crate) fn new(codec: Codec, config: Option<&nal::NalConfig>, file_len: usize) -> Self {
        let budget = byte_budget(file_len);
        Self {
            converter: config.map(|c| nal::AnnexBConverter::new(codec, c, budget)),
            data: Vec::new(),
            entries: Vec::new(),
            budget,
        }
    }

    /// Room for `n` more entries, refused when the table alone would pass the byte budget.
    pub(crate) fn reserve(&mut self, n: usize) -> Result<()> {
        let total = self.entries.len().saturating_add(n);
        if total.saturating_mul(size_of::<Entry>()) > self.budget {
            return Err(invalid(format!(
                "{n} samples is more than a file of this size can hold; refusing as corrupt"
            )));
        }
        self.entries.reserve_exact(n);
        Ok(())
    }

    /// Adds sample `index`, the bytes `file[start..end]`, presented at `pts`.
    #[allow(dead_code)]
    pub(crate) fn push_file_range(
        &mut self,
        file: &[u8],
        start: usize,
        end: usize,
        pts: i64,
    ) -> Result<()> {
        if self.converter.is_none() {
            self.push_entry(EntryBytes::File, start, end, pts)
        } else {
            let sample = file.get(start..end).unwrap_or(&[]);
            self.push_copy(sample, pts)
        }
    }

    /// Adds a sample held elsewhere (copied into the table), presented at `pts`.
    pub(crate) fn push_copy(&mut self, sample: &[u8], pts: i64) -> Result<()> {
        let index = self.entries.len();
        let start = self.data.len();
        match &mut self.converter {
            Some(conv) => conv.convert(sample, &mut self.data, index)?,
            None => {
                if start.saturating_add(sample.len()) > self.budget {
                    return Err(invalid(format!(
                        "sample {index}: frames exceed {} bytes in all; refusing as corrupt",
                        self.budget
                    )));
                }
                self.data.extend_from_slice(sample);
            }
        }
        let end = self.data.len();
        self.push_entry(EntryBytes::Data, start, end, pts)
    }

    fn push_entry(&mut self, source: EntryBytes, start: usize, end: usize, pts: i64) -> Result<()> {
        if self.entries.len() == self.entries.capacity() {
            self.reserve(self.entries.len().max(64))?;
        }
        self.entries.push(Entry {
            bytes_in: source,
            start,
            end,
            pts,
        });
        Ok(())
    }

    /// The finished table; `error`, if any, stopped demuxing after the entries so far.
    pub(crate) fn finish(
        mut self,
        codec: Codec,
        mut track: ContainerTrack,
        error: Option<ReadError>,
    ) -> Demuxed {
        self.data.shrink_to_fit();
        self.entries.shrink_to_fit();
        track.packet_count = self.entries.len();
        Demuxed {
            codec,
            track,
            data: self.data,
            entries: self.entries,
            error: error.map(|e| match e {
                ReadError::Input(e) => e,
                other => InputError::malformed(other.to_string()),
            }),
        }
    }
}

/// Whether `bytes` start like an MP4 file (`ftyp` box first).
pub(crate) fn has_mp4_magic(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(b"ftyp")
}

/// Whether `bytes` start with the EBML magic of Matroska/WebM.
pub(crate) fn has_ebml_magic(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1a, 0x45, 0xdf, 0xa3])
}

// The whole-file packet table: the reference the parsers' tests compare the streaming path
// (`Mp4Demux`, `MkvDemux` under the drivers) against; reading never builds it.
#[allow(dead_code)]
/// The allocation limit for a file of `file_len` bytes.
pub(crate) fn byte_budget(file_len: usize) -> usize {
    file_len
        .saturating_mul(MAX_EXPANSION)
        .saturating_add(EXPANSION_SLACK)
}

/// A [`InputError::Malformed`] error with `msg` (the whole-file readers know no offset).
#[cfg_attr(not(feature = "containers"), allow(dead_code))]
pub(crate) fn invalid(msg: impl Into<String>) -> ReadError {
    ReadError::Input(InputError::malformed(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers_are_recognised() {
        assert!(has_mp4_magic(b"\0\0\0\x18ftypisom"));
        assert!(!has_mp4_magic(b"\0\0\0\x18moov"));
        assert!(has_ebml_magic(&[0x1a, 0x45, 0xdf, 0xa3, 0x9f]));
        assert!(!has_ebml_magic(b"DKIF"));
    }
}
