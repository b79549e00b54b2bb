//! Typed phases of building a codec session: `Uninit → ContextReady → SessionOpen → finish`.
//!
//! Invariant: a [`Builder`] can only leave [`Uninit`] by being handed a [`CudaInitGuard`] by
//! value; it carries that guard through [`ContextReady`] and [`SessionOpen`]; and only
//! [`Builder::finish`], which drops the guard, yields the product that has frame methods.
//! So every init call happens inside the process-wide init window and no frame call can
//! happen inside it — and misuse is a compile error, not a runtime check (see
//! `tests/compile_fail/`).
//!
//! The pattern is the embedded-HAL typestate: sealed zero-sized phase markers, transitions
//! that consume `self`, and methods that simply do not exist in the wrong phase. The state
//! each phase owns is chosen by the phase (`Phase::State`), so no field is an `Option` that
//! could be unwrapped at the wrong time.
//!
//! Decoder and encoder share this one builder; each plugs in as a [`Backend`]. On any error
//! the builder is consumed, so the guard (lock released) and everything built so far are
//! dropped in reverse order of creation.
//!
//! # What is sealed, and why
//! The builder is the only way to a session type ([`Decoder`](crate::decode::Decoder),
//! [`Encoder`](crate::encode::Encoder)), so the promise holds only if its steps cannot be
//! taken any other way. Sealing a trait stops other crates from *implementing* it, not from
//! *calling* its methods — `#[doc(hidden)]` hides them from the docs only, and a supertrait
//! in a private module is still callable through a generic bound `B: Backend`. So, as rustls
//! keeps `ConfigSide` sealed and without methods:
//! - [`Phase`] and [`Backend`] carry types and a name only: no callable method.
//! - The steps (`validate`, `context_spec`, `open`, `finish`) live in a [`BuildSteps`] table
//!   whose fields are private to this crate; `Backend::STEPS` can be read by anyone and used
//!   by no one but [`Builder`]. Nobody outside can make a `BuildSteps`, so nobody outside can
//!   implement `Backend` either (the seal is structural; `SealedBackend` states it too).
//! - The session types ([`DecoderSession`](crate::decode::DecoderSession),
//!   [`EncoderSession`](crate::encode::EncoderSession)) have no public constructor and are
//!   only ever lent by reference ([`Builder::session`]).
//! - [`Builder::build`] (and a pool checkout that has to build) takes the lock itself and
//!   fails with [`Error::InitLockHeld`](crate::Error::InitLockHeld) on a thread that already
//!   holds a guard, rather than deadlocking. A decoder that already exists (built earlier, or
//!   an idle one a pool hands out) can be used while its thread holds a guard for its frame
//!   calls, which need no window; a window it needs at run time (a stream change, a parser
//!   renewal) is refused with `InitLockHeld` there too, since the guard is not the call's
//!   (see [`crate::init`], "What the lock guarantees"). Its teardown runs in the thread's
//!   window.
//! - [`Context::acquire`] stays public: it needs a `&CudaInitGuard`, so it can only run inside
//!   a window, and a `Context` alone cannot become a session (a builder makes its own).
//!   Raw handles ([`Context::raw`], `DecoderSession::raw_decoder`,
//!   `EncoderSession::raw_encoder`) are plain pointers: doing anything with them needs
//!   `unsafe` code of your own, whose contract is not to destroy them. The one way in,
//!   [`FrameStream::from_raw`](crate::decode::FrameStream::from_raw), is `unsafe` and states
//!   what the stream must be. No public function takes or lends a window token.
//!
//! `tests/compile_fail/` holds one case per closed path (`backend_*`, `session_*`).
//!
//! ```no_run
//! use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig};
//! use nvcodec_guard::init::CudaInitGuard;
//! use nvcodec_guard::Codec;
//!
//! let guard = CudaInitGuard::acquire()?;
//! let builder = DecoderBuilder::new(DecoderConfig::new(Codec::H264))
//!     .create_context(guard)?;          // Uninit -> ContextReady: context created under the lock
//! let builder = builder.open_session()?; // ContextReady -> SessionOpen: cuvidCreateDecoder
//! let mut decoder = builder.finish();    // lock released; `decoder` has the frame methods
//! # let _ = &mut decoder;
//! # Ok::<(), nvcodec_guard::Error>(())
//! ```

use std::time::Duration;

use crate::cuda::{Context, ContextMode};
use crate::error::Result;
use crate::init::{CudaInitGuard, WindowTiming};

mod sealed {
    /// Seals [`super::Phase`]: the three markers are the only phases.
    pub trait SealedPhase {}
    /// Seals [`super::Backend`]: only this crate's codecs are backends. Carries no methods.
    pub trait SealedBackend {}
}

/// A build phase. Sealed: the three markers below are the only phases.
pub trait Phase: sealed::SealedPhase {
    /// What a builder in this phase owns besides its configuration.
    #[doc(hidden)]
    type State<B: Backend>;
}

/// Nothing built yet; no lock held.
#[derive(Debug)]
pub struct Uninit {
    _sealed: (),
}

/// Inside the init window with a CUDA context ready.
#[derive(Debug)]
pub struct ContextReady {
    _sealed: (),
}

/// Inside the init window with the codec session created.
#[derive(Debug)]
pub struct SessionOpen {
    _sealed: (),
}

impl sealed::SealedPhase for Uninit {}
impl sealed::SealedPhase for ContextReady {}
impl sealed::SealedPhase for SessionOpen {}

impl Phase for Uninit {
    type State<B: Backend> = ();
}
impl Phase for ContextReady {
    type State<B: Backend> = InitWindow;
}
impl Phase for SessionOpen {
    /// Session first: a builder dropped unfinished destroys its session while the guard
    /// still holds the window (a tuple drops its fields in order).
    type State<B: Backend> = (B::Session, InitWindow);
}

/// The init window in progress: the guard and the context created under it.
///
/// Field order is drop order: the context (if this builder's last reference) is released
/// before the guard, i.e. still inside the window.
#[derive(Debug)]
pub struct InitWindow {
    context: Context,
    guard: CudaInitGuard,
}

/// Where and how a session's CUDA context is made; every backend's config provides it
/// (`DecoderConfig::context_spec`, `EncoderConfig::context_spec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ContextSpec {
    /// CUDA device ordinal.
    pub device: u32,
    /// Shared primary (default) or dedicated context.
    pub mode: ContextMode,
}

impl ContextSpec {
    /// A context on `device` in `mode`.
    pub fn new(device: u32, mode: ContextMode) -> Self {
        ContextSpec { device, mode }
    }
}

/// What [`Builder`] builds: a codec session type with frame methods ([`Decoder`],
/// [`Encoder`]). The builder is keyed by it, as rustls keys `ConfigBuilder<ServerConfig, _>`,
/// so types and compiler errors read `Builder<Decoder, ContextReady>`.
///
/// Sealed, and without callable steps: see the [module docs](self) for why. Its build steps
/// are in [`STEPS`](Backend::STEPS), which only this crate can use.
///
/// [`Decoder`]: crate::decode::Decoder
/// [`Encoder`]: crate::encode::Encoder
pub trait Backend: sealed::SealedBackend + Sized {
    /// The user's configuration.
    type Config: std::fmt::Debug;
    /// What exists in [`SessionOpen`]: the codec session created inside the window.
    type Session;
    /// Name for logs and tracing (`"nvdec"`, `"nvenc"`).
    const NAME: &'static str;
    /// The build steps, for [`Builder`] only: the table is opaque outside this crate.
    const STEPS: BuildSteps<Self>;
}

/// The steps [`Builder`] takes for a [`Backend`]. Opaque: its fields are private to this
/// crate, so it can be neither made nor used outside it.
pub struct BuildSteps<B: Backend> {
    /// The context a config asks for.
    pub(crate) context_spec: fn(&B::Config) -> ContextSpec,
    /// Rejects impossible configurations before any lock is taken or driver call made.
    pub(crate) validate: fn(&B::Config) -> Result<()>,
    /// Creates the codec session. Runs inside the init window.
    pub(crate) open: fn(&B::Config, &Context, &CudaInitGuard) -> Result<B::Session>,
    /// Turns the session into the product, after the window closed.
    pub(crate) finish: fn(B::Config, Context, B::Session, WindowTiming) -> B,
}

impl<B: Backend> std::fmt::Debug for BuildSteps<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildSteps")
            .field("backend", &B::NAME)
            .finish_non_exhaustive()
    }
}

/// The typed builder shared by decoders and encoders. `B` is the codec, `P` the phase.
#[must_use = "a builder does nothing until it is advanced to `finish`"]
pub struct Builder<B: Backend, P: Phase> {
    config: B::Config,
    state: P::State<B>,
}

impl<B: Backend> Builder<B, Uninit> {
    /// A builder for `config`; nothing happens until [`create_context`](Self::create_context).
    pub fn new(config: B::Config) -> Self {
        Builder { config, state: () }
    }

    /// The configuration.
    pub fn config(&self) -> &B::Config {
        &self.config
    }

    /// Enters the init window: validates the config, takes the guard and creates (or joins)
    /// the CUDA context the config asks for. On error the guard is dropped, releasing the
    /// lock.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a config no GPU accepts
    /// (before any driver call); what [`Context::acquire`] returns.
    pub fn create_context(self, guard: CudaInitGuard) -> Result<Builder<B, ContextReady>> {
        (B::STEPS.validate)(&self.config)?;
        let spec = (B::STEPS.context_spec)(&self.config);
        guard.record_target(spec.device, B::NAME);
        let context = guard
            .span()
            .in_scope(|| Context::acquire(&guard, spec.device, spec.mode))?;
        guard.record_phase("context_ready");
        Ok(Builder {
            config: self.config,
            state: InitWindow { context, guard },
        })
    }

    /// Acquires the lock, walks every phase and finishes: the common case in one call.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) before any lock or driver call;
    /// [`Error::LibraryNotFound`](crate::Error::LibraryNotFound) /
    /// [`Error::SymbolNotFound`](crate::Error::SymbolNotFound) without a usable driver;
    /// [`Error::Unsupported`](crate::Error::Unsupported) for what this GPU cannot do, saying
    /// what it can; [`Error::NoEncodeDevice`](crate::Error::NoEncodeDevice) for an encoder on
    /// a GPU without NVENC; [`Error::Driver`](crate::Error::Driver) naming the library,
    /// driver call and status that failed. Whatever fails, everything made so far is destroyed inside the window and the
    /// lock is released.
    ///
    /// # Examples
    /// ```no_run
    /// use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig};
    /// use nvcodec_guard::Codec;
    /// let decoder = DecoderBuilder::new(DecoderConfig::new(Codec::Hevc)).build()?;
    /// # drop(decoder);
    /// # Ok::<(), nvcodec_guard::Error>(())
    /// ```
    pub fn build(self) -> Result<B> {
        (B::STEPS.validate)(&self.config)?;
        let guard = CudaInitGuard::acquire()?;
        Ok(self.create_context(guard)?.open_session()?.finish())
    }

    /// Like [`build`](Self::build), but gives up with
    /// [`Error::InitLockTimeout`](crate::Error::InitLockTimeout) if the lock is not free
    /// within `timeout`.
    ///
    /// # Errors
    /// As [`build`](Self::build), plus the timeout.
    pub fn build_timeout(self, timeout: Duration) -> Result<B> {
        (B::STEPS.validate)(&self.config)?;
        let guard = CudaInitGuard::acquire_timeout(timeout)?;
        Ok(self.create_context(guard)?.open_session()?.finish())
    }
}

impl<B: Backend> Builder<B, ContextReady> {
    /// The configuration.
    pub fn config(&self) -> &B::Config {
        &self.config
    }

    /// The CUDA context, for your own init work under the same guard.
    pub fn cuda_context(&self) -> &Context {
        &self.state.context
    }

    /// The guard held by this builder (e.g. to create more contexts in the same window).
    pub fn guard(&self) -> &CudaInitGuard {
        &self.state.guard
    }

    /// Creates the codec session inside the window. On error everything built so far is
    /// dropped and the lock released.
    ///
    /// # Errors
    /// As [`build`](Builder::build) past the context.
    pub fn open_session(self) -> Result<Builder<B, SessionOpen>> {
        let InitWindow { guard, context } = self.state;
        let session = guard
            .span()
            .in_scope(|| (B::STEPS.open)(&self.config, &context, &guard))?;
        guard.record_phase("session_open");
        Ok(Builder {
            config: self.config,
            state: (session, InitWindow { context, guard }),
        })
    }
}

impl<B: Backend> Builder<B, SessionOpen> {
    /// The configuration.
    pub fn config(&self) -> &B::Config {
        &self.config
    }

    /// The CUDA context, for your own init work under the same guard.
    pub fn cuda_context(&self) -> &Context {
        &self.state.1.context
    }

    /// The guard held by this builder.
    pub fn guard(&self) -> &CudaInitGuard {
        &self.state.1.guard
    }

    /// The codec session created in this window (its raw handle, for your own init work).
    pub fn session(&self) -> &B::Session {
        &self.state.0
    }

    /// Closes the init window (drops the guard, recording its hold time) and returns the
    /// session type with the frame methods.
    pub fn finish(self) -> B {
        let (session, InitWindow { guard, context }) = self.state;
        guard.record_phase("finished");
        let window = guard.release();
        (B::STEPS.finish)(self.config, context, session, window)
    }
}

impl<B: Backend, P: Phase> std::fmt::Debug for Builder<B, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("backend", &B::NAME)
            .field("phase", &std::any::type_name::<P>())
            .field("config", &self.config)
            .finish()
    }
}

pub(crate) use sealed::SealedBackend;
