//! [`CallbackTarget`]: heap memory a C library keeps a pointer to, owned without aliasing UB.
//!
//! Invariant: the value is allocated once (`Box::into_raw`) and its address never changes;
//! from then on it is reached only through shared references derived from that one raw
//! pointer — by the owner ([`Deref`]) and by C callbacks ([`CallbackTarget::from_user_data`])
//! alike — and freed exactly once, when the owner drops. `T` keeps its mutable state in
//! `Cell`/`RefCell`.
//!
//! Why not a `Box<T>` field: moving a `Box` (from a session into a decoder) asserts unique
//! ownership of its contents, which invalidates a raw pointer handed out earlier (undefined
//! behaviour under Stacked and Tree Borrows, shown by Miri). A raw pointer owned by a plain
//! struct carries no such assertion, so moving the owner leaves the C side's pointer valid.

use std::ffi::c_void;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

/// Owns a `T` at a fixed heap address that C code may hold as `void* user_data`.
pub(crate) struct CallbackTarget<T> {
    ptr: NonNull<T>,
    /// Owns a `T` (drop check, auto traits).
    _owns: PhantomData<T>,
}

impl<T> CallbackTarget<T> {
    /// Moves `value` to its fixed heap address.
    pub(crate) fn new(value: T) -> Self {
        CallbackTarget {
            ptr: NonNull::from(Box::leak(Box::new(value))),
            _owns: PhantomData,
        }
    }

    /// The pointer to register as the C library's user data. Valid until `self` drops,
    /// wherever `self` is moved.
    pub(crate) fn user_data(&self) -> *mut c_void {
        self.ptr.as_ptr().cast()
    }

    /// The value behind a pointer from [`user_data`](Self::user_data).
    ///
    /// # Safety
    /// `user` must come from `user_data` of a `CallbackTarget<T>` that is alive for `'a`.
    pub(crate) unsafe fn from_user_data<'a>(user: *mut c_void) -> &'a T {
        // SAFETY: guaranteed by the caller: the allocation is live and only ever shared.
        unsafe { &*user.cast::<T>() }
    }
}

impl<T> Deref for CallbackTarget<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the allocation lives until `self` drops and is only ever shared.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Drop for CallbackTarget<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `Box::leak` in `new` and is freed only here, once; every
        // user of the pointer (a C parser) is destroyed before its owner drops this.
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}

// SAFETY: `CallbackTarget<T>` owns its `T` like a `Box<T>` does; sending it sends the `T`.
unsafe impl<T: Send> Send for CallbackTarget<T> {}

#[cfg(test)]
mod tests {
    //! Run under Miri in CI (`cargo +nightly miri test --lib callback_target`): these model
    //! how a decoder hands `user_data` to NVDEC's parser and then moves its owner around.
    use super::*;
    use std::cell::{Cell, RefCell};

    /// What NVDEC's parser keeps: the user data and a callback to call with it.
    struct FakeParser {
        user: *mut c_void,
        callback: unsafe fn(*mut c_void, u32),
    }

    impl FakeParser {
        fn parse(&self, value: u32) {
            // SAFETY: `user` came from a live CallbackTarget<State> (the tests keep it alive).
            unsafe { (self.callback)(self.user, value) }
        }
    }

    #[derive(Default)]
    struct State {
        sum: Cell<u32>,
        seen: RefCell<Vec<u32>>,
    }

    /// The callback: reaches the state through the raw pointer, as the parser callbacks (`nvdec_parser`) do.
    unsafe fn on_data(user: *mut c_void, value: u32) {
        // SAFETY: the parser only calls back with the user data it was given.
        let state = unsafe { CallbackTarget::<State>::from_user_data(user) };
        state.sum.set(state.sum.get() + value);
        state.seen.borrow_mut().push(value);
    }

    struct Session {
        parser: FakeParser,
        core: CallbackTarget<State>,
    }

    struct Decoder {
        parser: FakeParser,
        core: CallbackTarget<State>,
    }

    #[test]
    fn callback_target_survives_moves_of_its_owner() {
        let core = CallbackTarget::new(State::default());
        let parser = FakeParser {
            user: core.user_data(),
            callback: on_data,
        };
        parser.parse(1);
        // Moved into a session, then into a decoder, then onto the heap and back: the
        // pointer the parser holds must stay valid through every move.
        let session = Session { parser, core };
        session.parser.parse(2);
        let decoder = Decoder {
            parser: session.parser,
            core: session.core,
        };
        decoder.parser.parse(3);
        let boxed = Box::new(decoder);
        boxed.parser.parse(4);
        let decoder = *boxed;
        // Reads through the owner interleave with writes through the callback.
        assert_eq!(decoder.core.sum.get(), 10);
        decoder.parser.parse(5);
        assert_eq!(*decoder.core.seen.borrow(), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn callback_target_moves_to_another_thread() {
        let core = CallbackTarget::new(Cell::new(0u64));
        let user = core.user_data() as usize;
        let total = std::thread::spawn(move || {
            // SAFETY: `core` (moved here) keeps the allocation alive.
            let again = unsafe { CallbackTarget::<Cell<u64>>::from_user_data(user as *mut c_void) };
            again.set(7);
            core.get()
        })
        .join()
        .unwrap();
        assert_eq!(total, 7);
    }
}
