//! [`UdpSource`]: a `udp://` receiver, unicast or multicast, whose datagrams feed a
//! [`LiveStream`]; packets are pulled as each completes, as an IPTV receiver reads MPEG-TS.
//!
//! Invariant: the heap held is at most the datagram buffer (`pkt_size` + 1 bytes, at most
//! 64 KiB + 1) plus the `LiveStream`'s bound (for MPEG-TS: 4 × the largest access unit,
//! 128 KiB of window and a few KiB of tables; see [`LiveStream`]) plus a small constant,
//! whatever the sender does; the kernel holds at most its receive buffer besides
//! ([`UdpStats::receive_buffer`]). A blocking pull waits at most the URL's `timeout` for each
//! datagram, then fails with
//! [`NetworkError::Timeout`] and leaves the source usable. Losses never abort: datagrams the
//! kernel dropped for a full buffer are counted ([`UdpStats::kernel_drops`], Linux), a
//! datagram longer than `pkt_size` is counted and dropped ([`UdpStats::truncated`]), and the
//! transport-stream reader counts the continuity-counter gaps they leave and drops the torn
//! access units ([`UdpSource::transport_stats`]).
//! `crates/input/tests/input_udp.rs` and `input_udp_memory.rs` hold it to these bounds.
//!
//! Design, and what it trades:
//! * No receive thread and no user-space FIFO (ffmpeg has both): the kernel's receive buffer
//!   is the FIFO, asked large (4 MiB by default) to ride out bursts and a stalled consumer.
//!   One socket, one caller: nothing to synchronise, no thread per stream when a process
//!   reads hundreds. The cost: a caller that stops pulling for longer than the buffer lasts
//!   loses datagrams, counted, as a full FIFO would.
//! * One datagram, one `feed`: a datagram is copied once, into the `LiveStream`'s window.
//! * The pull is blocking with a timeout ([`next_packet`](UdpSource::next_packet)) or
//!   non-blocking ([`try_next_packet`](UdpSource::try_next_packet)); the socket is exposed
//!   for readiness polling (`AsFd`/`AsSocket`), so an event loop (epoll, mio) waits for
//!   many sources at once and calls the non-blocking pull when one is readable.
//! * Drops: Linux reports the socket's drop counter in a control message on each datagram
//!   (`SO_RXQ_OVFL`), read through `nix`'s safe `recvmsg`; drops after the last datagram
//!   show with the next one. Elsewhere the count is `None` and only the transport stream's
//!   counters tell losses.
//! * Arrival times ([`UdpSource::packet_arrival`]) are the kernel's receive times on Linux
//!   (`SO_TIMESTAMPNS`, in the same control message buffer), so a latency measured from them
//!   includes the time a datagram waited in the receive buffer.
//! * A datagram from any sender on the port is taken (as ffmpeg without `connect=1`), unless
//!   the URL's `sources=` names the senders of a multicast group.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::SystemTime;
#[cfg(target_os = "linux")]
use std::time::{Duration, UNIX_EPOCH};

use socket2::{Domain, Protocol, Socket, Type};

use super::UdpUrl;
use crate::{Codec, FormatHint, LiveStream, NetworkError, Packet, Result, StreamFormat, TsStats};

/// What a [`UdpSource`] received and lost so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UdpStats {
    /// Datagrams received (truncated ones included).
    pub datagrams: u64,
    /// Bytes fed to the stream (truncated datagrams' bytes excluded).
    pub bytes: u64,
    /// Datagrams the kernel dropped because the receive buffer was full (Linux's
    /// `SO_RXQ_OVFL`; shown with the next datagram received). `None` where the system does
    /// not tell.
    pub kernel_drops: Option<u64>,
    /// Datagrams longer than the URL's `pkt_size`: counted and dropped whole.
    pub truncated: u64,
    /// The receive buffer the kernel granted, as it reports it (`SO_RCVBUF`; Linux reports
    /// twice the bytes asked, for its bookkeeping, capped by `net.core.rmem_max`).
    pub receive_buffer: usize,
    /// The receive buffer asked for (the URL's `buffer_size`).
    pub requested_buffer: usize,
}

/// A `udp://` receiver: binds (or joins the multicast group), sizes the kernel's receive
/// buffer, and pushes each datagram into a [`LiveStream`], lending out packets as each
/// completes.
///
/// Bounds (see the module docs): heap ≤ `pkt_size` + 1 + the `LiveStream`'s bound + a small
/// constant; each blocking receive waits at most the URL's `timeout`.
///
/// # Examples
/// ```no_run
/// use nvcodec_input::FormatHint;
/// use nvcodec_input::net::{UdpSource, UdpUrl};
///
/// let url = UdpUrl::parse("udp://239.1.1.1:5000?localaddr=192.168.1.10")?;
/// let mut source = UdpSource::open(&url, FormatHint::Unknown)?;
/// while let Some(packet) = source.next_packet()? {
///     println!("{} bytes, pts {}", packet.data.len(), packet.pts);
/// }
/// # Ok::<(), nvcodec_input::ReadError>(())
/// ```
#[derive(Debug)]
pub struct UdpSource {
    socket: UdpSocket,
    url: UdpUrl,
    local: SocketAddr,
    live: LiveStream,
    /// `pkt_size` + 1 bytes: a datagram that fills it is longer than `pkt_size`.
    datagram: Vec<u8>,
    stats: UdpStats,
    nonblocking: bool,
    finished: bool,
    /// A stream error ended the source.
    failed: bool,
    #[cfg(target_os = "linux")]
    control: Vec<u8>,
    #[cfg(target_os = "linux")]
    last_drop_counter: u32,
    /// When the last datagram arrived.
    arrival: Option<SystemTime>,
    /// When the datagram that completed the packet ready (or last handed out) arrived.
    packet_arrival: Option<SystemTime>,
}

/// What one receive gave.
enum Received {
    /// A datagram was taken (fed, or counted as truncated).
    Datagram,
    /// Nothing arrived within the timeout (blocking) or nothing was waiting (non-blocking).
    Nothing,
}

impl UdpSource {
    /// Opens the receiver `url` names: a socket bound to its address (for a multicast group:
    /// bound to the group's port with `SO_REUSEADDR` and joined on `localaddr`'s interface),
    /// its receive buffer asked for `buffer_size` bytes; the bytes go to a [`LiveStream`] of
    /// format `hint` ([`FormatHint::Unknown`] detects it; MPEG-TS is told by its sync bytes).
    ///
    /// # Errors
    /// [`NetworkError::Address`] when a field of `url` is out of the range
    /// [`UdpUrl::parse`] allows ([`UdpUrl::check`]), or the host is not an address of this
    /// machine;
    /// [`NetworkError::Socket`] naming the call (`socket`, `bind`, joining the group,
    /// setting an option) when the system refuses it, e.g. a port in use.
    pub fn open(url: &UdpUrl, hint: FormatHint) -> Result<Self> {
        url.check()?;
        let name = url.to_string();
        let socket_error = |what: &str, source: std::io::Error| NetworkError::Socket {
            what: format!("{name}: {what}"),
            source,
        };
        let socket = Socket::new(
            Domain::for_address(url.addr),
            Type::DGRAM,
            Some(Protocol::UDP),
        )
        .map_err(|e| socket_error("socket()", e))?;
        if url.reuse {
            socket
                .set_reuse_address(true)
                .map_err(|e| socket_error("setting SO_REUSEADDR", e))?;
        }
        socket
            .set_recv_buffer_size(url.buffer_size)
            .map_err(|e| socket_error("setting SO_RCVBUF", e))?;
        let receive_buffer = socket
            .recv_buffer_size()
            .map_err(|e| socket_error("reading SO_RCVBUF", e))?;
        let bind_to = bind_address(url);
        socket.bind(&bind_to.into()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrNotAvailable {
                NetworkError::Address {
                    url: name.clone(),
                    what: format!("{} is not an address of this machine", bind_to.ip()),
                }
            } else {
                socket_error(&format!("bind({bind_to})"), e)
            }
        })?;
        match (url.addr.ip(), url.local_addr) {
            (IpAddr::V4(group), local) if group.is_multicast() => {
                let interface = match local {
                    Some(IpAddr::V4(ip)) => ip,
                    _ => Ipv4Addr::UNSPECIFIED,
                };
                let joined = if url.sources.is_empty() {
                    socket.join_multicast_v4(&group, &interface)
                } else {
                    join_sources(&socket, url, group, interface)
                };
                joined.map_err(|e| {
                    socket_error(
                        &format!(
                            "joining {group} on the interface of {interface} (a loopback \
                             interface needs multicast on: `ip link set lo multicast on`)"
                        ),
                        e,
                    )
                })?;
            }
            (IpAddr::V6(group), _) if group.is_multicast() => {
                socket
                    .join_multicast_v6(&group, 0)
                    .map_err(|e| socket_error(&format!("joining {group}"), e))?;
            }
            _ => {}
        }
        let socket: UdpSocket = socket.into();
        socket
            .set_read_timeout(Some(url.timeout))
            .map_err(|e| socket_error("setting SO_RCVTIMEO", e))?;
        let local = socket
            .local_addr()
            .map_err(|e| socket_error("getsockname()", e))?;
        #[cfg(target_os = "linux")]
        {
            use nix::sys::socket::{setsockopt, sockopt};
            setsockopt(&socket, sockopt::RxqOvfl, &1)
                .map_err(|e| socket_error("setting SO_RXQ_OVFL", e.into()))?;
            setsockopt(&socket, sockopt::ReceiveTimestampns, &true)
                .map_err(|e| socket_error("setting SO_TIMESTAMPNS", e.into()))?;
        }
        Ok(Self {
            socket,
            url: url.clone(),
            local,
            live: LiveStream::new(hint),
            datagram: vec![0; url.pkt_size.saturating_add(1)],
            stats: UdpStats {
                kernel_drops: cfg!(target_os = "linux").then_some(0),
                receive_buffer,
                requested_buffer: url.buffer_size,
                ..UdpStats::default()
            },
            nonblocking: false,
            finished: false,
            failed: false,
            #[cfg(target_os = "linux")]
            control: nix::cmsg_space!(u32, nix::sys::time::TimeSpec),
            #[cfg(target_os = "linux")]
            last_drop_counter: 0,
            arrival: None,
            packet_arrival: None,
        })
    }

    /// The next complete packet, receiving datagrams until one completes, each waited for at
    /// most the URL's `timeout`. `None` only after [`finish`](Self::finish), once the packets
    /// of what was received are all out, or after a stream error. The packet borrows the
    /// source until the next call.
    ///
    /// # Errors
    /// [`NetworkError::Timeout`] when no datagram arrived for the timeout, and
    /// [`NetworkError::Socket`] when receiving fails: the source stays usable, call again to
    /// keep waiting. The stream's errors ([`LiveStream::next_packet`]'s, or
    /// [`LiveStream::feed`]'s refusal of a datagram past the stream's bound): the source has
    /// ended then, and later pulls give `None`.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>> {
        if self.fill(true)? {
            self.live.next_packet()
        } else {
            Ok(None)
        }
    }

    /// The next complete packet from the datagrams already waiting, without blocking: `None`
    /// when they complete none (poll the socket for readability, then call again). Takes
    /// datagrams until a packet completes or none is waiting.
    ///
    /// # Errors
    /// As [`next_packet`](Self::next_packet), but never a timeout.
    pub fn try_next_packet(&mut self) -> Result<Option<Packet<'_>>> {
        if self.fill(false)? {
            self.live.next_packet()
        } else {
            Ok(None)
        }
    }

    /// Receives until a packet is ready (`true`), nothing more is waiting (non-blocking) or
    /// will be taken (`false`), or the wait timed out (blocking: the timeout error).
    fn fill(&mut self, blocking: bool) -> Result<bool> {
        if self.failed {
            return Ok(false);
        }
        self.set_nonblocking(!blocking)?;
        loop {
            match self.live.has_packet() {
                Ok(true) => {
                    // Every packet ready was completed by the last datagram fed: the loop
                    // stops feeding as soon as one is.
                    self.packet_arrival = self.arrival;
                    return Ok(true);
                }
                Ok(false) if self.finished || self.live.is_ended() => return Ok(false),
                Ok(false) => {}
                Err(e) => {
                    self.failed = true;
                    return Err(e);
                }
            }
            match self.receive()? {
                Received::Datagram => {}
                Received::Nothing if blocking => {
                    return Err(NetworkError::Timeout {
                        peer: self.url.to_string(),
                        after: self.url.timeout,
                    }
                    .into());
                }
                Received::Nothing => return Ok(false),
            }
        }
    }

    /// No more datagrams will be taken: the last packet completes at the end of what was
    /// received, and the pulls hand out what is left, then `None`.
    pub fn finish(&mut self) {
        self.finished = true;
        self.live.finish();
    }

    /// When the datagram that completed the packet last handed out arrived: the kernel's
    /// receive time on Linux (`SO_TIMESTAMPNS`, so time spent queued in the receive buffer
    /// counts), elsewhere when it was read; `None` before the first datagram. For a latency
    /// measurement, this is the packet's "in" time. A transport stream's video access unit
    /// (a PES without a length) completes only when the next one's first datagram arrives,
    /// so this is up to one frame interval after its own last byte came.
    pub fn packet_arrival(&self) -> Option<SystemTime> {
        self.packet_arrival
    }

    /// What was received and lost so far.
    pub fn stats(&self) -> UdpStats {
        self.stats
    }

    /// What the transport-stream reader met (continuity-counter gaps, packets lost, access
    /// units dropped), for MPEG-TS input once its format is known.
    pub fn transport_stats(&self) -> Option<TsStats> {
        self.live.transport_stats()
    }

    /// The address the socket is bound to (the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The URL opened.
    pub fn url(&self) -> &UdpUrl {
        &self.url
    }

    /// The codec, once the stream's header was read.
    pub fn codec(&self) -> Option<Codec> {
        self.live.codec()
    }

    /// The format, once told.
    pub fn format(&self) -> Option<StreamFormat> {
        self.live.format()
    }

    /// Heap bytes held now: the datagram buffer and the stream's.
    pub fn memory_footprint(&self) -> usize {
        self.datagram
            .capacity()
            .saturating_add(self.live.memory_footprint())
    }

    fn set_nonblocking(&mut self, nonblocking: bool) -> Result<()> {
        if self.nonblocking != nonblocking {
            self.socket
                .set_nonblocking(nonblocking)
                .map_err(|source| NetworkError::Socket {
                    what: format!("{}: setting O_NONBLOCK", self.url),
                    source,
                })?;
            self.nonblocking = nonblocking;
        }
        Ok(())
    }

    /// Takes one datagram: feeds it, or counts it as truncated.
    fn receive(&mut self) -> Result<Received> {
        let Some((len, truncated)) = self.receive_datagram()? else {
            return Ok(Received::Nothing);
        };
        self.stats.datagrams = self.stats.datagrams.saturating_add(1);
        let pkt_size = self.url.pkt_size;
        if truncated || len > pkt_size {
            self.stats.truncated = self.stats.truncated.saturating_add(1);
            return Ok(Received::Datagram);
        }
        let bytes = self.datagram.get(..len).unwrap_or_default();
        if let Err(e) = self.live.feed(bytes) {
            self.failed = true;
            return Err(e);
        }
        self.stats.bytes = self.stats.bytes.saturating_add(len as u64);
        Ok(Received::Datagram)
    }

    /// One `recvmsg`: the datagram's length and whether the kernel cut it, and the drop
    /// counter; `None` when nothing arrived (timeout, or nothing waiting).
    #[cfg(target_os = "linux")]
    fn receive_datagram(&mut self) -> Result<Option<(usize, bool)>> {
        use nix::errno::Errno;
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        use std::os::fd::AsRawFd;

        let fd = self.socket.as_raw_fd();
        loop {
            let mut iov = [std::io::IoSliceMut::new(&mut self.datagram)];
            let received = recvmsg::<()>(
                fd,
                &mut iov,
                Some(self.control.as_mut_slice()),
                MsgFlags::empty(),
            );
            let msg = match received {
                Ok(msg) => msg,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(None),
                Err(e) => {
                    return Err(NetworkError::Socket {
                        what: format!("{}: recvmsg()", self.url),
                        source: e.into(),
                    }
                    .into());
                }
            };
            let mut counter = None;
            let mut stamp = None;
            // A control buffer too small only loses the counter, never the datagram.
            if let Ok(cmsgs) = msg.cmsgs() {
                for cmsg in cmsgs {
                    match cmsg {
                        ControlMessageOwned::RxqOvfl(n) => counter = Some(n),
                        ControlMessageOwned::ScmTimestampns(t) => {
                            stamp = u64::try_from(t.tv_sec()).ok().and_then(|secs| {
                                let nanos = u32::try_from(t.tv_nsec()).ok()?;
                                UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
                            });
                        }
                        _ => {}
                    }
                }
            }
            let result = (msg.bytes, msg.flags.contains(MsgFlags::MSG_TRUNC));
            self.arrival = Some(stamp.unwrap_or_else(SystemTime::now));
            if let Some(n) = counter {
                // The kernel's counter is the socket's total since it was made, 32 bits.
                let new = n.wrapping_sub(self.last_drop_counter);
                self.last_drop_counter = n;
                self.stats.kernel_drops = Some(
                    self.stats
                        .kernel_drops
                        .unwrap_or(0)
                        .saturating_add(u64::from(new)),
                );
            }
            return Ok(Some(result));
        }
    }

    /// One `recv`: the datagram's length (`pkt_size` + 1 when it was longer); `None` when
    /// nothing arrived.
    #[cfg(not(target_os = "linux"))]
    fn receive_datagram(&mut self) -> Result<Option<(usize, bool)>> {
        use std::io::ErrorKind;
        loop {
            match self.socket.recv(&mut self.datagram) {
                Ok(len) => {
                    self.arrival = Some(SystemTime::now());
                    return Ok(Some((len, false)));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(None);
                }
                Err(source) => {
                    return Err(NetworkError::Socket {
                        what: format!("{}: recv()", self.url),
                        source,
                    }
                    .into());
                }
            }
        }
    }
}

/// Joins `group` for each of the URL's senders (`IP_ADD_SOURCE_MEMBERSHIP`).
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    windows
))]
fn join_sources(
    socket: &Socket,
    url: &UdpUrl,
    group: Ipv4Addr,
    interface: Ipv4Addr,
) -> std::io::Result<()> {
    url.sources
        .iter()
        .try_for_each(|source| socket.join_ssm_v4(source, &group, &interface))
}

/// Source-specific multicast is not offered here on this system.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    windows
)))]
fn join_sources(_: &Socket, _: &UdpUrl, _: Ipv4Addr, _: Ipv4Addr) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "source-specific multicast (`sources=`) is not supported on this system",
    ))
}

/// The address bound: the group's port for multicast (on Unix bound to the group itself,
/// so other groups on the same port are not received; Windows cannot bind a group), else
/// the URL's address.
fn bind_address(url: &UdpUrl) -> SocketAddr {
    let ip = url.addr.ip();
    if !ip.is_multicast() || cfg!(unix) {
        return url.addr;
    }
    let any = match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(any, url.addr.port())
}

#[cfg(unix)]
impl std::os::fd::AsFd for UdpSource {
    /// The socket, to poll for readability (then call
    /// [`try_next_packet`](UdpSource::try_next_packet)).
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsSocket for UdpSource {
    /// The socket, to poll for readability (then call
    /// [`try_next_packet`](UdpSource::try_next_packet)).
    fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
        self.socket.as_socket()
    }
}
