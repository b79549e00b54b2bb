//! The ground floor of `nvcodec-guard`: the media vocabulary every other part stands on.
//!
//! Invariant: this crate depends on nothing but `std`, and nothing in it knows of files,
//! drivers or GPUs. Every type here is plain data that a reader (`nvcodec-input`), a decoder,
//! a converter and an encoder (`nvcodec-guard`) name the same way, so no layer has to import
//! another sideways to agree on what a codec, a colour description, a pixel layout or a frame
//! rate is.
//!
//! - [`Codec`]: the compressed formats.
//! - [`ColourDescription`] and its ITU-T H.273 code points ([`ColourPrimaries`],
//!   [`TransferCharacteristics`], [`MatrixCoefficients`], [`ColourRange`]).
//! - [`PixelFormat`] (decoder output) and [`InputFormat`] (encoder input), with their plane
//!   arithmetic ([`PlaneLayout`], [`Plane`]).
//! - [`Rational`]: time bases, frame rates and aspect ratios, one shape for all.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod codec;
mod colour;
mod pixel;
mod rational;

pub use codec::Codec;
pub use colour::{
    ColourDescription, ColourPrimaries, ColourRange, HD_ROWS, MatrixCoefficients,
    TransferCharacteristics, default_matrix,
};
pub use pixel::{InputFormat, PixelFormat, Plane, PlaneLayout};
pub use rational::Rational;
