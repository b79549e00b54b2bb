//! [`DecoderPool`]: decoders built ahead of demand and reused, so a new stream starts in
//! milliseconds instead of behind a queue of serialized `cuvidCreateDecoder` calls.
//!
//! Invariant: the pool cannot become a way around the init lock, and it hands out only its
//! own decoders, reset. Decoders are made only through the typed builder
//! ([`DecoderBuilder::build_timeout`]) and destroyed only by dropping them (a teardown inside
//! an init window); a decoder coming back is reset — queued frames discarded, parser renewed
//! inside a window — before anyone else can check it out, so no frame of one stream can reach
//! the next user. A decoder that is not the one checked out (safe code can `mem::swap` another
//! `Decoder` into a [`PooledDecoder`]) is refused at check-in and destroyed. Reconfiguration
//! for another size happens inside a window too, at the new stream's first sequence header.
//!
//! Design choices:
//! - **Reset on return, never waiting for the lock.** Dropping a [`PooledDecoder`] discards
//!   the old stream at once; the parser renewal (one short window) runs at once if the lock is
//!   free, otherwise on the teardown thread (`init::wait_for_teardowns` covers it). Until it
//!   is done the decoder counts as in use, so a checkout that hits is still a mutex and a
//!   `Vec` scan, and a drop costs microseconds however busy the lock is.
//! - **Wait for a decoder on its way back rather than build a second one.** A checkout that
//!   finds no idle decoder that fits, but one that fits being reset (returned, its parser
//!   renewal not yet run — deferred because another thread held the lock), claims it and
//!   waits for its reset instead of building: the common loop "drop the decoder, check out
//!   the next stream's" would otherwise build (≈ 45 ms, serialized by the driver, and one
//!   decoder more in the pool) exactly when the lock is busy. Each decoder being reset is
//!   claimed by at most one checkout; a checkout that finds them all claimed builds. The
//!   wait is bounded by [`PoolConfig::reset_wait`] (100 ms by default, about two decoder
//!   creations: a reset that has not run by then is queued behind creations or long
//!   destroys — the reaper yields to creators — and building then costs the checkout at
//!   most that bound more than building at once would have) and by the checkout's timeout;
//!   then the checkout goes on as if nothing were being reset (builds, or waits for room
//!   and fails with [`Error::PoolExhausted`]). The end of every reset — done, failed, or its
//!   job lost to a panic — wakes the waiters, so a failed reset costs a waiter no time. It
//!   never waits while holding the pool's mutex, nor on a thread inside an init window (the
//!   reset may need that window's lock): such a checkout builds as before. Counted in
//!   [`PoolStats::waited_for_reset`].
//! - **Best fit, then LRU.** A checkout takes the idle decoder of the same codec and bit depth
//!   with the smallest maximum size that holds the request (least recently used among equals);
//!   one whose maximum is too small is never handed out for a larger stream.
//! - **Limits.** Per key and in total, and an optional device-memory budget. Memory is an
//!   estimate from the decoder's shape (surfaces × surface bytes + 16 MiB of driver state,
//!   which matches the measured 47 / 57 MiB per 1080p H.264 / HEVC session within a few MiB);
//!   the budget is never exceeded by that estimate once a decoder is back: one that grew
//!   while checked out (a larger stream re-created it) is accounted at its new size at
//!   check-in, and idle decoders are evicted, least recently used first, until the pool is
//!   back under its limits. When a limit is reached at checkout, idle decoders are evicted
//!   and destroyed before the checkout waits; if none is idle, it waits for a return up to its
//!   timeout and then fails with [`Error::PoolExhausted`]. Idle decoders older than the idle
//!   timeout are evicted lazily, at the next pool operation (no background thread).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::DecoderBuilder;
use super::decoder::Decoder;
use crate::error::{Error, Result};
use crate::init::sync::MutexGuard;
use crate::unwind::contained;
use gate::Gate;
pub use multi_gpu::MultiGpuDecoderPool;
pub use pooled::PooledDecoder;
use pooled::finish_checkin;
pub use spec::{DecoderSpec, PoolConfig, PoolStats};
use state::{Admit, Ask, Busy, PoolState, estimate_bytes, spec_shape};

mod gate;
mod multi_gpu;
mod pooled;
mod spec;
mod state;

struct PoolInner {
    config: PoolConfig,
    /// The state, and the condition a checkout waits for when a limit is reached.
    gate: Gate<PoolState>,
}

impl PoolInner {
    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.gate.lock()
    }

    /// Idle decoders past the idle timeout, removed from the pool (dropped by the caller,
    /// outside the mutex).
    fn expire(&self, state: &mut PoolState) -> Vec<Decoder> {
        let Some(timeout) = self.config.idle_timeout else {
            return Vec::new();
        };
        let now = Instant::now();
        let mut expired = Vec::new();
        while let Some(decoder) =
            state.evict_lru(|idle| now.saturating_duration_since(idle.since) >= timeout)
        {
            expired.push(decoder);
        }
        expired
    }
}

/// How [`DecoderPool::build`] takes a decoder.
#[derive(Debug, Clone, Copy)]
enum Take {
    /// For `prewarm`: always build; never evict; fail at once when a limit is reached.
    Prewarm,
    /// For a checkout: an idle fit, else build (evicting idle decoders to make room),
    /// waiting up to the duration for a limit to clear.
    Checkout(Duration),
}

/// A pool of NVDEC decoders on one device, shared by every thread of a server.
///
/// Cloning shares the pool. Dropping the last handle destroys the idle decoders; decoders
/// checked out then are destroyed when they come back.
///
/// # Examples
/// ```no_run
/// use nvcodec_guard::decode::{DecoderPool, DecoderSpec, PoolConfig};
/// use nvcodec_guard::Codec;
///
/// let pool = DecoderPool::new(PoolConfig::default());
/// let spec = DecoderSpec::new(Codec::H264, 1920, 1080);
/// pool.prewarm(spec, 8)?;                      // at server start: 8 decoders built
/// let mut decoder = pool.checkout(spec)?;      // per stream: milliseconds
/// # let packet: &[u8] = &[];
/// for frame in decoder.decode(packet, 0)? {
///     let _ = frame?;
/// }
/// drop(decoder);                               // back to the pool, reset for the next stream
/// # Ok::<(), nvcodec_guard::Error>(())
/// ```
#[derive(Clone)]
pub struct DecoderPool {
    inner: Arc<PoolInner>,
    /// Shared by the clones: the last one to drop closes the pool.
    _closer: Arc<Closer>,
}

struct Closer(Arc<PoolInner>);

impl Drop for Closer {
    fn drop(&mut self) {
        let idle = {
            let mut state = self.0.state();
            state.closed = true;
            std::mem::take(&mut state.idle)
        };
        self.0.gate.opened();
        drop(idle); // each decoder's teardown runs inside an init window
    }
}

impl std::fmt::Debug for DecoderPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecoderPool")
            .field("device", &self.inner.config.device)
            .field("stats", &self.stats())
            .finish()
    }
}

impl DecoderPool {
    /// An empty pool; nothing is built until [`prewarm`](Self::prewarm) or
    /// [`checkout`](Self::checkout).
    pub fn new(config: PoolConfig) -> Self {
        let inner = Arc::new(PoolInner {
            config,
            gate: Gate::new(PoolState::default()),
        });
        DecoderPool {
            _closer: Arc::new(Closer(Arc::clone(&inner))),
            inner,
        }
    }

    /// The pool's configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// The pool's counters now.
    pub fn stats(&self) -> PoolStats {
        self.inner.state().snapshot()
    }

    /// Builds `n` decoders for `spec` now and keeps them idle, so that the next `n`
    /// checkouts of `spec` hit. Each is built in its own init window.
    ///
    /// # Errors
    /// What [`DecoderBuilder::build`] returns for `spec` (an unsupported codec, bit depth or
    /// size names what the GPU supports), or [`Error::PoolExhausted`] if the pool's limits
    /// leave no room for `n` more decoders (those built before stay in the pool; pre-warming
    /// never evicts idle decoders to make room).
    pub fn prewarm(&self, spec: DecoderSpec, n: usize) -> Result<()> {
        for _ in 0..n {
            let (decoder, busy) = self.build(spec, Take::Prewarm)?;
            finish_checkin(&self.inner, decoder, Ok(()), None, busy, None);
        }
        Ok(())
    }

    /// A decoder for a stream of `spec`: an idle one that fits, or a new one. Waits up to
    /// [`PoolConfig::checkout_timeout`] when a limit is reached.
    ///
    /// # Errors
    /// [`Error::PoolExhausted`] after the timeout; what [`DecoderBuilder::build`] returns
    /// when a decoder must be built (unsupported codec, bit depth or size on this GPU,
    /// [`Error::InitLockTimeout`], a driver error).
    pub fn checkout(&self, spec: DecoderSpec) -> Result<PooledDecoder> {
        self.checkout_timeout(spec, self.inner.config.checkout_timeout)
    }

    /// [`checkout`](Self::checkout) with its own timeout.
    ///
    /// # Errors
    /// As [`checkout`](Self::checkout).
    pub fn checkout_timeout(&self, spec: DecoderSpec, timeout: Duration) -> Result<PooledDecoder> {
        spec.output.validate(spec.max_width, spec.max_height)?;
        let (mut decoder, busy) = self.build(spec, Take::Checkout(timeout))?;
        decoder.set_output_geometry(spec.output)?;
        Ok(PooledDecoder::new(decoder, Arc::clone(&self.inner), busy))
    }

    /// Destroys every idle decoder now (each inside an init window).
    pub fn trim(&self) {
        let evicted: Vec<Decoder> = {
            let mut state = self.inner.state();
            let mut out = Vec::new();
            while let Some(decoder) = state.evict_lru(|_| true) {
                out.push(decoder);
            }
            out
        };
        tracing::debug!(evicted = evicted.len(), "decoder pool trimmed");
        drop(evicted);
    }

    /// Whether a checkout of `spec` would be served now without building: an idle decoder
    /// that fits, or one being reset that it would wait for.
    fn has_idle_fit(&self, spec: &DecoderSpec) -> bool {
        let config = self.inner.config.decoder_config(spec);
        if config.validate().is_err() {
            return false;
        }
        let ask = if self.may_await_reset() {
            Ask::CheckoutOrAwait
        } else {
            Ask::Checkout
        };
        self.inner.state().has_fit(&spec_shape(&config), ask)
    }

    /// Whether a checkout on this thread may wait for a decoder being reset: waiting is
    /// configured, and this thread is not inside an init window (the reset may need it).
    fn may_await_reset(&self) -> bool {
        !self.inner.config.reset_wait.is_zero() && !crate::init::held_by_current_thread()
    }

    /// Takes an idle decoder that fits `spec`, or builds one (counted busy either way).
    fn build(&self, spec: DecoderSpec, take: Take) -> Result<(Decoder, Busy)> {
        let inner = &self.inner;
        let config = inner.config.decoder_config(&spec);
        config.validate()?;
        let shape = spec_shape(&config);
        let bytes = estimate_bytes(&shape, config.output_surfaces);
        if inner
            .config
            .memory_budget
            .is_some_and(|budget| bytes > budget)
        {
            return Err(Error::InvalidConfig {
                parameter: "memory_budget",
                reason: format!(
                    "one {} {}x{} decoder needs about {} MiB, more than the pool's budget of {} MiB",
                    spec.codec,
                    spec.max_width,
                    spec.max_height,
                    bytes >> 20,
                    inner.config.memory_budget.unwrap_or(0) >> 20
                ),
            });
        }
        let (prewarm, wait) = match take {
            // No hit (always build), no eviction, fail at once when full.
            Take::Prewarm => (true, Duration::ZERO),
            Take::Checkout(wait) => (false, wait),
        };
        let start = Instant::now();
        // A timeout too large to represent is no timeout at all.
        let deadline = start.checked_add(wait);
        // Waiting for a decoder being reset ends at the reset wait or the checkout's timeout.
        let reset_deadline = match start.checked_add(inner.config.reset_wait) {
            Some(at) => Some(deadline.map_or(at, |deadline| deadline.min(at))),
            None => deadline,
        };
        let may_await = !prewarm && self.may_await_reset();
        // The decoder being reset that this checkout waits for, claimed under the mutex.
        let mut claim: Option<u64> = None;
        let mut waited = false;
        let mut doomed: Vec<Decoder> = Vec::new();
        let mut state = inner.state();
        let busy = loop {
            if let Some(ticket) = claim.take() {
                state.unclaim(ticket);
            }
            doomed.extend(inner.expire(&mut state));
            let now = Instant::now();
            let ask = if prewarm {
                Ask::Prewarm
            } else if may_await && reset_deadline.is_none_or(|at| now < at) {
                Ask::CheckoutOrAwait
            } else {
                Ask::Checkout
            };
            match state.admit(&inner.config, &shape, bytes, ask, &mut doomed) {
                Admit::Hit(decoder, busy) => {
                    drop(state);
                    drop(doomed);
                    tracing::debug!(?spec, "decoder pool hit");
                    return Ok((decoder, busy));
                }
                Admit::Build(busy) => break busy,
                Admit::Await(ticket) => {
                    if !waited {
                        waited = true;
                        state.stats.waited_for_reset += 1;
                        // Under the pool's mutex: a subscriber must not unwind out of here.
                        contained(|| {
                            tracing::debug!(?spec, "decoder pool waits for a decoder being reset");
                        });
                    }
                    claim = Some(ticket);
                    if !doomed.is_empty() {
                        drop(state);
                        doomed.clear();
                        state = inner.state();
                        continue;
                    }
                    let left = reset_deadline.map_or(Duration::from_secs(3600), |at| {
                        at.saturating_duration_since(now)
                    });
                    // Woken by the end of any reset (this one's included) or any release.
                    state = inner.gate.wait(state, left);
                    continue;
                }
                Admit::Full => {}
            }
            if !doomed.is_empty() {
                // Evicted decoders are destroyed before waiting (their teardown never waits
                // for the lock), not kept alive for the whole wait; then look again.
                drop(state);
                doomed.clear();
                state = inner.state();
                continue;
            }
            let now = Instant::now();
            let left = match deadline {
                Some(deadline) if now >= deadline => {
                    drop(state);
                    drop(doomed);
                    tracing::warn!(?spec, "decoder pool exhausted");
                    return Err(Error::PoolExhausted {
                        waited: now - start,
                    });
                }
                Some(deadline) => deadline - now,
                None => Duration::from_secs(3600),
            };
            state = inner.gate.wait(state, left);
        };
        drop(state);
        drop(doomed); // evicted decoders are destroyed (in init windows) outside the mutex
        tracing::debug!(?spec, "decoder pool builds a decoder");
        let built = DecoderBuilder::new(config).build_timeout(inner.config.lock_timeout);
        let mut state = inner.state();
        match built {
            Ok(decoder) => {
                state.stats.creations += 1;
                state.stats.checkouts += u64::from(!prewarm);
                // The estimate is of the shape it was asked for, which is what it got.
                Ok((decoder, busy))
            }
            Err(error) => {
                state.release(busy);
                drop(state);
                inner.gate.opened();
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Codec;
    use crate::decode::PixelFormat;
    use crate::decode::geometry::Shape;

    #[test]
    fn the_memory_estimate_matches_measured_1080p_sessions() {
        let config =
            PoolConfig::default().decoder_config(&DecoderSpec::new(Codec::H264, 1920, 1080));
        let mib = estimate_bytes(&spec_shape(&config), config.output_surfaces) >> 20;
        // Measured: 46.6–46.7 MiB per extra 1080p H.264 session.
        assert!((40..=60).contains(&mib), "{mib} MiB");
        let ten = Shape {
            format: PixelFormat::P016,
            ..spec_shape(&config)
        };
        assert!(estimate_bytes(&ten, 2) > estimate_bytes(&spec_shape(&config), 2));
    }

    #[test]
    fn a_spec_the_budget_cannot_hold_is_refused_before_any_driver_call() {
        let pool = DecoderPool::new(PoolConfig {
            memory_budget: Some(1 << 20),
            ..PoolConfig::default()
        });
        let err = pool
            .checkout(DecoderSpec::new(Codec::H264, 1920, 1080))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
        assert_eq!(pool.stats(), PoolStats::default());
    }

    #[test]
    fn an_invalid_spec_is_refused_before_any_driver_call() {
        let pool = DecoderPool::new(PoolConfig::default());
        let err = pool
            .checkout(DecoderSpec::new(Codec::H264, 0, 1080))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
        let err = pool
            .checkout(DecoderSpec::new(Codec::Hevc, 1920, 1080).with_bit_depth(9))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
    }
}
