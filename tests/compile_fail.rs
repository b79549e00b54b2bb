//! Misuse of the init lock and the typed builders does not compile, and neither does a match
//! that a new variant of a growing enum would break.
//!
//! Each file in `tests/compile_fail/` proves one misuse impossible (its first line says
//! which) and its `.stderr` holds the error the compiler must give for it
//! (`enum_matched_exhaustively` holds one per `#[non_exhaustive]` enum). The file in
//! `tests/compile_fail/pass/` is the control: the right order of calls compiles with the same
//! harness (it is type-checked and run, but never calls into the driver).
//!
//! Regenerate the expected output after a compiler upgrade with
//! `TRYBUILD=overwrite cargo test --test compile_fail`, then read every `.stderr` again: each
//! must still be the error for the misuse its file names, not an unrelated one.
//! `phase_implemented_outside.stderr` lists every type that implements the seal, so it also
//! changes when a backend (e.g. the encoder) is added.
//!
//! "`Decoder` is not `Sync`" is asserted below rather than as a trybuild case: sharing
//! `&Decoder` between threads fails with one error per non-`Sync` private field of the
//! decoder's internals, an expected output that would break whenever they change.

use nvcodec_guard::decode::{Decoder, DecoderBuilder};
use nvcodec_guard::init::CudaInitGuard;
use nvcodec_guard::phase::{ContextReady, SessionOpen};

#[test]
fn misuse_of_the_init_lock_and_builders_does_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/compile_fail/*.rs");
    cases.pass("tests/compile_fail/pass/*.rs");
}

/// Compiles only if `T` does NOT implement the auto trait checked by `Marker`: when it does,
/// both impls apply, `_` cannot be inferred and compilation fails with E0283.
/// (The `static_assertions::assert_not_impl_any!` trick, without the dependency.)
trait NotSync<Marker> {
    fn check() {}
}
impl<T: ?Sized> NotSync<()> for T {}
struct IsSync;
impl<T: ?Sized + Sync> NotSync<IsSync> for T {}

trait NotSend<Marker> {
    fn check() {}
}
impl<T: ?Sized> NotSend<()> for T {}
struct IsSend;
impl<T: ?Sized + Send> NotSend<IsSend> for T {}

trait NotDeref<Marker> {
    fn check() {}
}
impl<T: ?Sized> NotDeref<()> for T {}
struct IsDeref;
impl<T: ?Sized + std::ops::Deref> NotDeref<IsDeref> for T {}

fn is_send<T: Send>() {}

/// Thread-safety of the public types, checked at compile time.
const _: () = {
    // A decoder moves to a worker thread, but one thread feeds it at a time.
    let _ = is_send::<Decoder>;
    let _ = <Decoder as NotSync<_>>::check;
    // A decoder is not its session: what a user needs of the session is a method of its own.
    let _ = <Decoder as NotDeref<_>>::check;
    // The guard and every builder that holds it stay on the thread that opened the window.
    let _ = <CudaInitGuard as NotSend<_>>::check;
    let _ = <CudaInitGuard as NotSync<_>>::check;
    let _ = <DecoderBuilder<ContextReady> as NotSend<_>>::check;
    let _ = <DecoderBuilder<SessionOpen> as NotSend<_>>::check;
    // A builder that holds no guard yet can be prepared on one thread and used on another.
    let _ = is_send::<DecoderBuilder>;
};
