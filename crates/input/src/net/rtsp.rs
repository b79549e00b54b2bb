//! [`RtspSource`]: H.264 and HEVC access units from an RTSP server (`rtsp://` URL), over RTP
//! interleaved in the RTSP TCP connection or over UDP, as Annex-B packets a decoder can start on.
//!
//! Invariant: every packet handed out is one whole access unit in Annex-B form (a 4-byte start
//! code before each NAL unit), and every random-access access unit (IDR, or HEVC IRAP) begins
//! with the stream's current parameter sets (SPS and PPS; VPS, SPS and PPS for HEVC), so a
//! decoder can start at the first one (and before any access unit after which they changed);
//! parameter sets the server sends inside the stream are removed from where they were and
//! put there instead, as the latest the session has seen (`retina` keeps one of each; so a
//! stream that uses several PPSs or SPSs at once cannot be read through it). The RTSP
//! client is `retina`; this module picks the stream, drives it and maps its errors.
//!
//! **Why a private runtime.** `retina` is asynchronous (tokio). The source owns a
//! current-thread tokio runtime and runs it only inside [`RtspSource::open`],
//! [`RtspSource::next_packet`] and `drop`: no thread, no channel, no queue of frames between
//! network and caller. What arrives while the caller is not pulling waits in the kernel's
//! socket buffers (TCP: the server is then slowed by flow control; UDP: the kernel drops what
//! overflows the socket buffer, counted by [`RtspSource::lost_packets`] from RTP sequence
//! gaps), and the RTSP keep-alives are sent while pulling, so a caller that stops pulling for
//! longer than the server's session timeout (60 s by default) loses the session. A background
//! thread would hide those stalls behind an unbounded or lossy queue; a caller that wants one
//! can run the source on its own thread. The calls block, so they must not be made from
//! inside a tokio runtime's worker: they return an error there instead of blocking it.
//!
//! **Time.** [`RtspOptions::connect_timeout`] bounds `open` as a whole (TCP connect,
//! `DESCRIBE`, `SETUP`, `PLAY`); [`RtspOptions::data_timeout`] bounds each `next_packet`:
//! no complete access unit of the chosen stream within it is [`NetworkError::Timeout`]
//! (RTCP and other traffic do not count); `drop`, and an error that ends the session, wait
//! at most [`RtspOptions::teardown_timeout`] more for the `TEARDOWN` to be answered.
//!
//! **Memory.** The source holds the access unit lent out (at most
//! [`RtspOptions::max_access_unit`] bytes, else [`InputError::LimitExceeded`]). `retina`
//! holds a receive ring buffer for the RTSP connection and one per UDP socket (64 KiB each
//! to start), which grows in powers of two, and does not shrink, to keep the RTP payloads
//! of the access unit being assembled, plus that access unit's copy when it is complete:
//! the peak is about three times the largest access unit plus the initial buffers. Nothing
//! in `retina` caps an access unit: one the server never ends grows until
//! [`RtspOptions::data_timeout`] passes without a complete access unit, which ends the
//! session and frees it all. So the bound there is what the server can send within
//! `data_timeout`; `max_access_unit` caps what is handed out, checked once `retina` has
//! assembled the access unit.
//!
//! **What reconnects: nothing.** An error from `next_packet` other than
//! [`InputError::LimitExceeded`] ends the session (later calls return
//! [`NetworkError::Closed`]); the error says why ([`NetworkError::Timeout`]: nothing
//! arrived; [`NetworkError::Closed`]: the server closed the connection or the session;
//! [`NetworkError::Protocol`]: it sent what `retina` cannot follow), and the caller decides
//! whether to [`open`](RtspSource::open) again. A stream the server ends cleanly (an RTCP
//! BYE from its sender; what still arrives within 200 ms after it is delivered, since over
//! UDP the BYE can overtake the last RTP packets) ends with `Ok(None)`; the RTSP connection
//! closing without a BYE is [`NetworkError::Closed`], since a server that crashed looks the
//! same. Packets lost on the way (UDP) are not retried: `retina` drops the damaged access
//! unit and the loss is counted.
//!
//! **Errors** map from `retina`'s, which are opaque values with a message: the status of an
//! RTSP response (401 and 403 are [`NetworkError::Unauthorized`], 404 is
//! [`NetworkError::Address`]) and the kind of the failure (connect and socket errors keep the
//! operating system's error code as [`NetworkError::Socket`]'s source).
//!
//! [`InputError::LimitExceeded`]: crate::InputError::LimitExceeded

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use retina::client::{
    Credentials, Demuxed, PlayOptions, Session, SessionGroup, SessionOptions, SetupOptions,
    TcpTransportOptions, Transport, UdpTransportOptions,
};
use retina::codec::h26x::Framing;
use retina::codec::{CodecItem, FrameFormat, ParameterSetInsertion, ParametersRef};
use tokio::runtime::Runtime;
use url::Url;

use crate::{Codec, InputError, NetworkError, Packet, ReadError, Result};

/// Largest access unit [`RtspOptions::default`] accepts: 64 MiB, the Annex-B reader's limit.
#[cfg_attr(docsrs, doc(cfg(feature = "rtsp")))]
pub const DEFAULT_MAX_ACCESS_UNIT: usize = 64 << 20;

/// How RTP travels from the server.
#[cfg_attr(docsrs, doc(cfg(feature = "rtsp")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RtspTransport {
    /// Interleaved in the RTSP TCP connection: one connection, passes NAT and firewalls, no
    /// loss (a slow reader slows the server). The default.
    #[default]
    Tcp,
    /// RTP and RTCP over two UDP sockets per stream (ports chosen by this machine): lower
    /// latency under loss, but what the network or the socket buffer drops is lost.
    Udp,
}

/// A user name and password for RTSP authentication (Basic or Digest, as the server asks).
#[cfg_attr(docsrs, doc(cfg(feature = "rtsp")))]
#[derive(Clone, PartialEq, Eq)]
pub struct RtspCredentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for RtspCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtspCredentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// How [`RtspSource::open`] connects and what it accepts. `RtspOptions::default()` is TCP,
/// 10 s to open, 5 s between access units, 1 s for the teardown, the first H.264 or HEVC
/// video stream, access units up to [`DEFAULT_MAX_ACCESS_UNIT`].
#[cfg_attr(docsrs, doc(cfg(feature = "rtsp")))]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RtspOptions {
    /// TCP-interleaved or UDP.
    pub transport: RtspTransport,
    /// The bound on [`RtspSource::open`]: connect, `DESCRIBE`, `SETUP` and `PLAY` together.
    pub connect_timeout: Duration,
    /// The bound on each [`RtspSource::next_packet`]: no complete access unit within it is
    /// [`NetworkError::Timeout`].
    pub data_timeout: Duration,
    /// How long dropping the source waits for the server to answer the `TEARDOWN`.
    pub teardown_timeout: Duration,
    /// Credentials; when `None`, those in the URL (`rtsp://user:pass@host/...`) are used.
    pub credentials: Option<RtspCredentials>,
    /// Which stream: the index into the session description's media (`m=` lines, 0-based).
    /// `None`: the first H.264 or HEVC video stream.
    pub stream: Option<usize>,
    /// Largest access unit handed out, in bytes (parameter sets included).
    pub max_access_unit: usize,
}

impl Default for RtspOptions {
    fn default() -> Self {
        Self {
            transport: RtspTransport::Tcp,
            connect_timeout: Duration::from_secs(10),
            data_timeout: Duration::from_secs(5),
            teardown_timeout: Duration::from_secs(1),
            credentials: None,
            stream: None,
            max_access_unit: DEFAULT_MAX_ACCESS_UNIT,
        }
    }
}

impl RtspOptions {
    /// The same options with `transport`.
    #[must_use]
    pub fn transport(mut self, transport: RtspTransport) -> Self {
        self.transport = transport;
        self
    }

    /// The same options with both timeouts: `connect` for opening, `data` between packets.
    #[must_use]
    pub fn timeouts(mut self, connect: Duration, data: Duration) -> Self {
        self.connect_timeout = connect;
        self.data_timeout = data;
        self
    }

    /// The same options with credentials (they take precedence over the URL's).
    #[must_use]
    pub fn credentials(mut self, username: &str, password: &str) -> Self {
        self.credentials = Some(RtspCredentials {
            username: username.to_owned(),
            password: password.to_owned(),
        });
        self
    }

    /// The same options picking media `index` of the session description.
    #[must_use]
    pub fn stream(mut self, index: usize) -> Self {
        self.stream = Some(index);
        self
    }

    /// The same options with the largest access unit accepted.
    #[must_use]
    pub fn max_access_unit(mut self, bytes: usize) -> Self {
        self.max_access_unit = bytes;
        self
    }
}

/// One H.264 or HEVC stream of an RTSP presentation, pulled as Annex-B access units with
/// RTP timestamps; see the [module documentation](self) for the bounds and what reconnects.
#[cfg_attr(docsrs, doc(cfg(feature = "rtsp")))]
pub struct RtspSource {
    /// `None` only while dropping.
    runtime: Option<Runtime>,
    group: Arc<SessionGroup>,
    session: Option<Demuxed>,
    stream_id: usize,
    codec: Codec,
    clock_rate: u32,
    peer: String,
    data_timeout: Duration,
    teardown_timeout: Duration,
    max_access_unit: usize,
    packet: Vec<u8>,
    lost_packets: u64,
    /// An RTCP BYE came: what is still on the way is taken until [`BYE_LINGER`] passes.
    draining: bool,
    ended: bool,
}

impl std::fmt::Debug for RtspSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtspSource")
            .field("peer", &self.peer)
            .field("codec", &self.codec)
            .field("stream_id", &self.stream_id)
            .field("open", &self.session.is_some())
            .field("lost_packets", &self.lost_packets)
            .finish_non_exhaustive()
    }
}

impl RtspSource {
    /// Connects to `url`, picks the stream, sets it up and starts it playing.
    ///
    /// # Errors
    ///
    /// [`NetworkError::Address`]: the URL is not an `rtsp://` URL with a host, or the server
    /// has nothing at its path (404); [`NetworkError::Unauthorized`]: the server refused the
    /// credentials (or asked for some and none were given); [`NetworkError::Timeout`]:
    /// all of it did not finish within [`RtspOptions::connect_timeout`];
    /// [`NetworkError::Socket`]: the connection or a UDP socket failed here (nothing
    /// listening is `ConnectionRefused`); [`NetworkError::Closed`] or
    /// [`NetworkError::Protocol`]: the server hung up or answered what `retina` cannot
    /// follow; [`InputError::Unsupported`]: the chosen stream (or every stream, when none is
    /// chosen) is not H.264 or HEVC video. An error when called inside a tokio runtime.
    pub fn open(url: &str, options: RtspOptions) -> Result<Self> {
        let (url, url_credentials) = split_credentials(url)?;
        let peer = url.to_string();
        refuse_inside_runtime(&peer)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| NetworkError::Socket {
                what: format!("{peer}: start the RTSP client's runtime"),
                source,
            })?;
        let group = Arc::new(SessionGroup::default());
        let credentials = options.credentials.clone().or(url_credentials);
        let session_options = SessionOptions::default()
            .creds(credentials.map(|c| Credentials {
                username: c.username,
                password: c.password,
            }))
            .session_group(group.clone())
            .user_agent(concat!("nvcodec-input/", env!("CARGO_PKG_VERSION")).to_owned());
        let start = Self::start(url, session_options, &options, &peer);
        let started = runtime.block_on(with_deadline(options.connect_timeout, start));
        let (session, stream_id, codec, clock_rate) = match started {
            Some(result) => result?,
            None => {
                return Err(NetworkError::Timeout {
                    peer,
                    after: options.connect_timeout,
                }
                .into());
            }
        };
        Ok(Self {
            runtime: Some(runtime),
            group,
            session: Some(session),
            stream_id,
            codec,
            clock_rate,
            peer,
            data_timeout: options.data_timeout,
            teardown_timeout: options.teardown_timeout,
            max_access_unit: options.max_access_unit,
            packet: Vec::new(),
            lost_packets: 0,
            draining: false,
            ended: false,
        })
    }

    async fn start(
        url: Url,
        session_options: SessionOptions,
        options: &RtspOptions,
        peer: &str,
    ) -> Result<(Demuxed, usize, Codec, u32)> {
        let mut session = Session::describe(url, session_options)
            .await
            .map_err(|e| classify(&e, peer, "DESCRIBE"))?;
        let (stream_id, codec, clock_rate) =
            pick_stream(session.streams(), options.stream).map_err(|e| e.in_input(peer))?;
        let transport = match options.transport {
            RtspTransport::Tcp => Transport::Tcp(TcpTransportOptions::default()),
            RtspTransport::Udp => Transport::Udp(UdpTransportOptions::default()),
        };
        // Annex-B, and parameter sets placed here rather than by `retina` (which puts them
        // before IDR access units only, not before an HEVC CRA or BLA, and drops in-band ones).
        let format = FrameFormat {
            h26x_framing: Framing::AnnexB,
            parameter_set_insertion: ParameterSetInsertion::Never,
            ..FrameFormat::SIMPLE
        };
        let setup = SetupOptions::default()
            .transport(transport)
            .frame_format(format);
        session
            .setup(stream_id, setup)
            .await
            .map_err(|e| classify(&e, peer, "SETUP"))?;
        let playing = session
            .play(PlayOptions::default())
            .await
            .map_err(|e| classify(&e, peer, "PLAY"))?;
        let demuxed = playing.demuxed().map_err(|e| classify(&e, peer, "PLAY"))?;
        Ok((demuxed, stream_id, codec, clock_rate))
    }

    /// The next access unit of the stream, waiting for it at most
    /// [`RtspOptions::data_timeout`]; `None` once the server has ended the stream (RTCP BYE).
    ///
    /// The packet is Annex-B (4-byte start codes), parameter sets before each random-access
    /// access unit (see the [module documentation](self)); `pts` is its RTP timestamp in
    /// the stream's clock ([`clock_rate`](Self::clock_rate), 90 kHz for H.264 and HEVC),
    /// counted from the timestamp the server announced for the start of `PLAY` and extended
    /// past the 32-bit wrap. Servers stamp access units with presentation time as RFC 6184
    /// and RFC 7798 ask; GStreamer, serving a raw elementary stream that carries no
    /// presentation times, stamps them with decode times instead.
    ///
    /// # Errors
    ///
    /// [`NetworkError::Timeout`] (no access unit within the data timeout),
    /// [`NetworkError::Closed`] (the connection or session ended without a clean end, or
    /// an earlier error ended it), [`NetworkError::Protocol`] (RTP or RTSP `retina` cannot
    /// follow), [`NetworkError::Socket`]; these end the session. An access unit over
    /// [`RtspOptions::max_access_unit`] is [`InputError::LimitExceeded`] and is dropped;
    /// the session goes on.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>> {
        if self.ended {
            return Ok(None);
        }
        refuse_inside_runtime(&self.peer)?;
        let (Some(session), Some(runtime)) = (self.session.as_mut(), self.runtime.as_ref()) else {
            return Err(NetworkError::Closed {
                peer: self.peer.clone(),
                what: "an earlier error ended the session; open the source again".to_owned(),
            }
            .into());
        };
        let stream_id = self.stream_id;
        let draining = &mut self.draining;
        let next_frame = async {
            loop {
                let item = if *draining {
                    match tokio::time::timeout(BYE_LINGER, session.next()).await {
                        Ok(item) => item,
                        Err(_) => return Pulled::Bye,
                    }
                } else {
                    session.next().await
                };
                match item {
                    Some(Ok(CodecItem::VideoFrame(frame))) if frame.stream_id() == stream_id => {
                        return Pulled::Frame(frame);
                    }
                    Some(Ok(CodecItem::Rtcp(rtcp)))
                        if rtcp.stream_id() == stream_id
                            && rtcp.pkts().any(|p| p.payload_type() == RTCP_BYE) =>
                    {
                        *draining = true;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Pulled::Failed(e),
                    None if *draining => return Pulled::Bye,
                    None => return Pulled::ConnectionClosed,
                }
            }
        };
        let outcome = runtime.block_on(with_deadline(self.data_timeout, next_frame));
        let frame = match outcome {
            Some(Pulled::Frame(frame)) => frame,
            Some(Pulled::Bye) => {
                self.ended = true;
                self.close();
                return Ok(None);
            }
            Some(Pulled::ConnectionClosed) => {
                self.close();
                return Err(NetworkError::Closed {
                    peer: self.peer.clone(),
                    what: "the server closed the RTSP connection without ending the stream \
                           (no RTCP BYE)"
                        .to_owned(),
                }
                .into());
            }
            Some(Pulled::Failed(e)) => {
                self.close();
                return Err(classify(&e, &self.peer, "RTP"));
            }
            None => {
                self.close();
                return Err(NetworkError::Timeout {
                    peer: self.peer.clone(),
                    after: self.data_timeout,
                }
                .into());
            }
        };
        self.lost_packets = self.lost_packets.saturating_add(u64::from(frame.loss()));
        let needs_parameters = frame.has_new_parameters()
            || frame.is_random_access_point()
            || starts_decoding(self.codec, frame.data());
        let parameters = match self
            .session
            .as_ref()
            .and_then(|s| s.streams().get(stream_id))
        {
            Some(stream) if needs_parameters => match stream.parameters() {
                Some(ParametersRef::Video(video)) => video.extra_data(),
                _ => &[],
            },
            _ => &[],
        };
        let len = parameters.len().saturating_add(frame.data().len());
        if len > self.max_access_unit {
            return Err(InputError::limit(
                format!(
                    "{}: access unit of {len} bytes at RTP time {}",
                    self.peer,
                    frame.timestamp().timestamp()
                ),
                u64::try_from(self.max_access_unit).unwrap_or(u64::MAX),
            )
            .into());
        }
        let pts = frame.timestamp().elapsed();
        if parameters.is_empty() {
            self.packet = frame.into_data();
        } else {
            self.packet.clear();
            self.packet.reserve(len);
            self.packet.extend_from_slice(parameters);
            self.packet.extend_from_slice(frame.data());
        }
        Ok(Some(Packet {
            data: &self.packet,
            pts,
        }))
    }

    /// The stream's codec: [`Codec::H264`] or [`Codec::Hevc`].
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The RTP clock rate of the stream, the unit of [`Packet::pts`]: 90 000 for H.264 and
    /// HEVC.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// RTP packets lost so far (sequence-number gaps before delivered access units).
    pub fn lost_packets(&self) -> u64 {
        self.lost_packets
    }

    /// The URL without credentials, as errors name it.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Ends the session: drops it inside the runtime (`retina` tears it down on a task of
    /// that runtime) and waits for the teardown at most `teardown_timeout`.
    /// Inside another tokio runtime (the source dropped in async code) it does not wait.
    fn close(&mut self) {
        let (Some(session), Some(runtime)) = (self.session.take(), self.runtime.as_ref()) else {
            return;
        };
        let guard = runtime.enter();
        drop(session);
        drop(guard);
        if tokio::runtime::Handle::try_current().is_err() {
            let group = self.group.clone();
            let wait = async move { group.await_teardown().await };
            let _ = runtime.block_on(with_deadline(self.teardown_timeout, wait));
        }
    }
}

impl Drop for RtspSource {
    /// Tears the session down (see `close`), then stops the runtime; inside another tokio
    /// runtime, where dropping a runtime would panic, without waiting for its tasks.
    fn drop(&mut self) {
        self.close();
        if let Some(runtime) = self.runtime.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background();
            }
        }
    }
}

/// Whether the access unit `au` (Annex-B) holds a picture a decoder can start at: an H.264
/// IDR slice (NAL type 5) or an HEVC IRAP picture (BLA, IDR, CRA: types 16 to 23).
fn starts_decoding(codec: Codec, au: &[u8]) -> bool {
    crate::start_code::units(au).any(|nal| match (codec, nal.first()) {
        (Codec::Hevc, Some(&header)) => (16..=23).contains(&((header >> 1) & 0x3f)),
        (_, Some(&header)) => header & 0x1f == 5,
        (_, None) => false,
    })
}

/// RTCP packet type of a BYE (RFC 3550, 6.6): the sender leaves the session.
const RTCP_BYE: u8 = 203;

/// How long the source still takes access units after the sender's RTCP BYE: over UDP the
/// BYE (on the RTCP socket) can overtake the last RTP packets (on the other socket).
const BYE_LINGER: Duration = Duration::from_millis(200);

/// What one wait in [`RtspSource::next_packet`] ended with.
enum Pulled {
    Frame(retina::codec::VideoFrame),
    Bye,
    ConnectionClosed,
    Failed(retina::Error),
}

/// Runs `fut` for at most `after`: `None` when the time ran out.
async fn with_deadline<F: Future>(after: Duration, fut: F) -> Option<F::Output> {
    tokio::time::timeout(after, fut).await.ok()
}

fn refuse_inside_runtime(peer: &str) -> Result<()> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!(
                "{peer}: RtspSource blocks; call it from a plain thread (e.g. \
                 tokio::task::spawn_blocking), not from inside a tokio runtime"
            ),
        )));
    }
    Ok(())
}

/// Parses `url` and moves its user name and password (percent-decoded) out of it, since the
/// client takes them apart from the URL and error messages must not show them.
fn split_credentials(url: &str) -> Result<(Url, Option<RtspCredentials>)> {
    let address = |what: String| NetworkError::Address {
        url: redact(url),
        what,
    };
    let mut parsed = Url::parse(url).map_err(|e| address(format!("not a URL: {e}")))?;
    if parsed.scheme() != "rtsp" {
        return Err(address(format!(
            "scheme `{}`: only rtsp:// is read here",
            parsed.scheme()
        ))
        .into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(address("no host".to_owned()).into());
    }
    let credentials = if parsed.username().is_empty() && parsed.password().is_none() {
        None
    } else {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = RtspCredentials {
            username: decode(parsed.username()),
            password: decode(parsed.password().unwrap_or("")),
        };
        parsed
            .set_username("")
            .and_then(|()| parsed.set_password(None))
            .map_err(|()| address("cannot remove the credentials from the URL".to_owned()))?;
        Some(credentials)
    };
    Ok((parsed, credentials))
}

/// `url` with anything between `://` and `@` replaced, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://<credentials>{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The stream to set up: `wanted`, or the first H.264/HEVC video stream; its codec and clock.
fn pick_stream(
    streams: &[retina::client::Stream],
    wanted: Option<usize>,
) -> std::result::Result<(usize, Codec, u32), InputError> {
    let codec_of = |s: &retina::client::Stream| match (s.media(), s.encoding_name()) {
        ("video", "h264") => Some(Codec::H264),
        ("video", "h265") => Some(Codec::Hevc),
        _ => None,
    };
    let describe = |s: &retina::client::Stream| format!("{}/{}", s.media(), s.encoding_name());
    let chosen = match wanted {
        Some(index) => {
            let stream = streams.get(index).ok_or_else(|| {
                InputError::unsupported(format!(
                    "stream {index} asked for; the session has {} streams",
                    streams.len()
                ))
            })?;
            let codec = codec_of(stream).ok_or_else(|| {
                InputError::unsupported(format!(
                    "stream {index} is {}; H.264 and HEVC video are read",
                    describe(stream)
                ))
            })?;
            (index, codec, stream.clock_rate_hz())
        }
        None => streams
            .iter()
            .enumerate()
            .find_map(|(i, s)| codec_of(s).map(|c| (i, c, s.clock_rate_hz())))
            .ok_or_else(|| {
                let offered: Vec<String> = streams.iter().map(describe).collect();
                InputError::unsupported(format!(
                    "no H.264 or HEVC video stream; the session offers [{}]",
                    offered.join(", ")
                ))
            })?,
    };
    Ok(chosen)
}

/// Maps a `retina` error to this crate's: by the RTSP status where there is one, else by the
/// kind of failure its message starts with (`retina` keeps its error kinds private).
fn classify(error: &retina::Error, peer: &str, during: &str) -> ReadError {
    let message = error.to_string();
    let first_line = message.lines().next().unwrap_or("").to_owned();
    let what = format!("{during}: {first_line}");
    let peer = peer.to_owned();
    let network = match error.status_code() {
        Some(401 | 403) => NetworkError::Unauthorized { peer, what },
        Some(404) => NetworkError::Address { url: peer, what },
        Some(454) => NetworkError::Closed { peer, what },
        Some(_) => NetworkError::Protocol { peer, what },
        None if message.starts_with("Unable to connect") => NetworkError::Socket {
            what: format!("{peer}: connect"),
            source: os_error(&message),
        },
        None if message.starts_with("Error receiving UDP packet") => NetworkError::Socket {
            what: format!("{peer}: receive RTP over UDP"),
            source: os_error(&message),
        },
        None if message.starts_with("Error reading from RTSP peer")
            || message.starts_with("Error writing to RTSP peer") =>
        {
            NetworkError::Closed { peer, what }
        }
        None if message.starts_with("Invalid argument") => {
            NetworkError::Address { url: peer, what }
        }
        None => NetworkError::Protocol { peer, what },
    };
    network.into()
}

/// The operating system's error that `message` names (`... (os error 111)`), so its
/// `kind()` survives `retina`'s opaque error; an `Other` error with the message if none.
fn os_error(message: &str) -> std::io::Error {
    let code = message.find("(os error ").and_then(|start| {
        let rest = message.get(start + "(os error ".len()..)?;
        let end = rest.find(')')?;
        rest.get(..end)?.parse::<i32>().ok()
    });
    match code {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => std::io::Error::other(message.lines().next().unwrap_or("").to_owned()),
    }
}

#[cfg(test)]
mod tests;
