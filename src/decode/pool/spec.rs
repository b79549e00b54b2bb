//! What a [`DecoderPool`](super::DecoderPool) is asked for and reports: the stream a checkout
//! needs ([`DecoderSpec`]), how the pool builds and keeps decoders ([`PoolConfig`]), and its
//! counters ([`PoolStats`]).

use std::time::Duration;

use crate::Codec;
use crate::cuda::ContextMode;
use crate::decode::config::{DecoderConfig, OutputFormat, OutputGeometry};

/// What a stream needs from a pooled decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DecoderSpec {
    /// The codec.
    pub codec: Codec,
    /// Luma bit depth (8, 10 or 12).
    pub bit_depth: u8,
    /// Largest coded width of the stream.
    pub max_width: u32,
    /// Largest coded height of the stream.
    pub max_height: u32,
    /// Crop and output size of its frames (set on the decoder at checkout; see
    /// [`Decoder::set_output_geometry`](crate::decode::Decoder::set_output_geometry)).
    pub output: OutputGeometry,
}

impl DecoderSpec {
    /// An 8-bit 4:2:0 stream of at most `max_width`×`max_height`.
    pub fn new(codec: Codec, max_width: u32, max_height: u32) -> Self {
        DecoderSpec {
            codec,
            bit_depth: 8,
            max_width,
            max_height,
            output: OutputGeometry::new(),
        }
    }

    /// Sets the crop and output size of the stream's frames.
    pub fn with_output(mut self, output: OutputGeometry) -> Self {
        self.output = output;
        self
    }

    /// Sets the bit depth.
    pub fn with_bit_depth(mut self, bit_depth: u8) -> Self {
        self.bit_depth = bit_depth;
        self
    }
}

/// How a [`DecoderPool`](super::DecoderPool) builds and keeps decoders.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolConfig {
    /// CUDA device ordinal.
    pub device: u32,
    /// Context of the pooled decoders (shared primary by default).
    pub context_mode: ContextMode,
    /// At most this many decoders (idle and in use) of one codec and bit depth.
    pub max_per_key: usize,
    /// At most this many decoders in all.
    pub max_total: usize,
    /// Device memory the pool's decoders may hold, by the pool's estimate; `None`: no limit.
    pub memory_budget: Option<u64>,
    /// Idle decoders older than this are destroyed; `None`: kept until evicted.
    pub idle_timeout: Option<Duration>,
    /// How long a checkout waits for a decoder to come back when a limit is reached.
    pub checkout_timeout: Duration,
    /// How long building, resetting or reconfiguring a decoder waits for the init lock.
    pub lock_timeout: Duration,
    /// How long a checkout that finds no idle decoder that fits waits for one that fits and
    /// is being reset (returned, its parser renewal not yet run) before it builds one; also
    /// bounded by the checkout's timeout. `Duration::ZERO`: never wait, build at once.
    pub reset_wait: Duration,
    /// Display delay of the pooled decoders (see [`DecoderConfig::display_delay`]).
    pub display_delay: u32,
    /// Output surfaces of the pooled decoders (see [`DecoderConfig::output_surfaces`]).
    pub output_surfaces: u32,
    /// Decode surfaces the pooled decoders are created with (see
    /// [`DecoderConfig::decode_surfaces`]); `None`: the codec's default.
    pub decode_surfaces: Option<u32>,
    /// Low-latency pooled decoders (see [`DecoderConfig::with_low_latency`]): one frame out
    /// per packet in, and sized for live streams; off by default.
    pub low_latency: bool,
}

impl Default for PoolConfig {
    /// Device 0, shared primary context, 64 decoders per key and in all, no memory budget,
    /// no idle timeout, 30 s checkout and lock timeouts, 100 ms reset wait (about two
    /// decoder creations), the decoder's default display delay, output and decode surfaces,
    /// not low-latency.
    fn default() -> Self {
        let base = DecoderConfig::new(Codec::H264);
        PoolConfig {
            device: 0,
            context_mode: ContextMode::SharedPrimary,
            max_per_key: 64,
            max_total: 64,
            memory_budget: None,
            idle_timeout: None,
            checkout_timeout: Duration::from_secs(30),
            lock_timeout: Duration::from_secs(30),
            reset_wait: Duration::from_millis(100),
            display_delay: base.display_delay,
            output_surfaces: base.output_surfaces,
            decode_surfaces: None,
            low_latency: false,
        }
    }
}

impl PoolConfig {
    /// The decoder configuration the pool builds for `spec`.
    pub fn decoder_config(&self, spec: &DecoderSpec) -> DecoderConfig {
        let mut config = DecoderConfig::new(spec.codec)
            .with_max_size(spec.max_width, spec.max_height)
            .with_bit_depth(spec.bit_depth)
            .with_device(self.device)
            .with_context_mode(self.context_mode)
            .with_display_delay(self.display_delay)
            .with_low_latency(self.low_latency)
            .with_output_surfaces(self.output_surfaces)
            .with_output_format(OutputFormat::Auto);
        config.decode_surfaces = self.decode_surfaces;
        config.runtime_lock_timeout = self.lock_timeout;
        config
    }
}

/// Counters of a [`DecoderPool`](super::DecoderPool).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Successful checkouts.
    pub checkouts: u64,
    /// Checkouts served by an idle decoder.
    pub hits: u64,
    /// Checkouts that had to build a decoder.
    pub misses: u64,
    /// Decoders built (by checkouts and `prewarm`).
    pub creations: u64,
    /// `cuvidReconfigureDecoder` calls made by pooled decoders while checked out.
    pub reconfigurations: u64,
    /// Idle decoders destroyed to make room (also after one grew while checked out), by the
    /// idle timeout, or by `trim`.
    pub evictions: u64,
    /// Decoders destroyed on return instead of kept: their reset failed, or they were not
    /// the decoder checked out (swapped in through `DerefMut`).
    pub discarded: u64,
    /// Checkouts that found no idle decoder that fits and waited for one being reset (served
    /// by it when `hits` counts them, else they built one after
    /// [`PoolConfig::reset_wait`] or when the reset failed).
    pub waited_for_reset: u64,
    /// Decoders checked out now.
    pub in_use: usize,
    /// Decoders idle in the pool now.
    pub idle: usize,
    /// Device memory the pool's decoders hold, by the pool's estimate (bytes).
    pub memory_held: u64,
}
