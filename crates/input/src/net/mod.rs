//! Network sources: a URL names where the bytes come from ([`SourceUrl`]), and a receiver
//! hands out packets as each completes, with its own time and memory bounds.
//!
//! Invariant: every receiver here is bounded in memory (its datagram or frame buffer plus
//! its `LiveStream`'s or client's bound) and in time (a receive waits at most its timeout and
//! then reports [`NetworkError::Timeout`](crate::NetworkError::Timeout)); every failure is a
//! [`NetworkError`](crate::NetworkError) naming the URL or peer, reached as
//! [`ReadError::Network`](crate::ReadError::Network).
//!
//! * [`udp`]: `udp://HOST:PORT`, unicast or multicast, as an IPTV receiver reads MPEG-TS.
//! * `rtsp` (cargo feature `rtsp`): H.264 and HEVC from an RTSP server or camera, through
//!   the `retina` client.

#[cfg(feature = "rtsp")]
#[cfg_attr(docsrs, doc(cfg(feature = "rtsp")))]
pub mod rtsp;
pub mod udp;
mod url;

pub use udp::{UdpSource, UdpStats};
pub use url::{
    DEFAULT_RECV_BUFFER, DEFAULT_TIMEOUT, MAX_DATAGRAM, MAX_RECV_BUFFER, MAX_SOURCES, SourceUrl,
    UdpUrl,
};
