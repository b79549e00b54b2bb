//! [`Encoder`]: the NVENC session with frame methods, after the init window closed.

use nvcodec_media::PlaneLayout;
use std::collections::VecDeque;

use nvidia_video_codec_sdk::sys::nvEncodeAPI::NV_ENC_PIC_FLAGS;

use super::config::EncoderConfig;
use super::frame::{InputFrame, PixelSource};
use super::layout::{check_host_planes, copy_to_surface, device_surface_size, split_packed};
use super::nvenc_params;
use super::packet::{DtsClock, EncodedPacket, PictureType};
use super::session::EncoderSession;
use crate::cuda::Context;
use crate::driver::nvenc_session::SessionHandle;
use crate::error::{Error, FrameError, Result, SessionKind};
use crate::ffi::nvenc::{EncodeStatus, PictureToEncode};
use crate::init::WindowTiming;

/// An NVENC encoder with frame methods. Built only through
/// [`EncoderBuilder`](super::EncoderBuilder), so it exists only after its init window
/// closed.
///
/// `Send` (move it to a worker thread) but not `Sync` (one thread feeds it at a time).
/// Dropping it sends end of stream if needed and destroys its buffers, then the session,
/// inside an init window; it never panics.
pub struct Encoder {
    session: SessionHandle,
    config: EncoderConfig,
    layout: PlaneLayout,
    window: WindowTiming,
    /// Slots submitted whose output has not been read, in submission order.
    pending: VecDeque<usize>,
    next_slot: usize,
    frame_idx: u32,
    dts: DtsClock,
    /// The next frame starts a new segment (after a flush) and is made an IDR.
    restart: bool,
    /// Set when reading output failed half-way: the stream can no longer be trusted.
    failed: Option<String>,
}

// `Send` because its `SessionHandle` is (the owner says why); not `Sync`, because the
// session's raw handles are not: `&self` calls stay on one thread, as NVENC requires for one
// session (`tests/encoder_cpu.rs` checks both).

impl Encoder {
    pub(crate) fn from_session(
        config: EncoderConfig,
        session: EncoderSession,
        window: WindowTiming,
    ) -> Encoder {
        Encoder {
            layout: config.input_format.layout(config.width, config.height),
            dts: DtsClock::new(session.b_frames),
            session: session.handle,
            config,
            window,
            pending: VecDeque::new(),
            next_slot: 0,
            frame_idx: 0,
            restart: false,
            failed: None,
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// The CUDA context it encodes in (device frames must belong to it).
    pub fn context(&self) -> &Context {
        self.session.context()
    }

    /// How long its init window waited for the lock and was held.
    pub fn init_window(&self) -> WindowTiming {
        self.window
    }

    /// Frames submitted whose packets have not been returned yet (held for B-frames or
    /// lookahead).
    pub fn frames_in_flight(&self) -> usize {
        self.pending.len()
    }

    /// How many frames can be in flight (input/bitstream buffer pairs).
    pub fn buffer_pool_size(&self) -> usize {
        self.session.pool_size()
    }

    fn check_usable(&self) -> Result<()> {
        match &self.failed {
            Some(reason) => Err(Error::Poisoned {
                session: SessionKind::Encoding,
                reason: reason.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// Encodes one frame with its presentation timestamp and returns the packets that
    /// became ready, in decode order.
    ///
    /// Without B-frames (and lookahead) every call returns the frame's own packet. With
    /// `b_frames = n`, NVENC holds frames back and a call returns nothing or several
    /// packets; [`flush`](Self::flush) returns the rest. A packet's `dts` is the input
    /// timestamp `n` frames earlier, so `dts <= pts` and dts increases (the first `n`
    /// packets extrapolate below the first pts).
    ///
    /// The frame is checked against the configured format and size before any driver call
    /// ([`Error::Frame`] names the plane, pitch and sizes at fault).
    ///
    /// # Errors
    /// [`Error::Frame`] for a frame of the wrong format or size (a [`FrameError`] naming the
    /// plane, pitch and sizes), or a device buffer of another CUDA context;
    /// [`Error::EncoderFull`] when NVENC holds as many frames as the encoder has buffers;
    /// [`Error::Driver`] naming the NVENC call, status and `NvEncGetLastErrorString`;
    /// [`Error::Poisoned`] after an earlier failure left the stream untrustworthy;
    /// [`Error::InitLockTimeout`] if registering the staging surfaces for the first device
    /// frame (an init-window call) could not get the lock.
    #[must_use = "the packets returned are the encoded stream; dropping them loses frames"]
    pub fn encode(&mut self, frame: InputFrame<'_>, pts: i64) -> Result<Vec<EncodedPacket>> {
        self.check_usable()?;
        let pool = self.session.pool_size();
        if self.pending.len() >= pool {
            return Err(Error::EncoderFull {
                in_flight: self.pending.len(),
            });
        }
        let slot = self.next_slot;
        let (input, pitch) = self.stage(slot, &frame)?;
        // Unreachable: a locked input's pitch is checked plausible for the frame's rows, and
        // a staging surface's pitch is checked to fit `u32` when it is made.
        let pitch = u32::try_from(pitch).map_err(|_| Error::Internal {
            what: "an input surface's pitch does not fit u32",
        })?;
        let mut flags = 0u32;
        if frame.force_idr || self.restart {
            flags |= NV_ENC_PIC_FLAGS::NV_ENC_PIC_FLAG_FORCEIDR as u32
                | NV_ENC_PIC_FLAGS::NV_ENC_PIC_FLAG_OUTPUT_SPSPPS as u32;
        }
        let picture = PictureToEncode {
            input,
            output: std::ptr::null_mut(),
            width: self.config.width,
            height: self.config.height,
            pitch,
            format: nvenc_params::buffer_format(self.config.input_format),
            // Bit-preserving: NVENC hands the value back untouched in outputTimeStamp.
            timestamp: pts as u64,
            frame_idx: self.frame_idx,
            flags,
        };
        let status = match self.session.encode(slot, picture) {
            Ok(status) => status,
            Err(error) => {
                if let Err(e) = self.session.release(slot) {
                    tracing::warn!(error = %e, "releasing a rejected frame's input failed");
                }
                return Err(error);
            }
        };
        self.pending.push_back(slot);
        self.dts.submit(pts);
        self.next_slot = (slot + 1) % pool;
        self.frame_idx = self.frame_idx.wrapping_add(1);
        self.restart = false;
        match status {
            EncodeStatus::NeedMoreInput => Ok(Vec::new()),
            EncodeStatus::Ready => self.drain(),
        }
    }

    /// Puts the frame's pixels where NVENC reads them; returns the input pointer and pitch.
    fn stage(
        &mut self,
        slot: usize,
        frame: &InputFrame<'_>,
    ) -> Result<(*mut std::ffi::c_void, usize)> {
        let (format, width, height) = (
            self.config.input_format,
            self.config.width,
            self.config.height,
        );
        match &frame.source {
            PixelSource::Packed(data) => {
                let planes = split_packed(format, width, height, data)?;
                let layout = &self.layout;
                self.session.write_input(slot, layout, |dst, pitch| {
                    copy_to_surface(layout, &planes, dst, pitch)
                })
            }
            PixelSource::Planes(planes) => {
                check_host_planes(format, width, height, planes)?;
                let layout = &self.layout;
                self.session.write_input(slot, layout, |dst, pitch| {
                    copy_to_surface(layout, planes, dst, pitch)
                })
            }
            PixelSource::Device(surface) => {
                if let Some(context) = surface.context() {
                    if context != self.session.context().raw() as usize {
                        return Err(FrameError::ForeignContext.into());
                    }
                }
                let pitch = surface.pitch();
                let needed = device_surface_size(format, width, height, pitch)?;
                if let Some(len) = surface.len() {
                    if len < needed {
                        return Err(FrameError::DeviceBufferTooSmall {
                            format,
                            width,
                            height,
                            pitch,
                            len,
                            needed,
                        }
                        .into());
                    }
                }
                self.session.stage_device_input(
                    slot,
                    &self.layout,
                    width,
                    height,
                    nvenc_params::buffer_format(format),
                    surface,
                )
            }
        }
    }

    /// Reads every pending output, in submission (= decode) order.
    fn drain(&mut self) -> Result<Vec<EncodedPacket>> {
        let mut packets = Vec::with_capacity(self.pending.len());
        while let Some(slot) = self.pending.pop_front() {
            let read = self.session.read_output(slot);
            if let Err(error) = self.session.release(slot) {
                tracing::warn!(%error, "unmapping an encoded frame's input failed");
            }
            match read {
                Ok(bitstream) => {
                    let picture_type = PictureType::from_raw(bitstream.picture_type);
                    packets.push(EncodedPacket {
                        data: bitstream.data,
                        pts: bitstream.timestamp as i64,
                        dts: self.dts.next(),
                        keyframe: picture_type.is_keyframe(),
                        picture_type,
                    });
                }
                Err(error) => {
                    self.failed = Some(format!("reading NVENC output failed: {error}"));
                    return Err(error);
                }
            }
        }
        Ok(packets)
    }

    /// Signals end of stream and returns every packet still held back, in decode order.
    ///
    /// The encoder stays usable: the next frame starts a new segment with an IDR frame and
    /// decode timestamps restart from its pts.
    ///
    /// # Errors
    /// [`Error::Driver`] if end of stream or reading a packet fails (the encoder is then
    /// [`Error::Poisoned`]).
    #[must_use = "the packets returned are the end of the encoded stream; dropping them loses frames"]
    pub fn flush(&mut self) -> Result<Vec<EncodedPacket>> {
        self.check_usable()?;
        if !self.session.has_unfinished_pictures() {
            return Ok(Vec::new());
        }
        if let Err(error) = self.session.end_of_stream() {
            self.failed = Some(format!("end of stream failed: {error}"));
            return Err(error);
        }
        let packets = self.drain()?;
        self.dts.reset();
        self.restart = true;
        Ok(packets)
    }

    /// The stream headers of the configuration: SPS and PPS for H.264, VPS, SPS and PPS for
    /// HEVC, the sequence header OBU for AV1 (for containers that store them apart; the
    /// packets carry them in-band before every IDR too).
    ///
    /// # Errors
    /// [`Error::Driver`] if the context cannot be made current or
    /// `NvEncGetSequenceParams` fails.
    pub fn sequence_headers(&self) -> Result<Vec<u8>> {
        self.session.sequence_params()
    }

    /// `NvEncGetLastErrorString` of the session (the driver's detail on the last failure).
    pub fn last_driver_error(&self) -> Option<String> {
        self.session.last_error()
    }
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("codec", &self.config.codec)
            .field("size", &(self.config.width, self.config.height))
            .field("in_flight", &self.pending.len())
            .field("pool", &self.session.pool_size())
            .finish()
    }
}
