//! The transport-stream reader's memory bound, measured: a TS clip repeated to 128 MiB (made
//! on the fly by a generator `Read`; every repetition is a counter gap and a PTS jump, so
//! the loss path runs thousands of times) is walked packet by packet from a plain `Read`
//! and through a `LiveStream` fed 1316-byte datagrams, while a counting global allocator
//! records the peak heap. The bound (`nvcodec_input::ts` module docs): the driver's window
//! and one read, the elementary-stream buffer (about twice the largest access unit), the
//! packet buffer, and a few KiB of tables, whatever the input's length.
//!
//! One test function runs the cases one after another, so no other test's allocations are
//! counted.

mod common;

use std::io::Read;

use nvcodec_input::{ElementaryStream, FormatHint, LiveStream};

use common::counting::{peak_since, reset_peak};
use common::generated::Generated;

#[global_allocator]
static ALLOCATOR: common::counting::Counting<false> = common::counting::Counting;

const MIB: u64 = 1 << 20;
const READ_CHUNK: usize = 64 << 10;
/// Allowance for the stream's own fields, tables and the allocator's rounding.
const CONSTANT: usize = 64 << 10;

fn bound(largest_packet: usize) -> usize {
    4 * largest_packet + 2 * READ_CHUNK + CONSTANT
}

#[test]
fn a_long_transport_stream_is_read_within_the_documented_heap_bound() {
    let clip = std::fs::read(common::data("ts/h264_b3.ts")).unwrap();
    let mut whole = ElementaryStream::from_bytes(clip.clone(), FormatHint::Unknown).unwrap();
    let mut largest = 0;
    while let Some(p) = whole.next_packet().unwrap() {
        largest = largest.max(p.data.len());
    }
    drop(whole);
    let repeats = 128 * MIB / clip.len() as u64;
    let len = repeats * clip.len() as u64;

    let source = Generated {
        head: Vec::new(),
        body: clip.clone(),
        len,
        pos: 0,
    };
    let base = reset_peak();
    let mut stream = ElementaryStream::from_stream(source, FormatHint::Unknown).unwrap();
    let mut packets = 0u64;
    while let Some(p) = stream.next_packet().unwrap() {
        assert!(p.data.len() <= largest);
        packets += 1;
    }
    let peak = peak_since(base);
    let stats = stream.transport_stats().unwrap();
    eprintln!("TS {len} bytes: {packets} packets, {stats:?}, peak heap {peak} bytes");
    assert!(packets >= repeats * 50, "{packets} packets");
    assert_eq!(stats.gaps, repeats - 1);
    assert!(
        peak <= bound(largest),
        "TS: peak {peak} > bound {}",
        bound(largest)
    );
    drop(stream);

    let base = reset_peak();
    let mut live = LiveStream::new(FormatHint::Unknown);
    let mut live_packets = 0u64;
    let mut source = Generated {
        head: Vec::new(),
        body: clip,
        len: len / 4,
        pos: 0,
    };
    let mut datagram = [0u8; 1316];
    loop {
        let n = source.read(&mut datagram).unwrap();
        if n == 0 {
            live.finish();
        } else {
            live.feed(&datagram[..n]).unwrap();
        }
        while live.next_packet().unwrap().is_some() {
            live_packets += 1;
        }
        if n == 0 {
            break;
        }
    }
    let peak = peak_since(base);
    eprintln!(
        "live TS {} bytes: {live_packets} packets, peak heap {peak} bytes",
        len / 4
    );
    assert!(live.is_ended() && live_packets >= repeats / 4 * 50);
    assert!(
        peak <= bound(largest),
        "live TS: peak {peak} > bound {}",
        bound(largest)
    );
}
