//! nvcodec-guard (work in progress).
#![deny(missing_docs)]

pub mod codec;
pub mod error;
pub mod input;

pub use codec::Codec;
pub use error::{Error, Result};
