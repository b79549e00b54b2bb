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
//! Decoder and encoder share this one builder; each plugs in as a [`Backend`] (sealed: only
//! this crate's codecs implement it). On any error the builder is consumed, so the guard
//! (lock released) and everything built so far are dropped in reverse order of creation.
//!
//! ```no_run
//! use nvcodec_guard::decode::{DecoderBuilder, DecoderConfig};
//! use nvcodec_guard::init::CudaInitGuard;
//! use nvcodec_guard::Codec;
//!
//! let guard = CudaInitGuard::acquire()?;
//! let builder = DecoderBuilder::new(DecoderConfig::new(Codec::H264))
//!     .context(guard)?;                 // Uninit -> ContextReady: context created under the lock
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
    /// Seals [`super::Backend`]: only this crate's codecs are backends.
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

/// Where and how a session's CUDA context is made; every backend's config provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContextSpec {
    /// CUDA device ordinal.
    pub device: u32,
    /// Shared primary (default) or dedicated context.
    pub mode: ContextMode,
}

/// What [`Builder`] builds: a codec session type with frame methods ([`Decoder`],
/// [`Encoder`]). The builder is keyed by it, as rustls keys `ConfigBuilder<ServerConfig, _>`,
/// so types and compiler errors read `Builder<Decoder, ContextReady>`. Sealed.
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

    /// The context this config asks for.
    #[doc(hidden)]
    fn context_spec(config: &Self::Config) -> ContextSpec;

    /// Rejects impossible configurations before any lock is taken or driver call made.
    #[doc(hidden)]
    fn validate(config: &Self::Config) -> Result<()>;

    /// Creates the codec session. Runs inside the init window.
    #[doc(hidden)]
    fn open(
        config: &Self::Config,
        context: &Context,
        guard: &CudaInitGuard,
    ) -> Result<Self::Session>;

    /// Turns the session into the product, after the window closed.
    #[doc(hidden)]
    fn finish(
        config: Self::Config,
        context: Context,
        session: Self::Session,
        window: WindowTiming,
    ) -> Self;
}

/// The typed builder shared by decoders and encoders. `B` is the codec, `P` the phase.
#[must_use = "a builder does nothing until it is advanced to `finish`"]
pub struct Builder<B: Backend, P: Phase> {
    config: B::Config,
    state: P::State<B>,
}

impl<B: Backend> Builder<B, Uninit> {
    /// A builder for `config`; nothing happens until [`context`](Self::context).
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
    pub fn context(self, guard: CudaInitGuard) -> Result<Builder<B, ContextReady>> {
        B::validate(&self.config)?;
        let spec = B::context_spec(&self.config);
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
        B::validate(&self.config)?;
        let guard = CudaInitGuard::acquire()?;
        Ok(self.context(guard)?.open_session()?.finish())
    }

    /// Like [`build`](Self::build), but gives up with
    /// [`Error::InitLockTimeout`](crate::Error::InitLockTimeout) if the lock is not free
    /// within `timeout`.
    ///
    /// # Errors
    /// As [`build`](Self::build), plus the timeout.
    pub fn build_timeout(self, timeout: Duration) -> Result<B> {
        B::validate(&self.config)?;
        let guard = CudaInitGuard::acquire_timeout(timeout)?;
        Ok(self.context(guard)?.open_session()?.finish())
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
            .in_scope(|| B::open(&self.config, &context, &guard))?;
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
        B::finish(self.config, context, session, window)
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
