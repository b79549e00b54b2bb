//! User code run from `Drop` without ever unwinding out of it.
//!
//! Invariant: [`contained`] never unwinds. Every `Drop` in this crate that calls user code — a
//! `tracing` macro (the subscriber is the application's), the end of a `tracing::Span` (the
//! subscriber's `try_close`) — calls it through [`contained`], so a `Drop` that runs while a
//! panic unwinds cannot panic a second time, which would abort the process.
//!
//! Why swallow the panic: the panic hook has already reported it; what is lost is one log
//! line, against an abort or a destructor left half-done (a lock kept, a teardown skipped).

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`; a panic in it ends `f` and goes no further.
pub(crate) fn contained(f: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        // Dropping the payload would be user code too (its type is the panicker's choice).
        std::mem::forget(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct LogsOnDrop;

    impl Drop for LogsOnDrop {
        fn drop(&mut self) {
            contained(|| panic!("deliberate panic inside a drop while unwinding (expected)"));
        }
    }

    #[test]
    fn a_panic_contained_in_a_drop_during_unwinding_does_not_abort() {
        let outer = catch_unwind(|| {
            let _logs = LogsOnDrop;
            panic!("deliberate outer panic (expected)");
        });
        assert!(outer.is_err(), "the outer panic unwound to here, no abort");
    }
}
