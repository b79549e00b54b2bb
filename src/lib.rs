#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod convert;
pub mod cuda;
pub mod decode;
mod driver;
pub mod encode;
pub mod error;
mod ffi;
pub mod init;
pub mod phase;

pub use error::{DriverError, Error, Result};
pub use nvcodec_input as input;
pub use nvcodec_media as media;
pub use nvcodec_media::Codec;
