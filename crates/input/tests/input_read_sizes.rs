//! Reading from a plain `Read` costs O(bytes) whatever sizes `read()` returns: a 4 MiB access
//! unit read one byte per call takes about as long as the same bytes read in 64 KiB calls,
//! not the square of the unit (the driver once zero-filled its whole spare capacity before
//! every `read`, so 1-byte reads of a 4 MiB unit took half a minute).

use std::io::Read;
use std::time::{Duration, Instant};

use nvcodec_input::Codec;
use nvcodec_input::{ElementaryStream, FormatHint};

/// Hands out at most `step` bytes a call, and counts the calls.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    step: usize,
    calls: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.calls += 1;
        let n = self.step.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Raw H.264: SPS, PPS, then `units` IDR access units of about `size` bytes each.
fn h264(units: usize, size: usize) -> Vec<u8> {
    let mut s = vec![0, 0, 0, 1, 0x67, 0x42, 0, 0x1e, 0xab];
    s.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xce, 0x38, 0x80]);
    for i in 0..units {
        if i > 0 {
            s.extend_from_slice(&[0, 0, 0, 1, 0x09, 0xf0]); // access unit delimiter
        }
        s.extend_from_slice(&[0, 0, 0, 1, 0x65, 0x88]);
        s.extend(std::iter::repeat_n(0x5a, size));
    }
    s
}

/// Reads `data` through a `Read` giving `step` bytes a call; returns the packet sizes and
/// the time taken.
fn read(data: &[u8], step: usize) -> (Vec<usize>, Duration) {
    let started = Instant::now();
    let reader = Trickle {
        data: data.to_vec(),
        at: 0,
        step,
        calls: 0,
    };
    let mut stream = ElementaryStream::from_stream(reader, FormatHint::Codec(Codec::H264)).unwrap();
    let mut sizes = Vec::new();
    while let Some(p) = stream.next_packet().unwrap() {
        sizes.push(p.data.len());
    }
    (sizes, started.elapsed())
}

#[test]
fn one_byte_reads_of_a_4_mib_access_unit_take_linear_time() {
    let data = h264(2, 4 << 20);
    let (whole, fast) = read(&data, 64 << 10);
    let (trickled, slow) = read(&data, 1);
    assert_eq!(trickled, whole);
    assert_eq!(whole.len(), 2);
    // 8 Mi one-byte calls: about 4 s unoptimised on a loaded 2-core machine (1 and 2 MiB
    // units take 1 and 2 s: linear); the quadratic version ran past 300 s here. Generous
    // against slow machines, still far below quadratic.
    assert!(
        slow < Duration::from_secs(60),
        "1-byte reads took {slow:?}, 64 KiB reads {fast:?}"
    );
}
