//! `rtsp://` input against a real RTSP server (GStreamer's gst-rtsp-server, started on
//! loopback by `support/rtsp_server.py`) serving the committed clips once, in real time:
//! the access units received over TCP-interleaved and over UDP RTP are those
//! `ElementaryStream::open(clip)` gives, the stream ends with `None`, and the failures
//! (nothing listening, a server that dies mid-stream, bad credentials, a codec not read, an
//! access unit over the limit) are typed errors within their time bounds.
//!
//! What "the same access units" means here: both sides are split into NAL units (start codes
//! of 3 or 4 bytes removed) and parameter sets (H.264 SPS/PPS, HEVC VPS/SPS/PPS) are set apart,
//! since the RTSP source moves them (the server announces them in the session description;
//! the source puts them before every random-access access unit). Then, access unit by access
//! unit, the other NAL units are byte-identical and in the same order; every received
//! random-access access unit begins with the clip's parameter sets; every NAL unit received
//! has a 4-byte start code; and the pts go up by the clip's frame duration (3000 at 90 kHz).
#![cfg(feature = "rtsp")]

mod common;
mod support;

use std::time::{Duration, Instant};

use nvcodec_input::{
    Codec, ElementaryStream, InputError, NetworkError, OwnedPacket, ReadError, RtspOptions,
    RtspSource, RtspTransport,
};
use support::{RtspServer, Serve};

const H264_TS: &str = "ts/h264_b3.ts";
const HEVC_TS: &str = "ts/hevc_main10.ts";
const H264_CLIP: &str = "h264_640x360_b3.h264";
const HEVC_CLIP: &str = "hevc_640x360_main.hevc";

/// The NAL units of an Annex-B access unit, without start codes and trailing zero bytes,
/// and whether each had a 4-byte start code.
fn nal_units(au: &[u8]) -> Vec<(&[u8], bool)> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= au.len() {
        if au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 {
            let four = i > 0 && au[i - 1] == 0;
            starts.push((i, i + 3, four));
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::new();
    for (k, &(_, body, four)) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(au.len(), |&(sc, _, _)| sc);
        let mut nal = &au[body..end];
        while let [rest @ .., 0] = nal {
            nal = rest;
        }
        nals.push((nal, four));
    }
    nals
}

fn nal_type(codec: Codec, nal: &[u8]) -> u8 {
    match codec {
        Codec::Hevc => (nal[0] >> 1) & 0x3f,
        _ => nal[0] & 0x1f,
    }
}

fn is_parameter_set(codec: Codec, nal: &[u8]) -> bool {
    match codec {
        Codec::Hevc => (32..=34).contains(&nal_type(codec, nal)),
        _ => matches!(nal_type(codec, nal), 7 | 8),
    }
}

fn is_random_access(codec: Codec, nal: &[u8]) -> bool {
    match codec {
        Codec::Hevc => (16..=21).contains(&nal_type(codec, nal)),
        _ => nal_type(codec, nal) == 5,
    }
}

/// What the clip gives through `ElementaryStream`.
fn clip_packets(clip: &str) -> (Codec, Vec<OwnedPacket>) {
    let mut stream = ElementaryStream::open(common::data(clip)).unwrap();
    let codec = stream.codec();
    let mut packets = Vec::new();
    while let Some(p) = stream.next_packet().unwrap() {
        packets.push(p.to_owned_packet());
    }
    (codec, packets)
}

/// Everything the source gives until `None`.
fn receive_all(source: &mut RtspSource) -> Vec<OwnedPacket> {
    let mut packets = Vec::new();
    while let Some(p) = source.next_packet().unwrap() {
        packets.push(p.to_owned_packet());
        assert!(packets.len() < 10_000, "the stream does not end");
    }
    packets
}

/// The comparison described in the module documentation.
fn assert_same_access_units(codec: Codec, clip: &[OwnedPacket], got: &[OwnedPacket]) {
    let clip_params: Vec<&[u8]> = clip
        .iter()
        .flat_map(|p| nal_units(&p.data))
        .map(|(nal, _)| nal)
        .filter(|nal| is_parameter_set(codec, nal))
        .collect();
    assert!(!clip_params.is_empty());
    assert_eq!(
        got.len(),
        clip.len(),
        "access units received vs in the clip"
    );
    let mut random_access = 0;
    for (i, (want, have)) in clip.iter().zip(got).enumerate() {
        let have_nals = nal_units(&have.data);
        assert!(
            have_nals.iter().all(|&(_, four)| four),
            "AU {i}: a 3-byte start code"
        );
        let want_rest: Vec<&[u8]> = nal_units(&want.data)
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| !is_parameter_set(codec, n))
            .collect();
        let have_rest: Vec<&[u8]> = have_nals
            .iter()
            .map(|&(n, _)| n)
            .filter(|n| !is_parameter_set(codec, n))
            .collect();
        assert_eq!(
            have_rest.len(),
            want_rest.len(),
            "AU {i}: NAL types received {:?}, in the clip {:?}",
            have_rest
                .iter()
                .map(|n| nal_type(codec, n))
                .collect::<Vec<_>>(),
            want_rest
                .iter()
                .map(|n| nal_type(codec, n))
                .collect::<Vec<_>>()
        );
        for (k, (w, h)) in want_rest.iter().zip(&have_rest).enumerate() {
            assert!(
                w == h,
                "AU {i} NAL {k} (type {}) differs",
                nal_type(codec, w)
            );
        }
        if have_rest.iter().any(|n| is_random_access(codec, n)) {
            random_access += 1;
            let leading: Vec<&[u8]> = have_nals
                .iter()
                .map(|&(n, _)| n)
                .take_while(|n| is_parameter_set(codec, n))
                .collect();
            for param in &leading {
                assert!(
                    clip_params.contains(param),
                    "AU {i}: a parameter set not in the clip"
                );
            }
            let types: Vec<u8> = leading.iter().map(|n| nal_type(codec, n)).collect();
            let expected: &[u8] = if codec == Codec::Hevc {
                &[32, 33, 34]
            } else {
                &[7, 8]
            };
            assert_eq!(
                types,
                expected,
                "AU {i}: parameter sets before the random-access AU; its NAL types {:?}, the \
                 clip's {:?}",
                have_nals
                    .iter()
                    .map(|&(n, _)| nal_type(codec, n))
                    .collect::<Vec<_>>(),
                nal_units(&want.data)
                    .iter()
                    .map(|&(n, _)| nal_type(codec, n))
                    .collect::<Vec<_>>()
            );
        }
    }
    assert!(random_access >= 1);
}

/// The pts, relative to the first, are the clip's (both are 90 kHz).
fn assert_same_pts(clip: &[OwnedPacket], got: &[OwnedPacket]) {
    let rel = |p: &[OwnedPacket]| -> Vec<i64> { p.iter().map(|x| x.pts - p[0].pts).collect() };
    assert_eq!(rel(got), rel(clip), "pts relative to the first");
}

fn serve_and_compare(clip: &str, codec_name: &str, transport: RtspTransport) -> Vec<OwnedPacket> {
    serve_and_compare_counting(clip, codec_name, transport, true)
}

fn serve_and_compare_counting(
    clip: &str,
    codec_name: &str,
    transport: RtspTransport,
    expect_no_loss: bool,
) -> Vec<OwnedPacket> {
    let started = Instant::now();
    let (codec, want) = clip_packets(clip);
    let server = RtspServer::start(&common::data(clip), codec_name, Serve::default());
    let options = RtspOptions::default()
        .transport(transport)
        .timeouts(Duration::from_secs(5), Duration::from_secs(3));
    let mut source = RtspSource::open(&server.url(), options).unwrap();
    assert_eq!(source.codec(), codec);
    assert_eq!(source.clock_rate(), 90_000);
    let got = receive_all(&mut source);
    assert_same_access_units(codec, &want, &got);
    if expect_no_loss {
        assert_eq!(source.lost_packets(), 0);
    }
    // Ended: stays ended.
    assert!(source.next_packet().unwrap().is_none());
    drop(source);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    got
}

#[test]
fn h264_with_b_frames_over_tcp_is_the_clip() {
    let got = serve_and_compare(H264_TS, "h264", RtspTransport::Tcp);
    assert_same_pts(&clip_packets(H264_TS).1, &got);
}

#[test]
fn h264_with_b_frames_over_udp_is_the_clip() {
    let got = serve_and_compare(H264_TS, "h264", RtspTransport::Udp);
    assert_same_pts(&clip_packets(H264_TS).1, &got);
}

#[test]
fn hevc_10_bit_with_b_frames_over_tcp_is_the_clip() {
    let got = serve_and_compare(HEVC_TS, "h265", RtspTransport::Tcp);
    assert_same_pts(&clip_packets(HEVC_TS).1, &got);
}

#[test]
fn hevc_10_bit_with_b_frames_over_udp_is_the_clip() {
    let got = serve_and_compare(HEVC_TS, "h265", RtspTransport::Udp);
    assert_same_pts(&clip_packets(HEVC_TS).1, &got);
}

/// Raw elementary streams carry no times: GStreamer stamps every access unit with the same
/// RTP timestamp and sends them as fast as it reads them, so only the access units are
/// compared (`retina` counts one packet lost at the start of such a stream: not checked).
#[test]
fn raw_h264_and_hevc_elementary_streams_over_tcp_are_the_clips() {
    for (clip, codec) in [(H264_CLIP, "h264"), (HEVC_CLIP, "h265")] {
        let got = serve_and_compare_counting(clip, codec, RtspTransport::Tcp, false);
        assert!(got.iter().all(|p| p.pts == 0));
    }
}

fn network_error(result: Result<RtspSource, ReadError>) -> NetworkError {
    match result {
        Err(ReadError::Network(e)) => e,
        other => panic!("expected a network error, got {other:?}"),
    }
}

#[test]
fn nothing_listening_is_a_socket_error_at_once() {
    let url = format!("rtsp://127.0.0.1:{}/clip", support::free_port());
    let started = Instant::now();
    match network_error(RtspSource::open(&url, RtspOptions::default())) {
        NetworkError::Socket { source, .. } => {
            assert_eq!(
                source.kind(),
                std::io::ErrorKind::ConnectionRefused,
                "{source}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A peer that accepts the connection (the kernel's backlog) and never answers `DESCRIBE`.
#[test]
fn a_silent_peer_is_a_timeout_within_the_connect_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "rtsp://127.0.0.1:{}/clip",
        listener.local_addr().unwrap().port()
    );
    let options =
        RtspOptions::default().timeouts(Duration::from_millis(500), Duration::from_secs(1));
    let started = Instant::now();
    match network_error(RtspSource::open(&url, options)) {
        NetworkError::Timeout { after, peer } => {
            assert_eq!(after, Duration::from_millis(500));
            assert_eq!(peer, url);
        }
        other => panic!("{other:?}"),
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

/// The server process is killed after 10 access units: the next calls end in `Closed` (the
/// RTSP connection closed without an RTCP BYE) or `Timeout`, within the data timeout, and
/// the source stays ended.
#[test]
fn a_server_killed_mid_stream_is_closed_or_timeout_not_a_hang() {
    for transport in [RtspTransport::Tcp, RtspTransport::Udp] {
        let mut server = RtspServer::start(&common::data(H264_TS), "h264", Serve::default());
        let options = RtspOptions::default()
            .transport(transport)
            .timeouts(Duration::from_secs(5), Duration::from_secs(2));
        let mut source = RtspSource::open(&server.url(), options).unwrap();
        for _ in 0..10 {
            assert!(source.next_packet().unwrap().is_some());
        }
        server.kill();
        let killed = Instant::now();
        let error = loop {
            match source.next_packet() {
                Ok(Some(_)) => assert!(killed.elapsed() < Duration::from_secs(3)),
                Ok(None) => panic!("{transport:?}: a killed server is not a clean end"),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(
                error,
                ReadError::Network(NetworkError::Closed { .. } | NetworkError::Timeout { .. })
            ),
            "{transport:?}: {error:?}"
        );
        assert!(
            killed.elapsed() < Duration::from_secs(3),
            "{:?}",
            killed.elapsed()
        );
        assert!(matches!(
            source.next_packet(),
            Err(ReadError::Network(NetworkError::Closed { .. }))
        ));
    }
}

/// A server that stops sending but keeps its sockets open (the process frozen): the next
/// call ends in `Timeout` after the data timeout, and dropping the source (whose `TEARDOWN`
/// gets no answer) takes at most the teardown timeout.
#[test]
fn a_server_that_hangs_is_a_timeout_after_the_data_timeout() {
    for transport in [RtspTransport::Tcp, RtspTransport::Udp] {
        let mut server = RtspServer::start(&common::data(H264_TS), "h264", Serve::default());
        let data_timeout = Duration::from_millis(700);
        let options = RtspOptions::default()
            .transport(transport)
            .timeouts(Duration::from_secs(5), data_timeout);
        let mut source = RtspSource::open(&server.url(), options).unwrap();
        assert!(source.next_packet().unwrap().is_some());
        server.freeze();
        let frozen = Instant::now();
        let error = loop {
            match source.next_packet() {
                Ok(Some(_)) => assert!(frozen.elapsed() < Duration::from_secs(2)),
                other => break other.unwrap_err(),
            }
        };
        match error {
            ReadError::Network(NetworkError::Timeout { after, .. }) => {
                assert_eq!(after, data_timeout)
            }
            other => panic!("{transport:?}: {other:?}"),
        }
        let took = frozen.elapsed();
        assert!(
            took >= data_timeout && took < Duration::from_secs(2),
            "{took:?}"
        );
        let dropping = Instant::now();
        drop(source);
        assert!(
            dropping.elapsed() < Duration::from_millis(1500),
            "{:?}",
            dropping.elapsed()
        );
        server.kill();
    }
}

/// Dropped inside a tokio runtime (async code that got a source from a blocking thread): no
/// panic; the session is torn down without waiting.
#[test]
fn a_source_dropped_inside_async_code_does_not_panic() {
    let server = RtspServer::start(&common::data(H264_TS), "h264", Serve::default());
    let mut source = RtspSource::open(&server.url(), RtspOptions::default()).unwrap();
    assert!(source.next_packet().unwrap().is_some());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async move {
        assert!(matches!(source.next_packet(), Err(ReadError::Io(_))));
        drop(source);
    });
}

#[test]
fn credentials_are_checked_from_the_url_and_the_options() {
    let serve = Serve {
        credentials: Some(("viewer", "s3cret")),
        ..Serve::default()
    };
    let server = RtspServer::start(&common::data(H264_TS), "h264", serve);
    let port = server.port;
    for (url, options) in [
        (server.url(), RtspOptions::default()),
        (
            format!("rtsp://viewer:wrong@127.0.0.1:{port}/clip"),
            RtspOptions::default(),
        ),
        (
            server.url(),
            RtspOptions::default().credentials("viewer", "wrong"),
        ),
    ] {
        match network_error(RtspSource::open(&url, options)) {
            NetworkError::Unauthorized { peer, what } => {
                assert_eq!(peer, server.url());
                assert!(what.contains("401"), "{what}");
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    let url = format!("rtsp://viewer:s3cret@127.0.0.1:{port}/clip");
    let mut source = RtspSource::open(&url, RtspOptions::default()).unwrap();
    assert_eq!(source.peer(), server.url());
    assert!(source.next_packet().unwrap().is_some());
    let mut source = RtspSource::open(
        &server.url(),
        RtspOptions::default().credentials("viewer", "s3cret"),
    )
    .unwrap();
    assert!(source.next_packet().unwrap().is_some());
}

/// VP8 over RTP (GStreamer's `rtpvp8pay`, from the committed IVF clip): neither this crate's
/// RTSP source nor `retina` depacketizes it.
#[test]
fn a_codec_not_read_is_unsupported() {
    let server = RtspServer::start(&common::data("vp8_640x360.ivf"), "vp8", Serve::default());
    for options in [
        RtspOptions::default(),
        RtspOptions::default().stream(0),
        RtspOptions::default().stream(3),
    ] {
        match RtspSource::open(&server.url(), options) {
            Err(ReadError::Input(InputError::Unsupported { what })) => {
                assert!(
                    what.contains("video/vp8") || what.contains("stream 3"),
                    "{what}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

/// An access unit over `max_access_unit` is refused with `LimitExceeded` and dropped; the
/// session goes on to the end.
#[test]
fn access_units_over_the_limit_are_refused_and_the_stream_goes_on() {
    let limit = 1500;
    let (_, want) = clip_packets(H264_TS);
    let over = want.iter().filter(|p| p.data.len() > limit).count();
    assert!(over > 0 && over < want.len());
    let server = RtspServer::start(&common::data(H264_TS), "h264", Serve::default());
    let options = RtspOptions::default().max_access_unit(limit);
    let mut source = RtspSource::open(&server.url(), options).unwrap();
    let (mut refused, mut delivered) = (0, 0);
    loop {
        match source.next_packet() {
            Ok(Some(p)) => {
                assert!(p.data.len() <= limit);
                delivered += 1;
            }
            Ok(None) => break,
            Err(ReadError::Input(InputError::LimitExceeded { limit: l, .. })) => {
                assert_eq!(l, limit as u64);
                refused += 1;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(
        refused >= over,
        "{refused} refused, {over} over the limit in the clip"
    );
    assert_eq!(refused + delivered, want.len());
}

/// For the GPU machine, which has no GStreamer: writes what arrived over RTSP (TCP) from the
/// two MPEG-TS clips as Annex-B files, `h264_b3.rtsp.h264` and `hevc_main10.rtsp.hevc`, into
/// `$NVCG_RTSP_DUMP` (default `target/rtsp-dump`). Decoded there with
/// `examples/decode FILE --md5`, each frame's MD5 (column 6) must equal ffmpeg's decode of the
/// clip, `tests/data/ts/CLIP.ts.nv12.framemd5`. Run with
/// `cargo test -p nvcodec-input --features rtsp --test input_rtsp -- --ignored --exact received_clips_written_for_the_gpu`.
#[test]
#[ignore = "writes files for a GPU decode; run by hand"]
fn received_clips_written_for_the_gpu() {
    let dir = std::env::var_os("NVCG_RTSP_DUMP").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/rtsp-dump"),
        std::path::PathBuf::from,
    );
    std::fs::create_dir_all(&dir).unwrap();
    for (clip, codec, name) in [
        (H264_TS, "h264", "h264_b3.rtsp.h264"),
        (HEVC_TS, "h265", "hevc_main10.rtsp.hevc"),
    ] {
        let got = serve_and_compare(clip, codec, RtspTransport::Tcp);
        let bytes: Vec<u8> = got.iter().flat_map(|p| p.data.iter().copied()).collect();
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        println!(
            "{}: {} access units, {} bytes",
            path.display(),
            got.len(),
            bytes.len()
        );
    }
}
