//! Fuzz target `raw_index`: `ElementaryStream::build_index` over any bytes, as raw H.264,
//! raw HEVC or IVF (the first byte chooses). Checked: no panic; at most one sample per three
//! bytes; the display ranks of shown samples are exactly 0..shown; the heap held within
//! 20 B/sample (twice, for growth) + the bytes + a constant; and after `seek_to_sample(k)` the
//! next packet is the k-th packet of a whole pass, carrying the index's pts; samples marked
//! not shown (`is_shown`) are exactly those whose raw pts is NOT_SHOWN.
#![no_main]

use nvcodec_input::Codec;
use nvcodec_input::annexb::NOT_SHOWN;
use nvcodec_input::{ElementaryStream, FormatHint, SampleIndex};

fn check(data: &[u8]) {
    let Some((&choice, bytes)) = data.split_first() else {
        return;
    };
    let hint = match choice % 3 {
        0 => FormatHint::Codec(Codec::H264),
        1 => FormatHint::Codec(Codec::Hevc),
        _ => FormatHint::Ivf,
    };
    let Ok(mut es) = ElementaryStream::from_bytes(bytes.to_vec(), hint) else {
        return;
    };
    let Ok(index) = es.build_index() else {
        return;
    };
    let index = index.clone();
    assert!(index.len() <= bytes.len() / 3 + 1);
    if hint != FormatHint::Ivf {
        let mut ranks: Vec<i64> = (0..index.len())
            .filter(|&i| index.is_shown(i))
            .filter_map(|i| index.pts(i))
            .collect();
        assert!((0..index.len()).all(|i| index.is_shown(i) != (index.pts(i) == Some(NOT_SHOWN))));
        ranks.sort_unstable();
        assert!(ranks.iter().enumerate().all(|(i, &r)| r == i as i64));
    }
    let bound = 2 * bytes.len()
        + index.len() * 2 * (SampleIndex::BYTES_PER_SAMPLE + 16)
        + (256 << 10);
    assert!(es.memory_footprint() <= bound);
    let Ok(mut whole) = ElementaryStream::from_bytes(bytes.to_vec(), hint) else {
        panic!("the bytes opened once");
    };
    let whole: Vec<Vec<u8>> = whole
        .packets()
        .map_while(|p| p.ok())
        .map(|p| p.data)
        .collect();
    for k in (0..index.len()).rev().step_by(5) {
        es.seek_to_sample(k).expect("seek within the index");
        let packet = es.next_packet().expect("a packet read before").expect("a packet");
        assert_eq!(Some(packet.data), whole.get(k).map(|d| &d[..]));
        assert_eq!(Some(packet.pts), index.pts(k));
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));
