//! Splitting MPEG-2 video elementary streams (`.m2v`) into pictures.
//!
//! Invariant: [`Mpeg2Pictures`] yields zero-copy, non-empty, contiguous, non-overlapping
//! sub-slices of its input, in order, starting at the first start code; it never panics and
//! stops after the first error. Each slice holds at most one picture.
//!
//! Where the slices are cut: a packet begins at a sequence header (`00 00 01 B3`), GOP header
//! (`00 00 01 B8`) or picture start code (`00 00 01 00`), whichever comes first once the
//! current packet already holds a picture. Everything else (extensions `B5`, user data `B2`,
//! slices `01`–`AF`, sequence end `B7`, reserved codes) stays in the current packet, so a
//! sequence end code belongs to the last picture. Zero bytes before a start code (stuffing)
//! stay with the packet before it. As for Annex-B, bytes before the first start code are
//! skipped, a non-empty input without any start code is an error and an empty one yields
//! nothing.
//!
//! Errors: a start code cut off before its code byte, and system start codes (`B9`–`FF`,
//! e.g. a program stream's pack header `BA`), which mean the file is a multiplex that must
//! be demuxed first. The packet read before the error is still yielded first.

use std::iter::FusedIterator;

mod demux;

pub(crate) use demux::Mpeg2Demux;

use super::InputError;
use crate::slice_cuts::SliceCuts;
use crate::{ReadError, Result};

/// `picture_start_code`'s code byte.
const PICTURE: u8 = 0x00;
/// `sequence_header_code`'s code byte.
const SEQUENCE_HEADER: u8 = 0xb3;
/// `group_start_code`'s code byte.
const GROUP: u8 = 0xb8;
/// First code byte of the system (multiplex) start codes, which end at `FF`.
const FIRST_SYSTEM_CODE: u8 = 0xb9;

/// The error for a start code at absolute offset `prefix` that the stream's end cuts off.
fn cut_off_start_code(prefix: u64) -> ReadError {
    InputError::truncated(
        prefix,
        "MPEG-2 start code is cut off by the end of the stream before its code byte",
    )
    .into()
}

/// `code`, the code byte of the start code at absolute offset `prefix`, unless it is a
/// system start code (a multiplex, not a video elementary stream).
fn check_code(code: u8, prefix: u64) -> Result<u8> {
    if code >= FIRST_SYSTEM_CODE {
        return Err(InputError::unsupported(format!(
            "system start code 00 00 01 {code:02X} at byte offset {prefix}: this is an MPEG \
             program/system stream, not a video elementary stream; demux it first"
        ))
        .into());
    }
    Ok(code)
}

/// Iterator over the pictures of an MPEG-2 video elementary stream, as sub-slices of it.
///
/// Invariant: the slices are non-empty, in stream order, and each one ends exactly where the
/// next begins; the first begins at the first start code and, unless an error ends the
/// iteration early, the last ends at the end of the input. See the [module docs](self) for
/// the grouping rules. After an `Err` the iterator is exhausted.
#[derive(Debug)]
pub struct Mpeg2Pictures<'a> {
    cuts: SliceCuts<'a, Mpeg2Demux>,
}

impl<'a> Mpeg2Pictures<'a> {
    /// Splits `data`, an MPEG-1/MPEG-2 video elementary stream, into picture packets.
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            cuts: SliceCuts::new(data, Mpeg2Demux::new()),
        }
    }
}

impl<'a> Iterator for Mpeg2Pictures<'a> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        self.cuts.next()
    }
}

impl FusedIterator for Mpeg2Pictures<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a stream from (code byte, payload) pairs and returns it with each start
    /// code's offset.
    fn stream(units: &[(u8, &[u8])]) -> (Vec<u8>, Vec<usize>) {
        let mut out = Vec::new();
        let mut offsets = Vec::new();
        for (code, payload) in units {
            offsets.push(out.len());
            out.extend_from_slice(&[0, 0, 1, *code]);
            out.extend_from_slice(payload);
        }
        (out, offsets)
    }

    fn split(data: &[u8]) -> Vec<&[u8]> {
        Mpeg2Pictures::new(data).map(|p| p.unwrap()).collect()
    }

    const SEQ: (u8, &[u8]) = (0xb3, &[0x16, 0x00, 0xf0, 0x15, 0xff, 0xff, 0xe0, 0x18]);
    const SEQ_EXT: (u8, &[u8]) = (0xb5, &[0x14, 0x8a, 0x00, 0x01, 0x00, 0x00]);
    const GOP: (u8, &[u8]) = (0xb8, &[0x00, 0x08, 0x00, 0x00]);
    const PIC: (u8, &[u8]) = (0x00, &[0x00, 0x0f, 0xff, 0xf8]);
    const PIC_EXT: (u8, &[u8]) = (0xb5, &[0x8f, 0xff, 0xf3, 0x41, 0x80]);
    const USER: (u8, &[u8]) = (0xb2, &[0x47, 0x41]);
    const SLICE1: (u8, &[u8]) = (0x01, &[0x13, 0xf8, 0x7d]);
    const SLICE2: (u8, &[u8]) = (0x02, &[0x13, 0xf8, 0x7d]);
    const SEQ_END: (u8, &[u8]) = (0xb7, &[]);

    #[test]
    fn sequence_and_gop_headers_join_the_picture_that_follows_them() {
        let (data, at) = stream(&[
            SEQ, SEQ_EXT, GOP, PIC, PIC_EXT, SLICE1, SLICE2, PIC, PIC_EXT, SLICE1, GOP, PIC, SLICE1,
        ]);
        assert_eq!(
            split(&data),
            vec![&data[..at[7]], &data[at[7]..at[10]], &data[at[10]..]]
        );
    }

    #[test]
    fn user_data_and_extensions_after_a_picture_header_stay_with_that_picture() {
        let (data, at) = stream(&[PIC, PIC_EXT, USER, SLICE1, PIC, SLICE1]);
        assert_eq!(split(&data), vec![&data[..at[4]], &data[at[4]..]]);
    }

    #[test]
    fn a_repeated_sequence_header_starts_the_next_packet() {
        let (data, at) = stream(&[SEQ, PIC, SLICE1, SEQ, SEQ_EXT, PIC, SLICE1]);
        assert_eq!(split(&data), vec![&data[..at[3]], &data[at[3]..]]);
    }

    #[test]
    fn the_sequence_end_code_belongs_to_the_last_packet() {
        let (data, at) = stream(&[SEQ, GOP, PIC, SLICE1, PIC, SLICE1, SEQ_END]);
        let packets = split(&data);
        assert_eq!(packets, vec![&data[..at[4]], &data[at[4]..]]);
        assert!(packets[1].ends_with(&[0, 0, 1, 0xb7]));
    }

    #[test]
    fn a_sequence_restarted_after_its_end_code_is_a_new_packet() {
        let (data, at) = stream(&[SEQ, PIC, SLICE1, SEQ_END, SEQ, PIC, SLICE1]);
        assert_eq!(split(&data), vec![&data[..at[4]], &data[at[4]..]]);
    }

    #[test]
    fn leading_garbage_is_skipped_and_stuffing_stays_with_the_previous_packet() {
        let mut data = vec![0x12, 0x34];
        let stuffed_slice: (u8, &[u8]) = (0x01, &[0x13, 0xf8, 0x00, 0x00, 0x00]);
        let (body, at) = stream(&[PIC, stuffed_slice, PIC, SLICE1]);
        data.extend_from_slice(&body);
        let packets = split(&data);
        assert_eq!(packets, vec![&data[2..2 + at[2]], &data[2 + at[2]..]]);
        assert!(packets[0].ends_with(&[0xf8, 0, 0, 0]));
    }

    #[test]
    fn program_streams_are_rejected_with_a_hint_to_demux() {
        let data = [0, 0, 1, 0xba, 0x44, 0, 4];
        let err = Mpeg2Pictures::new(&data).next().unwrap().unwrap_err();
        assert!(err.to_string().contains("demux"), "{err}");
    }

    #[test]
    fn a_start_code_cut_off_before_its_code_byte_errors_after_the_last_full_packet() {
        let (mut data, _) = stream(&[PIC, SLICE1]);
        let len = data.len();
        data.extend_from_slice(&[0, 0, 1]);
        let mut pictures = Mpeg2Pictures::new(&data);
        assert_eq!(pictures.next().unwrap().unwrap(), &data[..len]);
        assert!(pictures.next().unwrap().is_err());
        assert!(pictures.next().is_none());
    }

    #[test]
    fn empty_input_has_no_pictures_and_input_without_start_codes_is_an_error() {
        assert_eq!(Mpeg2Pictures::new(&[]).count(), 0);
        assert!(Mpeg2Pictures::new(&[1, 2, 3]).next().unwrap().is_err());
    }
}
