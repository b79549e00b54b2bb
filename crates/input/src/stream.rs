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

    /// The track's sample index (offsets, sizes, timestamps, key frames), where the reader
    /// has one; for raw Annex-B and IVF input once [`build_index`](Self::build_index) has
    /// scanned it; `None` while it is not known.
    pub fn index(&self) -> Option<&SampleIndex> {
        self.driver.demux.index()
    }

    /// The sample index, built by one scan of the whole input where the input has none of its
    /// own (raw H.264/HEVC Annex-B, IVF and MPEG-TS, whose packets keep their pts), and cached: later calls return it at once. After
    /// the scan the stream is positioned at its first packet (use
    /// [`seek_to_sample`](Self::seek_to_sample) to go elsewhere), and from then on packets of
    /// raw Annex-B input carry the index's pts, the **display rank** of their picture (0, 1,
    /// 2, ... in display order, [`NOT_SHOWN`](super::annexb::NOT_SHOWN) for an access unit the
    /// decoder outputs no frame for; see [`annexb::index`](super::annexb::index)); IVF
    /// packets keep the file's pts, as does the index, where a packet of hidden VP8/VP9 frames
    /// only is marked not shown ([`SampleIndex::is_shown`]). Containers with an index of their
    /// own return it.
    ///
    /// **Memory**: [`SampleIndex::BYTES_PER_SAMPLE`] (20) bytes a sample, kept; during the
    /// Annex-B scan, also 16 bytes a picture of the longest coded video sequence (IDR to IDR)
    /// and the parameter-set tables (bounded by the standards' id ranges), freed at its end;
    /// plus the reader's usual window of one packet. Time: one pass over the bytes.
    ///
    /// **Cut inputs.** An IVF file cut inside a frame gives the index of the complete frames
    /// before it, the cut recorded in [`SampleIndex::truncated`]; a progressive MP4 whose
    /// sample table lists bytes past the end of the source (a cut `mdat`) loses those samples
    /// and every one after them from the index, likewise recorded.
    ///
    /// # Errors
    /// [`InputError::NeedsSeek`] for a source that cannot go back to its start (a pipe, a live
    /// feed); [`InputError::Unsupported`] for MPEG-2 and for containers without an index;
    /// the input's errors met during the scan (malformed input, input cut before its first
    /// complete sample, I/O errors), after which the stream is at its end
    /// ([`rewind`](Self::rewind) to read it again).
    pub fn build_index(&mut self) -> Result<&SampleIndex> {
        if self.driver.demux.index().is_none() {
            self.scan_for_index()?;
        }
        self.cut_index_to_source()?;
        self.driver.demux.index().ok_or_else(|| {
            ReadError::from(InputError::Internal {
                what: format!("{}: the index scan ended without an index", self.what),
            })
        })
    }

    /// Reads the whole input once with an indexing reader, then goes back to the first packet.
    fn scan_for_index(&mut self) -> Result<()> {
        let demux: Box<dyn Demux> = match self.format {
            StreamFormat::AnnexB => Box::new(AnnexBDemux::indexing(self.codec)?),
            StreamFormat::Ivf => Box::new(IvfDemux::indexing()),
            StreamFormat::MpegTs => Box::new(TsDemux::indexing(ts_select(self.hint))),
            other => {
                return Err(InputError::unsupported(format!(
                    "{}: building a sample index of {other:?} input (raw Annex-B H.264/HEVC and \
                     IVF are scanned; MP4 and Matroska carry their own)",
                    self.what
                ))
                .into());
            }
        };
        if !self.driver.input.can_rewind() {
            return Err(InputError::NeedsSeek {
                what: format!(
                    "{}: scanning the input from its start for an index",
                    self.what
                ),
            }
            .into());
        }
        self.pending = None;
        self.driver.input.seek(0)?;
        let input = std::mem::replace(&mut self.driver.input, Input::new(ByteSource::Live));
        self.driver = DemuxDriver::new(input, demux);
        self.read_to_end_for_index()?;
        if self.driver.demux.index().is_some_and(|i| !i.is_empty()) {
            self.seek_to_sample(0)?;
        }
        Ok(())
    }

    /// Reads the rest of the input with the reader that indexes it. An input cut inside a
    /// unit after complete samples is not an error here: the reader keeps the index of those,
    /// with the cut recorded ([`SampleIndex::truncated`]); any other error stands.
    fn read_to_end_for_index(&mut self) -> Result<()> {
        loop {
            match self.next_info() {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(()),
                Err(e) => return self.seal_or(e),
            }
        }
    }

    /// After `e` ended a pass that indexed every sample: when `e` is a truncation, lets the
    /// reader keep its index of the complete samples before it; otherwise `e`.
    fn seal_or(&mut self, e: ReadError) -> Result<()> {
        if let ReadError::Input(cut @ InputError::Truncated { offset, .. }) = &e {
            let offset = *offset;
            let error = cut.clone().in_input(&self.what);
            let len = self.driver.input.len()?.unwrap_or(offset);
            let tail = TruncatedTail::new(offset, len, None, error);
            if self.driver.demux.seal_truncated(tail) {
                return Ok(());
            }
        }
        Err(in_input(e, &self.what))
    }

    /// Drops from a table-made index (progressive MP4) the samples past the end of the
    /// source, where its length is known, recording the cut.
    fn cut_index_to_source(&mut self) -> Result<()> {
        if self.format != StreamFormat::Mp4 || self.driver.demux.index().is_none() {
            return Ok(());
        }
        if let Some(len) = self.driver.input.len()? {
            self.driver.demux.cut_index_at(len);
        }
        Ok(())
    }

    /// Whether this is raw Annex-B or IVF input whose index `build_index` has built.
    fn raw_index_built(&self) -> bool {
        matches!(
            self.format,
            StreamFormat::AnnexB | StreamFormat::Ivf | StreamFormat::MpegTs
        ) && self.driver.demux.index().is_some_and(|i| !i.is_empty())
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

    /// The display ranks of a container's H.264/HEVC samples, from one pass over them: each
    /// packet (Annex-B, parameter sets in band) through the raw-stream indexer's picture order
    /// derivation. Leaves the stream at its end.
    fn scan_display_ranks(&mut self) -> Result<Option<DisplayRanks>> {
        let samples = RandomAccessSource::sample_index(self)?.len();
        let Some(mut indexer) = RawIndexer::for_codec(self.codec) else {
            return Ok(None);
        };
        self.seek_to_sample(0)?;
        let mut read = 0usize;
        while let Some(info) = self.next_info()? {
            indexer.push(self.driver.packet(), info.index);
            read = read.saturating_add(1);
        }
        if read != samples {
            return Err(InputError::malformed(format!(
                "{}: reading the track's samples for their picture order gave {read} packets, \
                 its index lists {samples}",
                self.what
            ))
            .into());
        }
        Ok(DisplayRanks::from_rank_index(&indexer.finish()))
    }
}

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
fn ts_select(hint: FormatHint) -> TsSelect {
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
/// Random access for `nvcodec_guard::decode::Decoder::frames_at`: the index of
/// every sample — raw Annex-B input scanned once ([`build_index`]); MP4 from its
/// `moov` (progressive) or, for fragmented files, one pass over the fragments; Matroska/WebM
/// by one pass over its clusters (its `Cues` name key frames only) — then seeks by sample.
/// IVF input by one scan ([`build_index`]), packets of hidden VP8/VP9 frames only marked
/// not shown ([`SampleIndex::is_shown`]). The pass reads the input without decoding it, once
/// per stream; its index is kept. For H.264/HEVC in MP4 or Matroska/WebM,
/// [`display_ranks`](RandomAccessSource::display_ranks) reads the samples once more, on its
/// first call, for the bitstream's display order.
///
/// An input cut inside a unit (an IVF frame, a Matroska element, a fragmented MP4's `moof`
/// or sample) after complete samples is indexed up to the cut, the loss in
/// [`SampleIndex::truncated`], exactly when a plain pass would end in
/// [`InputError::Truncated`] there; a progressive MP4's table is cut where its samples run
/// past the end of the source (its length is read with one seek to the end for a
/// `Read + Seek` source). `read_sample` then ends (`None`) after the last complete sample
/// instead of repeating the truncation error; `next_packet` still reports it. An input cut
/// before its first complete sample is refused with that error.
///
/// [`build_index`]: ElementaryStream::build_index
impl RandomAccessSource for ElementaryStream {
    fn sample_index(&mut self) -> Result<&SampleIndex> {
        if matches!(
            self.format,
            StreamFormat::AnnexB | StreamFormat::Ivf | StreamFormat::MpegTs
        ) {
            return self.build_index();
        }
        if self.per_frame_index().is_none() {
            if !self.driver.input.can_rewind() {
                return Err(InputError::NeedsSeek {
                    what: format!("{}: indexing every sample for random access", self.what),
                }
                .into());
            }
            self.rewind()?;
            self.read_to_end_for_index()?;
        }
        self.cut_index_to_source()?;
        let what = &self.what;
        self.per_frame_index().ok_or_else(|| {
            InputError::unsupported(format!(
                "{what}: random access (the {:?} reader gave no index of every sample)",
                self.format
            ))
            .into()
        })
    }

    fn seek_to_sample(&mut self, sample: usize) -> Result<()> {
        ElementaryStream::seek_to_sample(self, sample)
    }

    /// H.264/HEVC only: for raw Annex-B input, the index's display ranks; for MP4 and
    /// Matroska/WebM, one more pass over the track's samples on the first call (the bytes are
    /// read, only headers parsed; 4 bytes a sample kept), after which the stream is at its
    /// end. `None` for other codecs.
    fn display_ranks(&mut self) -> Result<Option<&DisplayRanks>> {
        if !matches!(self.codec, Codec::H264 | Codec::Hevc) {
            return Ok(None);
        }
        if self.ranks.is_none() {
            self.ranks = match self.format {
                StreamFormat::AnnexB => {
                    DisplayRanks::from_rank_index(RandomAccessSource::sample_index(self)?)
                }
                StreamFormat::Mp4 | StreamFormat::Matroska => self.scan_display_ranks()?,
                _ => None,
            };
        }
        Ok(self.ranks.as_ref())
    }

    /// After the last sample of an index that ends at a cut ([`SampleIndex::truncated`]),
    /// `None`: the truncation was reported there.
    fn read_sample(&mut self, out: &mut Vec<u8>) -> Result<Option<usize>> {
        let info = match self.next_info() {
            Ok(Some(info)) => info,
            Ok(None) => return Ok(None),
            Err(ReadError::Input(InputError::Truncated { offset, .. }))
                if self
                    .index()
                    .and_then(SampleIndex::truncated)
                    .is_some_and(|cut| offset >= cut.offset()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        out.clear();
        out.extend_from_slice(self.driver.packet());
        Ok(Some(usize::try_from(info.index).unwrap_or(usize::MAX)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OwnedPacket;

    fn ivf(fourcc: &[u8; 4], frames: &[(i64, &[u8])]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(b"DKIF");
        f.extend_from_slice(&0u16.to_le_bytes());
        f.extend_from_slice(&32u16.to_le_bytes());
        f.extend_from_slice(fourcc);
        f.extend_from_slice(&640u16.to_le_bytes());
        f.extend_from_slice(&360u16.to_le_bytes());
        f.extend_from_slice(&[30, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        for (pts, data) in frames {
            f.extend_from_slice(&(data.len() as u32).to_le_bytes());
            f.extend_from_slice(&pts.to_le_bytes());
            f.extend_from_slice(data);
        }
        f
    }

    #[test]
    fn ivf_bytes_are_detected_by_magic_with_codec_dimensions_and_pts() {
        let mut es = ElementaryStream::from_bytes(
            ivf(b"VP90", &[(10, &[1, 2]), (20, &[3])]),
            FormatHint::Unknown,
        )
        .unwrap();
        assert_eq!(es.codec(), Codec::Vp9);
        assert_eq!(es.format(), StreamFormat::Ivf);
        assert_eq!(es.dimensions(), Some((640, 360)));
        let packets: Vec<_> = es.packets().map(|p| p.unwrap()).collect();
        assert_eq!(
            packets,
            vec![
                OwnedPacket {
                    data: vec![1, 2],
                    pts: 10
                },
                OwnedPacket {
                    data: vec![3],
                    pts: 20
                }
            ]
        );
    }

    #[test]
    fn raw_annex_b_packets_are_numbered_in_stream_order() {
        let h264 = [
            0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x41, 0x9a, 0, 0, 1, 0x41, 0x9a,
        ];
        let mut es =
            ElementaryStream::from_bytes(&h264[..], FormatHint::Codec(Codec::H264)).unwrap();
        assert_eq!(es.dimensions(), None);
        let pts: Vec<i64> = es.packets().map(|p| p.unwrap().pts).collect();
        assert_eq!(pts, vec![0, 1, 2]);
    }

    #[test]
    fn mpeg2_packets_are_numbered_in_stream_order() {
        let m2v = [
            0, 0, 1, 0xb3, 9, 0, 0, 1, 0, 9, 0, 0, 1, 1, 9, 0, 0, 1, 0, 9,
        ];
        let mut es =
            ElementaryStream::from_bytes(&m2v[..], FormatHint::from_extension("m2v")).unwrap();
        assert_eq!(es.codec(), Codec::Mpeg2);
        let packets: Vec<_> = es.packets().map(|p| p.unwrap()).collect();
        assert_eq!(packets.len(), 2);
        assert_eq!(
            packets[1],
            OwnedPacket {
                data: m2v[15..].to_vec(),
                pts: 1
            }
        );
    }

    #[test]
    fn a_codec_hint_that_contradicts_the_ivf_fourcc_is_an_error() {
        let err = ElementaryStream::from_bytes(ivf(b"AV01", &[]), FormatHint::Codec(Codec::Vp8))
            .unwrap_err();
        assert!(err.to_string().contains("AV01"), "{err}");
    }

    #[test]
    fn an_ivf_hint_without_magic_reports_the_bad_magic() {
        let err = ElementaryStream::from_bytes(vec![0; 40], FormatHint::Ivf).unwrap_err();
        assert!(err.to_string().contains("DKIF"), "{err}");
    }

    #[test]
    fn opening_a_file_with_an_unknown_extension_names_the_file_and_supported_formats() {
        let path = std::env::temp_dir().join(format!("nvcg-input-{}.xyz", std::process::id()));
        std::fs::write(&path, [0, 0, 1, 0x65, 0x88]).unwrap();
        let err = ElementaryStream::open(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(err.contains(".xyz") && err.contains(".h264"), "{err}");
    }

    #[test]
    fn rewinding_starts_again_from_the_first_packet_and_a_plain_reader_cannot() {
        let file = ivf(b"VP80", &[(1, &[1]), (2, &[2, 2])]);
        let mut es = ElementaryStream::from_bytes(file.clone(), FormatHint::Unknown).unwrap();
        let first: Vec<_> = es.packets().map(|p| p.unwrap()).collect();
        es.rewind().unwrap();
        let again: Vec<_> = es.packets().map(|p| p.unwrap()).collect();
        assert_eq!((first.len(), &first), (2, &again));
        let mut piped =
            ElementaryStream::from_stream(std::io::Cursor::new(file), FormatHint::Unknown).unwrap();
        let err = piped.rewind().unwrap_err();
        assert!(
            matches!(err, ReadError::Input(InputError::NeedsSeek { .. })),
            "{err}"
        );
        assert_eq!(
            piped.packets().map(|p| p.unwrap()).collect::<Vec<_>>(),
            first
        );
    }

    #[test]
    fn a_file_is_read_incrementally_not_whole() {
        // 40 frames of 100 KiB: the window holds about one frame plus a read, never the file.
        let frames: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 100 << 10]).collect();
        let refs: Vec<(i64, &[u8])> = frames.iter().map(|f| (0, &f[..])).collect();
        let file = ivf(b"VP90", &refs);
        let path =
            std::env::temp_dir().join(format!("nvcg-incremental-{}.ivf", std::process::id()));
        std::fs::write(&path, &file).unwrap();
        let mut es = ElementaryStream::open(&path).unwrap();
        let mut count = 0;
        let mut peak = 0;
        while let Some(p) = es.next_packet().unwrap() {
            assert_eq!(p.data, &frames[count][..]);
            count += 1;
            peak = peak.max(es.memory_footprint());
        }
        std::fs::remove_file(&path).unwrap();
        assert_eq!(count, 40);
        assert!(
            peak < 4 * (100 << 10) + (64 << 10) * 2,
            "{peak} bytes held for {} bytes",
            file.len()
        );
    }

    #[test]
    fn opening_a_missing_file_is_an_io_error_naming_the_path() {
        let err = ElementaryStream::open("/nonexistent/clip.h264").unwrap_err();
        assert!(matches!(err, ReadError::Io(_)));
        assert!(err.to_string().contains("/nonexistent/clip.h264"), "{err}");
    }
}
