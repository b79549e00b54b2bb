//! [`BufferPool`]: device buffers reused by size, behind the frame pools of `decode`
//! ([`DeviceFramePool`](crate::decode::DeviceFramePool)) and `convert`
//! ([`RgbFramePool`](crate::convert::RgbFramePool)).
//!
//! Invariant: a [`PooledBuffer`] belongs to its holder alone until it drops; then it goes back
//! to its pool's free list, or is freed (if the pool is gone, or keeps no more buffers of its
//! kind). The pool never hands out a buffer that is in use, and allocates only when no free
//! buffer of the size asked for exists, so a steady stream allocates nothing once warm.
//!
//! Memory bound ([`Limits`]): free buffers are kept only of the `kept_sizes` sizes asked for
//! most recently, and at most `max_free` of them; a buffer of another size is freed when it
//! comes back, and free buffers of a size that drops out of the recent ones are freed at once.
//! So a pool holds the buffers alive plus at most `max_free` free ones, whatever sizes it saw.
//! Buffers are freed outside the pool's mutex (`cuMemFree` may wait for the device).

use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::{Context, DeviceBuffer};
use crate::error::Result;

/// How much a [`BufferPool`] keeps free. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Free buffers are kept of this many sizes, those asked for most recently.
    pub(crate) kept_sizes: usize,
    /// Free buffers kept at most.
    pub(crate) max_free: usize,
}

/// Anything with a length in bytes: device buffers, and stand-ins in the tests.
trait ByteLen {
    fn byte_len(&self) -> usize;
}

impl ByteLen for DeviceBuffer {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

/// The free list and the bookkeeping of the bound, apart from any device (tested on the CPU).
#[derive(Debug)]
struct Free<B> {
    buffers: Vec<B>,
    allocated: u64,
    /// The sizes asked for most recently, newest last; at most `Limits::kept_sizes`.
    recent_sizes: Vec<usize>,
}

impl<B: ByteLen> Free<B> {
    fn new() -> Self {
        Free {
            buffers: Vec::new(),
            allocated: 0,
            recent_sizes: Vec::new(),
        }
    }

    /// Takes a free buffer of `len` bytes, if there is one, after recording `len` as the
    /// newest size. Also returns the free buffers of a size no longer kept, for the caller to
    /// free outside the mutex. Counts an allocation when there is no free buffer.
    fn take(&mut self, len: usize, limits: Limits) -> (Option<B>, Vec<B>) {
        let stale = self.note_size(len, limits.kept_sizes);
        let found = self
            .buffers
            .iter()
            .position(|b| b.byte_len() == len)
            .map(|i| self.buffers.swap_remove(i));
        if found.is_none() {
            self.allocated += 1;
        }
        (found, stale)
    }

    fn note_size(&mut self, len: usize, kept_sizes: usize) -> Vec<B> {
        if self.recent_sizes.last() == Some(&len) {
            return Vec::new();
        }
        self.recent_sizes.retain(|&s| s != len);
        self.recent_sizes.push(len);
        if self.recent_sizes.len() <= kept_sizes {
            return Vec::new();
        }
        let dropped = self.recent_sizes.remove(0);
        let (stale, kept) = std::mem::take(&mut self.buffers)
            .into_iter()
            .partition(|b| b.byte_len() == dropped);
        self.buffers = kept;
        stale
    }

    /// Keeps `buffer` if its size is a recent one and there is room; otherwise hands it back
    /// (to be freed by the caller, outside the mutex).
    fn give_back(&mut self, buffer: B, limits: Limits) -> Option<B> {
        let recent = self.recent_sizes.contains(&buffer.byte_len());
        if recent && self.buffers.len() < limits.max_free {
            self.buffers.push(buffer);
            None
        } else {
            Some(buffer)
        }
    }
}

struct Shared {
    context: Context,
    limits: Limits,
    free: Mutex<Free<DeviceBuffer>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Free<DeviceBuffer>> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reusable device buffers of one context; cloning shares the pool. See the
/// [module docs](self).
#[derive(Clone)]
pub(crate) struct BufferPool {
    shared: Arc<Shared>,
}

impl BufferPool {
    /// An empty pool in `context`.
    pub(crate) fn new(context: &Context, limits: Limits) -> Self {
        BufferPool {
            shared: Arc::new(Shared {
                context: context.clone(),
                limits,
                free: Mutex::new(Free::new()),
            }),
        }
    }

    /// The context the buffers belong to.
    pub(crate) fn context(&self) -> &Context {
        &self.shared.context
    }

    /// Buffers allocated so far.
    pub(crate) fn allocated(&self) -> u64 {
        self.shared.lock().allocated
    }

    /// Buffers free right now.
    pub(crate) fn free(&self) -> usize {
        self.shared.lock().buffers.len()
    }

    /// A buffer of exactly `len` bytes: a free one, or a new one.
    ///
    /// # Errors
    /// [`crate::Error::Driver`] if an allocation fails.
    pub(crate) fn take(&self, len: usize) -> Result<PooledBuffer> {
        let (found, stale) = self.shared.lock().take(len, self.shared.limits);
        drop(stale); // freed outside the mutex
        let buffer = match found {
            Some(buffer) => buffer,
            None => DeviceBuffer::alloc(&self.shared.context, len)?,
        };
        Ok(PooledBuffer {
            buffer: ManuallyDrop::new(buffer),
            pool: Arc::downgrade(&self.shared),
        })
    }
}

/// A buffer of a [`BufferPool`], its holder's alone until it drops (then back to the pool).
pub(crate) struct PooledBuffer {
    /// Taken only by `Drop`, which returns it to the pool.
    buffer: ManuallyDrop<DeviceBuffer>,
    pool: Weak<Shared>,
}

impl Deref for PooledBuffer {
    type Target = DeviceBuffer;

    fn deref(&self) -> &DeviceBuffer {
        &self.buffer
    }
}

impl DerefMut for PooledBuffer {
    fn deref_mut(&mut self) -> &mut DeviceBuffer {
        &mut self.buffer
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        // SAFETY: `buffer` is taken exactly once, here, and never used afterwards.
        let buffer = unsafe { ManuallyDrop::take(&mut self.buffer) };
        if let Some(pool) = self.pool.upgrade() {
            let limits = pool.limits;
            let not_kept = pool.lock().give_back(buffer, limits);
            drop(not_kept); // freed outside the mutex
        } // else: the pool is gone and the buffer frees itself here
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Fake(usize);

    impl ByteLen for Fake {
        fn byte_len(&self) -> usize {
            self.0
        }
    }

    const FRAMES: Limits = Limits {
        kept_sizes: 2,
        max_free: usize::MAX,
    };

    #[test]
    fn a_steady_size_allocates_once_and_reuses() {
        let mut free = Free::<Fake>::new();
        let (found, _) = free.take(100, FRAMES);
        assert!(found.is_none());
        assert_eq!(free.give_back(Fake(100), FRAMES), None);
        for _ in 0..10 {
            let (found, stale) = free.take(100, FRAMES);
            assert_eq!(found, Some(Fake(100)));
            assert!(stale.is_empty());
            assert_eq!(free.give_back(Fake(100), FRAMES), None);
        }
        assert_eq!(free.allocated, 1);
    }

    #[test]
    fn free_buffers_are_kept_of_the_recent_sizes_only() {
        let mut free = Free::<Fake>::new();
        for size in [10, 20] {
            free.take(size, FRAMES);
            assert_eq!(free.give_back(Fake(size), FRAMES), None);
        }
        // A third size pushes the oldest (10) out: its free buffer is handed back at once.
        let (found, stale) = free.take(30, FRAMES);
        assert!(found.is_none());
        assert_eq!(stale, vec![Fake(10)]);
        // A buffer of a size no longer asked for is not kept when it comes back.
        assert_eq!(free.give_back(Fake(10), FRAMES), Some(Fake(10)));
        assert_eq!(free.give_back(Fake(30), FRAMES), None);
        let mut kept: Vec<usize> = free.buffers.iter().map(|b| b.0).collect();
        kept.sort_unstable();
        assert_eq!(kept, vec![20, 30]);
    }

    #[test]
    fn at_most_max_free_buffers_are_kept() {
        let limits = Limits {
            kept_sizes: 16,
            max_free: 3,
        };
        let mut free = Free::<Fake>::new();
        free.take(8, limits);
        let back: Vec<Option<Fake>> = (0..5).map(|_| free.give_back(Fake(8), limits)).collect();
        assert_eq!(back.iter().filter(|b| b.is_none()).count(), 3);
        assert_eq!(free.buffers.len(), 3);
    }

    #[test]
    fn many_sizes_never_keep_more_than_the_limits_allow() {
        let limits = Limits {
            kept_sizes: 2,
            max_free: 4,
        };
        let mut free = Free::<Fake>::new();
        for round in 0..100usize {
            let size = 1 + round % 7;
            let (found, _stale) = free.take(size, limits);
            let buffer = found.unwrap_or(Fake(size));
            let _ = free.give_back(buffer, limits);
            assert!(free.buffers.len() <= 4);
            assert!(free.recent_sizes.len() <= 2);
            let sizes: std::collections::HashSet<usize> =
                free.buffers.iter().map(|b| b.0).collect();
            assert!(sizes.len() <= 2, "{sizes:?}");
        }
    }
}
