//! Live sources for Python: `Decoder("udp://…")` and `Decoder("rtsp://…")`.
//!
//! Invariants:
//! - Frames come out as their access units arrive, in order, decoded in the caller's call:
//!   a live session has no decode-ahead worker. A consumer that keeps up waits in the
//!   socket and gets each frame one decode after its last datagram; one that falls behind
//!   finds the datagrams queued in the kernel's receive buffer, decoded as it asks.
//! - Time: a pull waits at most the source's timeout without input (`udp://`: for a
//!   datagram, the URL's `timeout` or the `timeout=` argument; `rtsp://`: for an access unit,
//!   `timeout=`, 5 s by default), then fails with the crate's `NetworkError::Timeout`
//!   naming the URL; the source stays usable after a `udp://` timeout (call again to keep
//!   waiting), an `rtsp://` session ends with it (the input crate does not reconnect): the
//!   next call hands out what the decoder still holds, then the end.
//! - Stopping: the session's `stop` is an atomic flag, set by `close()` without the
//!   decoder's lock; a `udp://` wait polls the socket in slices of [`STOP_SLICE`] and ends
//!   within one slice of it, an `rtsp://` wait within its timeout (the client's pull cannot
//!   be cut short). The waiting call then drops the session and ends iteration.
//! - Memory: the source's bound (the input crate states it: `UdpSource`, `RtspSource`) plus
//!   the decoder's frames handed out; nothing is queued here but frames a `batch` could not
//!   return (kept for the next call).
//!
//! Trade-offs: the decoder is made when the first access unit arrives (a `udp://` stream's
//! codec is known only from its program map), so a checkout from a `DecoderPool`, or a
//! decoder that cannot be made, shows at the first frame, not at construction. No
//! decode-ahead thread: it would add a hand-off per frame and a thread per stream to save
//! the decode time (a few milliseconds) only for a consumer that is already late.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use guard::Error;
use guard::convert::{Converter, RgbFramePool};
use guard::decode::{DecoderBuilder, DecoderConfig, DeviceFramePool, StreamInfo};
use guard::input::net::{SourceUrl, UdpSource};
use guard::input::{
    Codec, FormatHint, InputError, NetworkError, ReadError, RtspOptions, RtspSource, RtspTransport,
};

use crate::decoder::{Held, Keeper, Pools, Produced, Settings, apply_geometry};
use crate::frames::{FrameBuffers, SharedFramePools};
use crate::tensor::BatchPool;

type Result<T> = std::result::Result<T, Error>;

/// How often a `udp://` wait looks at the stop flag.
pub(crate) const STOP_SLICE: Duration = Duration::from_millis(50);

/// The longest `timeout=` accepted: one day.
const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// What the Python caller asked of a URL source besides the URL.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct UrlOptions {
    /// `timeout=`: seconds without input before a pull fails.
    pub(crate) timeout: Option<Duration>,
    /// `transport=` (`rtsp://` only).
    pub(crate) transport: Option<RtspTransport>,
}

impl UrlOptions {
    /// Checks and converts the keyword arguments.
    pub(crate) fn parse(
        timeout: Option<f64>,
        transport: Option<&str>,
    ) -> std::result::Result<UrlOptions, Error> {
        let timeout = timeout
            .map(|t| {
                Duration::try_from_secs_f64(t)
                    .ok()
                    .filter(|d| !d.is_zero() && *d <= MAX_TIMEOUT)
                    .ok_or_else(|| Error::InvalidConfig {
                        parameter: "timeout",
                        reason: format!("{t}: expected seconds > 0, at most one day"),
                    })
            })
            .transpose()?;
        let transport = match transport.map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("tcp") => Some(RtspTransport::Tcp),
            Some("udp") => Some(RtspTransport::Udp),
            Some(other) => {
                return Err(Error::InvalidConfig {
                    parameter: "transport",
                    reason: format!("{other:?}: expected \"tcp\" or \"udp\""),
                });
            }
        };
        Ok(UrlOptions { timeout, transport })
    }

    fn given(&self) -> bool {
        self.timeout.is_some() || self.transport.is_some()
    }
}

/// What a `str` source names: a path (text without `scheme://`, or `file://PATH`), a
/// `udp://` or `rtsp://`/`rtsps://` source; another scheme is refused
/// ([`NetworkError::Address`]).
pub(crate) fn url_of(text: &str) -> Result<SourceUrl> {
    Ok(SourceUrl::parse(text)?)
}

/// Refuses `timeout=`/`transport=` for a source that is not a URL.
pub(crate) fn check_file_options(options: &UrlOptions) -> Result<()> {
    if options.given() {
        return Err(Error::InvalidConfig {
            parameter: "timeout",
            reason: "timeout= and transport= apply to udp:// and rtsp:// sources".into(),
        });
    }
    Ok(())
}

/// The receiver.
enum Feed {
    /// Boxed: its datagram and stream state are larger than the RTSP client's handle.
    Udp(Box<UdpSource>),
    Rtsp(RtspSource),
}

/// Where the decoder comes from once the codec is known.
pub(crate) enum Maker {
    Own,
    Pool {
        pools: Pools,
        spec_size: (u32, u32),
        gpu: Option<u32>,
        frames: Arc<SharedFramePools>,
    },
}

/// One live stream and its decoder.
pub(crate) struct LiveSession {
    feed: Feed,
    /// The URL as shown in errors and `info` (an RTSP URL without its credentials).
    peer: String,
    /// How long a `udp://` pull waits without a datagram.
    timeout: Duration,
    settings: Settings,
    maker: Maker,
    decoder: Option<Held>,
    frames: Option<FrameBuffers>,
    convert: Option<(Converter, RgbFramePool, guard::convert::ConvertSpec)>,
    /// Display index of the next frame.
    next_index: usize,
    /// No more input is taken (the source's end, or an error that ended it).
    input_done: bool,
    /// `finish()` was called: what was received is all there is.
    finishing: bool,
    /// The end of the stream was signalled to the decoder.
    flushed: bool,
    /// Frames a `batch` took but could not return (an error came first); they go first.
    carry: VecDeque<Produced>,
    pub(crate) batches: Arc<BatchPool>,
    stop: Arc<AtomicBool>,
}

impl LiveSession {
    /// Opens the source `url` names (`udp://`: binds or joins at once; `rtsp://`: connects,
    /// describes, sets up and plays, within the client's 10 s connect timeout). The decoder
    /// is made at the first access unit, or here when the codec is already known (RTSP).
    pub(crate) fn open(
        url: SourceUrl,
        options: UrlOptions,
        settings: Settings,
        maker: Maker,
        stop: Arc<AtomicBool>,
    ) -> Result<LiveSession> {
        let (feed, peer, timeout) = match url {
            SourceUrl::Udp(mut udp) => {
                if options.transport.is_some() {
                    return Err(Error::InvalidConfig {
                        parameter: "transport",
                        reason: "transport= picks how RTP travels from an rtsp:// server".into(),
                    });
                }
                if let Some(t) = options.timeout {
                    udp.timeout = t;
                }
                let source = UdpSource::open(&udp, FormatHint::Unknown)?;
                // Port 0 asks the system for one: the URL shown names the port bound.
                if udp.addr.port() == 0 {
                    udp.addr.set_port(source.local_addr().port());
                }
                (Feed::Udp(Box::new(source)), udp.to_string(), udp.timeout)
            }
            SourceUrl::Rtsp(text) => {
                let defaults = RtspOptions::default();
                let timeout = options.timeout.unwrap_or(defaults.data_timeout);
                let connect = defaults.connect_timeout;
                let mut rtsp = defaults.timeouts(connect, timeout);
                if let Some(transport) = options.transport {
                    rtsp = rtsp.transport(transport);
                }
                let source = RtspSource::open(&text, rtsp)?;
                let peer = source.peer().to_owned();
                (Feed::Rtsp(source), peer, timeout)
            }
            other => {
                return Err(Error::Internal {
                    what: match other {
                        SourceUrl::File(_) => "a path taken for a live source",
                        _ => "a source URL of a kind this package does not know",
                    },
                });
            }
        };
        let mut session = LiveSession {
            feed,
            peer,
            timeout,
            settings,
            maker,
            decoder: None,
            frames: None,
            convert: None,
            next_index: 0,
            input_done: false,
            finishing: false,
            flushed: false,
            carry: VecDeque::new(),
            batches: Arc::new(BatchPool::default()),
            stop,
        };
        if let Feed::Rtsp(source) = &session.feed {
            let codec = source.codec();
            session.make_decoder(codec)?;
        }
        Ok(session)
    }

    /// Whether `close()` asked this session to stop.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// The URL (without credentials).
    pub(crate) fn peer(&self) -> &str {
        &self.peer
    }

    /// The codec, once known.
    pub(crate) fn codec(&self) -> Option<Codec> {
        match &self.feed {
            Feed::Udp(source) => source.codec(),
            Feed::Rtsp(source) => Some(source.codec()),
        }
    }

    /// Ticks per second of the timestamps: MPEG-TS's 90 kHz, or the RTP clock.
    pub(crate) fn clock_rate(&self) -> u32 {
        match &self.feed {
            Feed::Udp(_) => 90_000,
            Feed::Rtsp(source) => source.clock_rate(),
        }
    }

    /// What the decoder learnt from the first sequence header, once seen.
    pub(crate) fn stream_info(&self) -> Option<StreamInfo> {
        self.decoder.as_ref()?.get_ref().stream_info()
    }

    /// The GPU's ordinal (the one asked for until the decoder exists).
    pub(crate) fn device(&self) -> i32 {
        match &self.decoder {
            Some(held) => i32::try_from(held.get_ref().context().ordinal()).unwrap_or(i32::MAX),
            None => i32::try_from(self.settings.gpu).unwrap_or(i32::MAX),
        }
    }

    /// Frame and RGB buffer counters: allocated, free, RGB allocated, RGB free.
    pub(crate) fn buffer_stats(&self) -> (u64, usize, u64, usize) {
        (
            self.frames.as_ref().map_or(0, |f| f.allocated()),
            self.frames.as_ref().map_or(0, |f| f.free()),
            self.convert.as_ref().map_or(0, |c| c.1.allocated()),
            self.convert.as_ref().map_or(0, |c| c.1.free()),
        )
    }

    /// Packets lost on the way: the transport stream's continuity gaps (`udp://`) or RTP
    /// sequence gaps (`rtsp://`), plus datagrams the kernel dropped for a full buffer.
    pub(crate) fn lost_packets(&self) -> u64 {
        match &self.feed {
            Feed::Udp(source) => {
                let ts = source.transport_stats().map_or(0, |s| s.lost_packets);
                ts.saturating_add(source.stats().kernel_drops.unwrap_or(0))
            }
            Feed::Rtsp(source) => source.lost_packets(),
        }
    }

    /// No more input is taken once what has arrived is in (`udp://`: the datagrams waiting
    /// in the socket too): the access unit in progress completes with it, the decoder is
    /// flushed, and the frames left come out before the end.
    pub(crate) fn finish(&mut self) {
        self.finishing = true;
        if let Feed::Rtsp(_) = self.feed {
            self.input_done = true;
        }
    }

    fn make_decoder(&mut self, codec: Codec) -> Result<()> {
        let settings = &self.settings;
        let (held, frames) = match &self.maker {
            Maker::Own => {
                let config = DecoderConfig::new(codec)
                    .with_device(settings.gpu)
                    .with_low_latency(settings.low_latency);
                let config = apply_geometry(config, settings.geometry);
                (Held::Own(DecoderBuilder::new(config).build()?), None)
            }
            Maker::Pool {
                pools,
                spec_size,
                gpu,
                frames,
            } => {
                let spec = guard::decode::DecoderSpec::new(codec, spec_size.0, spec_size.1)
                    .with_output(settings.geometry);
                let pooled = pools.checkout(spec, *gpu)?;
                let shared = FrameBuffers::shared(Arc::clone(frames));
                (Held::Pooled(pooled), Some(shared))
            }
        };
        let context = held.get_ref().context().clone();
        self.convert = match settings.convert {
            None => None,
            Some(spec) => Some((Converter::new(&context)?, RgbFramePool::new(&context), spec)),
        };
        self.frames =
            Some(frames.unwrap_or_else(|| FrameBuffers::Own(DeviceFramePool::new(&context))));
        self.decoder = Some(held);
        Ok(())
    }

    /// Up to `want` frames as they arrive: fewer only at the end of the stream or when
    /// `close()` stopped the wait ([`stopped`](Self::stopped) then). On an error, frames
    /// taken before it stay first in line for the next call.
    pub(crate) fn next(&mut self, want: usize) -> Result<Vec<Produced>> {
        crate::cuda::reap();
        let mut out: Vec<Produced> = Vec::with_capacity(want.min(64));
        while out.len() < want {
            let Some(p) = self.carry.pop_front() else {
                break;
            };
            out.push(p);
        }
        let result = self.fill(&mut out, want);
        match result {
            Ok(()) => Ok(out),
            Err(error) => {
                for p in out.into_iter().rev() {
                    self.carry.push_front(p);
                }
                Err(error)
            }
        }
    }

    /// Frames to hand out first on the next call (a batch's frames after a change of size).
    pub(crate) fn put_back(&mut self, frames: Vec<Produced>) {
        for p in frames.into_iter().rev() {
            self.carry.push_front(p);
        }
    }

    fn fill(&mut self, out: &mut Vec<Produced>, want: usize) -> Result<()> {
        loop {
            if let (Some(decoder), Some(frames)) = (&mut self.decoder, &self.frames) {
                let keeper = Keeper {
                    frames,
                    convert: &self.convert,
                    device: i32::try_from(decoder.get_ref().context().ordinal())
                        .unwrap_or(i32::MAX),
                };
                let mut queued = decoder.get().take_queued();
                while out.len() < want {
                    let Some(frame) = queued.next() else { break };
                    let frame = frame?;
                    out.push(keeper.keep(&frame, Some(self.next_index))?);
                    self.next_index += 1;
                }
            }
            if out.len() >= want || self.flushed || self.stopped() {
                return Ok(());
            }
            if !self.pull()? {
                if let Some(decoder) = &mut self.decoder {
                    let _queued = decoder.get().flush()?;
                }
                self.flushed = true;
            }
        }
    }

    /// Decodes the next access unit: `true`, or `false` at the end of the input. Returns
    /// early, with `true`, when `close()` stops the wait.
    fn pull(&mut self) -> Result<bool> {
        if self.input_done {
            return Ok(false);
        }
        let LiveSession {
            feed,
            decoder,
            stop,
            input_done,
            timeout,
            finishing,
            peer,
            ..
        } = self;
        let got = match feed {
            Feed::Udp(source) => {
                match pull_udp(source, decoder, peer, *timeout, *finishing, stop) {
                    Ok(got) => got,
                    Err(error) => {
                        if !matches!(error, ReadError::Network(_)) {
                            *input_done = true; // the stream's errors end the source
                        }
                        return Err(error.into());
                    }
                }
            }
            Feed::Rtsp(source) => match source.next_packet() {
                Ok(Some(packet)) => match decoder {
                    Some(decoder) => {
                        let _queued = decoder.get().decode(packet.data, packet.pts)?;
                        Pulled::Decoded
                    }
                    None => Pulled::First(packet.to_owned_packet()),
                },
                Ok(None) => Pulled::End,
                Err(error) => {
                    // The client ends its session on every error but an over-long access
                    // unit; the next pull reports the end instead of a closed session.
                    if !matches!(error, ReadError::Input(InputError::LimitExceeded { .. })) {
                        *input_done = true;
                    }
                    return Err(error.into());
                }
            },
        };
        match got {
            Pulled::First(packet) => {
                let codec = self.codec().ok_or_else(|| {
                    Error::from(InputError::malformed(format!(
                        "{}: an access unit before the stream's codec was known",
                        self.peer
                    )))
                })?;
                self.make_decoder(codec)?;
                if let Some(decoder) = &mut self.decoder {
                    let _queued = decoder.get().decode(&packet.data, packet.pts)?;
                }
                Ok(true)
            }
            Pulled::End => {
                self.input_done = true;
                Ok(false)
            }
            Pulled::Failed(error) => Err(error),
            Pulled::Decoded | Pulled::Stopped => Ok(true),
        }
    }
}

/// What one pull got.
enum Pulled {
    /// An access unit went to the decoder.
    Decoded,
    /// The first access unit, for the decoder yet to be made.
    First(guard::input::OwnedPacket),
    /// The input ended.
    End,
    /// The decoder refused the access unit.
    Failed(Error),
    /// `close()` stopped the wait.
    Stopped,
}

/// The next access unit of `source`, decoded (or copied out while there is no decoder yet:
/// making one needs the codec, which the source tells only once the packet is returned),
/// looking at `stop` every [`STOP_SLICE`]. No datagram for `timeout` is
/// [`NetworkError::Timeout`] naming the URL; the source stays usable.
fn pull_udp(
    source: &mut UdpSource,
    decoder: &mut Option<Held>,
    peer: &str,
    timeout: Duration,
    finishing: bool,
    stop: &AtomicBool,
) -> std::result::Result<Pulled, ReadError> {
    let mut seen = source.stats().datagrams;
    // `None`: a timeout past what the clock can count (the URL allows any): no deadline.
    let mut deadline = Instant::now().checked_add(timeout);
    let mut finished = false;
    loop {
        if stop.load(Ordering::Acquire) {
            return Ok(Pulled::Stopped);
        }
        match source.try_next_packet()? {
            Some(packet) => {
                return match decoder {
                    Some(decoder) => match decoder.get().decode(packet.data, packet.pts) {
                        Ok(_queued) => Ok(Pulled::Decoded),
                        Err(error) => Ok(Pulled::Failed(error)),
                    },
                    None => Ok(Pulled::First(packet.to_owned_packet())),
                };
            }
            // `finish`: nothing more waiting in the socket ends the input; the source then
            // completes the access unit in progress, and is ended after it.
            None if finishing => {
                if finished {
                    return Ok(Pulled::End);
                }
                source.finish();
                finished = true;
                continue;
            }
            None => {}
        }
        let datagrams = source.stats().datagrams;
        let now = Instant::now();
        if datagrams != seen {
            seen = datagrams;
            deadline = now.checked_add(timeout);
        }
        let left = match deadline {
            Some(deadline) => deadline.checked_duration_since(now),
            None => Some(STOP_SLICE),
        };
        let Some(left) = left.filter(|d| !d.is_zero()) else {
            return Err(NetworkError::Timeout {
                peer: peer.to_owned(),
                after: timeout,
            }
            .into());
        };
        wait_readable(source, left.min(STOP_SLICE));
    }
}

#[cfg(unix)]
fn wait_readable(source: &UdpSource, slice: Duration) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let millis = u16::try_from(slice.as_millis().max(1)).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(source.as_fd(), PollFlags::POLLIN)];
    // EINTR or any failure: the caller's loop looks at the clock and the flag again.
    let _ = poll(&mut fds, PollTimeout::from(millis));
}

#[cfg(not(unix))]
fn wait_readable(_source: &UdpSource, slice: Duration) {
    std::thread::sleep(slice.min(Duration::from_millis(1)));
}

/// The error a call that needs random access gets on a live source.
pub(crate) fn not_live(call: &'static str) -> Error {
    Error::InvalidConfig {
        parameter: call,
        reason: format!(
            "{call} needs random access; a live source (udp://, rtsp://) is read in order: \
             iterate or call batch(n)"
        ),
    }
}
