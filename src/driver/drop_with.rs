//! [`DropWith`]: a value handed whole, by value, to a function when its owner drops.
//!
//! Invariant: the value is taken out exactly once, in `Drop`, and never touched afterwards.
//! Owners whose teardown must move what they own elsewhere (into an init window that may run
//! on the teardown thread) use this instead of `ManuallyDrop::take` in their own `Drop`.

use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

/// Owns a `T`; dropping it calls `on_drop` with the `T`. Dereferences to `T`.
pub(crate) struct DropWith<T> {
    value: ManuallyDrop<T>,
    on_drop: fn(T),
}

impl<T> DropWith<T> {
    pub(crate) fn new(value: T, on_drop: fn(T)) -> Self {
        DropWith {
            value: ManuallyDrop::new(value),
            on_drop,
        }
    }
}

impl<T> Deref for DropWith<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for DropWith<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T> Drop for DropWith<T> {
    fn drop(&mut self) {
        // SAFETY: `value` is taken exactly once, here, and never used afterwards.
        let value = unsafe { ManuallyDrop::take(&mut self.value) };
        (self.on_drop)(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        static HANDED: Cell<u32> = const { Cell::new(0) };
    }

    #[test]
    fn the_value_is_handed_over_once_when_the_owner_drops() {
        struct Counted(u32);
        let mut owner = DropWith::new(Counted(7), |c| HANDED.with(|h| h.set(h.get() + c.0)));
        owner.0 += 1;
        assert_eq!(owner.0, 8);
        drop(owner);
        assert_eq!(HANDED.with(Cell::get), 8);
    }
}
