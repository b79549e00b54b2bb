//! Length-prefixed H.264/HEVC samples to Annex-B, with the decoder configuration record's
//! parameter sets inserted where ffmpeg's `*_mp4toannexb` bitstream filters insert them (see
//! the [parent module](super)).
//!
//! Invariant: output only grows up to the caller's byte budget; a NAL length running past its
//! sample, or a bad record, is an error naming the sample, never a panic. Across all packets
//! of one converter, the bytes written are at most [`MAX_EXPANSION`](super::MAX_EXPANSION) ×
//! the sample bytes converted, plus one copy of the parameter sets (≤ 2 ×
//! [`MAX_CONFIG_RECORD`](super::MAX_CONFIG_RECORD)) per start or [`AnnexBConverter::reset`]:
//!
//! * start codes: a NAL unit of `L ≥ 1` bytes behind a length prefix of at least 1 byte
//!   becomes at most `4 + L` bytes, ≤ 2.5 × its `1 + L` input bytes (empty NAL units vanish);
//! * parameter sets: the first insertion after a start or reset is free; every later one
//!   (ffmpeg repeats them before each key frame) is made only while the repeated bytes stay
//!   within the sample bytes converted so far, and is otherwise left out (the decoder already
//!   holds them). Real streams never reach that limit (parameter sets are tens of bytes, key
//!   frames thousands); a file of 64 KiB records and 1-byte key frames does, and its output
//!   stays proportional to its size instead of multiplying by the record.

use super::invalid;
use crate::start_code;
use crate::{Codec, Result};

const START4: [u8; 4] = [0, 0, 0, 1];

/// Parameter sets and NAL length size of a track, from `avcC` / `hvcC` (or CodecPrivate).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NalConfig {
    /// Bytes in each NAL unit's length prefix (1, 2 or 4).
    pub(crate) length_size: usize,
    /// H.264: SPS NAL units; HEVC: every array's NAL units, in record order.
    pub(crate) first: Vec<Vec<u8>>,
    /// H.264: PPS NAL units; HEVC: unused.
    pub(crate) pps: Vec<Vec<u8>>,
}

impl NalConfig {
    /// Parses an `AVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §5.3.3.1).
    pub(crate) fn parse_avcc(rec: &[u8]) -> Result<Self> {
        let mut r = Reader::new(rec, "avcC");
        let _version = r.u8()?;
        r.skip(3)?; // profile, compatibility, level
        let length_size = usize::from(r.u8()? & 3) + 1;
        let n_sps = r.u8()? & 0x1f;
        let mut sps = Vec::new();
        for _ in 0..n_sps {
            let len = usize::from(r.u16()?);
            sps.push(r.take(len)?.to_vec());
        }
        let n_pps = r.u8()?;
        let mut pps = Vec::new();
        for _ in 0..n_pps {
            let len = usize::from(r.u16()?);
            pps.push(r.take(len)?.to_vec());
        }
        // Any profile-specific extension (chroma format, SPS-ext) is not needed by NVDEC.
        Self::checked(length_size, sps, pps)
    }

    /// Parses an `HEVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §8.3.3.1).
    pub(crate) fn parse_hvcc(rec: &[u8]) -> Result<Self> {
        let mut r = Reader::new(rec, "hvcC");
        r.skip(21)?;
        let length_size = usize::from(r.u8()? & 3) + 1;
        let n_arrays = r.u8()?;
        let mut nals = Vec::new();
        for _ in 0..n_arrays {
            let _type = r.u8()?;
            let n = r.u16()?;
            for _ in 0..n {
                let len = usize::from(r.u16()?);
                nals.push(r.take(len)?.to_vec());
            }
        }
        Self::checked(length_size, nals, Vec::new())
    }

    /// A config after checking the length size (3 is not allowed by the format).
    pub(crate) fn checked(
        length_size: usize,
        first: Vec<Vec<u8>>,
        pps: Vec<Vec<u8>>,
    ) -> Result<Self> {
        if !matches!(length_size, 1 | 2 | 4) {
            return Err(invalid(format!(
                "NAL length size {length_size} in the decoder configuration record is not 1, 2 \
                 or 4"
            )));
        }
        Ok(Self {
            length_size,
            first,
            pps,
        })
    }
}

/// Bounded big-endian reader over a configuration record.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { data, at: 0, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.saturating_add(n);
        let out = self.data.get(self.at..end).ok_or_else(|| {
            invalid(format!(
                "{} record truncated: {n} bytes needed at offset {}, {} present",
                self.what,
                self.at,
                self.data.len().saturating_sub(self.at)
            ))
        })?;
        self.at = end;
        Ok(out)
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([
            b.first().copied().unwrap_or(0),
            b.get(1).copied().unwrap_or(0),
        ]))
    }
}

/// Converts one track's samples, keeping the state ffmpeg's filters keep between packets.
#[derive(Debug)]
pub(crate) struct AnnexBConverter {
    hevc: bool,
    length_size: usize,
    /// H.264: SPS then PPS; HEVC: all arrays. 4-byte start codes.
    extradata: Vec<u8>,
    /// H.264 only: the SPS part and the PPS part of `extradata`.
    sps: Vec<u8>,
    pps: Vec<u8>,
    /// ffmpeg's persistent `new_idr` (H.264).
    new_idr: bool,
    /// Whether any parameter set has been written yet (in-band or inserted).
    params_written: bool,
    /// The output may not grow beyond this many bytes.
    budget: usize,
    /// Sample bytes converted since creation.
    converted: u64,
    /// Bytes of parameter sets inserted beyond the first insertion after each start/reset.
    repeated: u64,
    /// Whether parameter sets were inserted since the start or the last reset.
    inserted: bool,
}

/// Which stored parameter sets an insertion writes.
#[derive(Debug, Clone, Copy)]
enum Params {
    /// All of them (H.264: SPS then PPS; HEVC: every array).
    All,
    /// H.264 SPS only.
    Sps,
    /// H.264 PPS only.
    Pps,
}

fn annexb(nals: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in nals {
        out.extend_from_slice(&START4);
        out.extend_from_slice(nal);
    }
    out
}

impl AnnexBConverter {
    /// A converter for `codec` (H.264 or HEVC) whose output stays within `budget` bytes.
    pub(crate) fn new(codec: Codec, config: &NalConfig, budget: usize) -> Self {
        let hevc = codec == Codec::Hevc;
        let sps = annexb(&config.first);
        let pps = annexb(&config.pps);
        let mut extradata = sps.clone();
        extradata.extend_from_slice(&pps);
        Self {
            hevc,
            length_size: config.length_size,
            extradata,
            sps,
            pps,
            new_idr: true,
            params_written: false,
            budget,
            converted: 0,
            repeated: 0,
            inserted: false,
        }
    }

    /// Inserts the parameter sets `which` into `out`, unless this is a repetition that would
    /// take the repeated bytes past the sample bytes converted so far (see the module docs).
    /// Returns whether they were written.
    fn insert(&mut self, out: &mut Vec<u8>, which: Params, index: usize) -> Result<bool> {
        let bytes: &[u8] = match which {
            Params::All => &self.extradata,
            Params::Sps => &self.sps,
            Params::Pps => &self.pps,
        };
        let len = bytes.len() as u64; // usize → u64: lossless on supported targets
        let repeated = if self.inserted {
            let total = self.repeated.saturating_add(len);
            if total > self.converted {
                return Ok(false);
            }
            total
        } else {
            self.repeated
        };
        self.put(out, &[bytes], index)?;
        self.repeated = repeated;
        self.inserted = true;
        Ok(true)
    }

    /// Appends `bytes` to `out`, or errors if that would exceed the budget.
    fn put(&self, out: &mut Vec<u8>, bytes: &[&[u8]], index: usize) -> Result<()> {
        let add: usize = bytes.iter().map(|b| b.len()).sum();
        if out.len().saturating_add(add) > self.budget {
            return Err(invalid(format!(
                "sample {index}: the Annex-B packets would exceed {} bytes, {}x the file size \
                 (parameter sets of {} bytes repeated before every key frame?); refusing as \
                 corrupt",
                self.budget,
                super::MAX_EXPANSION,
                self.extradata.len()
            )));
        }
        for b in bytes {
            out.extend_from_slice(b);
        }
        Ok(())
    }

    /// Writes sample `index` into `out` (cleared first) as one Annex-B packet, for readers
    /// that hand packets out one at a time. The packet may be at most
    /// [`MAX_EXPANSION`](super::MAX_EXPANSION) × the sample's bytes plus the parameter sets
    /// plus [`EXPANSION_SLACK`](super::EXPANSION_SLACK): the budget given to
    /// [`new`](Self::new) applies to [`convert`](Self::convert) only.
    ///
    /// # Errors
    /// As [`convert`](Self::convert).
    pub(crate) fn convert_packet(
        &mut self,
        sample: &[u8],
        out: &mut Vec<u8>,
        index: usize,
    ) -> Result<()> {
        out.clear();
        let whole = self.budget;
        self.budget = sample
            .len()
            .saturating_mul(super::MAX_EXPANSION)
            .saturating_add(self.extradata.len())
            .saturating_add(super::EXPANSION_SLACK);
        let result = self.convert(sample, out, index);
        self.budget = whole;
        result
    }

    /// Forgets what earlier packets carried, as after a seek: the parameter sets go before
    /// the next key frame again, as for the first packet.
    pub(crate) fn reset(&mut self) {
        self.new_idr = true;
        self.params_written = false;
        self.inserted = false;
    }

    /// Appends sample `index` (`sample`, length-prefixed NAL units) to `out` as Annex-B.
    pub(crate) fn convert(&mut self, sample: &[u8], out: &mut Vec<u8>, index: usize) -> Result<()> {
        let packet_start = out.len();
        // usize → u64: lossless on supported targets.
        self.converted = self.converted.saturating_add(sample.len() as u64);
        let mut at = 0usize;
        let (mut sps_seen, mut pps_seen, mut got_irap) = (false, false, false);
        while at < sample.len() {
            let prefix = sample
                .get(at..at.saturating_add(self.length_size))
                .ok_or_else(|| {
                    invalid(format!(
                        "sample {index}: NAL length prefix at byte {at} of the {}-byte sample \
                         is truncated",
                        sample.len()
                    ))
                })?;
            let len = prefix
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            let body = at.saturating_add(self.length_size);
            let nal = sample.get(body..body.saturating_add(len)).ok_or_else(|| {
                invalid(format!(
                    "sample {index}: NAL unit at byte {at} declares {len} bytes, but only {} \
                     remain in the {}-byte sample",
                    sample.len().saturating_sub(body),
                    sample.len()
                ))
            })?;
            at = body.saturating_add(len);
            let Some(&header) = nal.first() else {
                continue; // an empty NAL unit carries nothing
            };
            if self.hevc {
                let t = (header >> 1) & 0x3f;
                let irap = (16..=23).contains(&t);
                if (irap && !got_irap) || (!self.params_written && t < 32 && !irap) {
                    self.insert(out, Params::All, index)?;
                    self.params_written = true;
                }
                got_irap |= irap;
                if matches!(t, 32 | 33) {
                    self.params_written = true;
                }
                self.put(out, &[&START4, nal], index)?;
                continue;
            }
            let t = header & 0x1f;
            if t == 7 {
                sps_seen = true;
                self.new_idr = true;
                self.params_written = true;
            } else if t == 8 {
                pps_seen = true;
                self.new_idr = true;
                if !sps_seen && !self.sps.is_empty() {
                    self.insert(out, Params::Sps, index)?;
                    sps_seen = true;
                }
            }
            if !self.new_idr && t == 5 && nal.get(1).is_some_and(|b| b & 0x80 != 0) {
                self.new_idr = true;
            }
            if self.new_idr && t == 5 && !sps_seen && !pps_seen {
                self.insert(out, Params::All, index)?;
                self.params_written = true;
                self.new_idr = false;
            } else if self.new_idr && t == 5 && sps_seen && !pps_seen {
                self.insert(out, Params::Pps, index)?;
            } else if !self.params_written && (1..=4).contains(&t) {
                // Not in ffmpeg: a stream starting without an IDR still needs its SPS/PPS.
                self.insert(out, Params::All, index)?;
                self.params_written = true;
            }
            let long = out.len() == packet_start || t == 7 || t == 8;
            let start: &[u8] = if long { &START4 } else { &start_code::PREFIX };
            self.put(out, &[start, nal], index)?;
            if !self.new_idr && t == 1 {
                self.new_idr = true;
                sps_seen = false;
                pps_seen = false;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::MAX_EXPANSION;
    use super::*;

    fn h264_config() -> NalConfig {
        NalConfig::checked(4, vec![vec![0x67, 1]], vec![vec![0x68, 2]]).unwrap()
    }

    fn sample(nals: &[&[u8]]) -> Vec<u8> {
        let mut s = Vec::new();
        for n in nals {
            s.extend_from_slice(&(n.len() as u32).to_be_bytes());
            s.extend_from_slice(n);
        }
        s
    }

    #[test]
    fn h264_parameter_sets_go_before_the_idr_slice_as_ffmpeg_puts_them() {
        let mut c = AnnexBConverter::new(Codec::H264, &h264_config(), 1000);
        let mut out = Vec::new();
        c.convert(&sample(&[&[6, 9], &[0x65, 0x88]]), &mut out, 0)
            .unwrap();
        assert_eq!(
            out,
            [
                &[0, 0, 0, 1, 6, 9][..],
                &[0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68, 2],
                &[0, 0, 1, 0x65, 0x88]
            ]
            .concat()
        );
        out.clear();
        c.convert(&sample(&[&[0x41, 0x9a], &[0x41, 0x1a]]), &mut out, 1)
            .unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x41, 0x9a, 0, 0, 1, 0x41, 0x1a]);
    }

    #[test]
    fn h264_in_band_parameter_sets_are_not_duplicated() {
        let mut c = AnnexBConverter::new(Codec::H264, &h264_config(), 1000);
        let mut out = Vec::new();
        c.convert(
            &sample(&[&[0x67, 7], &[0x68, 8], &[0x65, 0x88]]),
            &mut out,
            0,
        )
        .unwrap();
        assert_eq!(
            out,
            [
                0, 0, 0, 1, 0x67, 7, 0, 0, 0, 1, 0x68, 8, 0, 0, 1, 0x65, 0x88
            ]
        );
    }

    #[test]
    fn a_stream_starting_without_idr_still_gets_its_parameter_sets() {
        let mut c = AnnexBConverter::new(Codec::H264, &h264_config(), 1000);
        let mut out = Vec::new();
        c.convert(&sample(&[&[0x41, 0x9a]]), &mut out, 0).unwrap();
        assert!(out.starts_with(&[0, 0, 0, 1, 0x67, 1]), "{out:?}");
    }

    #[test]
    fn hevc_records_go_before_the_first_irap_nal_with_long_start_codes() {
        let config = NalConfig::checked(2, vec![vec![0x40, 1], vec![0x42, 1]], vec![]).unwrap();
        let mut c = AnnexBConverter::new(Codec::Hevc, &config, 1000);
        let mut out = Vec::new();
        let s = [0, 2, 0x2a, 1, 0, 2, 0x2a, 1]; // two CRA (type 21) NAL units
        c.convert(&s, &mut out, 0).unwrap();
        let expected = [
            0, 0, 0, 1, 0x40, 1, 0, 0, 0, 1, 0x42, 1, 0, 0, 0, 1, 0x2a, 1, 0, 0, 0, 1, 0x2a, 1,
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn bad_lengths_and_budgets_are_errors() {
        let mut c = AnnexBConverter::new(Codec::H264, &h264_config(), 1000);
        let mut out = Vec::new();
        let err = c.convert(&[0, 0, 0, 9, 0x65], &mut out, 3).unwrap_err();
        assert!(err.to_string().contains("sample 3"), "{err}");
        assert!(c.convert(&[0, 0], &mut out, 4).is_err());
        let mut tight = AnnexBConverter::new(Codec::H264, &h264_config(), 8);
        let err = tight
            .convert(&sample(&[&[0x65, 0x88]]), &mut Vec::new(), 0)
            .unwrap_err();
        assert!(err.to_string().contains("exceed"), "{err}");
    }

    #[test]
    fn a_packet_at_a_time_is_bounded_by_its_sample_and_reset_repeats_the_parameter_sets() {
        let mut c = AnnexBConverter::new(Codec::H264, &h264_config(), 0);
        let mut out = vec![9, 9, 9];
        let idr = sample(&[&[0x65, 0x88]]);
        c.convert_packet(&idr, &mut out, 0).unwrap();
        assert_eq!(
            out,
            [
                0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68, 2, 0, 0, 1, 0x65, 0x88
            ]
        );
        c.convert_packet(&sample(&[&[0x41, 0x9a]]), &mut out, 1)
            .unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x41, 0x9a]);
        c.reset();
        c.convert_packet(&sample(&[&[0x41, 0x9a]]), &mut out, 2)
            .unwrap();
        assert!(out.starts_with(&[0, 0, 0, 1, 0x67, 1]), "{out:?}");
    }

    #[test]
    fn repeated_parameter_sets_stay_within_the_sample_bytes_and_reset_restores_the_first() {
        let big = vec![0x42; 1000];
        let config =
            NalConfig::checked(4, vec![[&[0x67][..], &big].concat()], vec![vec![0x68, 2]]).unwrap();
        let mut c = AnnexBConverter::new(Codec::H264, &config, 0);
        let idr = sample(&[&[0x65, 0x88]]);
        let (mut out, mut total, mut read, mut with) = (Vec::new(), 0usize, 0usize, 0usize);
        for i in 0..1000 {
            c.convert_packet(&idr, &mut out, i).unwrap();
            let has = out.starts_with(&[0, 0, 0, 1, 0x67]);
            assert!(has || i > 0, "the first key frame has them");
            with += usize::from(has);
            total += out.len();
            read += idr.len();
        }
        // 1007 bytes of parameter sets: once, then once per 1007 sample bytes converted.
        assert_eq!(with, 1 + read / 1007);
        assert!(
            total <= MAX_EXPANSION * read + 2 * 1007,
            "{total} for {read}"
        );
        c.reset();
        c.convert_packet(&idr, &mut out, 0).unwrap();
        assert!(out.starts_with(&[0, 0, 0, 1, 0x67]));
    }

    #[test]
    fn records_parse_and_truncations_are_errors() {
        let avcc = [
            1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 2, 0x67, 1, 1, 0, 2, 0x68, 2,
        ];
        let c = NalConfig::parse_avcc(&avcc).unwrap();
        assert_eq!(
            (c.length_size, c.first, c.pps),
            (4, vec![vec![0x67, 1]], vec![vec![0x68, 2]])
        );
        assert!(NalConfig::parse_avcc(&avcc[..10]).is_err());
        let mut hvcc = vec![0u8; 21];
        hvcc.extend_from_slice(&[0xf3, 1, 0x20, 0, 1, 0, 2, 0x40, 1]);
        let c = NalConfig::parse_hvcc(&hvcc).unwrap();
        assert_eq!((c.length_size, c.first), (4, vec![vec![0x40, 1]]));
        assert!(NalConfig::parse_hvcc(&hvcc[..25]).is_err());
        assert!(NalConfig::checked(3, vec![], vec![]).is_err());
    }
}
