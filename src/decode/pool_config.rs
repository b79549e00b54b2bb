//! Builder-style setters of [`PoolConfig`].
//!
//! `PoolConfig` is `#[non_exhaustive]` (a new limit is not a breaking change), so code
//! outside this crate cannot write a struct literal for it; these setters are the way to
//! change the defaults: `PoolConfig::default().with_max_total(32)`. They live apart from the
//! pool so the pool's logic and its configuration surface can change independently.

use std::time::Duration;

use super::pool::PoolConfig;
use crate::cuda::ContextMode;

impl PoolConfig {
    /// Sets the CUDA device ordinal ([`device`](Self::device)).
    pub fn with_device(mut self, device: u32) -> Self {
        self.device = device;
        self
    }

    /// Sets the context mode of the pooled decoders ([`context_mode`](Self::context_mode)).
    pub fn with_context_mode(mut self, mode: ContextMode) -> Self {
        self.context_mode = mode;
        self
    }

    /// Sets the most decoders of one codec and bit depth ([`max_per_key`](Self::max_per_key)).
    pub fn with_max_per_key(mut self, decoders: usize) -> Self {
        self.max_per_key = decoders;
        self
    }

    /// Sets the most decoders in all ([`max_total`](Self::max_total)).
    pub fn with_max_total(mut self, decoders: usize) -> Self {
        self.max_total = decoders;
        self
    }

    /// Sets the device memory budget in bytes ([`memory_budget`](Self::memory_budget)).
    pub fn with_memory_budget(mut self, bytes: Option<u64>) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// Sets when idle decoders are destroyed ([`idle_timeout`](Self::idle_timeout)).
    pub fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets how long a checkout waits at a limit ([`checkout_timeout`](Self::checkout_timeout)).
    pub fn with_checkout_timeout(mut self, timeout: Duration) -> Self {
        self.checkout_timeout = timeout;
        self
    }

    /// Sets how long building, resetting or reconfiguring waits for the init lock
    /// ([`lock_timeout`](Self::lock_timeout)).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Sets how long a checkout waits for a fitting decoder being reset before it builds one
    /// ([`reset_wait`](Self::reset_wait)); `Duration::ZERO`: never.
    pub fn with_reset_wait(mut self, wait: Duration) -> Self {
        self.reset_wait = wait;
        self
    }

    /// Sets the display delay of the pooled decoders ([`display_delay`](Self::display_delay)).
    pub fn with_display_delay(mut self, frames: u32) -> Self {
        self.display_delay = frames;
        self
    }

    /// Makes the pooled decoders low-latency ([`low_latency`](Self::low_latency)): a live
    /// source's pipeline, one frame out per packet in, sized for live streams (the live
    /// default of [`DecoderConfig::effective_decode_surfaces`]); turning it on also sets one
    /// output surface (call [`with_output_surfaces`](Self::with_output_surfaces) after this
    /// for more).
    ///
    /// [`DecoderConfig::effective_decode_surfaces`]: crate::decode::DecoderConfig::effective_decode_surfaces
    pub fn with_low_latency(mut self, on: bool) -> Self {
        self.low_latency = on;
        if on {
            self.output_surfaces = 1;
        }
        self
    }

    /// Sets the decode surfaces the pooled decoders are created with
    /// ([`decode_surfaces`](Self::decode_surfaces)); `None`: the codec's default. A stream
    /// that needs more re-creates its decoder once, and the pool keeps the larger one.
    pub fn with_decode_surfaces(mut self, surfaces: Option<u32>) -> Self {
        self.decode_surfaces = surfaces;
        self
    }

    /// Sets the output surfaces of the pooled decoders
    /// ([`output_surfaces`](Self::output_surfaces)).
    pub fn with_output_surfaces(mut self, surfaces: u32) -> Self {
        self.output_surfaces = surfaces;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setter_sets_its_field_and_only_it() {
        let config = PoolConfig::default()
            .with_device(1)
            .with_context_mode(ContextMode::Dedicated)
            .with_max_per_key(3)
            .with_max_total(5)
            .with_memory_budget(Some(7))
            .with_idle_timeout(Some(Duration::from_secs(11)))
            .with_checkout_timeout(Duration::from_millis(13))
            .with_lock_timeout(Duration::from_millis(17))
            .with_reset_wait(Duration::from_millis(19))
            .with_display_delay(0)
            .with_low_latency(true)
            .with_output_surfaces(4)
            .with_decode_surfaces(Some(3));
        let expected = PoolConfig {
            device: 1,
            context_mode: ContextMode::Dedicated,
            max_per_key: 3,
            max_total: 5,
            memory_budget: Some(7),
            idle_timeout: Some(Duration::from_secs(11)),
            checkout_timeout: Duration::from_millis(13),
            lock_timeout: Duration::from_millis(17),
            reset_wait: Duration::from_millis(19),
            display_delay: 0,
            output_surfaces: 4,
            decode_surfaces: Some(3),
            low_latency: true,
            ..PoolConfig::default()
        };
        assert_eq!(config, expected);
    }
}
