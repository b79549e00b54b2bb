//! Frames ready to use: the stream's colour description and colour conversion.
//!
//! Invariant: the colour description is what the bitstream states ([`colour`]); defaults for
//! what it leaves unspecified are applied only when converting.

mod colour;

pub use colour::{
    ColourDescription, ColourPrimaries, ColourRange, HD_ROWS, MatrixCoefficients,
    TransferCharacteristics, default_matrix,
};
