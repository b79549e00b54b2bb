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

use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::{DecoderConfig, OutputFormat, OutputGeometry};
use super::decoder::Decoder;
use super::geometry::Shape;
use super::{DecoderBuilder, DecoderStats};
use crate::Codec;
use crate::cuda::ContextMode;
use crate::error::{Error, Result};
use crate::init::destroy_in_window;
use crate::init::sync::MutexGuard;
use crate::unwind::contained;
use gate::Gate;

mod gate;

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
    /// [`Decoder::set_output_geometry`]).
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

/// How a [`DecoderPool`] builds and keeps decoders.
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
    /// Display delay of the pooled decoders (see [`DecoderConfig::display_delay`]).
    pub display_delay: u32,
    /// Output surfaces of the pooled decoders (see [`DecoderConfig::output_surfaces`]).
    pub output_surfaces: u32,
}

impl Default for PoolConfig {
    /// Device 0, shared primary context, 64 decoders per key and in all, no memory budget,
    /// no idle timeout, 30 s checkout and lock timeouts, the decoder's default display delay
    /// and output surfaces.
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
            display_delay: base.display_delay,
            output_surfaces: base.output_surfaces,
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
            .with_output_surfaces(self.output_surfaces)
            .with_output_format(OutputFormat::Auto);
        config.runtime_lock_timeout = self.lock_timeout;
        config
    }
}

/// Counters of a [`DecoderPool`].
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
    /// Decoders checked out now.
    pub in_use: usize,
    /// Decoders idle in the pool now.
    pub idle: usize,
    /// Device memory the pool's decoders hold, by the pool's estimate (bytes).
    pub memory_held: u64,
}

type Key = (Codec, u8);

/// An idle decoder (`D`: a [`Decoder`]; a stand-in in the model check).
struct Idle<D = Decoder> {
    decoder: D,
    shape: Shape,
    bytes: u64,
    since: Instant,
}

/// The pool's bookkeeping, apart from the decoders themselves (`D`, as in [`Idle`]): what is
/// idle, what is out, and the counters. Invariant: every decision that takes room (a hit, a
/// reservation to build) and every one that gives it back is a method here, made under the
/// pool's [`Gate`], so the model check in `pool/gate.rs` runs the very decisions the pool makes.
struct State<D = Decoder> {
    idle: Vec<Idle<D>>,
    /// Decoders checked out or being built, per key.
    busy: HashMap<Key, usize>,
    busy_bytes: u64,
    closed: bool,
    stats: PoolStats,
}

impl<D> Default for State<D> {
    fn default() -> Self {
        State {
            idle: Vec::new(),
            busy: HashMap::new(),
            busy_bytes: 0,
            closed: false,
            stats: PoolStats::default(),
        }
    }
}

/// What one look at the pool decided for a checkout ([`State::admit`]).
enum Admit<D> {
    /// An idle decoder that fits, now counted out.
    Hit(D, Busy),
    /// Room reserved to build a decoder.
    Build(Busy),
    /// No room (idle decoders evicted to make some are in `doomed`).
    Full,
}

impl<D> State<D> {
    fn count(&self, key: Key) -> usize {
        self.busy.get(&key).copied().unwrap_or(0)
            + self
                .idle
                .iter()
                .filter(|i| (i.shape.codec, i.shape.bit_depth) == key)
                .count()
    }

    fn total(&self) -> usize {
        self.busy.values().sum::<usize>() + self.idle.len()
    }

    fn bytes(&self) -> u64 {
        self.busy_bytes + self.idle.iter().map(|i| i.bytes).sum::<u64>()
    }

    fn snapshot(&self) -> PoolStats {
        PoolStats {
            in_use: self.busy.values().sum(),
            idle: self.idle.len(),
            memory_held: self.bytes(),
            ..self.stats
        }
    }

    /// Removes and returns the least recently used idle decoder matching `pick`.
    fn evict_lru(&mut self, pick: impl Fn(&Idle<D>) -> bool) -> Option<D> {
        let i = self
            .idle
            .iter()
            .enumerate()
            .filter(|(_, idle)| pick(idle))
            .min_by_key(|(_, idle)| idle.since)
            .map(|(i, _)| i)?;
        self.stats.evictions += 1;
        let evicted = self.idle.swap_remove(i);
        let shape = evicted.shape;
        // Under the pool's mutex, and on the way from `PooledDecoder::drop`.
        contained(|| tracing::debug!(?shape, "decoder pool evicts an idle decoder"));
        Some(evicted.decoder)
    }

    /// One look at the pool for a checkout of `shape` (estimated at `bytes`): the best idle
    /// fit (not when pre-warming), else room reserved to build, evicting idle decoders into
    /// `doomed` to make room (not when pre-warming); else [`Admit::Full`].
    fn admit(
        &mut self,
        config: &PoolConfig,
        shape: &Shape,
        bytes: u64,
        prewarm: bool,
        doomed: &mut Vec<D>,
    ) -> Admit<D> {
        if !prewarm {
            // Best fit: the smallest maximum that holds the spec, least recently used.
            let best = self
                .idle
                .iter()
                .enumerate()
                .filter(|(_, idle)| holds(&idle.shape, shape))
                .min_by_key(|(_, idle)| {
                    (
                        u64::from(idle.shape.max_width) * u64::from(idle.shape.max_height),
                        idle.since,
                    )
                })
                .map(|(i, _)| i);
            if let Some(i) = best {
                let idle = self.idle.swap_remove(i);
                let busy = Busy {
                    key: (idle.shape.codec, idle.shape.bit_depth),
                    bytes: idle.bytes,
                };
                self.take_room(busy);
                self.stats.checkouts += 1;
                self.stats.hits += 1;
                return Admit::Hit(idle.decoder, busy);
            }
        }
        // A miss: make room by evicting idle decoders, least recently used first — others of
        // this key first when the key is full (they are too small).
        let key = (shape.codec, shape.bit_depth);
        let fits = |state: &State<D>| {
            state.total() < config.max_total
                && state.count(key) < config.max_per_key
                && config
                    .memory_budget
                    .is_none_or(|budget| state.bytes() + bytes <= budget)
        };
        // Pre-warming never evicts: it would only trade one idle decoder for another.
        while !prewarm && !fits(self) {
            let key_full = self.count(key) >= config.max_per_key;
            let evicted = if key_full {
                self.evict_lru(|idle| (idle.shape.codec, idle.shape.bit_depth) == key)
            } else {
                self.evict_lru(|_| true)
            };
            match evicted {
                Some(decoder) => doomed.push(decoder),
                None => break,
            }
        }
        if !fits(self) {
            return Admit::Full;
        }
        let busy = Busy { key, bytes };
        self.take_room(busy);
        self.stats.misses += u64::from(!prewarm);
        Admit::Build(busy)
    }

    /// Counts `busy` out.
    fn take_room(&mut self, busy: Busy) {
        *self.busy.entry(busy.key).or_default() += 1;
        self.busy_bytes += busy.bytes;
    }

    /// Counts `busy` back in (a decoder returned, or a build that failed).
    fn release(&mut self, busy: Busy) {
        if let Some(n) = self.busy.get_mut(&busy.key) {
            *n = n.saturating_sub(1);
        }
        self.busy_bytes = self.busy_bytes.saturating_sub(busy.bytes);
    }

    /// Makes `idle` idle, then evicts idle decoders, least recently used first, until the pool
    /// is within its memory budget, its total and the per-key limit of `idle`'s key again;
    /// returns the evicted ones (to be destroyed outside the lock).
    fn keep(&mut self, config: &PoolConfig, idle: Idle<D>) -> Vec<D> {
        let key = (idle.shape.codec, idle.shape.bit_depth);
        self.idle.push(idle);
        let mut doomed = Vec::new();
        loop {
            let evicted = if config
                .memory_budget
                .is_some_and(|budget| self.bytes() > budget)
                || self.total() > config.max_total
            {
                self.evict_lru(|_| true)
            } else if self.count(key) > config.max_per_key {
                self.evict_lru(|idle| (idle.shape.codec, idle.shape.bit_depth) == key)
            } else {
                break;
            };
            match evicted {
                Some(decoder) => doomed.push(decoder),
                None => break, // nothing idle left to evict: over only by decoders in use
            }
        }
        doomed
    }
}

struct PoolInner {
    config: PoolConfig,
    /// The state, and the condition a checkout waits for when a limit is reached.
    gate: Gate<State>,
}

impl PoolInner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.gate.lock()
    }

    /// Idle decoders past the idle timeout, removed from the pool (dropped by the caller,
    /// outside the mutex).
    fn expire(&self, state: &mut State) -> Vec<Decoder> {
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

/// The device memory a decoder of `shape` holds, by this pool's estimate.
fn estimate_bytes(shape: &Shape, output_surfaces: u32) -> u64 {
    let samples = u64::from(shape.max_width) * u64::from(shape.max_height) * 3 / 2;
    let surface = samples * shape.format.bytes_per_sample() as u64;
    (u64::from(shape.surfaces) + u64::from(output_surfaces)) * surface + (16 << 20)
}

/// Whether an idle decoder of shape `idle` can serve a stream that needs `wanted`.
fn holds(idle: &Shape, wanted: &Shape) -> bool {
    idle.codec == wanted.codec
        && idle.bit_depth == wanted.bit_depth
        && idle.format == wanted.format
        && idle.max_width >= wanted.max_width
        && idle.max_height >= wanted.max_height
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

fn spec_shape(config: &DecoderConfig) -> Shape {
    Shape {
        codec: config.codec,
        bit_depth: config.bit_depth,
        format: config.output_format.resolve(config.bit_depth),
        max_width: config.aligned_max_width(),
        max_height: config.aligned_max_height(),
        surfaces: config.effective_decode_surfaces(),
    }
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
            gate: Gate::new(State::default()),
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
            finish_checkin(&self.inner, decoder, Ok(()), None, busy);
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
        let reconfigurations_at_checkout = decoder.stats().reconfigurations;
        Ok(PooledDecoder {
            id: decoder.id(),
            decoder: ManuallyDrop::new(decoder),
            pool: Arc::clone(&self.inner),
            reconfigurations_at_checkout,
            busy,
        })
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

    /// Whether an idle decoder that fits `spec` is in the pool now (what a checkout would hit).
    fn has_idle_fit(&self, spec: &DecoderSpec) -> bool {
        let config = self.inner.config.decoder_config(spec);
        if config.validate().is_err() {
            return false;
        }
        let wanted = spec_shape(&config);
        self.inner
            .state()
            .idle
            .iter()
            .any(|idle| holds(&idle.shape, &wanted))
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
        // A timeout too large to represent is no timeout at all.
        let deadline = Instant::now().checked_add(wait);
        let start = Instant::now();
        let mut doomed: Vec<Decoder> = Vec::new();
        let mut state = inner.state();
        let busy = loop {
            doomed.extend(inner.expire(&mut state));
            match state.admit(&inner.config, &shape, bytes, prewarm, &mut doomed) {
                Admit::Hit(decoder, busy) => {
                    drop(state);
                    drop(doomed);
                    tracing::debug!(?spec, "decoder pool hit");
                    return Ok((decoder, busy));
                }
                Admit::Build(busy) => break busy,
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

/// What a decoder out of the pool counts against its limits: the key and estimate it was
/// counted under when it left (its shape may change while out, e.g. to another bit depth).
#[derive(Debug, Clone, Copy)]
struct Busy {
    key: Key,
    bytes: u64,
}

/// Takes a decoder back from a checkout: discards its stream now, then renews its parser in
/// an init window — at once if the lock is free, otherwise on the teardown thread — and only
/// then makes it idle (see [`finish_checkin`]). Never waits for the lock.
fn checkin(
    inner: &Arc<PoolInner>,
    mut decoder: Decoder,
    reconfigurations_at_checkout: u32,
    busy: Busy,
) {
    let closed = inner.state().closed;
    if closed {
        finish_checkin(
            inner,
            decoder,
            Ok(()),
            Some(reconfigurations_at_checkout),
            busy,
        );
        return;
    }
    if let Err(error) = decoder.discard_stream() {
        finish_checkin(
            inner,
            decoder,
            Err(error),
            Some(reconfigurations_at_checkout),
            busy,
        );
        return;
    }
    let pool = Arc::clone(inner);
    destroy_in_window("pooled decoder reset", move |window| {
        let renewed = decoder.renew_parser_in(window);
        finish_checkin(
            &pool,
            decoder,
            renewed,
            Some(reconfigurations_at_checkout),
            busy,
        );
    });
}

/// Makes a returned (reset) decoder idle under its current shape and size — evicting idle
/// decoders until the pool is back under its limits, in case it grew while checked out — or
/// destroys it if the reset failed or the pool is closed. `reconfigurations_at_checkout` is
/// `None` for a decoder fresh from `prewarm`.
fn finish_checkin(
    inner: &PoolInner,
    decoder: Decoder,
    reset: Result<()>,
    reconfigurations_at_checkout: Option<u32>,
    busy: Busy,
) {
    let shape = decoder.shape();
    let bytes = estimate_bytes(&shape, decoder.config().output_surfaces);
    let stats: DecoderStats = decoder.stats();
    let mut state = inner.state();
    state.release(busy);
    if let Some(before) = reconfigurations_at_checkout {
        state.stats.reconfigurations += u64::from(stats.reconfigurations.saturating_sub(before));
    }
    let keep = match &reset {
        Ok(()) => !state.closed,
        Err(error) => {
            contained(|| {
                tracing::warn!(%error, "a pooled decoder could not be reset; destroying it");
            });
            state.stats.discarded += 1;
            false
        }
    };
    let doomed = if keep {
        let idle = Idle {
            decoder,
            shape,
            bytes,
            since: Instant::now(),
        };
        state.keep(&inner.config, idle)
    } else {
        vec![decoder]
    };
    drop(state);
    inner.gate.opened();
    drop(doomed); // destroyed (in init windows, never waiting) outside the mutex
}

/// A decoder checked out of a [`DecoderPool`]: a [`Decoder`] (through `Deref`) that goes back
/// to the pool when dropped, reset for the next stream. Dropping it never waits for the init
/// lock (the reset's window is taken on the teardown thread when the lock is busy).
///
/// `Send`: check it out on one thread, decode on another. If another `Decoder` is swapped
/// into it (`std::mem::swap` through `DerefMut`), that decoder is not taken into the pool on
/// drop but destroyed, and counted in [`PoolStats::discarded`].
pub struct PooledDecoder {
    /// Taken only by `Drop`, which returns it to the pool.
    decoder: ManuallyDrop<Decoder>,
    /// [`Decoder::id`] of the decoder checked out.
    id: u64,
    pool: Arc<PoolInner>,
    reconfigurations_at_checkout: u32,
    busy: Busy,
}

impl std::ops::Deref for PooledDecoder {
    type Target = Decoder;

    fn deref(&self) -> &Decoder {
        &self.decoder
    }
}

impl std::ops::DerefMut for PooledDecoder {
    fn deref_mut(&mut self) -> &mut Decoder {
        &mut self.decoder
    }
}

impl Drop for PooledDecoder {
    fn drop(&mut self) {
        // SAFETY: `decoder` is taken exactly once, here, and never used afterwards.
        let decoder = unsafe { ManuallyDrop::take(&mut self.decoder) };
        if decoder.id() != self.id {
            // Not the decoder checked out: whatever it is (another context, device or
            // configuration), it never enters the pool. The pool's own decoder left with
            // whoever swapped it out and is destroyed when they drop it.
            contained(|| {
                tracing::warn!("a foreign decoder was swapped into a pooled one; destroying it");
            });
            let mut state = self.pool.state();
            state.release(self.busy);
            state.stats.discarded += 1;
            drop(state);
            self.pool.gate.opened();
            drop(decoder);
            return;
        }
        checkin(
            &self.pool,
            decoder,
            self.reconfigurations_at_checkout,
            self.busy,
        );
    }
}

impl std::fmt::Debug for PooledDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledDecoder")
            .field("decoder", &*self.decoder)
            .finish()
    }
}

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

    /// Checks out on a device with an idle decoder that fits `spec` (a hit), the one with the
    /// fewest decoders in use among those; if no device has one, on the device with the fewest
    /// decoders in use.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::PixelFormat;

    #[test]
    fn the_memory_estimate_matches_measured_1080p_sessions() {
        let config =
            PoolConfig::default().decoder_config(&DecoderSpec::new(Codec::H264, 1920, 1080));
        let mib = estimate_bytes(&spec_shape(&config), config.output_surfaces) >> 20;
        // Measured on H100 and H200: 46.6–46.7 MiB per extra 1080p H.264 session.
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
