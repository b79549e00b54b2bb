//! nvcodec-guard (work in progress).
#![deny(missing_docs)]

pub mod codec;
pub mod cuda;
pub mod decode;
pub mod error;
mod ffi;
pub mod init;
pub mod input;
pub mod phase;

pub use codec::Codec;
pub use error::{Error, Result};
