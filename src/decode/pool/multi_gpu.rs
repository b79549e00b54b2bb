//! [`MultiGpuDecoderPool`]: one pool per device.

use super::{DecoderPool, DecoderSpec, PoolConfig, PooledDecoder};
use crate::error::{Error, Result};

/// One [`DecoderPool`] per device, with checkout on the least-loaded device.
///
/// NVIDIA's driver serializes decoder creation across all GPUs of a process, so a per-device
/// lock would buy nothing at start-up; pre-warmed pools on every device are what makes many
/// GPUs start many streams fast.
#[derive(Debug, Clone)]
pub struct MultiGpuDecoderPool {
    pools: Vec<DecoderPool>,
}

impl MultiGpuDecoderPool {
    /// A pool on each of `devices`, each with `config` (its `device` replaced).
    pub fn new(devices: &[u32], config: PoolConfig) -> Self {
        MultiGpuDecoderPool {
            pools: devices
                .iter()
                .map(|&device| {
                    DecoderPool::new(PoolConfig {
                        device,
                        ..config.clone()
                    })
                })
                .collect(),
        }
    }

    /// The pool of `device`, if it is one of this set's.
    pub fn pool(&self, device: u32) -> Option<&DecoderPool> {
        self.pools.iter().find(|p| p.config().device == device)
    }

    /// Every pool, in the order of the devices given.
    pub fn pools(&self) -> &[DecoderPool] {
        &self.pools
    }

    /// Pre-warms `n` decoders for `spec` on every device.
    ///
    /// # Errors
    /// As [`DecoderPool::prewarm`].
    pub fn prewarm(&self, spec: DecoderSpec, n: usize) -> Result<()> {
        self.pools.iter().try_for_each(|p| p.prewarm(spec, n))
    }

    /// Checks out on a device with an idle decoder that fits `spec` (a hit), or one that fits
    /// being reset that the checkout would wait for (see [`PoolConfig::reset_wait`]), the one
    /// with the fewest decoders in use among those; if no device has one, on the device with
    /// the fewest decoders in use.
    ///
    /// # Errors
    /// As [`DecoderPool::checkout`]; [`Error::InvalidConfig`] if the set has no device.
    pub fn checkout(&self, spec: DecoderSpec) -> Result<PooledDecoder> {
        let pool = self
            .pools
            .iter()
            .min_by_key(|p| (!p.has_idle_fit(&spec), p.stats().in_use))
            .ok_or_else(|| Error::InvalidConfig {
                parameter: "devices",
                reason: "a pool set with no device".into(),
            })?;
        pool.checkout(spec)
    }

    /// Checks out on `device`.
    ///
    /// # Errors
    /// As [`DecoderPool::checkout`]; [`Error::InvalidConfig`] if `device` is not in the set.
    pub fn checkout_on(&self, device: u32, spec: DecoderSpec) -> Result<PooledDecoder> {
        self.pool(device)
            .ok_or_else(|| Error::InvalidConfig {
                parameter: "device",
                reason: format!("device {device} has no pool here"),
            })?
            .checkout(spec)
    }
}
