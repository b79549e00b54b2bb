//! Where a session's native frames are copied to: a frame pool of its own (a `Decoder`), or
//! the pools a `DecoderPool` shares between its checkouts, one per CUDA context and frame
//! size.
//!
//! Invariant: a shared pool serves frames of one size only, so streams of other sizes never
//! evict each other's free buffers (a `DeviceFramePool` keeps free buffers of its two latest
//! sizes only), whatever the container tells of the size beforehand (raw streams tell
//! nothing).
//!
//! Memory bound: at most [`SharedFramePools::MAX`] shared pools are kept, the most recently
//! used; each holds the buffers of frames alive plus, free, at most as many as its streams had
//! alive at once. `DecoderPool.trim()` lets every free one go.
//!
//! Trade-off: a stream started from a pool reuses the buffers of the streams before it
//! instead of allocating its own and freeing them at its end (`cuMemFree` waits for the
//! whole device), at the price of free buffers kept between streams.

use std::sync::{Arc, Mutex};

use guard::Result;
use guard::cuda::Context;
use guard::decode::{DeviceFramePool, Frame as CrateFrame, OwnedFrame};

/// (CUDA context by address — the pool's decoders keep theirs alive —, packed frame bytes).
type Key = (usize, usize);

/// The frame pools of one `DecoderPool`.
#[derive(Default)]
pub(crate) struct SharedFramePools {
    pools: Mutex<Vec<(Key, DeviceFramePool)>>,
}

impl SharedFramePools {
    /// Pools kept at most.
    pub(crate) const MAX: usize = 8;

    /// The pool for frames of `bytes` in `context` (made if needed; most recently used last).
    fn get(&self, context: &Context, bytes: usize) -> DeviceFramePool {
        let key = (context.raw() as usize, bytes);
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        let pool = match pools.iter().position(|(k, _)| *k == key) {
            Some(i) => pools.remove(i).1,
            None => DeviceFramePool::new(context),
        };
        pools.push((key, pool.clone()));
        let over = pools.len().saturating_sub(Self::MAX);
        let dropped: Vec<_> = pools.drain(..over).collect();
        drop(pools);
        drop(dropped); // free buffers are freed outside the mutex
        pool
    }

    /// Lets go of every pool (their free buffers are freed; frames alive keep theirs).
    pub(crate) fn clear(&self) {
        let pools = std::mem::take(&mut *self.pools.lock().unwrap_or_else(|e| e.into_inner()));
        drop(pools);
    }
}

/// A session's frame buffers.
pub(crate) enum FrameBuffers {
    Own(DeviceFramePool),
    Shared {
        pools: Arc<SharedFramePools>,
        /// The pool of the size seen last, and that size.
        current: Mutex<Option<(usize, DeviceFramePool)>>,
    },
}

impl FrameBuffers {
    /// Buffers shared through `pools`.
    pub(crate) fn shared(pools: Arc<SharedFramePools>) -> Self {
        FrameBuffers::Shared {
            pools,
            current: Mutex::new(None),
        }
    }

    /// Copies `frame` into a buffer of its pool.
    ///
    /// # Errors
    /// As [`CrateFrame::copy_to_pool`].
    pub(crate) fn copy(&self, frame: &CrateFrame<'_>) -> Result<OwnedFrame> {
        match self {
            FrameBuffers::Own(pool) => frame.copy_to_pool(pool),
            FrameBuffers::Shared { pools, current } => {
                let bytes = frame.layout().packed_size();
                let pool = {
                    let mut current = current.lock().unwrap_or_else(|e| e.into_inner());
                    match &*current {
                        Some((size, pool)) if *size == bytes => pool.clone(),
                        _ => {
                            let pool = pools.get(frame.context(), bytes);
                            *current = Some((bytes, pool.clone()));
                            pool
                        }
                    }
                };
                frame.copy_to_pool(&pool)
            }
        }
    }

    fn current(&self) -> Option<DeviceFramePool> {
        match self {
            FrameBuffers::Own(pool) => Some(pool.clone()),
            FrameBuffers::Shared { current, .. } => current
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map(|(_, pool)| pool.clone()),
        }
    }

    /// Buffers allocated by the pool in use (for a shared one: by every stream it served).
    pub(crate) fn allocated(&self) -> u64 {
        self.current().map_or(0, |p| p.allocated())
    }

    /// Free buffers of the pool in use.
    pub(crate) fn free(&self) -> usize {
        self.current().map_or(0, |p| p.free())
    }
}
