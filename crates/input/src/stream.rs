//! [`ElementaryStream`]: a compressed video file or stream, read incrementally, its format and
//! codec, and its packets one at a time.
//!
//! Invariant: an `ElementaryStream` always has a known codec and format (construction fails
//! otherwise), holds at most one window of the input (see [`source`](super::source) for the
//! bound) and hands out each packet from a buffer it reuses; nothing in it panics on malformed
//! content.
//!
//! Why a lending [`next_packet`](ElementaryStream::next_packet) rather than an iterator of
//! borrowed slices: packets of a file read incrementally live in a buffer that the next read
//! overwrites, so a packet can only be lent until the next call. [`packets`] is the iterator
//! convenience: it copies each packet into an [`OwnedPacket`].
//!
//! [`packets`]: ElementaryStream::packets

mod indexing;
mod setup;
#[cfg(test)]
mod tests;

use setup::ts_select;
pub(crate) use setup::{checked_codec, detect_head, in_input, make_demux, prime};

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use super::annexb::AnnexBDemux;
use super::annexb::index::RawIndexer;
#[cfg(feature = "containers")]
use super::container::{MkvDemux, Mp4Demux};
use super::demux::{Demux, PacketInfo, SampleIndex, TruncatedTail};
use super::detect::{self, FormatHint, StreamFormat};
use super::ivf::{IvfDemux, IvfHeader};
use super::mpeg2::Mpeg2Demux;
use super::source::{ByteSource, DemuxDriver, Input, Pulled};
use super::ts::{TsDemux, TsSelect, TsStats};
use super::{DisplayRanks, InputError, OwnedPacket, Packet, RandomAccessSource};
use crate::Rational;
use crate::track::ContainerTrack;
use crate::{Codec, ReadError, Result};

/// Bytes looked at to tell the format (container magics, the fixed IVF header, three
/// transport-stream sync bytes).
pub(crate) const DETECT_LEN: usize = crate::ts::DETECT_LEN;

/// A compressed video file or stream, read packet by packet with bounded memory.
///
/// Sources: a file ([`open`](Self::open)), bytes already in memory
/// ([`from_bytes`](Self::from_bytes)), any `Read + Seek` ([`from_reader`](Self::from_reader))
/// or plain `Read` ([`from_stream`](Self::from_stream)); for bytes pushed in as they arrive,
/// see [`LiveStream`](super::LiveStream). The format is told from the first bytes (MP4 `ftyp`,
/// Matroska/WebM EBML or IVF magic), else from the extension or [`FormatHint`].
///
/// **Memory.** Raw Annex-B, MPEG-2 and IVF input is read through a window of one packet
/// (peak heap ≤ 2 × the largest packet + 64 KiB + the packet buffer; see
/// [`memory_footprint`](Self::memory_footprint)), whatever the file's size. MP4 and
/// Matroska/WebM input is read the same way by their own parsers: a window of one box or
/// element (or packet), plus the sample index they keep (20 bytes a sample; see
/// [`SampleIndex`]). A progressive MP4 whose `moov` follows `mdat` needs a seekable source
/// ([`InputError::NeedsSeek`] from [`from_stream`](Self::from_stream)).
///
/// Invariant: `codec` and `format` agree (H.264/HEVC ⇔ Annex-B, MPEG-2 ⇔ MPEG-2 ES,
/// VP8/VP9/AV1 ⇔ IVF, any of H.264/HEVC/VP8/VP9/AV1 ⇔ MP4/Matroska), `ivf` is `Some` exactly
/// for IVF input, and `pending`, when set, describes the packet in the driver's buffer that
/// was read while the header was.
#[derive(Debug)]
pub struct ElementaryStream {
    driver: DemuxDriver,
    format: StreamFormat,
    codec: Codec,
    ivf: Option<IvfHeader>,
    hint: FormatHint,
    what: String,
    pending: Option<PacketInfo>,
    /// The bitstream's display order of the indexed samples, once found (H.264/HEVC).
    ranks: Option<DisplayRanks>,
}

impl ElementaryStream {
    /// Opens the file at `path` for incremental reading and detects its format from its
    /// content (MP4 `ftyp`, Matroska/WebM EBML or IVF magic), else from the extension (see
    /// [`FormatHint::from_path`]). Only the first bytes are read here.
    ///
    /// # Errors
    /// I/O errors keep their kind and gain the path in their message; input errors
    /// ([`ReadError::Input`]) name the file and what cannot be read: the format, the codec, an
    /// encrypted track, a missing video track, or the malformed structure.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| {
            ReadError::Io(std::io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", path.display()),
            ))
        })?;
        Self::start(
            Input::new(ByteSource::Seekable(Box::new(file))),
            FormatHint::from_path(path),
            path.display().to_string(),
        )
    }

    /// Takes `bytes` as a whole file whose format is detected from its content (MP4,
    /// Matroska/WebM or IVF magic), else from `hint`. The bytes are read in place, never
    /// copied into a window.
    ///
    /// With [`FormatHint::Codec`] and IVF or container bytes, the file's codec must be that
    /// codec.
    ///
    /// # Errors
    /// As [`open`](Self::open), without I/O errors.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>, hint: FormatHint) -> Result<Self> {
        Self::start(
            Input::new(ByteSource::Memory(bytes.into())),
            hint,
            "input".into(),
        )
    }

    /// Reads a seekable source (a file, a `Cursor`) incrementally, from its start (it is
    /// sought to offset 0 first: the offsets readers seek to are absolute).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn from_reader<R: Read + Seek + Send + 'static>(
        mut reader: R,
        hint: FormatHint,
    ) -> Result<Self> {
        reader.seek(std::io::SeekFrom::Start(0))?;
        Self::start(
            Input::new(ByteSource::Seekable(Box::new(reader))),
            hint,
            "input".into(),
        )
    }

    /// Reads a source that cannot seek (a pipe, a socket) front to back. Every format reads
    /// this way except a layout that needs a backward seek, which is
    /// [`InputError::NeedsSeek`].
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn from_stream<R: Read + Send + 'static>(reader: R, hint: FormatHint) -> Result<Self> {
        Self::start(
            Input::new(ByteSource::Stream(Box::new(reader))),
            hint,
            "input".into(),
        )
    }

    fn start(mut input: Input, hint: FormatHint, what: String) -> Result<Self> {
        input.fill(DETECT_LEN)?;
        let (format, ivf) = detect_head(&input, hint, &what)?;
        let demux = make_demux(format, hint, &what)?;
        let mut driver = DemuxDriver::new(input, demux);
        let pending = prime(&mut driver, &what)?;
        let codec = checked_codec(&driver, format, ivf.as_ref(), hint, &what)?;
        Ok(Self {
            driver,
            format,
            codec,
            ivf,
            hint,
            what,
            pending,
            ranks: None,
        })
    }

    /// The next packet (one picture), or `None` at the end of the input. The packet borrows
    /// the stream's buffer until the next call.
    ///
    /// # Errors
    /// Malformed or truncated input ([`ReadError::Input`], naming the offset or frame), I/O errors
    /// of the source. After an error, later calls return `Ok(None)`.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>> {
        let Some(info) = self.next_info()? else {
            return Ok(None);
        };
        Ok(Some(Packet {
            data: self.driver.packet(),
            pts: info.pts,
        }))
    }

    /// Advances to the next packet (its bytes in the driver's buffer) and returns its info.
    fn next_info(&mut self) -> Result<Option<PacketInfo>> {
        Ok(match self.pending.take() {
            Some(info) => Some(info),
            None => match self.driver.advance()? {
                Pulled::Packet(info) => Some(info),
                Pulled::End | Pulled::NeedInput => None,
            },
        })
    }

    /// The index of every sample, or `None` where the reader's index lists only some (a
    /// Matroska `Cues` index names key frames only: its entries point at clusters and have no
    /// size).
    fn per_frame_index(&self) -> Option<&SampleIndex> {
        self.index()
            .filter(|index| !index.is_empty() && index.size(0) != Some(0))
    }

    /// The remaining packets as an iterator of owned copies; see
    /// [`next_packet`](Self::next_packet) for the borrowing form that copies nothing.
    pub fn packets(&mut self) -> Packets<'_> {
        Packets { stream: self }
    }

    /// Starts again from the first packet (bytes in memory, files and `Read + Seek` sources).
    ///
    /// # Errors
    /// [`InputError::NeedsSeek`] for a source that cannot seek; the source's I/O errors.
    pub fn rewind(&mut self) -> Result<()> {
        if self.raw_index_built() {
            // Keeps the index built by `build_index`: the first sample is the first packet.
            return self.seek_to_sample(0);
        }
        if !self.driver.input.can_rewind() {
            return Err(InputError::NeedsSeek {
                what: format!("{}: rewinding to the first packet", self.what),
            }
            .into());
        }
        self.driver.input.seek(0)?;
        let hint = match self.format {
            StreamFormat::MpegTs => self.hint,
            _ => FormatHint::Codec(self.codec),
        };
        let demux = make_demux(self.format, hint, &self.what)?;
        let input = std::mem::replace(&mut self.driver.input, Input::new(ByteSource::Live));
        self.driver = DemuxDriver::new(input, demux);
        self.pending = prime(&mut self.driver, &self.what)?;
        Ok(())
    }

    /// Continues so that the next packet is sample `sample` of [`index`](Self::index)
    /// (decode order). To decode it, start from the key frame before it
    /// ([`SampleIndex::key_at_or_before`]).
    ///
    /// # Errors
    /// No index (raw Annex-B and IVF input before [`build_index`](Self::build_index)),
    /// `sample` outside it, or a source that cannot seek back
    /// ([`InputError::NeedsSeek`]).
    pub fn seek_to_sample(&mut self, sample: usize) -> Result<()> {
        let offset = self.driver.demux.seek_to_sample(sample)?;
        self.pending = None;
        self.driver.input.seek(offset)?;
        self.driver.restart();
        Ok(())
    }

    /// The codec of the stream.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// How the bytes are framed (Annex-B, MPEG-2 ES, IVF, MP4, Matroska or MPEG-TS).
    pub fn format(&self) -> StreamFormat {
        self.format
    }

    /// The hint the stream was opened with.
    pub fn hint(&self) -> FormatHint {
        self.hint
    }

    /// `(width, height)` when the container declares them (IVF with non-zero sizes, MP4 or
    /// Matroska); raw elementary streams return `None`, the decoder's sequence callback has
    /// the real size.
    pub fn dimensions(&self) -> Option<(u32, u32)> {
        if let Some(track) = self.container() {
            return track.dimensions;
        }
        self.ivf
            .filter(|h| h.width != 0 && h.height != 0)
            .map(|h| (u32::from(h.width), u32::from(h.height)))
    }

    /// The IVF file header, for IVF input.
    pub fn ivf_header(&self) -> Option<&IvfHeader> {
        self.ivf.as_ref()
    }

    /// The MP4/Matroska track being read, for container input.
    pub fn container(&self) -> Option<&ContainerTrack> {
        self.driver.demux.track()
    }

    /// Seconds per [`Packet::pts`] tick, where the input has timestamps (IVF, MP4,
    /// Matroska/WebM, MPEG-TS: 1/90000); `None` for raw streams, whose packets are numbered
    /// instead.
    pub fn time_base(&self) -> Option<Rational> {
        if let Some(track) = self.container() {
            return Some(track.time_base);
        }
        self.ivf.and_then(|h| {
            Rational::new(u64::from(h.timebase_num), u64::from(h.timebase_den))
                .filter(|r| r.num != 0)
        })
    }

    /// Frames per second where the container says (MP4 constant sample duration, Matroska
    /// `DefaultDuration`); `None` otherwise.
    pub fn frame_rate(&self) -> Option<Rational> {
        self.container().and_then(|c| c.frame_rate)
    }

    /// The duration the container declares (MP4, Matroska/WebM), if any.
    pub fn duration(&self) -> Option<std::time::Duration> {
        let track = self.container()?;
        let (ticks, tb) = (track.duration?, track.time_base);
        let nanos = u128::from(ticks)
            .saturating_mul(u128::from(tb.num))
            .saturating_mul(1_000_000_000)
            / u128::from(tb.den.max(1));
        Some(std::time::Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }

    /// What the transport-stream reader met so far (packets lost, access units dropped,
    /// resynchronisations, PMT changes), for MPEG-TS/M2TS input; `None` for other formats.
    pub fn transport_stats(&self) -> Option<TsStats> {
        self.driver.demux.ts_stats()
    }

    /// Heap bytes this value holds now: the input window (for bytes in memory: the bytes),
    /// the packet buffer, and the reader's state (its header state and sample index).
    pub fn memory_footprint(&self) -> usize {
        self.driver
            .heap_bytes()
            .saturating_add(self.what.capacity())
            .saturating_add(self.ranks.as_ref().map_or(0, DisplayRanks::heap_bytes))
    }
}

/// Iterator over an [`ElementaryStream`]'s remaining packets, as owned copies.
///
/// Invariant: IVF, MP4 and Matroska packets carry the file's pts (in
/// [`ElementaryStream::time_base`] units; container packets in decode order); raw-stream
/// packets carry their index (0, 1, 2, ...), since raw streams have no timestamps, or, once
/// [`ElementaryStream::build_index`] has scanned the stream, their picture's display rank
/// (the index's pts). Ends after the first `Err`.
#[derive(Debug)]
pub struct Packets<'a> {
    stream: &'a mut ElementaryStream,
}

impl Iterator for Packets<'_> {
    type Item = Result<OwnedPacket>;

    fn next(&mut self) -> Option<Self::Item> {
        self.stream
            .next_packet()
            .map(|p| p.map(|p| p.to_owned_packet()))
            .transpose()
    }
}

impl std::iter::FusedIterator for Packets<'_> {}
