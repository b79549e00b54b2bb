//! The streaming readers' memory bound, measured: inputs of more than 2 GiB, made on the fly
//! by a generator `Read` (nothing is written to disk), are walked packet by packet while a
//! counting global allocator records the peak heap. The documented bound (`input::source`):
//! peak heap ≤ 2 × the largest packet + 64 KiB (the window) + the largest packet (the packet
//! buffer) + a small constant, whatever the input's length.
//!
//! One test function runs the cases one after another, so no other test's allocations are
//! counted.

mod common;

use std::io::Read;

use nvcodec_input::Codec;
use nvcodec_input::{AccessUnits, ElementaryStream, FormatHint, LiveStream};

use common::counting::{peak_since, reset_peak};
use common::generated::Generated;

#[global_allocator]
static ALLOCATOR: common::counting::Counting<false> = common::counting::Counting;

const GIB: u64 = 1 << 30;
const READ_CHUNK: usize = 64 << 10;
/// Allowance for the stream's own fields, names and the allocator's rounding.
const CONSTANT: usize = 64 << 10;

fn bound(largest_packet: usize) -> usize {
    3 * largest_packet + READ_CHUNK + CONSTANT
}

fn clip(name: &str) -> Vec<u8> {
    std::fs::read(common::data_dir().join(name)).expect("test clip")
}

/// Walks `stream` to its end; returns (packets, packet bytes, peak heap above `base`).
fn walk(mut stream: ElementaryStream, base: usize) -> (u64, u64, usize) {
    let (mut packets, mut bytes) = (0u64, 0u64);
    while let Some(p) = stream.next_packet().expect("packet") {
        packets += 1;
        bytes += p.data.len() as u64;
    }
    (packets, bytes, peak_since(base))
}

fn ivf_header(frames: u32) -> Vec<u8> {
    let mut h = b"DKIF".to_vec();
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&32u16.to_le_bytes());
    h.extend_from_slice(b"VP90");
    h.extend_from_slice(&1920u16.to_le_bytes());
    h.extend_from_slice(&1080u16.to_le_bytes());
    h.extend_from_slice(&30u32.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&frames.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h
}

#[test]
fn multi_gigabyte_inputs_are_read_within_the_documented_heap_bound() {
    // IVF, 2.25 GiB of 1 MiB frames, from a `Read + Seek` (the `from_reader` path).
    let frame_len = 1 << 20;
    let mut frame = Vec::with_capacity(12 + frame_len);
    frame.extend_from_slice(&(frame_len as u32).to_le_bytes());
    frame.extend_from_slice(&7u64.to_le_bytes());
    frame.extend((0..frame_len).map(|i| (i % 251) as u8));
    let head = ivf_header(0);
    let frames = (2 * GIB + GIB / 4) / frame.len() as u64;
    let len = head.len() as u64 + frames * frame.len() as u64;
    let source = Generated {
        head: head.clone(),
        body: frame.clone(),
        len,
        pos: 0,
    };
    let base = reset_peak();
    let stream = ElementaryStream::from_reader(source, FormatHint::Unknown).unwrap();
    let (packets, bytes, peak) = walk(stream, base);
    assert_eq!((packets, bytes), (frames, frames * frame_len as u64));
    eprintln!("IVF {len} bytes: {packets} packets, peak heap {peak} bytes");
    assert!(
        peak <= bound(frame_len),
        "IVF: peak {peak} > bound {}",
        bound(frame_len)
    );

    // H.264 Annex-B, a clip repeated to 2.1 GiB, from a plain `Read` (the pipe path).
    let h264 = clip("h264_640x360_b3.h264");
    let units: Vec<usize> = AccessUnits::h264(&h264).map(|u| u.unwrap().len()).collect();
    let largest = units.iter().copied().max().unwrap();
    let repeats = (2 * GIB + GIB / 10) / h264.len() as u64 + 1;
    let len = repeats * h264.len() as u64;
    let source = Generated {
        head: Vec::new(),
        body: h264.clone(),
        len,
        pos: 0,
    };
    let base = reset_peak();
    let stream = ElementaryStream::from_stream(source, FormatHint::Codec(Codec::H264)).unwrap();
    let (packets, bytes, peak) = walk(stream, base);
    assert_eq!((packets, bytes), (repeats * units.len() as u64, len));
    eprintln!(
        "Annex-B {len} bytes: {packets} packets, peak heap {peak} bytes (largest packet {largest})"
    );
    assert!(
        peak <= bound(largest),
        "Annex-B: peak {peak} > bound {}",
        bound(largest)
    );

    // Live input: the same clip pushed in 100 KiB chunks, 64 MiB in all; the bytes held are
    // at most a packet plus the chunk just fed, so the bound grows by twice the chunk.
    let total = 64u64 << 20;
    let mut source = Generated {
        head: Vec::new(),
        body: h264.clone(),
        len: total,
        pos: 0,
    };
    let mut chunk = vec![0u8; 100 << 10];
    let base = reset_peak();
    let mut live = LiveStream::new(FormatHint::Codec(Codec::H264));
    let mut live_packets = 0u64;
    loop {
        let n = source.read(&mut chunk).unwrap();
        if n == 0 {
            live.finish();
        } else {
            live.feed(&chunk[..n]).unwrap();
        }
        while live.next_packet().unwrap().is_some() {
            live_packets += 1;
        }
        if n == 0 {
            break;
        }
    }
    let peak = peak_since(base);
    assert!(live.is_ended());
    assert_eq!(
        live_packets,
        total / h264.len() as u64 * units.len() as u64 + {
            // The partial repeat at the end: the access units that fit, the last one cut.
            let rest = (total % h264.len() as u64) as usize;
            AccessUnits::h264(&h264[..rest]).count() as u64
        }
    );
    let bound = bound(largest) + 2 * chunk.len();
    eprintln!("live {total} bytes: {live_packets} packets, peak heap {peak} bytes");
    assert!(peak <= bound, "live: peak {peak} > bound {bound}");
}
