//! The raw-stream index's memory bound, measured: `build_index` over an Annex-B stream of a
//! clip repeated 400 times (34 MB, 24,000 access units, made on the fly by a generator
//! `Read + Seek`), under a counting global allocator. The documented bound
//! (`ElementaryStream::build_index`): 20 bytes a sample kept, 16 bytes a picture of the longest
//! coded video sequence during the scan, plus the reader's window of about one packet: never a
//! function of the stream's length except through the index.
//!
//! One test function, so no other test's allocations are counted.

mod common;

use std::io::{Read, Seek, SeekFrom};

use nvcodec_input::Codec;
use nvcodec_input::{ElementaryStream, FormatHint, SampleIndex};

use common::counting::{peak_since, reset_peak};

#[global_allocator]
static ALLOCATOR: common::counting::Counting<true> = common::counting::Counting;

/// `clip` repeated up to `len` bytes, as a `Read + Seek` that allocates nothing when read.
struct Repeated {
    clip: Vec<u8>,
    len: u64,
    pos: u64,
}

impl Read for Repeated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let clip_len = self.clip.len() as u64;
        let at = (self.pos % clip_len) as usize;
        let left = (self.len - self.pos.min(self.len)) as usize;
        let n = buf.len().min(self.clip.len() - at).min(left);
        buf[..n].copy_from_slice(&self.clip[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Repeated {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => self.len.saturating_add_signed(d),
            SeekFrom::Current(d) => self.pos.saturating_add_signed(d),
        };
        Ok(self.pos)
    }
}

#[test]
fn indexing_a_long_stream_holds_the_index_and_one_window_only() {
    const TIMES: u64 = 400;
    let clip = std::fs::read(common::data("h264_640x360_b3.h264")).unwrap();
    let one = {
        let mut es =
            ElementaryStream::from_bytes(clip.clone(), FormatHint::Codec(Codec::H264)).unwrap();
        es.build_index().unwrap().clone()
    };
    let largest = (0..one.len()).map(|i| one.size(i).unwrap()).max().unwrap() as usize;
    let per_clip = one.len();
    let len = clip.len() as u64 * TIMES;

    let base = reset_peak();
    let source = Repeated {
        clip: clip.clone(),
        len,
        pos: 0,
    };
    let mut es = ElementaryStream::from_reader(source, FormatHint::Codec(Codec::H264)).unwrap();
    let index = es.build_index().unwrap();
    let samples = index.len();
    let peak = peak_since(base);

    assert_eq!(samples, per_clip * TIMES as usize);
    // Every repetition starts with an IDR: its samples have the first clip's ranks, shifted.
    for sample in [0, per_clip + 7, samples - 1] {
        let (rep, within) = (sample / per_clip, sample % per_clip);
        assert_eq!(
            index.pts(sample).unwrap(),
            one.pts(within).unwrap() + (rep * per_clip) as i64,
            "sample {sample}"
        );
        assert_eq!(
            index.offset(sample).unwrap(),
            one.offset(within).unwrap() + rep as u64 * clip.len() as u64
        );
    }
    // The index (its vectors may hold twice their length while growing, and a realloc copies),
    // one coded video sequence's POCs, the window and packet buffer, the generator's clip.
    let bound = 3 * SampleIndex::BYTES_PER_SAMPLE * samples
        + 3 * 16 * per_clip
        + 4 * largest
        + clip.len()
        + (256 << 10);
    assert!(
        peak <= bound,
        "peak heap {peak} bytes for {len} input bytes and {samples} samples; bound {bound}"
    );
    assert!(
        peak < (len / 10) as usize,
        "{peak} bytes held for {len} bytes"
    );
}
