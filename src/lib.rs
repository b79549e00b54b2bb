#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod codec;
pub mod convert;
pub mod cuda;
pub mod decode;
pub mod encode;
pub mod error;
mod ffi;
pub mod init;
pub mod input;
pub mod phase;
mod unwind;

pub use codec::Codec;
pub use error::{DriverError, Error, Result};
