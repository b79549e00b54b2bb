//! [`EncoderSession`]: what exists inside the init window, and [`open`], which builds it.

use std::ffi::c_void;

use super::caps;
use super::config::EncoderConfig;
use super::nvenc_params;
use crate::cuda::Context;
use crate::driver::nvenc_session::SessionHandle;
use crate::error::Result;
use crate::ffi::nvenc::Nvenc;
use crate::init::CudaInitGuard;

/// The encoder as it exists inside the init window: session opened, configured,
/// initialized and its buffers allocated, no frame encoded yet. Reach it with
/// [`Builder::session`](crate::phase::Builder::session).
pub struct EncoderSession {
    pub(crate) handle: SessionHandle,
    pub(crate) b_frames: u32,
}

impl EncoderSession {
    /// The raw NVENC session handle (`void* encoder`), for your own init work under the
    /// same guard. It stays owned by this crate: do not destroy it.
    pub fn raw_encoder(&self) -> *mut c_void {
        self.handle.raw()
    }

    /// How many input/bitstream buffer pairs were allocated (frames that can be in flight).
    pub fn buffer_pool_size(&self) -> usize {
        self.handle.pool_size()
    }

    /// The driver's largest supported NVENC API version, `(major, minor)`.
    pub fn driver_api_version(&self) -> (u32, u32) {
        self.handle.api().driver_api_version()
    }
}

impl std::fmt::Debug for EncoderSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncoderSession")
            .field("handle", &self.handle)
            .field("b_frames", &self.b_frames)
            .finish()
    }
}

/// Builds everything inside the init window. Called by the builder's `open_session`.
///
/// Order: validate (no driver call) → load NVENC → open the session → check codec, preset,
/// input format, size and features against the GPU's caps → the preset's configuration for
/// the tuning → the config's overrides → `NvEncInitializeEncoder` → the buffer pool. Any
/// failure drops the [`SessionHandle`], which destroys what was made, in reverse order.
pub(crate) fn open(
    config: &EncoderConfig,
    context: &Context,
    guard: &CudaInitGuard,
) -> Result<EncoderSession> {
    let window = guard.token(); // the builder already validated `config`
    let codec = nvenc_params::encode_codec(config.codec)?;
    let api = Nvenc::get()?;
    let mut handle = SessionHandle::open(window, api, context)?;

    let reported = caps::query(&handle, codec)?;
    caps::check(config, codec, context.device_name(), &reported)?;

    let mut nv_config = handle.preset_config(
        codec,
        nvenc_params::codec_guid(codec),
        nvenc_params::preset_guid(config.preset),
        nvenc_params::tuning_info(config.tuning),
    )?;
    nvenc_params::apply_overrides(config, &mut nv_config);
    let mut params = nvenc_params::init_params(config, codec);
    handle.initialize(window, &mut params, &mut nv_config)?;

    let rc = &nv_config.get().rcParams;
    let lookahead = nvenc_params::effective_lookahead(rc.enableLookahead() != 0, rc.lookaheadDepth);
    let pool = nvenc_params::pool_size(config.b_frames, lookahead);
    handle.allocate(
        window,
        pool,
        config.width,
        config.height,
        nvenc_params::buffer_format(config.input_format),
    )?;
    tracing::debug!(
        codec = %config.codec,
        width = config.width,
        height = config.height,
        pool,
        config = ?nv_config,
        "NVENC session initialized"
    );
    Ok(EncoderSession {
        handle,
        b_frames: config.b_frames,
    })
}
