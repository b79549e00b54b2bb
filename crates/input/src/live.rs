//! [`LiveStream`]: bytes pushed in as they arrive (from a socket, a capture pipeline), packets
//! pulled out as soon as each is complete.
//!
//! Invariant: the bytes held and not yet handed out as packets never exceed the reader's
//! window bound ([`Demux::max_window`](super::demux::Demux), e.g. 64 MiB for Annex-B; before
//! the format is known, [`MAX_UNDETECTED`]): [`LiveStream::feed`] refuses a chunk that would
//! pass it, taking nothing, so a sender that outruns the consumer gets an error instead of
//! growing memory. Peak heap ≤ 2 × (the largest packet + the largest chunk fed) + the packet
//! buffer + a small constant (checked by `crates/input/tests/input_memory.rs`). The packets are exactly those of the same bytes read as a whole
//! ([`ElementaryStream::from_bytes`](super::ElementaryStream::from_bytes)), whatever the chunk
//! sizes.
//!
//! Why push and pull instead of a `Read` adapter: a live source has no "block until more"
//! that a decoder thread should sit in; the caller feeds what the socket gave and takes what
//! is complete, on its own schedule. The format is told once 8 bytes arrived (32 for IVF), or
//! at [`finish`](LiveStream::finish).

use super::demux::PacketInfo;
use super::detect::{FormatHint, StreamFormat};
use super::ivf::IvfHeader;
use super::source::{ByteSource, DemuxDriver, Input, Pulled, READ_CHUNK};
use super::stream::{DETECT_LEN, checked_codec, detect_head, make_demux, prime};
use super::{InputError, Packet};
use crate::{Codec, Result};

/// Bytes a live stream holds at most before its format is known (1 MiB).
pub const MAX_UNDETECTED: usize = 1 << 20;

/// A push-fed input: [`feed`](Self::feed) bytes as they arrive, take packets with
/// [`next_packet`](Self::next_packet), call [`finish`](Self::finish) at the end.
///
/// The packets are exactly those of the same bytes read whole, whatever the chunk sizes; each
/// comes out as soon as it is complete (for Annex-B: once the next access unit's first NAL
/// header arrived). The bytes held are bounded: [`feed`](Self::feed) refuses a chunk that
/// would pass the reader's window bound, so peak heap ≤ 2 × (the largest packet + the largest
/// chunk fed) + the packet buffer + a small constant.
///
/// # Examples
/// ```
/// use nvcodec_input::Codec;
/// use nvcodec_input::{FormatHint, LiveStream};
///
/// let mut live = LiveStream::new(FormatHint::Codec(Codec::H264));
/// // Two access units (IDR, then P), arriving in two chunks that split the first one.
/// let bytes = [0, 0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 0, 1, 0x41, 0x9a, 0x02];
/// live.feed(&bytes[..5])?;
/// assert!(live.next_packet()?.is_none()); // the first picture is not complete yet
/// live.feed(&bytes[5..])?;
/// assert_eq!(live.next_packet()?.map(|p| p.data.len()), Some(7));
/// assert!(live.next_packet()?.is_none()); // the second may go on
/// live.finish();
/// assert_eq!(live.next_packet()?.map(|p| p.data.len()), Some(7));
/// assert!(live.next_packet()?.is_none() && live.is_ended());
/// # Ok::<(), nvcodec_input::ReadError>(())
/// ```
#[derive(Debug)]
pub struct LiveStream {
    hint: FormatHint,
    /// Bytes fed before the format was known.
    undetected: Option<Input>,
    running: Option<Running>,
    ended: bool,
}

#[derive(Debug)]
struct Running {
    driver: DemuxDriver,
    format: StreamFormat,
    ivf: Option<IvfHeader>,
    codec: Option<Codec>,
    pending: Option<PacketInfo>,
}

impl LiveStream {
    /// A live stream of the format `hint` names (or that its first bytes show: IVF, MP4,
    /// Matroska/WebM magic).
    pub fn new(hint: FormatHint) -> Self {
        Self {
            hint,
            undetected: Some(Input::new(ByteSource::Live)),
            running: None,
            ended: false,
        }
    }

    /// Takes the next bytes of the stream.
    ///
    /// # Errors
    /// [`InputError::LimitExceeded`] when the bytes waiting would pass the bound (the
    /// reader's largest packet, e.g. 64 MiB for Annex-B; 1 MiB before the format is known);
    /// nothing is taken then: take packets and feed again. An error after
    /// [`finish`](Self::finish).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<()> {
        match (&mut self.running, &mut self.undetected) {
            (Some(run), _) => {
                let limit = run.driver.demux.max_window().saturating_add(READ_CHUNK);
                run.driver.input.feed(bytes, limit)
            }
            (None, Some(input)) => input.feed(bytes, MAX_UNDETECTED),
            (None, None) => Err(InputError::Internal {
                what: "bytes fed to a live stream that failed".into(),
            }
            .into()),
        }
    }

    /// No more bytes will come: the last packet completes at the end of what was fed.
    pub fn finish(&mut self) {
        if let Some(input) = &mut self.undetected {
            input.finish();
        }
        if let Some(run) = &mut self.running {
            run.driver.input.finish();
        }
    }

    /// The next complete packet; `None` when more bytes are needed, or, after
    /// [`finish`](Self::finish), at the end ([`is_ended`](Self::is_ended)). The packet borrows
    /// the stream's buffer until the next call.
    ///
    /// # Errors
    /// As [`ElementaryStream::next_packet`](super::ElementaryStream::next_packet), and format
    /// detection's errors once enough bytes arrived. After an error the stream has ended.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>> {
        if !self.has_packet()? {
            return Ok(None);
        }
        let Some(run) = &mut self.running else {
            return Ok(None);
        };
        let Some(info) = run.pending.take() else {
            return Ok(None);
        };
        Ok(Some(Packet {
            data: run.driver.packet(),
            pts: info.pts,
        }))
    }

    /// Whether a complete packet is ready: the next [`next_packet`](Self::next_packet)
    /// returns it without more bytes. It is parsed now and kept, so a caller that must not
    /// hold the packet's borrow while deciding (a receive loop) asks this first.
    ///
    /// # Errors
    /// As [`next_packet`](Self::next_packet).
    pub(crate) fn has_packet(&mut self) -> Result<bool> {
        if self.ended {
            return Ok(false);
        }
        if self.running.is_none() {
            let ready = self.undetected.as_ref().is_some_and(|input| {
                let (window, eof) = input.window();
                // Container magics are in the first 8 bytes; IVF's fixed header takes 32.
                // A transport stream's sync bytes, three packets' worth.
                let maybe_ts = window.first() == Some(&0x47) || window.get(4) == Some(&0x47);
                eof || window.len() >= DETECT_LEN
                    || (window.len() >= 8 && !super::detect::has_ivf_magic(window) && !maybe_ts)
            });
            if !ready {
                return Ok(false);
            }
            let started = self.start();
            if started.is_err() {
                self.ended = true;
            }
            started?;
        }
        let Some(run) = &mut self.running else {
            return Ok(false);
        };
        if run.codec.is_none() && run.pending.is_none() {
            run.pending = prime(&mut run.driver, "live input")?;
            if run.driver.demux.codec().is_some() {
                run.codec = Some(checked_codec(
                    &run.driver,
                    run.format,
                    run.ivf.as_ref(),
                    self.hint,
                    "live input",
                )?);
            }
        }
        if run.pending.is_some() {
            return Ok(true);
        }
        match run.driver.advance() {
            Ok(Pulled::Packet(info)) => {
                run.pending = Some(info);
                Ok(true)
            }
            Ok(Pulled::NeedInput) => Ok(false),
            Ok(Pulled::End) => {
                self.ended = true;
                Ok(false)
            }
            Err(e) => {
                self.ended = true;
                Err(e)
            }
        }
    }

    fn start(&mut self) -> Result<()> {
        let input = self.undetected.take().ok_or_else(|| InputError::Internal {
            what: "live stream started twice".into(),
        })?;
        let (format, ivf) = detect_head(&input, self.hint, "live input")?;
        let demux = make_demux(format, self.hint, "live input")?;
        self.running = Some(Running {
            driver: DemuxDriver::new(input, demux),
            format,
            ivf,
            codec: None,
            pending: None,
        });
        Ok(())
    }

    /// Whether the last packet was handed out (or an error ended the stream).
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The codec, once the format's header was read.
    pub fn codec(&self) -> Option<Codec> {
        self.running.as_ref().and_then(|r| r.codec)
    }

    /// The format, once told.
    pub fn format(&self) -> Option<StreamFormat> {
        self.running.as_ref().map(|r| r.format)
    }

    /// What the transport-stream reader met so far, for MPEG-TS/M2TS input; `None` for
    /// other formats or before the format is known.
    pub fn transport_stats(&self) -> Option<crate::TsStats> {
        self.running
            .as_ref()
            .and_then(|r| r.driver.demux.ts_stats())
    }

    /// Heap bytes held now: the bytes waiting, the packet buffer and the reader's state.
    pub fn memory_footprint(&self) -> usize {
        match (&self.running, &self.undetected) {
            (Some(run), _) => run.driver.heap_bytes(),
            (None, Some(input)) => input.heap_bytes(),
            (None, None) => 0,
        }
    }
}
