//! [`SourceUrl`] and [`UdpUrl`]: what a source string names, parsed without I/O.
//!
//! Invariant: parsing never resolves a name, opens a socket or panics, whatever the text;
//! a text that cannot be used is a [`NetworkError::Address`] naming it and the fault, and a
//! parsed [`UdpUrl`] prints (`Display`) as a URL that parses back to the same value.
//!
//! Why IP literals only for `udp://`: the host of a receive URL is a local address to bind
//! or a multicast group to join, both numbers in practice (IPTV channel lists are written so);
//! resolving a name would be a blocking DNS call hidden in a parser. Options follow ffmpeg's
//! `udp` protocol where they mean the same here; an option this crate does not know is
//! refused, so a misspelt one is not silently ignored.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::NetworkError;

/// The receive buffer asked of the kernel by default (`SO_RCVBUF`): 4 MiB, about 1.3 s of a
/// 25 Mbit/s multiplex, so a burst or a stalled consumer loses nothing for that long. The
/// kernel may grant less (Linux caps it at `net.core.rmem_max`); what it granted is in
/// [`UdpStats::receive_buffer`](super::UdpStats::receive_buffer).
pub const DEFAULT_RECV_BUFFER: usize = 4 << 20;

/// The largest receive buffer a URL may ask for (`buffer_size`): 1 GiB.
pub const MAX_RECV_BUFFER: usize = 1 << 30;

/// The most senders a `sources=` option may name.
pub const MAX_SOURCES: usize = 64;

/// How long a blocking receive waits for a datagram by default: 5 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest datagram received whole by default and at most (`pkt_size`): 64 KiB, more
/// than any UDP payload over IPv4 or IPv6 without jumbograms.
pub const MAX_DATAGRAM: usize = 1 << 16;

/// What a source string names: a file, a `udp://` receiver or an `rtsp://` stream.
///
/// # Examples
/// ```
/// use nvcodec_input::net::SourceUrl;
///
/// let url = SourceUrl::parse("udp://239.1.1.1:5000?localaddr=127.0.0.1")?;
/// let SourceUrl::Udp(udp) = url else { unreachable!() };
/// assert!(udp.is_multicast());
/// assert!(matches!(SourceUrl::parse("clip.ts")?, SourceUrl::File(_)));
/// # Ok::<(), nvcodec_input::NetworkError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceUrl {
    /// A path (a text with no `scheme://`, or a `file://` URL).
    File(PathBuf),
    /// A `udp://` receiver.
    Udp(UdpUrl),
    /// An `rtsp://` or `rtsps://` URL, kept as given (credentials included) for an RTSP
    /// client to parse.
    Rtsp(String),
}

impl SourceUrl {
    /// What `text` names: `udp://…` ([`UdpUrl::parse`]), `rtsp://…`/`rtsps://…` (kept as
    /// text), `file://PATH`, or, with no `scheme://`, a path.
    ///
    /// # Errors
    /// [`NetworkError::Address`] for an unknown scheme or a `udp://` URL that
    /// [`UdpUrl::parse`] refuses.
    pub fn parse(text: &str) -> Result<Self, NetworkError> {
        let Some((scheme, rest)) = text.split_once("://") else {
            return Ok(Self::File(PathBuf::from(text)));
        };
        let valid_scheme = !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !valid_scheme {
            // `C:\dir\a://b` or `dir/x://y`: a path that happens to contain `://`.
            return Ok(Self::File(PathBuf::from(text)));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "udp" => UdpUrl::parse(text).map(Self::Udp),
            "rtsp" | "rtsps" => Ok(Self::Rtsp(text.to_owned())),
            "file" => Ok(Self::File(PathBuf::from(rest))),
            other => Err(address(
                text,
                format!("unknown scheme `{other}`: udp://, rtsp://, rtsps://, file:// or a path"),
            )),
        }
    }
}

impl std::str::FromStr for SourceUrl {
    type Err = NetworkError;

    fn from_str(text: &str) -> Result<Self, NetworkError> {
        Self::parse(text)
    }
}

/// A `udp://HOST:PORT?OPTIONS` receive URL.
///
/// `HOST` is a multicast group to join (`239.1.1.1`, `[ff15::1]`) or a local address to bind
/// (`127.0.0.1`, `0.0.0.0`; empty, as in VLC's `udp://@:5000`, means every interface). A
/// leading `@` is allowed. `PORT` may be 0 for a unicast receiver (the system picks one:
/// [`UdpSource::local_addr`](super::UdpSource::local_addr)). Unlike ffmpeg, which binds the
/// wildcard address for a unicast HOST and treats HOST as the sender, HOST here is the
/// address bound (as VLC's `udp://@HOST:PORT`); datagrams from any sender are taken, unless
/// `sources=` names them. HOST is an IP literal: names are not resolved (parsing does no I/O).
///
/// Options (`&`-separated, ffmpeg's names and units):
///
/// | option | meaning | default |
/// |---|---|---|
/// | `localaddr=IP` | IPv4 multicast: the interface (its address) the group is joined on | the system's choice |
/// | `buffer_size=BYTES` | the receive buffer asked of the kernel (`SO_RCVBUF`), 1 to 1 GiB | [`DEFAULT_RECV_BUFFER`] |
/// | `timeout=MICROSECONDS` | how long a blocking receive waits for a datagram, > 0 | [`DEFAULT_TIMEOUT`] |
/// | `pkt_size=BYTES` | the largest datagram taken whole (1 to 65536); a longer one is counted as truncated and dropped | [`MAX_DATAGRAM`] |
/// | `sources=IP[,IP…]` | IPv4 multicast: take the group's datagrams from these senders only (source-specific multicast, IGMPv3), at most [`MAX_SOURCES`] | any sender |
/// | `reuse=0\|1` | `SO_REUSEADDR`, so several receivers share the port | 1 for multicast, 0 for unicast |
/// | `fifo_size=N`, `overrun_nonfatal=0\|1` | accepted and ignored: there is no receive thread and FIFO; datagrams wait in the kernel's buffer, and an overrun is never fatal (drops are counted) | |
///
/// # Examples
/// ```
/// use nvcodec_input::net::UdpUrl;
///
/// let url = UdpUrl::parse("udp://@239.1.1.1:5000?localaddr=127.0.0.1&timeout=2000000")?;
/// assert!(url.is_multicast());
/// assert_eq!(url.timeout, std::time::Duration::from_secs(2));
/// assert_eq!(UdpUrl::parse(&url.to_string())?, url);
/// # Ok::<(), nvcodec_input::NetworkError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UdpUrl {
    /// The multicast group and port, or the local address and port bound.
    pub addr: SocketAddr,
    /// IPv4 multicast: the address of the interface the group is joined on.
    pub local_addr: Option<IpAddr>,
    /// The receive buffer asked of the kernel, in bytes.
    pub buffer_size: usize,
    /// How long a blocking receive waits for a datagram.
    pub timeout: Duration,
    /// The largest datagram taken whole, in bytes.
    pub pkt_size: usize,
    /// Whether the port is bound with `SO_REUSEADDR`.
    pub reuse: bool,
    /// IPv4 multicast: the only senders whose datagrams are taken (empty: any).
    pub sources: Vec<Ipv4Addr>,
}

impl UdpUrl {
    /// Parses a `udp://` URL (see the type's docs for the syntax and options).
    ///
    /// # Errors
    /// [`NetworkError::Address`] naming the fault: another scheme, a host that is not an IP
    /// literal, a missing or bad port, port 0 for a multicast group, an unknown option, a
    /// value out of range, `localaddr` or `sources` on a unicast or IPv6 URL.
    pub fn parse(text: &str) -> Result<Self, NetworkError> {
        let bad = |what: String| address(text, what);
        let rest = match text.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("udp") => rest,
            _ => return Err(bad("not a udp:// URL".into())),
        };
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let authority = authority.strip_suffix('/').unwrap_or(authority);
        let authority = authority.strip_prefix('@').unwrap_or(authority);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address without its closing `]`".into()))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| bad("no `:PORT` after the address".into()))?;
            let ip = host
                .parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad(format!("`{host}` is not an IPv6 address")))?;
            (IpAddr::V6(ip), port)
        } else {
            let (host, port) = authority
                .rsplit_once(':')
                .ok_or_else(|| bad("no `:PORT`".into()))?;
            let ip = if host.is_empty() {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            } else {
                host.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| {
                    bad(format!(
                        "`{host}` is not an IPv4 address (names are not resolved; \
                         IPv6 goes in brackets)"
                    ))
                })?
            };
            (ip, port)
        };
        let port = parse_number(port)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| bad(format!("`{port}` is not a port (0 to 65535)")))?;
        let multicast = host.is_multicast();
        if multicast && port == 0 {
            return Err(bad("a multicast group needs a port other than 0".into()));
        }
        let mut url = Self {
            addr: SocketAddr::new(host, port),
            local_addr: None,
            buffer_size: DEFAULT_RECV_BUFFER,
            timeout: DEFAULT_TIMEOUT,
            pkt_size: MAX_DATAGRAM,
            reuse: multicast,
            sources: Vec::new(),
        };
        for option in query.into_iter().flat_map(|q| q.split('&')) {
            if option.is_empty() {
                continue;
            }
            let (key, value) = option.split_once('=').unwrap_or((option, ""));
            url.set_option(key, value).map_err(bad)?;
        }
        if !(url.sources.is_empty() || multicast && host.is_ipv4()) {
            return Err(bad(
                "`sources` filters the senders of an IPv4 multicast group".into(),
            ));
        }
        if let Some(local) = url.local_addr {
            if !multicast {
                return Err(bad(
                    "`localaddr` picks a multicast interface; a unicast URL's host is the \
                     address bound"
                        .into(),
                ));
            }
            if !(local.is_ipv4() && host.is_ipv4()) {
                return Err(bad(
                    "`localaddr` needs an IPv4 group and an IPv4 interface address (IPv6 \
                     groups are joined on the system's default interface)"
                        .into(),
                ));
            }
        }
        Ok(url)
    }

    fn set_option(&mut self, key: &str, value: &str) -> Result<(), String> {
        let number = |min: u64, max: u64| {
            parse_number(value)
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| format!("`{key}={value}`: expected a number from {min} to {max}"))
        };
        match key {
            "localaddr" => {
                let ip = value
                    .parse::<IpAddr>()
                    .map_err(|_| format!("`localaddr={value}` is not an IP address"))?;
                if ip.is_multicast() {
                    return Err(format!("`localaddr={value}` is a multicast address"));
                }
                self.local_addr = Some(ip);
            }
            "buffer_size" => self.buffer_size = to_usize(number(1, MAX_RECV_BUFFER as u64)?),
            "timeout" => self.timeout = Duration::from_micros(number(1, u64::MAX)?),
            "pkt_size" => self.pkt_size = to_usize(number(1, MAX_DATAGRAM as u64)?),
            "reuse" => self.reuse = number(0, 1)? == 1,
            "sources" => {
                let mut sources = Vec::new();
                for source in value.split(',') {
                    if sources.len() == MAX_SOURCES {
                        return Err(format!("`sources`: more than {MAX_SOURCES} senders"));
                    }
                    let ip = source.parse::<Ipv4Addr>().ok().filter(|ip| {
                        !ip.is_multicast() && !ip.is_unspecified() && !ip.is_broadcast()
                    });
                    sources.push(ip.ok_or_else(|| {
                        format!("`sources`: `{source}` is not an IPv4 sender address")
                    })?);
                }
                self.sources = sources;
            }
            "fifo_size" => {
                number(0, u64::MAX)?;
            }
            "overrun_nonfatal" => {
                number(0, 1)?;
            }
            _ => {
                return Err(format!(
                    "unknown option `{key}`: localaddr, buffer_size, timeout, pkt_size, \
                     reuse, sources (fifo_size and overrun_nonfatal are ignored)"
                ));
            }
        }
        Ok(())
    }

    /// `Ok` when the fields are what [`parse`](Self::parse) could have made (they are public,
    /// so a caller may have set any value): the same ranges and rules, any non-zero timeout.
    ///
    /// # Errors
    /// [`NetworkError::Address`] naming the first field out of range.
    pub fn check(&self) -> Result<(), NetworkError> {
        let text = self.to_string();
        if self.timeout.is_zero() {
            return Err(address(&text, "the timeout must be more than 0"));
        }
        let mut reparsed = Self::parse(&text)?;
        reparsed.timeout = self.timeout;
        if reparsed != *self {
            return Err(address(
                &text,
                "an address no URL gives (an IPv6 scope or flow label)",
            ));
        }
        Ok(())
    }

    /// Whether the host is a multicast group (joined) rather than a local address (bound).
    pub fn is_multicast(&self) -> bool {
        self.addr.ip().is_multicast()
    }
}

impl fmt::Display for UdpUrl {
    /// The URL with every option that is not its default, so it parses back to `self`
    /// (`timeout` in whole microseconds, at least 1).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "udp://{}", self.addr)?;
        let mut sep = '?';
        let mut option = |f: &mut fmt::Formatter<'_>, text: String| {
            let written = write!(f, "{sep}{text}");
            sep = '&';
            written
        };
        if let Some(local) = self.local_addr {
            option(f, format!("localaddr={local}"))?;
        }
        if self.buffer_size != DEFAULT_RECV_BUFFER {
            option(f, format!("buffer_size={}", self.buffer_size))?;
        }
        if self.timeout != DEFAULT_TIMEOUT {
            option(f, format!("timeout={}", self.timeout.as_micros().max(1)))?;
        }
        if self.pkt_size != MAX_DATAGRAM {
            option(f, format!("pkt_size={}", self.pkt_size))?;
        }
        if self.reuse != self.is_multicast() {
            option(f, format!("reuse={}", u8::from(self.reuse)))?;
        }
        if !self.sources.is_empty() {
            let list: Vec<String> = self.sources.iter().map(Ipv4Addr::to_string).collect();
            option(f, format!("sources={}", list.join(",")))?;
        }
        Ok(())
    }
}

/// Decimal digits only (no sign, no spaces), at most `u64::MAX`.
fn parse_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A value already checked to be at most [`MAX_RECV_BUFFER`] or [`MAX_DATAGRAM`].
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn address(url: &str, what: impl Into<String>) -> NetworkError {
    NetworkError::Address {
        url: url.to_owned(),
        what: what.into(),
    }
}
