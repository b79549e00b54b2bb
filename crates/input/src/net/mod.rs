//! Network sources: a URL names where the bytes come from ([`SourceUrl`]), and a receiver
//! pushes what arrives into a [`LiveStream`](crate::LiveStream), lending out packets as each
//! completes.
//!
//! Invariant: every receiver here is bounded in memory (its datagram or frame buffer plus
//! its `LiveStream`'s bound) and in time (a receive waits at most its timeout and then
//! reports [`NetworkError::Timeout`](crate::NetworkError::Timeout)); every failure is a
//! [`NetworkError`](crate::NetworkError) naming the URL or peer, reached as
//! [`ReadError::Network`](crate::ReadError::Network).
//!
//! * [`udp`]: `udp://HOST:PORT`, unicast or multicast, as an IPTV receiver reads MPEG-TS.

pub mod udp;
mod url;

pub use udp::{UdpSource, UdpStats};
pub use url::{
    DEFAULT_RECV_BUFFER, DEFAULT_TIMEOUT, MAX_DATAGRAM, MAX_RECV_BUFFER, MAX_SOURCES, SourceUrl,
    UdpUrl,
};
