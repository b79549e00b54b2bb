//! The decoder's answers to its parser's callbacks: [`ParserEvents`] for [`DecoderState`].
//!
//! Invariant: each answer only forwards to the state's own handler, after the SEI bounds
//! ([`MAX_SEI_MESSAGES`], and `MAX_SEI_BYTES` inside [`collect`]) are applied before a
//! message header or payload byte is read.

use std::ffi::c_int;

use nvidia_video_codec_sdk::sys::nvcuvid::CUVIDPARSERDISPINFO;

use super::sei::{MAX_SEI_MESSAGES, collect};
use super::state::{DecoderState, SequenceFormat};
use crate::driver::nvdec_parser::{ParsedPicture, ParserEvents, SeiInfo};
use crate::error::{Error, Result};

impl ParserEvents for DecoderState {
    fn sequence(&self, format: &SequenceFormat) -> Result<c_int> {
        self.on_sequence(format)
    }

    fn picture(&self, picture: &mut ParsedPicture<'_>) -> Result<()> {
        self.on_decode(picture)
    }

    fn sei(&self, info: &SeiInfo<'_>) {
        let count = info.count();
        let collected = if count > MAX_SEI_MESSAGES || (count > 0 && !info.has_data()) {
            None
        } else {
            collect(&info.headers(), |total| {
                if total == 0 {
                    return Some(Vec::new());
                }
                info.payload(total)
            })
        };
        self.on_sei(info.picture(), collected);
    }

    fn display(&self, info: Option<&CUVIDPARSERDISPINFO>) -> Result<()> {
        match info {
            Some(info) => self.on_display(info),
            None => Ok(()),
        }
    }

    fn failed(&self, error: Error, fatal: bool) {
        self.record_error(error, fatal);
    }
}
