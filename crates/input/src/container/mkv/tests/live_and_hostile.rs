//! Live input, random and mutated bytes, and memory bounds on hostile and long streams.

use super::*;

#[test]
fn live_input_gives_each_packet_as_soon_as_its_block_is_complete() {
    let blocks: Vec<Vec<u8>> = (0..5u8)
        .map(|i| simple_block(1, i16::from(i) * 40, i == 0, &[i; 50]))
        .collect();
    let mut file = webm(&[]);
    file.extend(unknown(ids::CLUSTER));
    file.extend(uint(ids::TIMESTAMP, 0));
    let mut block_ends = Vec::new();
    for b in &blocks {
        file.extend(b);
        block_ends.push(file.len());
    }
    // Bytes pushed one at a time, as from a socket; the parser never sees eof.
    let mut parser = MkvDemux::live();
    let (mut window, mut pos, mut out) = (Vec::new(), 0u64, Vec::new());
    let mut emitted_at = Vec::new();
    for (fed, &byte) in file.iter().enumerate() {
        window.push(byte);
        loop {
            match parser.step(&window, pos, false, &mut out).unwrap() {
                Step::Consumed(n) => {
                    window.drain(..n);
                    pos += n as u64;
                }
                Step::Packet { consumed, info } => {
                    window.drain(..consumed);
                    pos += consumed as u64;
                    assert_eq!(out, [info.index as u8; 50]);
                    emitted_at.push(fed + 1);
                }
                Step::NeedMore(_) => break,
                other => panic!("{other:?}"),
            }
        }
        assert!(
            window.len() <= 64,
            "the live window grows: {}",
            window.len()
        );
    }
    assert_eq!(emitted_at, block_ends);
    assert_eq!(parser.index(), None, "a live reader keeps no frame index");
    assert_eq!(parser.heap_bytes(), parser.lace_sizes.capacity() * 4 + 5);
}

#[test]
fn random_bytes_and_mutations_never_panic_spin_or_grow() {
    let originals: Vec<Vec<u8>> = CLIPS.iter().map(|n| clip(n)).collect();
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for round in 0..3000 {
        let mut data = originals[round % originals.len()].clone();
        for _ in 0..1 + rng.next() % 6 {
            let at = (rng.next() as usize) % data.len();
            match rng.next() % 3 {
                0 => data[at] ^= 1 << (rng.next() % 8),
                1 => data[at] = rng.next() as u8,
                _ => data.truncate(at.max(1)),
            }
        }
        let chunk = 1 + (rng.next() % 300) as usize;
        let mut parser = MkvDemux::new();
        let run = drive(&mut parser, &data, &mut || chunk);
        assert!(run.peak_window <= data.len() + chunk, "round {round}");
        assert!(run.peak_parser <= 4096 + 40 * data.len(), "round {round}");
        assert!(run.peak_out <= 4 * data.len() + (1 << 20), "round {round}");
    }
}

#[test]
fn the_worst_case_index_stays_within_40_bytes_per_byte_read() {
    // Fixed-size laces of 256 one-byte frames: one indexed frame per byte of the file,
    // the densest a file can pack them.
    let mut body = vec![0x81, 0, 0, 0x84, 255];
    body.extend([7u8; 256]);
    let block = el(ids::SIMPLE_BLOCK, &body);
    let file = webm(&[cluster(0, &vec![block; 400])]);
    let mut parser = MkvDemux::new();
    let run = drive(&mut parser, &file, &mut || 4096);
    assert_eq!((run.error, run.packets.len()), (None, 400 * 256));
    assert_eq!(parser.index().unwrap().len(), 400 * 256);
    assert!(
        run.peak_parser <= 40 * file.len() + 4096,
        "{} heap bytes for {} file bytes",
        run.peak_parser,
        file.len()
    );
}

#[test]
fn a_256_mib_live_stream_is_read_with_a_window_of_one_block() {
    // 4,096 blocks of 64 KiB in unknown-size clusters of 64 blocks, made as they are fed:
    // the window holds at most one block (plus what one feed brings), the frame index
    // grows by its 20 bytes a frame, the live reader keeps none.
    const BLOCK: usize = 64 << 10;
    let frame = vec![0x5au8; BLOCK];
    for live in [true, false] {
        let mut parser = if live {
            MkvDemux::live()
        } else {
            MkvDemux::new()
        };
        let (mut window, mut pos, mut out) = (webm(&[]), 0u64, Vec::new());
        let (mut packets, mut peak_window, mut peak_heap) = (0u64, 0, 0);
        for i in 0..4096u64 {
            if i % 64 == 0 {
                window.extend(unknown(ids::CLUSTER));
                window.extend(uint(ids::TIMESTAMP, i * 40));
            }
            window.extend(simple_block(1, 0, i % 64 == 0, &frame));
            peak_window = peak_window.max(window.len());
            loop {
                match parser.step(&window, pos, false, &mut out).unwrap() {
                    Step::Consumed(n) => {
                        window.drain(..n);
                        pos += n as u64;
                    }
                    Step::Packet { consumed, info } => {
                        window.drain(..consumed);
                        pos += consumed as u64;
                        assert_eq!(
                            (info.index, info.pts),
                            (packets, (packets / 64 * 64 * 40) as i64)
                        );
                        assert_eq!(out.len(), BLOCK);
                        packets += 1;
                    }
                    Step::NeedMore(_) => break,
                    other => panic!("{other:?}"),
                }
            }
            peak_heap = peak_heap.max(parser.heap_bytes());
        }
        assert_eq!(packets, 4096);
        assert!(pos > 256 << 20);
        assert!(peak_window <= BLOCK + 200, "window {peak_window}");
        let index_bound = if live { 0 } else { 2 * 4096 * 20 + 2 * 64 * 16 };
        assert!(peak_heap <= 4096 + index_bound, "{live}: heap {peak_heap}");
    }
}
