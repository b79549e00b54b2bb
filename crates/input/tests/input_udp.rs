//! `udp://` input over loopback: MPEG-TS sent as an IPTV head-end sends it (7 × 188 bytes a
//! datagram) comes out as exactly the packets of the same file read whole, unicast and
//! multicast (group joined on `lo`); a burst that overflows a small receive buffer is counted
//! (kernel drops, continuity-counter losses) and the stream resynchronises; a datagram longer
//! than `pkt_size` is counted and dropped; nothing arriving is a typed timeout; bad URLs and
//! addresses are `NetworkError::Address`. Each test is bounded (a few hundred datagrams, a
//! timeout of at most 2 s).

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use nvcodec_input::net::{SourceUrl, UdpSource, UdpUrl};
use nvcodec_input::{ElementaryStream, FormatHint, NetworkError, OwnedPacket, ReadError};

/// What an IPTV sender puts in one datagram: seven transport packets.
const DATAGRAM: usize = 7 * 188;

fn clip() -> Vec<u8> {
    std::fs::read(common::data("ts/h264_b3.ts")).unwrap()
}

fn read_whole(bytes: &[u8]) -> Vec<OwnedPacket> {
    let mut stream = ElementaryStream::from_bytes(bytes.to_vec(), FormatHint::Unknown).unwrap();
    stream.packets().map(|p| p.unwrap()).collect()
}

fn open(url: &str) -> UdpSource {
    let url = UdpUrl::parse(url).unwrap();
    UdpSource::open(&url, FormatHint::Unknown).unwrap()
}

fn sender() -> UdpSocket {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap()
}

/// Every packet the datagrams already waiting complete (without blocking).
fn drain(source: &mut UdpSource, into: &mut Vec<OwnedPacket>) {
    while let Some(p) = source.try_next_packet().unwrap() {
        into.push(p.to_owned_packet());
    }
}

/// `finish`, then the packets left, then `None`.
fn finish(source: &mut UdpSource, into: &mut Vec<OwnedPacket>) {
    source.finish();
    while let Some(p) = source.next_packet().unwrap() {
        into.push(p.to_owned_packet());
    }
}

#[test]
fn unicast_ts_gives_the_packets_of_the_file_read_whole() {
    let clip = clip();
    let whole = read_whole(&clip);
    let mut source = open("udp://127.0.0.1:0?timeout=2000000");
    let to = source.local_addr();
    let tx = sender();
    let datagrams: Vec<&[u8]> = clip.chunks(DATAGRAM).collect();
    assert!(source.packet_arrival().is_none());
    let before = SystemTime::now();
    for d in &datagrams {
        tx.send_to(d, to).unwrap();
    }
    // Queued for 50 ms before they are read: on Linux the kernel's receive time counts that.
    std::thread::sleep(Duration::from_millis(50));
    let mut got = Vec::new();
    drain(&mut source, &mut got);
    let arrival = source.packet_arrival().unwrap();
    assert!(
        arrival >= before && arrival <= SystemTime::now(),
        "{arrival:?}"
    );
    if cfg!(target_os = "linux") {
        let queued = SystemTime::now().duration_since(arrival).unwrap();
        assert!(queued >= Duration::from_millis(40), "queued {queued:?}");
    }
    let stats = source.stats();
    assert_eq!(stats.datagrams, datagrams.len() as u64);
    assert_eq!(stats.bytes, clip.len() as u64);
    assert_eq!(stats.truncated, 0);
    assert!(stats.receive_buffer > 0);
    if cfg!(target_os = "linux") {
        assert_eq!(stats.kernel_drops, Some(0));
    }
    // The last access unit ends only with the stream.
    assert_eq!(got.len(), whole.len() - 1);
    finish(&mut source, &mut got);
    assert_eq!(got, whole);
    let ts = source.transport_stats().unwrap();
    assert_eq!((ts.gaps, ts.lost_packets), (0, 0), "{ts:?}");
}

/// `lo`'s flags, for a failure message: multicast on `lo` may need
/// `ip link set lo multicast on` (as root) on machines whose loopback lacks the flag.
fn lo_flags() -> String {
    std::fs::read_to_string("/sys/class/net/lo/flags").map_or_else(
        |_| "unknown".into(),
        |f| {
            let flags = u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).unwrap_or(0);
            format!(
                "{} (IFF_MULTICAST {})",
                f.trim(),
                if flags & 0x1000 != 0 { "on" } else { "off" }
            )
        },
    )
}

#[test]
fn multicast_ts_on_loopback_gives_the_packets_of_the_file_read_whole() {
    let clip = clip();
    let whole = read_whole(&clip);
    // A free port for the group: the system picks one for a unicast socket, freed at once.
    let port = sender().local_addr().unwrap().port();
    let group = Ipv4Addr::new(239, 255, 19, 1);
    let url = format!("udp://{group}:{port}?localaddr=127.0.0.1&timeout=2000000");
    let parsed = UdpUrl::parse(&url).unwrap();
    let mut source = UdpSource::open(&parsed, FormatHint::Unknown).unwrap_or_else(|e| {
        panic!(
            "joining {group} on lo failed: {e}; lo flags {}: run `ip link set lo multicast on`",
            lo_flags()
        )
    });
    let tx = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    tx.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
    tx.set_multicast_loop_v4(true).unwrap();
    let tx: UdpSocket = tx.into();
    let datagrams: Vec<Vec<u8>> = clip.chunks(DATAGRAM).map(<[u8]>::to_vec).collect();
    let count = datagrams.len() as u64;
    let to = SocketAddr::from((group, port));
    // A paced sender on its own thread; the receiver blocks in `next_packet`.
    let sending = std::thread::spawn(move || {
        for (i, d) in datagrams.iter().enumerate() {
            tx.send_to(d, to).unwrap();
            if i % 4 == 3 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    });
    let mut got = Vec::new();
    while got.len() + 1 < whole.len() {
        match source.next_packet() {
            Ok(Some(p)) => got.push(p.to_owned_packet()),
            Ok(None) => panic!("the source ended before finish()"),
            Err(e) => panic!(
                "after {} packets: {e}; lo flags {}: multicast on lo may need \
                 `ip link set lo multicast on`",
                got.len(),
                lo_flags()
            ),
        }
    }
    sending.join().unwrap();
    drain(&mut source, &mut got);
    assert_eq!(source.stats().datagrams, count);
    finish(&mut source, &mut got);
    assert_eq!(got, whole);
}

#[test]
fn source_specific_multicast_takes_the_named_senders_only() {
    let clip = clip();
    let whole = read_whole(&clip);
    let port = sender().local_addr().unwrap().port();
    let group = Ipv4Addr::new(232, 1, 19, 1);
    let open_from = |source: &str| {
        let url =
            format!("udp://{group}:{port}?localaddr=127.0.0.1&sources={source}&timeout=2000000");
        UdpSource::open(&UdpUrl::parse(&url).unwrap(), FormatHint::Unknown).unwrap_or_else(|e| {
            panic!(
                "joining {group} from {source} on lo failed: {e}; lo flags {}",
                lo_flags()
            )
        })
    };
    let mut wanted = open_from("127.0.0.1");
    let mut other = open_from("127.0.0.2");
    let tx = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    tx.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
    tx.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .unwrap();
    let tx: UdpSocket = tx.into();
    let to = SocketAddr::from((group, port));
    let mut got = Vec::new();
    for d in clip.chunks(DATAGRAM) {
        tx.send_to(d, to).unwrap();
        drain(&mut wanted, &mut got);
    }
    finish(&mut wanted, &mut got);
    assert_eq!(got, whole);
    assert!(other.try_next_packet().unwrap().is_none());
    assert_eq!(other.stats().datagrams, 0);
}

#[test]
fn a_stream_the_reader_refuses_ends_the_source_with_its_error() {
    let mut source = open("udp://127.0.0.1:0?timeout=2000000");
    let tx = sender();
    tx.send_to(b"not a video stream, nor a container", source.local_addr())
        .unwrap();
    match source.next_packet() {
        Err(ReadError::Input(e)) => eprintln!("refused: {e}"),
        other => panic!("expected the reader's error, got {other:?}"),
    }
    // Ended: later pulls give `None` at once, whatever arrives.
    tx.send_to(&clip()[..DATAGRAM], source.local_addr())
        .unwrap();
    assert!(source.next_packet().unwrap().is_none());
    assert!(source.try_next_packet().unwrap().is_none());
}

#[test]
fn a_burst_over_a_small_receive_buffer_is_counted_and_the_stream_resynchronises() {
    let clip = clip();
    let whole = read_whole(&clip);
    // `buffer_size=1`: the kernel's smallest buffer, a couple of datagrams.
    let mut source = open("udp://127.0.0.1:0?buffer_size=1&timeout=2000000");
    let stats = source.stats();
    assert_eq!(stats.requested_buffer, 1);
    assert!(stats.receive_buffer < 64 << 10, "{stats:?}");
    let to = source.local_addr();
    let tx = sender();
    let datagrams: Vec<&[u8]> = clip.chunks(DATAGRAM).collect();
    // The burst: the clip three times over, nobody reading.
    for _ in 0..3 {
        for d in &datagrams {
            tx.send_to(d, to).unwrap();
        }
    }
    let mut got = Vec::new();
    drain(&mut source, &mut got);
    let burst = source.stats().datagrams;
    assert!(
        burst < 3 * datagrams.len() as u64 / 2,
        "{burst} kept of the burst"
    );
    // Then the clip once more, read as it comes: every datagram is taken.
    let mut after = Vec::new();
    for d in &datagrams {
        tx.send_to(d, to).unwrap();
        drain(&mut source, &mut after);
    }
    finish(&mut source, &mut after);
    let stats = source.stats();
    let sent = 4 * datagrams.len() as u64;
    if cfg!(target_os = "linux") {
        // Every datagram sent was received or counted as dropped.
        assert_eq!(
            stats.datagrams + stats.kernel_drops.unwrap(),
            sent,
            "{stats:?}"
        );
    }
    let ts = source.transport_stats().unwrap();
    eprintln!(
        "burst: {stats:?}\n{ts:?}\n{} packets after, {} before",
        after.len(),
        got.len()
    );
    assert!(ts.gaps > 0 && ts.lost_packets > 0, "{ts:?}");
    // Resynchronised: the last copy's access units all come out, whole, but its first,
    // which the gap before it tears (the reader cannot tell it from a torn one).
    assert!(after.len() >= whole.len() - 1, "{} packets", after.len());
    assert_eq!(after[after.len() - (whole.len() - 1)..], whole[1..]);
}

#[test]
fn a_datagram_longer_than_pkt_size_is_counted_and_dropped() {
    let clip = clip();
    let mut source = open(&format!(
        "udp://127.0.0.1:0?pkt_size={DATAGRAM}&timeout=2000000"
    ));
    let to = source.local_addr();
    let tx = sender();
    let datagrams: Vec<&[u8]> = clip.chunks(DATAGRAM).collect();
    let mut got = Vec::new();
    let mut sent_bytes = 0;
    // Datagrams 5 and 6 sent as one, too long for `pkt_size`.
    let mut i = 0;
    while i < datagrams.len() {
        if i == 5 {
            let joined = [datagrams[5], datagrams[6]].concat();
            tx.send_to(&joined, to).unwrap();
            i += 2;
        } else {
            tx.send_to(datagrams[i], to).unwrap();
            sent_bytes += datagrams[i].len();
            i += 1;
        }
        drain(&mut source, &mut got);
    }
    finish(&mut source, &mut got);
    let stats = source.stats();
    assert_eq!(stats.truncated, 1, "{stats:?}");
    assert_eq!(stats.datagrams, datagrams.len() as u64 - 1);
    assert_eq!(stats.bytes, sent_bytes as u64);
    let ts = source.transport_stats().unwrap();
    assert!(ts.lost_packets > 0, "{ts:?}");
    assert!(!got.is_empty());
}

#[test]
fn nothing_arriving_is_a_typed_timeout_and_the_source_stays_usable() {
    let mut source = open("udp://127.0.0.1:0?timeout=200000");
    assert!(source.try_next_packet().unwrap().is_none());
    for _ in 0..2 {
        let start = Instant::now();
        let err = source.next_packet().map(|p| p.is_some()).unwrap_err();
        let waited = start.elapsed();
        match err {
            ReadError::Network(NetworkError::Timeout { after, peer }) => {
                assert_eq!(after, Duration::from_millis(200));
                assert!(peer.starts_with("udp://127.0.0.1:0"), "{peer}");
            }
            other => panic!("expected a timeout, got {other}"),
        }
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(5),
            "waited {waited:?}"
        );
    }
    // Still usable: a stream arriving now is read.
    let clip = clip();
    let tx = sender();
    for d in clip.chunks(DATAGRAM) {
        tx.send_to(d, source.local_addr()).unwrap();
    }
    assert!(source.next_packet().unwrap().is_some());
}

#[test]
fn bad_urls_and_addresses_are_address_errors() {
    for url in [
        "udp://",
        "udp://127.0.0.1",
        "udp://127.0.0.1:",
        "udp://127.0.0.1:65536",
        "udp://127.0.0.1:+5",
        "udp://localhost:5000",
        "udp://[::1:5000",
        "udp://[::1]5000",
        "udp://239.1.1.1:0",
        "udp://127.0.0.1:5000?localaddr=127.0.0.1",
        "udp://239.1.1.1:5000?localaddr=239.1.1.2",
        "udp://239.1.1.1:5000?localaddr=::1",
        "udp://239.1.1.1:5000?localaddr=nowhere",
        "udp://127.0.0.1:5000?buffer_size=0",
        "udp://127.0.0.1:5000?timeout=0",
        "udp://127.0.0.1:5000?pkt_size=65537",
        "udp://127.0.0.1:5000?reuse=2",
        "udp://127.0.0.1:5000?ttl=4",
        "udp://127.0.0.1:5000/path",
        "udp://127.0.0.1:5000?sources=127.0.0.1",
        "udp://[ff15::1]:5000?sources=127.0.0.1",
        "udp://239.1.1.1:5000?sources=",
        "udp://239.1.1.1:5000?sources=239.1.1.2",
        "udp://239.1.1.1:5000?sources=127.0.0.1,,127.0.0.2",
        "srt://127.0.0.1:5000",
    ] {
        match SourceUrl::parse(url) {
            Err(NetworkError::Address { url: named, what }) => {
                assert_eq!(named, url);
                assert!(!what.is_empty());
            }
            other => panic!("{url}: expected an address error, got {other:?}"),
        }
    }
    // Fields set by hand out of the parser's ranges are refused before any socket is made.
    let good = UdpUrl::parse("udp://127.0.0.1:0").unwrap();
    let mut huge = good.clone();
    huge.pkt_size = usize::MAX;
    let mut zero = good.clone();
    zero.timeout = Duration::ZERO;
    let mut unicast_sources = good.clone();
    unicast_sources.sources = vec![Ipv4Addr::LOCALHOST];
    for url in [huge, zero, unicast_sources] {
        match UdpSource::open(&url, FormatHint::Unknown) {
            Err(ReadError::Network(NetworkError::Address { what, .. })) => {
                assert!(!what.is_empty());
            }
            other => panic!("{url}: expected an address error, got {other:?}"),
        }
    }
    let mut fine = good;
    fine.timeout = Duration::from_nanos(1500);
    assert!(fine.check().is_ok());
    // An address that is not this machine's (TEST-NET-1) is refused at bind.
    let url = UdpUrl::parse("udp://192.0.2.1:5000").unwrap();
    match UdpSource::open(&url, FormatHint::Unknown) {
        Err(ReadError::Network(NetworkError::Address { what, .. })) => {
            assert!(what.contains("192.0.2.1"), "{what}");
        }
        other => panic!("expected an address error, got {other:?}"),
    }
    // A port in use (no `reuse`) is the system's refusal, named.
    let first = open("udp://127.0.0.1:0");
    let taken = UdpUrl::parse(&format!("udp://{}", first.local_addr())).unwrap();
    match UdpSource::open(&taken, FormatHint::Unknown) {
        Err(ReadError::Network(NetworkError::Socket { what, .. })) => {
            assert!(what.contains("bind"), "{what}");
        }
        other => panic!("expected a socket error, got {other:?}"),
    }
}

#[test]
fn source_urls_name_files_udp_and_rtsp() {
    assert_eq!(
        SourceUrl::parse("clip.ts").unwrap(),
        SourceUrl::File("clip.ts".into())
    );
    assert_eq!(
        SourceUrl::parse("file:///tmp/clip.ts").unwrap(),
        SourceUrl::File("/tmp/clip.ts".into())
    );
    assert_eq!(
        SourceUrl::parse("rtsp://user:pw@cam:554/s").unwrap(),
        SourceUrl::Rtsp("rtsp://user:pw@cam:554/s".into())
    );
    let SourceUrl::Udp(udp) = SourceUrl::parse(
        "UDP://@239.1.1.1:5000?localaddr=127.0.0.1&buffer_size=8388608&timeout=1500000\
         &pkt_size=1316&fifo_size=1000000&overrun_nonfatal=1",
    )
    .unwrap() else {
        panic!("not udp")
    };
    assert!(udp.is_multicast() && udp.reuse);
    assert_eq!(udp.addr, "239.1.1.1:5000".parse().unwrap());
    assert_eq!(udp.local_addr, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(udp.buffer_size, 8 << 20);
    assert_eq!(udp.timeout, Duration::from_millis(1500));
    assert_eq!(udp.pkt_size, 1316);
    assert_eq!(
        udp.to_string(),
        "udp://239.1.1.1:5000?localaddr=127.0.0.1&buffer_size=8388608&timeout=1500000&pkt_size=1316"
    );
    let any = UdpUrl::parse("udp://@:5000").unwrap();
    assert_eq!(any.addr, "0.0.0.0:5000".parse().unwrap());
    assert!(!any.reuse);
    let v6 = UdpUrl::parse("udp://[ff15::1]:5000").unwrap();
    assert!(v6.is_multicast());
}

#[test]
fn ipv6_unicast_on_loopback_gives_the_packets_of_the_file_read_whole() {
    let clip = clip();
    let whole = read_whole(&clip);
    let url = UdpUrl::parse("udp://[::1]:0?timeout=2000000").unwrap();
    let mut source = match UdpSource::open(&url, FormatHint::Unknown) {
        Ok(s) => s,
        Err(e) => panic!("IPv6 on loopback (::1) is needed for this test: {e}"),
    };
    let tx = UdpSocket::bind("[::1]:0").unwrap();
    for d in clip.chunks(DATAGRAM) {
        tx.send_to(d, source.local_addr()).unwrap();
    }
    let mut got = Vec::new();
    drain(&mut source, &mut got);
    finish(&mut source, &mut got);
    assert_eq!(got, whole);
}
