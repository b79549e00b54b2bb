//! Network sources: live video pulled from a peer, each with its own time and memory bounds.
//!
//! * [`rtsp`] (cargo feature `rtsp`): H.264 and HEVC from an RTSP server or camera, through
//!   the `retina` client.

#[cfg(feature = "rtsp")]
#[cfg_attr(docsrs, doc(cfg(feature = "rtsp")))]
pub mod rtsp;
