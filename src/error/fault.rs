//! [`Fault`]: who is at fault for an [`Error`], so a program can decide what to do without
//! matching every variant.
//!
//! Invariant: every variant of [`Error`] belongs to exactly one group, decided by what the
//! program can do about it: fix or reject the media ([`Fault::Input`]), fix its own call
//! ([`Fault::Caller`]), look at the machine ([`Fault::Platform`]), try again later
//! ([`Fault::Busy`]), or report a bug ([`Fault::Internal`]).

use super::Error;

/// Who is at fault for an [`Error`]; see [`Error::fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The media: a malformed, truncated, unsupported or over-limit file or stream, or a
    /// bitstream the decoder refuses. Reject the input; other inputs are unaffected.
    Input,
    /// The calling program: an invalid configuration or argument, or a call in the wrong
    /// state (frames not taken, too many mapped, re-entrant lock, a window ended by its own
    /// code while a lifecycle call needed it), a network address or credentials that cannot
    /// be used. Fix the call.
    Caller,
    /// The machine: no driver or GPU, a driver call that failed, a capability the GPU lacks,
    /// a driver that broke its contract, a session left unusable by such a failure, I/O, or a
    /// network peer that went silent, closed or broke its protocol.
    Platform,
    /// Contention: the init lock or a decoder pool was not free in time. Retry later or
    /// raise the limit.
    Busy,
    /// This crate: a state its own logic should never reach, or a panic caught at the FFI
    /// boundary. Please report it.
    Internal,
}

impl Error {
    /// Who is at fault; see [`Fault`].
    ///
    /// # Examples
    /// ```
    /// use nvcodec_guard::error::{Error, Fault};
    /// let e = Error::InvalidConfig { parameter: "max_width", reason: "0 is below 48".into() };
    /// assert_eq!(e.fault(), Fault::Caller);
    /// ```
    pub fn fault(&self) -> Fault {
        match self {
            Error::Bitstream(_)
            | Error::Input(_)
            | Error::PacketTooLarge { .. }
            | Error::FramesDropped { .. }
            | Error::FrameNotDecoded { .. }
            | Error::FramesNotAddressable { .. } => Fault::Input,
            Error::InvalidConfig { .. }
            | Error::Frame(_)
            | Error::EncoderFull { .. }
            | Error::FramesNotTaken { .. }
            | Error::TooManyMappedFrames { .. }
            | Error::InitLockHeld
            | Error::InitWindowEnded { .. }
            | Error::FrameOutOfRange { .. } => Fault::Caller,
            Error::LibraryNotFound { .. }
            | Error::SymbolNotFound { .. }
            | Error::Driver(_)
            | Error::NoEncodeDevice { .. }
            | Error::Unsupported { .. }
            | Error::DriverContract { .. }
            | Error::Poisoned { .. }
            | Error::Io(_) => Fault::Platform,
            Error::Network(e) => match e {
                crate::input::NetworkError::Address { .. }
                | crate::input::NetworkError::Unauthorized { .. } => Fault::Caller,
                _ => Fault::Platform,
            },
            Error::InitLockTimeout { .. } | Error::PoolExhausted { .. } => Fault::Busy,
            Error::Internal { .. } | Error::CallbackPanicked { .. } => Fault::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::InputError;
    use std::time::Duration;

    #[test]
    fn each_group_has_its_representatives() {
        assert_eq!(
            Error::from(InputError::malformed("x")).fault(),
            Fault::Input
        );
        assert_eq!(Error::InitLockHeld.fault(), Fault::Caller);
        assert_eq!(
            Error::PoolExhausted {
                waited: Duration::ZERO
            }
            .fault(),
            Fault::Busy
        );
        assert_eq!(Error::Internal { what: "x" }.fault(), Fault::Internal);
        assert_eq!(
            Error::from(std::io::Error::other("disk")).fault(),
            Fault::Platform
        );
    }
}
