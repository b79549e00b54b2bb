//! The element state machine: where in the file the parser is (EBML header, segment,
//! cluster, cues), which element comes next, and what to do with it — read whole within a
//! limit, enter, or skip by size.
//!
//! Invariant: a step advances over at least one element header or returns a step that
//! does (`NeedMore`/`SeekTo` forward), except when it closes a container, which it does
//! in the same call; so a run takes O(bytes read) steps.

use super::ebml::{self, ElementHeader};
use super::{
    Cluster, InputError, MAX_CUE_POINT, MAX_HEADER_ELEMENT, MkvDemux, Phase, SampleIndex, Step,
    Video, header, ids, is_top_level, malformed, name, too_large, truncated, unsupported,
};
use crate::Rational;
use crate::container::MAX_CONFIG_RECORD;
use crate::container::nal::{AnnexBConverter, NalConfig};
use crate::track::{ContainerKind, ContainerTrack};
use crate::{Codec, ReadError, Result};

/// What `whole` found: the element's data, or the step to return.
pub(super) enum Whole<'a> {
    Data(&'a [u8]),
    Step(Step),
}

impl MkvDemux {
    /// Reads the element with `header` at the start of `input` whole, if it fits `limit`.
    pub(super) fn whole<'a>(
        input: &'a [u8],
        pos: u64,
        eof: bool,
        header: ElementHeader,
        limit: u64,
    ) -> Result<Whole<'a>> {
        let Some(size) = header.size else {
            return Err(malformed(
                pos,
                format!("{} has an unknown size", name(header.id)),
            ));
        };
        if size > limit {
            return Err(too_large(pos, name(header.id), size, limit));
        }
        // size ≤ limit ≤ MAX_BLOCK_ELEMENT, so this fits a usize.
        let total = header
            .len
            .saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
        match input.get(header.len..total) {
            Some(data) => Ok(Whole::Data(data)),
            None if eof => Err(truncated(pos, name(header.id))),
            None => Ok(Whole::Step(Step::NeedMore(total))),
        }
    }

    /// Skips the element with `header` at `pos`: consumed if all of it is in `input`, else
    /// a seek forward to its end.
    pub(super) fn skip(input: &[u8], pos: u64, header: ElementHeader) -> Result<Step> {
        let Some(size) = header.size else {
            return Err(malformed(
                pos,
                format!(
                    "{} has an unknown size; only Segment and Cluster may",
                    name(header.id)
                ),
            ));
        };
        let total = u64::try_from(header.len)
            .ok()
            .and_then(|len| len.checked_add(size));
        match total.and_then(|t| usize::try_from(t).ok()) {
            Some(t) if t <= input.len() => Ok(Step::Consumed(t)),
            _ => {
                let end = total
                    .and_then(|t| pos.checked_add(t))
                    .ok_or_else(|| malformed(pos, format!("{} ends past 2^64", name(header.id))))?;
                Ok(Step::SeekTo(end))
            }
        }
    }

    /// The end of an element of `size` bytes whose data starts at `data`.
    pub(super) fn end_of(pos: u64, data: u64, size: Option<u64>, id: u32) -> Result<Option<u64>> {
        size.map(|s| {
            data.checked_add(s)
                .ok_or_else(|| malformed(pos, format!("{} ends past 2^64", name(id))))
        })
        .transpose()
    }

    pub(super) fn step_inner(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        out: &mut Vec<u8>,
    ) -> Result<Step> {
        if self.phase == Phase::Done {
            return Ok(Step::End);
        }
        if self.lace.is_some() {
            return self.next_frame(input, pos, eof, out);
        }
        loop {
            // Close the containers this position has reached.
            if let Some(Cluster { end: Some(end), .. }) = self.cluster {
                if pos >= end {
                    if pos > end {
                        return Err(malformed(
                            pos,
                            format!("an element runs past its Cluster's end at byte {end}"),
                        ));
                    }
                    self.close_cluster();
                    continue;
                }
            }
            if let Some(end) = self.cues_end {
                if pos >= end {
                    if pos > end {
                        return Err(malformed(
                            pos,
                            format!("a CuePoint runs past the Cues' end at byte {end}"),
                        ));
                    }
                    self.cues_end = None;
                    self.cues_complete = true;
                    if let Some(back) = self.return_to.take() {
                        return Ok(Step::SeekTo(back));
                    }
                    continue;
                }
            }
            break;
        }
        if self.phase == Phase::Body {
            if let Some(end) = self.segment_end {
                if pos >= end && self.return_to.is_none() {
                    return self.finish();
                }
            }
        }
        let header = match ebml::read_header(input) {
            Ok(Some(header)) => header,
            Ok(None) if !eof => return Ok(Step::NeedMore(ebml::header_needs(input))),
            Ok(None) if input.is_empty() => {
                if let Some(back) = self.return_to.take() {
                    // The Cues SeekHead named were not there; continue where we left off.
                    return Ok(Step::SeekTo(back));
                }
                return self.finish();
            }
            Ok(None) => return Err(truncated(pos, "an element header")),
            Err(e) => return Err(malformed(pos, e)),
        };
        let data = pos
            .checked_add(header.len as u64)
            .ok_or_else(|| malformed(pos, "element header past 2^64"))?;
        let end = Self::end_of(pos, data, header.size, header.id)?;
        match self.phase {
            Phase::EbmlHeader => self.ebml_header(input, pos, eof, header),
            Phase::Segment => {
                if header.id != ids::SEGMENT {
                    return Self::skip(input, pos, header);
                }
                self.segment_data = data;
                self.segment_end = end;
                self.phase = Phase::Body;
                Ok(Step::Consumed(header.len))
            }
            Phase::Done => Ok(Step::End), // handled above
            Phase::Body if self.cues_end.is_some() => {
                // Cues are an optional index: a broken one is dropped, not fatal.
                self.cue_element(input, pos, eof, header)
                    .or_else(|_| Ok(self.abandon_cues()))
            }
            Phase::Body if self.cluster.is_some() => {
                if is_top_level(header.id) && self.cluster.is_some_and(|c| c.end.is_none()) {
                    // An unknown-size cluster ends at the next top-level element.
                    self.close_cluster();
                    return self.segment_element(input, pos, eof, header, data, end);
                }
                self.check_inside_cluster(pos, end)?;
                self.cluster_element(input, pos, eof, header, out)
            }
            Phase::Body => self.segment_element(input, pos, eof, header, data, end),
        }
    }

    /// An element of a known-size cluster must end inside it.
    pub(super) fn check_inside_cluster(&self, pos: u64, end: Option<u64>) -> Result<()> {
        if let Some(Cluster {
            end: Some(cluster_end),
            ..
        }) = self.cluster
        {
            if end.is_some_and(|e| e > cluster_end) {
                return Err(malformed(
                    pos,
                    format!("an element runs past its Cluster's end at byte {cluster_end}"),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn close_cluster(&mut self) {
        self.cluster = None;
        // A seek target not found in its cluster: hand out frames from here on.
        self.seek = None;
    }

    pub(super) fn finish(&mut self) -> Result<Step> {
        if self.phase == Phase::Done {
            return Ok(Step::End);
        }
        if self.track.is_none() {
            return Err(match self.phase {
                Phase::EbmlHeader => truncated(0, "the EBML header"),
                _ => truncated(0, format!("{} file before its Tracks element", self.kind)),
            });
        }
        self.phase = Phase::Done;
        self.cluster = None;
        if self.scanning {
            self.blocks_complete = true;
            self.scanning = false;
        }
        Ok(Step::End)
    }

    pub(super) fn ebml_header(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        header: ElementHeader,
    ) -> Result<Step> {
        if header.id != ids::EBML {
            return Err(malformed(pos, "not an EBML file (no EBML header)"));
        }
        let data = match Self::whole(input, pos, eof, header, MAX_HEADER_ELEMENT)? {
            Whole::Data(d) => d,
            Whole::Step(s) => return Ok(s),
        };
        let doc_type = header::doc_type(data, pos.saturating_add(header.len as u64))?;
        self.kind = match doc_type.as_str() {
            "matroska" => ContainerKind::Matroska,
            "webm" => ContainerKind::WebM,
            other => {
                return Err(unsupported(format!(
                    "EBML DocType '{}' is not supported; supported: matroska, webm",
                    header::printable(other)
                )));
            }
        };
        self.phase = Phase::Segment;
        Ok(Step::Consumed(header.len + data.len()))
    }

    pub(super) fn segment_element(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        header: ElementHeader,
        data: u64,
        end: Option<u64>,
    ) -> Result<Step> {
        if let Some(back) = self.return_to {
            if header.id != ids::CUES {
                // SeekHead named no Cues here: continue where we left off.
                self.return_to = None;
                return Ok(Step::SeekTo(back));
            }
        }
        if let (Some(segment_end), Some(end)) = (self.segment_end, end) {
            if end > segment_end {
                return Err(malformed(
                    pos,
                    format!(
                        "{} runs past the Segment's end at byte {segment_end}",
                        name(header.id)
                    ),
                ));
            }
        }
        match header.id {
            ids::CLUSTER => {
                if self.track.is_none() {
                    return Err(malformed(pos, "a Cluster comes before the Tracks element"));
                }
                if !self.seen_cluster && self.cues_first && !self.cues_complete {
                    if let Some(cues) = self.cues_position.filter(|&c| c > pos) {
                        self.seen_cluster = true;
                        self.return_to = Some(pos);
                        return Ok(Step::SeekTo(cues));
                    }
                }
                self.seen_cluster = true;
                // A cluster without Timestamp (mandatory) counts from 0, as in ffmpeg, and
                // the same whether it is reached in order or by a seek.
                self.cluster_timestamp = 0;
                self.cluster = Some(Cluster {
                    start: pos,
                    end,
                    indexed: false,
                });
                Ok(Step::Consumed(header.len))
            }
            ids::CUES => {
                if end.is_none() {
                    return Err(malformed(pos, "Cues has an unknown size"));
                }
                if self.cues_complete || self.video.is_none() {
                    return Self::skip(input, pos, header);
                }
                self.cues = SampleIndex::new();
                self.cues_end = end;
                if end == Some(data) {
                    // Empty Cues: complete at once.
                    self.cues_end = None;
                    self.cues_complete = true;
                }
                Ok(Step::Consumed(header.len))
            }
            ids::INFO | ids::TRACKS | ids::SEEK_HEAD => {
                let body = match Self::whole(input, pos, eof, header, MAX_HEADER_ELEMENT)? {
                    Whole::Data(d) => d,
                    Whole::Step(s) => return Ok(s),
                };
                match header.id {
                    ids::INFO => {
                        self.info = header::info(body, data)?;
                        self.update_track_info();
                    }
                    ids::TRACKS if self.track.is_none() => self.tracks(body, data)?,
                    ids::SEEK_HEAD if self.cues_position.is_none() => {
                        self.cues_position = header::cues_position(body, data)?
                            .and_then(|p| self.segment_data.checked_add(p));
                    }
                    _ => {}
                }
                Ok(Step::Consumed(header.len + body.len()))
            }
            // Another segment (chained live streams, concatenated files): the first one ends.
            ids::EBML | ids::SEGMENT => self.finish(),
            _ => Self::skip(input, pos, header),
        }
    }

    /// Applies `Info` to the track description (when `Info` follows `Tracks`).
    pub(super) fn update_track_info(&mut self) {
        let (time_base, duration) = self.time_base_and_duration();
        if let (Some(track), Some(time_base)) = (&mut self.track, time_base) {
            track.time_base = time_base;
            track.duration = duration;
        }
    }

    pub(super) fn time_base_and_duration(&self) -> (Option<Rational>, Option<u64>) {
        let time_base = Rational::new(self.info.timestamp_scale, 1_000_000_000);
        let duration = self
            .info
            .duration
            .filter(|d| d.is_finite() && *d >= 0.0 && *d < 9.0e18)
            // In range by the filter; `as` rounds toward zero after `round`.
            .map(|d| d.round() as u64);
        (time_base, duration)
    }

    pub(super) fn tracks(&mut self, body: &[u8], data: u64) -> Result<()> {
        let kind = self.kind;
        let track = header::first_video_track(body, data)?.map_err(|others| {
            unsupported(format!(
                "{kind} file has no video track (tracks: [{}])",
                others.join(", ")
            ))
        })?;
        let codec_id = track.codec_id.clone();
        let codec = header::codec_of(&codec_id).ok_or_else(|| {
            unsupported(format!(
                "{kind} video codec '{}' is not supported; supported: {}",
                header::printable(&codec_id),
                header::CODECS
                    .iter()
                    .map(|(id, _)| *id)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        match track.encrypted {
            Some(true) => {
                return Err(unsupported(format!(
                    "the {kind} video track is encrypted (ContentEncryption); encrypted tracks \
                     are not supported"
                )));
            }
            Some(false) => {
                return Err(unsupported(format!(
                    "the {kind} video track uses ContentCompression (or an unknown \
                     ContentEncoding); compressed tracks are not supported"
                )));
            }
            None => {}
        }
        let converter = match codec {
            Codec::H264 | Codec::Hevc => {
                let private = track.codec_private.as_deref().ok_or_else(|| {
                    malformed(
                        data,
                        format!("{kind} {codec} track has no CodecPrivate (the avcC/hvcC record)"),
                    )
                })?;
                // Its parameter sets go before key frames: capped as MP4 caps `avcC`/`hvcC`.
                if private.len() > MAX_CONFIG_RECORD {
                    return Err(too_large(
                        data,
                        format!("the {kind} {codec} CodecPrivate"),
                        private.len() as u64, // usize → u64: lossless on supported targets
                        MAX_CONFIG_RECORD as u64,
                    ));
                }
                let parsed = if codec == Codec::H264 {
                    NalConfig::parse_avcc(private)
                } else {
                    NalConfig::parse_hvcc(private)
                };
                let config = parsed.map_err(|e| match e {
                    ReadError::Input(InputError::Malformed { what, .. }) => {
                        InputError::malformed(format!("{kind} CodecPrivate: {what}")).into()
                    }
                    other => other,
                })?;
                // Packets are converted one at a time (`convert_packet`), each bounded by
                // its own frame; the whole-stream budget of `new` is not used.
                Some(AnnexBConverter::new(codec, &config, 0))
            }
            _ => None,
        };
        let (time_base, duration) = self.time_base_and_duration();
        let time_base = time_base
            .ok_or_else(|| InputError::malformed(format!("{kind} TimestampScale is 0")))?;
        self.track = Some(ContainerTrack {
            kind,
            track_id: track.number,
            codec_tag: codec_id,
            time_base,
            frame_rate: track
                .default_duration
                .and_then(|ns| Rational::new(1_000_000_000, ns)),
            duration,
            dimensions: track.dimensions,
            packet_count: 0,
        });
        self.video = Some(Video {
            number: track.number,
            codec,
            private_len: if converter.is_some() {
                track.codec_private.as_ref().map_or(0, Vec::len)
            } else {
                0
            },
            converter,
        });
        Ok(())
    }

    /// Drops a `Cues` element that cannot be read (no Cues index), and continues after it
    /// (or where the jump to it was made from).
    pub(super) fn abandon_cues(&mut self) -> Step {
        let end = self.cues_end.take();
        self.cues = SampleIndex::new();
        self.cues_complete = true;
        match (self.return_to.take(), end) {
            (Some(back), _) => Step::SeekTo(back),
            (None, Some(end)) => Step::SeekTo(end),
            // Not inside Cues: nothing to drop (not reached: called only inside Cues).
            (None, None) => Step::Consumed(0),
        }
    }

    pub(super) fn cue_element(
        &mut self,
        input: &[u8],
        pos: u64,
        eof: bool,
        header: ElementHeader,
    ) -> Result<Step> {
        if header.id != ids::CUE_POINT {
            return Self::skip(input, pos, header);
        }
        let body = match Self::whole(input, pos, eof, header, MAX_CUE_POINT)? {
            Whole::Data(d) => d,
            Whole::Step(s) => return Ok(s),
        };
        let number = self.video.as_ref().map_or(0, |v| v.number);
        let base = pos.saturating_add(header.len as u64);
        if let Some((time, cluster)) = header::cue_point(body, base, number)? {
            // Cue points whose position or time cannot be represented are skipped.
            if let (Some(offset), Ok(pts)) =
                (self.segment_data.checked_add(cluster), i64::try_from(time))
            {
                self.cues.push(offset, 0, pts, true);
            }
        }
        Ok(Step::Consumed(header.len + body.len()))
    }
}
