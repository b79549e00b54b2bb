//! Reader errors name the byte offset at fault, and a caller's mistake is not called an
//! internal error: a 64-bit box size running past the end of the file, read through a
//! seekable source, is a typed error at the box's offset (not a bare `Io(EINVAL)` from the
//! seek), and a seek to a sample past the index is [`InputError::SampleOutOfRange`] naming
//! the sample and the count, whatever the container.

mod common;

use nvcodec_input::ReadError;
use nvcodec_input::{ElementaryStream, FormatHint, InputError};

fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = ((8 + body.len()) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

fn drain(mut stream: ElementaryStream) -> ReadError {
    loop {
        match stream.next_packet() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("no error"),
            Err(e) => return e,
        }
    }
}

#[test]
fn a_64_bit_box_size_past_the_end_names_the_offset_from_a_seekable_source() {
    for largesize in [u64::MAX, 1 << 63, (1 << 63) + 12345, 1 << 40] {
        let mut file = bx(b"ftyp", b"isom\0\0\x02\0isomiso6");
        let at = file.len() as u64;
        file.extend_from_slice(&1u32.to_be_bytes());
        file.extend_from_slice(b"free");
        file.extend_from_slice(&largesize.to_be_bytes());
        file.extend_from_slice(&[0; 32]);
        for seekable in [true, false] {
            let stream = if seekable {
                // A `File`, whose `seek` refuses offsets past `i64::MAX` with `EINVAL`.
                let path = std::env::temp_dir().join(format!(
                    "nvcodec-guard-box-size-{}-{largesize}.mp4",
                    std::process::id()
                ));
                std::fs::write(&path, &file).unwrap();
                let opened = std::fs::File::open(&path).unwrap();
                std::fs::remove_file(&path).unwrap();
                ElementaryStream::from_reader(opened, FormatHint::Unknown)
            } else {
                ElementaryStream::from_bytes(file.clone(), FormatHint::Unknown)
            };
            let err = match stream {
                Ok(s) => drain(s),
                Err(e) => e,
            };
            let ReadError::Input(input) = &err else {
                panic!("size {largesize}, seekable {seekable}: {err:?}");
            };
            assert!(
                !matches!(input, InputError::Internal { .. }),
                "size {largesize}: {err}"
            );
            assert_eq!(input.offset(), Some(at), "size {largesize}: {err}");
        }
    }
}

#[test]
fn a_seek_past_the_index_is_the_caller_s_mistake_naming_the_sample_and_the_count() {
    let data = common::data_dir();
    for clip in [
        "containers/h264.mp4",
        "containers/h264_frag.mp4",
        "containers/h264.mkv",
        "containers/av1.webm",
        "vp9_640x360_p0.ivf",
        "h264_640x360_b3.h264",
    ] {
        let mut stream = ElementaryStream::open(data.join(clip)).unwrap();
        let count = if stream.index().is_none() {
            // Raw streams are scanned once; MKV without Cues and fragmented MP4 are indexed
            // by a whole pass.
            match stream.build_index() {
                Ok(index) => index.len(),
                Err(_) => {
                    while stream.next_packet().unwrap().is_some() {}
                    stream.index().unwrap().len()
                }
            }
        } else {
            stream.index().unwrap().len()
        };
        assert!(count > 0, "{clip}");
        for sample in [count, count + 1, usize::MAX] {
            let err = stream.seek_to_sample(sample).unwrap_err();
            assert!(
                matches!(
                    &err,
                    ReadError::Input(InputError::SampleOutOfRange { sample: s, count: c, .. })
                        if *s == sample && *c == count
                ),
                "{clip}, sample {sample}: {err:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains(&sample.to_string()) && text.contains(&count.to_string()),
                "{text}"
            );
        }
        // The stream is still usable: the last sample is there.
        stream.seek_to_sample(count - 1).unwrap();
        assert!(stream.next_packet().unwrap().is_some(), "{clip}");
    }
}
