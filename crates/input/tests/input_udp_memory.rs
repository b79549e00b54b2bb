//! The `udp://` receiver's memory bound, measured: a TS clip repeated to 16 MiB is sent over
//! loopback, mostly in 1316-byte datagrams and every 50th in one of 64,484 bytes (49 × 1316,
//! near the largest UDP payload), and pulled packet by packet, while a counting global
//! allocator records the peak heap. The bound (`nvcodec_input::net::udp` module docs): the
//! datagram buffer (`pkt_size` + 1) plus the `LiveStream`'s for MPEG-TS (4 × the largest
//! access unit, twice the 64 KiB window, a few KiB of tables), whatever the stream's length.
//!
//! One test function, one thread: no other test's allocations are counted, and every datagram
//! is read as soon as it is sent, so none is dropped.

mod common;

use std::io::Read;
use std::net::{Ipv4Addr, UdpSocket};

use nvcodec_input::net::{UdpSource, UdpUrl};
use nvcodec_input::{ElementaryStream, FormatHint};

use common::counting::{peak_since, reset_peak};
use common::generated::Generated;

#[global_allocator]
static ALLOCATOR: common::counting::Counting<false> = common::counting::Counting;

const DATAGRAM: usize = 7 * 188;
const LARGE: usize = 49 * DATAGRAM;
const READ_CHUNK: usize = 64 << 10;
/// Allowance for the source's own fields, tables and the allocator's rounding.
const CONSTANT: usize = 64 << 10;

#[test]
fn a_long_udp_stream_is_received_within_the_documented_heap_bound() {
    let clip = std::fs::read(common::data("ts/h264_b3.ts")).unwrap();
    let mut whole = ElementaryStream::from_bytes(clip.clone(), FormatHint::Unknown).unwrap();
    let mut largest = 0;
    while let Some(p) = whole.next_packet().unwrap() {
        largest = largest.max(p.data.len());
    }
    drop(whole);
    let len = 16u64 << 20;
    let clip_len = clip.len() as u64;
    let mut source = Generated {
        head: Vec::new(),
        body: clip,
        len,
        pos: 0,
    };
    let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let mut datagram = vec![0u8; LARGE];

    let base = reset_peak();
    let url = UdpUrl::parse("udp://127.0.0.1:0?timeout=2000000").unwrap();
    let mut udp = UdpSource::open(&url, FormatHint::Unknown).unwrap();
    let to = udp.local_addr();
    let mut packets = 0u64;
    let mut sent = 0u64;
    loop {
        let size = if sent % 50 == 49 { LARGE } else { DATAGRAM };
        let n = source.read(&mut datagram[..size]).unwrap();
        if n == 0 {
            break;
        }
        tx.send_to(&datagram[..n], to).unwrap();
        sent += 1;
        while let Some(p) = udp.try_next_packet().unwrap() {
            assert!(p.data.len() <= largest);
            packets += 1;
        }
        assert!(udp.memory_footprint() <= bound(largest));
    }
    udp.finish();
    while udp.next_packet().unwrap().is_some() {
        packets += 1;
    }
    let peak = peak_since(base);
    let stats = udp.stats();
    let ts = udp.transport_stats().unwrap();
    eprintln!("UDP {len} bytes: {packets} packets, {stats:?}, {ts:?}, peak heap {peak} bytes");
    assert_eq!((stats.datagrams, stats.bytes), (sent, len));
    assert_eq!(stats.kernel_drops.unwrap_or(0), 0);
    assert!(packets >= len / clip_len * 50, "{packets} packets");
    assert!(
        peak <= bound(largest),
        "UDP: peak {peak} > bound {}",
        bound(largest)
    );
}

fn bound(largest_packet: usize) -> usize {
    (nvcodec_input::net::MAX_DATAGRAM + 1) + 4 * largest_packet + 2 * READ_CHUNK + CONSTANT
}
