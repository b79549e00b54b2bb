//! Random access to an [`ElementaryStream`]: its sample index (read from the container, or
//! built by one scan of a raw stream), display ranks, and the [`RandomAccessSource`]
//! implementation.
//!
//! Invariant: a scan reads the input without decoding it, once per stream, and keeps its
//! index; a cut input is indexed up to its last complete sample, the loss reported.

use super::{
    AnnexBDemux, ByteSource, Codec, Demux, DemuxDriver, DisplayRanks, ElementaryStream, Input,
    InputError, IvfDemux, RandomAccessSource, RawIndexer, ReadError, Result, SampleIndex,
    StreamFormat, TruncatedTail, TsDemux, in_input, ts_select,
};

impl ElementaryStream {
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
    /// 2, ... in display order, [`NOT_SHOWN`](crate::annexb::NOT_SHOWN) for an access unit the
    /// decoder outputs no frame for; see [`annexb::index`](crate::annexb::index)); IVF
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
    pub(super) fn scan_for_index(&mut self) -> Result<()> {
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
    pub(super) fn read_to_end_for_index(&mut self) -> Result<()> {
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
    pub(super) fn seal_or(&mut self, e: ReadError) -> Result<()> {
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
    pub(super) fn cut_index_to_source(&mut self) -> Result<()> {
        if self.format != StreamFormat::Mp4 || self.driver.demux.index().is_none() {
            return Ok(());
        }
        if let Some(len) = self.driver.input.len()? {
            self.driver.demux.cut_index_at(len);
        }
        Ok(())
    }

    /// Whether this is raw Annex-B or IVF input whose index `build_index` has built.
    pub(super) fn raw_index_built(&self) -> bool {
        matches!(
            self.format,
            StreamFormat::AnnexB | StreamFormat::Ivf | StreamFormat::MpegTs
        ) && self.driver.demux.index().is_some_and(|i| !i.is_empty())
    }

    /// The display ranks of a container's H.264/HEVC samples, from one pass over them: each
    /// packet (Annex-B, parameter sets in band) through the raw-stream indexer's picture order
    /// derivation. Leaves the stream at its end.
    pub(super) fn scan_display_ranks(&mut self) -> Result<Option<DisplayRanks>> {
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
