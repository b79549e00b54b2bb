//! [`InputError`]: what is wrong with an input file or stream, as a value a program can act on.
//!
//! Invariant: every failure a reader (`input::*`) reports about the bytes it was given is an
//! `InputError`, reached as [`ReadError::Input`](crate::ReadError::Input); I/O failures of the source
//! stay [`ReadError::Io`](crate::ReadError::Io). Each variant answers one question a program asks:
//! is the file cut short (wait for more, or report a partial upload: [`Truncated`]), is it
//! broken ([`Malformed`]), can this crate not read it ([`Unsupported`], [`Unrecognized`],
//! [`CodecMismatch`]), did it ask for more than the reader allows ([`LimitExceeded`]), does
//! it need a seekable source ([`NeedsSeek`]), or did the caller ask for a sample the index
//! does not have ([`SampleOutOfRange`]).
//!
//! Why a free-text `what` beside the typed fields: the message names the reader, the unit
//! (frame index, box or element) and the sizes involved, which is what a person debugging a
//! file needs; the typed fields (offset, limit, codecs) are what a program branches on. The
//! `what` text never repeats the offset: `Display` appends it.
//!
//! [`Truncated`]: InputError::Truncated
//! [`Malformed`]: InputError::Malformed
//! [`Unsupported`]: InputError::Unsupported
//! [`Unrecognized`]: InputError::Unrecognized
//! [`CodecMismatch`]: InputError::CodecMismatch
//! [`LimitExceeded`]: InputError::LimitExceeded
//! [`NeedsSeek`]: InputError::NeedsSeek
//! [`SampleOutOfRange`]: InputError::SampleOutOfRange

use crate::Codec;

/// What is wrong with an input file or stream, as a value a program can act on.
///
/// Each variant answers one question: is the input cut short (wait for more, or report a
/// partial upload: [`Truncated`](Self::Truncated)), is it broken
/// ([`Malformed`](Self::Malformed)), can this crate not read it
/// ([`Unsupported`](Self::Unsupported), [`Unrecognized`](Self::Unrecognized),
/// [`CodecMismatch`](Self::CodecMismatch)), did it ask for more than a reader allows
/// ([`LimitExceeded`](Self::LimitExceeded)), or does it need a seekable source
/// ([`NeedsSeek`](Self::NeedsSeek)). The `what` text names the reader, the unit and the sizes
/// involved; `Display` appends the byte offset where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The input ends inside a unit (frame, access unit, box, element) that began at
    /// `offset`: the file was cut short, or a live feed has not delivered the rest yet.
    #[error("{what} (byte offset {offset})")]
    Truncated {
        /// Absolute byte offset where the cut-off unit begins.
        offset: u64,
        /// The unit and how much of it is missing.
        what: String,
    },

    /// The bytes break the format's rules.
    #[error("{what}{}", at_offset(*.offset))]
    Malformed {
        /// Absolute byte offset of the fault, where the reader knows it.
        offset: Option<u64>,
        /// What is wrong.
        what: String,
    },

    /// A well-formed input that this crate does not read (a codec, an encrypted track, a
    /// multiplex that needs demuxing first).
    #[error("unsupported: {what}")]
    Unsupported {
        /// What is not supported, and what is.
        what: String,
    },

    /// The format could not be told: no container magic and no usable hint.
    #[error("{what}")]
    Unrecognized {
        /// What was looked at, and the formats supported.
        what: String,
    },

    /// The caller named a codec and the input declares another.
    #[error("{what}: expected {expected}, found {found}")]
    CodecMismatch {
        /// The codec the caller named.
        expected: Codec,
        /// The codec the input declares.
        found: Codec,
        /// Where the input declares it.
        what: String,
    },

    /// A size or count in the input passes a reader's limit (a frame larger than the window
    /// allows, more samples than the bytes can carry): refused before anything is allocated.
    #[error("{what} exceeds the limit of {limit}")]
    LimitExceeded {
        /// The quantity and the unit that declared it.
        what: String,
        /// The limit.
        limit: u64,
    },

    /// The input's layout needs a backward seek (e.g. a progressive MP4 with its `moov` box
    /// after `mdat`), and the source cannot seek (a pipe, a socket, a live feed).
    #[error("{what}: the source cannot seek back; open it as a file or `Read + Seek` source")]
    NeedsSeek {
        /// The layout that needs the seek, and the offset wanted.
        what: String,
    },

    /// The caller asked for sample `sample` (a seek), and the index holds `count` samples:
    /// a mistake of the caller's, not of the file or the reader.
    #[error("{what}: sample {sample} is past the index of {count} samples")]
    SampleOutOfRange {
        /// The sample asked for (0-based, decode order).
        sample: usize,
        /// The samples in the index.
        count: usize,
        /// The reader and its index.
        what: String,
    },

    /// A reader broke its own invariant (a bug, reported instead of panicking).
    #[error("internal reader error: {what}")]
    Internal {
        /// What went wrong.
        what: String,
    },
}

fn at_offset(offset: Option<u64>) -> String {
    offset.map_or_else(String::new, |o| format!(" (byte offset {o})"))
}

impl InputError {
    /// A [`Malformed`](Self::Malformed) error at `offset`.
    pub fn malformed_at(offset: u64, what: impl Into<String>) -> Self {
        Self::Malformed {
            offset: Some(offset),
            what: what.into(),
        }
    }

    /// A [`Malformed`](Self::Malformed) error whose offset is not known.
    pub fn malformed(what: impl Into<String>) -> Self {
        Self::Malformed {
            offset: None,
            what: what.into(),
        }
    }

    /// A [`Truncated`](Self::Truncated) error for the unit beginning at `offset`.
    pub fn truncated(offset: u64, what: impl Into<String>) -> Self {
        Self::Truncated {
            offset,
            what: what.into(),
        }
    }

    /// An [`Unsupported`](Self::Unsupported) error.
    pub fn unsupported(what: impl Into<String>) -> Self {
        Self::Unsupported { what: what.into() }
    }

    /// A [`LimitExceeded`](Self::LimitExceeded) error.
    pub fn limit(what: impl Into<String>, limit: u64) -> Self {
        Self::LimitExceeded {
            what: what.into(),
            limit,
        }
    }

    /// A [`SampleOutOfRange`](Self::SampleOutOfRange) error: `what` names the reader and
    /// its index.
    pub fn sample_out_of_range(sample: usize, count: usize, what: impl Into<String>) -> Self {
        Self::SampleOutOfRange {
            sample,
            count,
            what: what.into(),
        }
    }

    /// The same error with `input` (a file name, "input") put before its message, so a
    /// program that reads many files can tell which one failed; the variant is kept.
    #[must_use]
    pub fn in_input(mut self, input: &str) -> Self {
        let what = match &mut self {
            Self::Truncated { what, .. }
            | Self::Malformed { what, .. }
            | Self::Unsupported { what }
            | Self::Unrecognized { what }
            | Self::CodecMismatch { what, .. }
            | Self::LimitExceeded { what, .. }
            | Self::NeedsSeek { what }
            | Self::SampleOutOfRange { what, .. }
            | Self::Internal { what } => what,
        };
        *what = format!("{input}: {what}");
        self
    }

    /// The absolute byte offset the error points at, where known.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Self::Truncated { offset, .. } => Some(*offset),
            Self::Malformed { offset, .. } => *offset,
            _ => None,
        }
    }
}

/// Result alias of this crate: every reader returns a [`ReadError`] on failure.
pub type Result<T, E = ReadError> = std::result::Result<T, E>;

/// Why a reader failed, grouped by who is at fault: the bytes ([`Input`](Self::Input)) or the
/// source that delivers them ([`Io`](Self::Io)).
///
/// `nvcodec-guard` turns it into its own error (`ReadError::Input` / `ReadError::Io`) with `?`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The bytes are malformed, truncated, unsupported or over a reader's limit.
    #[error("invalid input: {0}")]
    Input(#[from] InputError),
    /// Reading from the source failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A network source (`udp://`, `rtsp://`) failed: an address, a peer, a timeout.
    #[error("network: {0}")]
    Network(#[from] NetworkError),
}

/// Why a network source failed, naming the URL or peer involved.
///
/// Grouped by who can act: the caller's address or credentials ([`Address`](Self::Address),
/// [`Unauthorized`](Self::Unauthorized)), the peer or the path to it
/// ([`Timeout`](Self::Timeout), [`Closed`](Self::Closed), [`Protocol`](Self::Protocol)),
/// or this machine's sockets ([`Socket`](Self::Socket)). What the peer sends as media
/// (a codec this crate does not read, a malformed access unit) is an [`InputError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// The URL or address cannot be used (bad syntax, an unknown scheme, a name that does
    /// not resolve, a multicast group on a unicast-only option).
    #[error("{url}: {what}")]
    Address {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        what: String,
    },
    /// The peer refused the credentials (RTSP 401/403).
    #[error("{peer}: {what}")]
    Unauthorized {
        /// The peer (URL without credentials).
        peer: String,
        /// The server's answer.
        what: String,
    },
    /// Nothing arrived for `after`: the peer stopped sending or the path dropped it.
    #[error("{peer}: no data for {after:?}")]
    Timeout {
        /// The peer or the local address listened on.
        peer: String,
        /// How long nothing arrived.
        after: std::time::Duration,
    },
    /// The peer ended the session or closed the connection.
    #[error("{peer}: closed: {what}")]
    Closed {
        /// The peer.
        peer: String,
        /// How it ended.
        what: String,
    },
    /// The peer broke its protocol (an RTSP or RTP message this crate cannot follow).
    #[error("{peer}: protocol: {what}")]
    Protocol {
        /// The peer.
        peer: String,
        /// What was wrong.
        what: String,
    },
    /// A socket call on this machine failed.
    #[error("{what}: {source}")]
    Socket {
        /// The call and the address.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl ReadError {
    /// The input error, if the bytes are at fault.
    pub fn input(&self) -> Option<&InputError> {
        match self {
            ReadError::Input(e) => Some(e),
            ReadError::Io(_) | ReadError::Network(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_offset_once_and_keep_the_variant_when_named() {
        let e = InputError::truncated(54, "IVF frame 1 is truncated").in_input("clip.ivf");
        assert_eq!(
            e.to_string(),
            "clip.ivf: IVF frame 1 is truncated (byte offset 54)"
        );
        assert!(matches!(e, InputError::Truncated { offset: 54, .. }));
        assert_eq!(e.offset(), Some(54));
        assert_eq!(InputError::malformed("bad").to_string(), "bad");
        assert_eq!(
            InputError::limit("frame size 5 bytes", 4).to_string(),
            "frame size 5 bytes exceeds the limit of 4"
        );
        let wrapped = crate::ReadError::from(InputError::malformed_at(3, "x"));
        assert_eq!(wrapped.to_string(), "invalid input: x (byte offset 3)");
    }
}
