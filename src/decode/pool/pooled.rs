//! [`PooledDecoder`]: a decoder out of the pool, and its way back (reset, then idle).

use std::sync::Arc;
use std::time::Instant;

use super::PoolInner;
use super::state::{Busy, Idle, estimate_bytes};
use crate::decode::DecoderStats;
use crate::decode::decoder::Decoder;
use crate::driver::drop_with::DropWith;
use crate::error::Result;
use crate::init::destroy_in_window;
use crate::unwind::contained;

/// Takes a decoder back from a checkout: discards its stream now, then renews its parser in
/// an init window — at once if the lock is free, otherwise on the teardown thread — and only
/// then makes it idle (see [`finish_checkin`]). Never waits for the lock. Until then it is
/// counted as being reset, so a checkout of its key can wait for it instead of building.
fn checkin(
    inner: &Arc<PoolInner>,
    mut decoder: Decoder,
    reconfigurations_at_checkout: u32,
    busy: Busy,
) {
    let reconfigurations_at_checkout = Some(reconfigurations_at_checkout);
    let ticket = {
        let mut state = inner.state();
        if state.closed {
            None
        } else {
            Some(state.begin_reset(decoder.shape()))
        }
    };
    let Some(ticket) = ticket else {
        finish_checkin(
            inner,
            decoder,
            Ok(()),
            reconfigurations_at_checkout,
            busy,
            None,
        );
        return;
    };
    let pending = PendingReset {
        pool: Arc::clone(inner),
        ticket,
        ended: false,
    };
    if let Err(error) = decoder.discard_stream() {
        pending.finish(decoder, Err(error), reconfigurations_at_checkout, busy);
        return;
    }
    destroy_in_window("pooled decoder reset", move |window| {
        let renewed = decoder.renew_parser_in(window);
        pending.finish(decoder, renewed, reconfigurations_at_checkout, busy);
    });
}

/// A returned decoder's reset, counted in the pool until it ends. Invariant: it ends exactly
/// once that counts — through [`finish`](Self::finish), or, if the reset never gets there (a
/// panic in it, its job dropped unrun), when this drops — so no checkout waits for a
/// decoder that is not coming back, and every waiter is woken.
struct PendingReset {
    pool: Arc<PoolInner>,
    ticket: u64,
    ended: bool,
}

impl PendingReset {
    fn finish(
        mut self,
        decoder: Decoder,
        reset: Result<()>,
        reconfigurations_at_checkout: Option<u32>,
        busy: Busy,
    ) {
        self.ended = true;
        finish_checkin(
            &self.pool,
            decoder,
            reset,
            reconfigurations_at_checkout,
            busy,
            Some(self.ticket),
        );
    }
}

impl Drop for PendingReset {
    fn drop(&mut self) {
        if !self.ended {
            let mut state = self.pool.state();
            state.end_reset(self.ticket);
            drop(state);
            self.pool.gate.opened();
        }
    }
}

/// Makes a returned (reset) decoder idle under its current shape and size — evicting idle
/// decoders until the pool is back under its limits, in case it grew while checked out — or
/// destroys it if the reset failed or the pool is closed. `reconfigurations_at_checkout` is
/// `None` for a decoder fresh from `prewarm`; `ticket` names its reset
/// ([`PoolState::begin_reset`](super::state::PoolState::begin_reset)), ended here under the
/// same lock, and the checkouts waiting for it woken, whatever the outcome.
pub(super) fn finish_checkin(
    inner: &PoolInner,
    decoder: Decoder,
    reset: Result<()>,
    reconfigurations_at_checkout: Option<u32>,
    busy: Busy,
    ticket: Option<u64>,
) {
    let shape = decoder.shape();
    let bytes = estimate_bytes(&shape, decoder.config().output_surfaces);
    let stats: DecoderStats = decoder.stats();
    let mut state = inner.state();
    state.release(busy);
    if let Some(ticket) = ticket {
        state.end_reset(ticket);
    }
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

/// A decoder checked out of a [`DecoderPool`](super::DecoderPool): a [`Decoder`] (through
/// `Deref`) that goes back to the pool when dropped, reset for the next stream. Dropping it
/// never waits for the init lock (the reset's window is taken on the teardown thread when the
/// lock is busy).
///
/// `Send`: check it out on one thread, decode on another. If another `Decoder` is swapped
/// into it (`std::mem::swap` through `DerefMut`), that decoder is not taken into the pool on
/// drop but destroyed, and counted in [`PoolStats::discarded`](super::PoolStats::discarded).
pub struct PooledDecoder {
    /// Handed whole to [`give_back`] when the `PooledDecoder` drops.
    out: DropWith<CheckedOut>,
}

/// A decoder out of the pool, with what its return needs.
struct CheckedOut {
    decoder: Decoder,
    /// [`Decoder::id`] of the decoder checked out.
    id: u64,
    pool: Arc<PoolInner>,
    reconfigurations_at_checkout: u32,
    busy: Busy,
}

impl PooledDecoder {
    /// `decoder`, counted out of `pool` as `busy`, checked out now.
    pub(super) fn new(decoder: Decoder, pool: Arc<PoolInner>, busy: Busy) -> Self {
        let out = CheckedOut {
            id: decoder.id(),
            reconfigurations_at_checkout: decoder.stats().reconfigurations,
            decoder,
            pool,
            busy,
        };
        PooledDecoder {
            out: DropWith::new(out, give_back),
        }
    }
}

impl std::ops::Deref for PooledDecoder {
    type Target = Decoder;

    fn deref(&self) -> &Decoder {
        &self.out.decoder
    }
}

impl std::ops::DerefMut for PooledDecoder {
    fn deref_mut(&mut self) -> &mut Decoder {
        &mut self.out.decoder
    }
}

/// What dropping a [`PooledDecoder`] does: the decoder checked out goes back to the pool
/// ([`checkin`]); any other decoder swapped in is destroyed, and its room given back.
fn give_back(out: CheckedOut) {
    let CheckedOut {
        decoder,
        id,
        pool,
        reconfigurations_at_checkout,
        busy,
    } = out;
    if decoder.id() != id {
        // Not the decoder checked out: whatever it is (another context, device or
        // configuration), it never enters the pool. The pool's own decoder left with
        // whoever swapped it out and is destroyed when they drop it.
        contained(|| {
            tracing::warn!("a foreign decoder was swapped into a pooled one; destroying it");
        });
        let mut state = pool.state();
        state.release(busy);
        state.stats.discarded += 1;
        drop(state);
        pool.gate.opened();
        drop(decoder);
        return;
    }
    checkin(&pool, decoder, reconfigurations_at_checkout, busy);
}

impl std::fmt::Debug for PooledDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledDecoder")
            .field("decoder", &self.out.decoder)
            .finish()
    }
}
