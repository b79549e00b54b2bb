//! The pool's bookkeeping, apart from the decoders themselves: what is idle, what is out,
//! the counters, and the decisions that take room and give it back (best fit, LRU eviction,
//! limits). Generic over the decoder so the model check in `gate.rs` runs these very
//! decisions over stand-ins.

use std::collections::HashMap;
use std::time::Instant;

use super::{PoolConfig, PoolStats};
use crate::Codec;
use crate::decode::config::DecoderConfig;
use crate::decode::decoder::Decoder;
use crate::decode::geometry::Shape;
use crate::unwind::contained;

pub(super) type PoolKey = (Codec, u8);

/// An idle decoder (`D`: a [`Decoder`]; a stand-in in the model check).
pub(super) struct Idle<D = Decoder> {
    pub(super) decoder: D,
    pub(super) shape: Shape,
    pub(super) bytes: u64,
    pub(super) since: Instant,
}

/// A returned decoder whose reset has not finished yet (still counted out, in `busy`).
pub(super) struct Resetting {
    pub(super) ticket: u64,
    pub(super) shape: Shape,
    /// Whether a checkout waits for this one (at most one does).
    pub(super) claimed: bool,
}

/// The pool's bookkeeping, apart from the decoders themselves (`D`, as in [`Idle`]): what is
/// idle, what is out, what is on its way back, and the counters. Invariant: every decision that takes room (a hit, a
/// reservation to build) and every one that gives it back is a method here, made under the
/// pool's [`Gate`], so the model check in `pool/gate.rs` runs the very decisions the pool makes.
///
/// [`Gate`]: super::gate::Gate
pub(super) struct PoolState<D = Decoder> {
    pub(super) idle: Vec<Idle<D>>,
    /// Decoders checked out or being built, per key.
    pub(super) busy: HashMap<PoolKey, usize>,
    pub(super) busy_bytes: u64,
    /// Returned decoders being reset (a subset of those counted in `busy`).
    pub(super) resetting: Vec<Resetting>,
    next_ticket: u64,
    pub(super) closed: bool,
    pub(super) stats: PoolStats,
}

impl<D> Default for PoolState<D> {
    fn default() -> Self {
        PoolState {
            idle: Vec::new(),
            busy: HashMap::new(),
            busy_bytes: 0,
            resetting: Vec::new(),
            next_ticket: 0,
            closed: false,
            stats: PoolStats::default(),
        }
    }
}

/// What a look at the pool ([`PoolState::admit`]) is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ask {
    /// Pre-warming: always build, never evict.
    Prewarm,
    /// A checkout: an idle fit, else build (evicting to make room).
    Checkout,
    /// A checkout that may still wait for a decoder being reset: an idle fit, else an
    /// unclaimed decoder being reset that fits, else build.
    CheckoutOrAwait,
}

/// What one look at the pool decided for a checkout ([`PoolState::admit`]).
pub(super) enum Admit<D> {
    /// An idle decoder that fits, now counted out.
    Hit(D, Busy),
    /// Room reserved to build a decoder.
    Build(Busy),
    /// No idle fit, but this decoder being reset fits; now claimed by the caller, who waits
    /// for its reset to end and looks again (after [`PoolState::unclaim`]).
    Await(u64),
    /// No room (idle decoders evicted to make some are in `doomed`).
    Full,
}

impl<D> PoolState<D> {
    pub(super) fn count(&self, key: PoolKey) -> usize {
        self.busy.get(&key).copied().unwrap_or(0)
            + self
                .idle
                .iter()
                .filter(|i| (i.shape.codec, i.shape.bit_depth) == key)
                .count()
    }

    pub(super) fn total(&self) -> usize {
        self.busy.values().sum::<usize>() + self.idle.len()
    }

    pub(super) fn bytes(&self) -> u64 {
        self.busy_bytes + self.idle.iter().map(|i| i.bytes).sum::<u64>()
    }

    pub(super) fn snapshot(&self) -> PoolStats {
        PoolStats {
            in_use: self.busy.values().sum(),
            idle: self.idle.len(),
            memory_held: self.bytes(),
            ..self.stats
        }
    }

    /// Counts a returned decoder of `shape` as being reset; the ticket ends it
    /// ([`end_reset`](Self::end_reset)).
    pub(super) fn begin_reset(&mut self, shape: Shape) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket = self.next_ticket.wrapping_add(1);
        self.resetting.push(Resetting {
            ticket,
            shape,
            claimed: false,
        });
        ticket
    }

    /// The reset of `ticket` ended (the decoder is idle now, or destroyed).
    pub(super) fn end_reset(&mut self, ticket: u64) {
        self.resetting.retain(|r| r.ticket != ticket);
    }

    /// The checkout that claimed `ticket` no longer waits for it.
    pub(super) fn unclaim(&mut self, ticket: u64) {
        if let Some(r) = self.resetting.iter_mut().find(|r| r.ticket == ticket) {
            r.claimed = false;
        }
    }

    /// The decoder being reset that a checkout of `shape` would wait for: the smallest
    /// maximum that holds it, among those no checkout waits for.
    fn resetting_fit(&mut self, shape: &Shape) -> Option<&mut Resetting> {
        self.resetting
            .iter_mut()
            .filter(|r| !r.claimed && holds(&r.shape, shape))
            .min_by_key(|r| u64::from(r.shape.max_width) * u64::from(r.shape.max_height))
    }

    /// Whether a checkout of `shape` asking `ask` would be served without building: an idle
    /// fit, or (for [`Ask::CheckoutOrAwait`]) a decoder being reset that it would wait for.
    pub(super) fn has_fit(&mut self, shape: &Shape, ask: Ask) -> bool {
        self.idle.iter().any(|idle| holds(&idle.shape, shape))
            || (ask == Ask::CheckoutOrAwait && self.resetting_fit(shape).is_some())
    }

    /// Removes and returns the least recently used idle decoder matching `pick`.
    pub(super) fn evict_lru(&mut self, pick: impl Fn(&Idle<D>) -> bool) -> Option<D> {
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
    /// fit (not when pre-warming), else (for [`Ask::CheckoutOrAwait`]) a decoder being reset
    /// that fits, claimed, else room reserved to build, evicting idle decoders into `doomed`
    /// to make room (not when pre-warming); else [`Admit::Full`].
    pub(super) fn admit(
        &mut self,
        config: &PoolConfig,
        shape: &Shape,
        bytes: u64,
        ask: Ask,
        doomed: &mut Vec<D>,
    ) -> Admit<D> {
        let prewarm = ask == Ask::Prewarm;
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
        if ask == Ask::CheckoutOrAwait {
            if let Some(resetting) = self.resetting_fit(shape) {
                resetting.claimed = true;
                return Admit::Await(resetting.ticket);
            }
        }
        // A miss: make room by evicting idle decoders, least recently used first — others of
        // this key first when the key is full (they are too small).
        let key = (shape.codec, shape.bit_depth);
        let fits = |state: &PoolState<D>| {
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
    pub(super) fn release(&mut self, busy: Busy) {
        if let Some(n) = self.busy.get_mut(&busy.key) {
            *n = n.saturating_sub(1);
        }
        self.busy_bytes = self.busy_bytes.saturating_sub(busy.bytes);
    }

    /// Makes `idle` idle, then evicts idle decoders, least recently used first, until the pool
    /// is within its memory budget, its total and the per-key limit of `idle`'s key again;
    /// returns the evicted ones (to be destroyed outside the lock).
    pub(super) fn keep(&mut self, config: &PoolConfig, idle: Idle<D>) -> Vec<D> {
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

/// What a decoder out of the pool counts against its limits: the key and estimate it was
/// counted under when it left (its shape may change while out, e.g. to another bit depth).
#[derive(Debug, Clone, Copy)]
pub(super) struct Busy {
    pub(super) key: PoolKey,
    pub(super) bytes: u64,
}

/// The device memory a decoder of `shape` holds, by this pool's estimate.
pub(super) fn estimate_bytes(shape: &Shape, output_surfaces: u32) -> u64 {
    let samples = u64::from(shape.max_width) * u64::from(shape.max_height) * 3 / 2;
    let surface = samples * shape.format.bytes_per_sample() as u64;
    (u64::from(shape.surfaces) + u64::from(output_surfaces)) * surface + (16 << 20)
}

/// Whether an idle decoder of shape `idle` can serve a stream that needs `wanted`.
pub(super) fn holds(idle: &Shape, wanted: &Shape) -> bool {
    idle.codec == wanted.codec
        && idle.bit_depth == wanted.bit_depth
        && idle.format == wanted.format
        && idle.max_width >= wanted.max_width
        && idle.max_height >= wanted.max_height
}

pub(super) fn spec_shape(config: &DecoderConfig) -> Shape {
    Shape {
        codec: config.codec,
        bit_depth: config.bit_depth,
        format: config.output_format.resolve(config.bit_depth),
        max_width: config.aligned_max_width(),
        max_height: config.aligned_max_height(),
        surfaces: config.effective_decode_surfaces(),
    }
}
