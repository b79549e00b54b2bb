//! Helpers shared by the GPU test binaries: reference hashes, whole-clip decoding, PSNR.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use nvcodec_guard::Codec;
use nvcodec_guard::decode::{Decoder, DecoderBuilder, DecoderConfig};
use nvcodec_guard::input::ElementaryStream;

/// A file of `tests/data`, found relative to the working directory first (staged test
/// binaries run from a copy of the repository elsewhere), else to the source tree.
pub fn data(name: &str) -> PathBuf {
    let local = Path::new("tests/data").join(name);
    if local.exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// One line of ffmpeg's `-f framemd5` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefFrame {
    pub size: usize,
    pub md5: String,
}

pub fn framemd5(clip: &str) -> Vec<RefFrame> {
    let text =
        std::fs::read_to_string(data(&format!("{clip}.framemd5"))).expect("reference hashes");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split(',').map(str::trim).collect();
            RefFrame {
                size: cols[4].parse().expect("size column"),
                md5: cols[5].to_owned(),
            }
        })
        .collect()
}

/// What a decode of a whole clip produced.
#[derive(Debug, Default)]
pub struct Decoded {
    pub frames: Vec<RefFrame>,
    pub sizes: Vec<(u32, u32)>,
    pub pts: Vec<i64>,
    pub pixels: Vec<Vec<u8>>,
}

pub fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds every packet of `stream` from its first and flushes, collecting hashes (and pixels if
/// asked).
pub fn decode_stream(
    decoder: &mut Decoder,
    stream: &mut ElementaryStream,
    keep_pixels: bool,
    out: &mut Decoded,
) {
    // From the first packet, whatever was read of the stream before.
    stream.rewind().expect("rewind");
    let collect = |frame: nvcodec_guard::decode::Frame<'_>, out: &mut Decoded| {
        let bytes = frame.to_vec().expect("copy frame to host");
        out.frames.push(RefFrame {
            size: bytes.len(),
            md5: md5_hex(&bytes),
        });
        out.sizes.push((frame.width(), frame.height()));
        out.pts.push(frame.pts());
        if keep_pixels {
            out.pixels.push(bytes);
        }
    };
    while let Some(packet) = stream.next_packet().expect("packet") {
        for frame in decoder.decode(packet.data, packet.pts).expect("decode") {
            collect(frame.expect("frame"), out);
        }
    }
    for frame in decoder.flush().expect("flush") {
        collect(frame.expect("frame"), out);
    }
}

pub fn config_for(codec: Codec, stream: &ElementaryStream) -> DecoderConfig {
    let mut config = DecoderConfig::new(codec);
    if let Some((w, h)) = stream.dimensions() {
        config = config.with_max_size(w.max(64), h.max(64));
    }
    config
}

/// Decodes a clip from `tests/data` with `config` (or one derived from the stream).
pub fn decode_clip(
    clip: &str,
    config: Option<DecoderConfig>,
    keep_pixels: bool,
) -> (Decoded, Decoder) {
    let mut stream = ElementaryStream::open(data(clip)).expect("open clip");
    let config = config.unwrap_or_else(|| config_for(stream.codec(), &stream));
    let mut decoder = DecoderBuilder::new(config).build().expect("build decoder");
    let mut out = Decoded::default();
    decode_stream(&mut decoder, &mut stream, keep_pixels, &mut out);
    (out, decoder)
}

/// Asserts every frame equals ffmpeg's reference, in order, with a readable report.
pub fn assert_bit_exact(clip: &str, got: &Decoded) {
    let want = framemd5(clip);
    let mismatches: Vec<String> = want
        .iter()
        .zip(&got.frames)
        .enumerate()
        .filter(|(_, (w, g))| w != g)
        .map(|(i, (w, g))| {
            format!(
                "frame {i}: want {} bytes {} got {} bytes {}",
                w.size, w.md5, g.size, g.md5
            )
        })
        .collect();
    assert_eq!(
        got.frames.len(),
        want.len(),
        "{clip}: frame count (first mismatches: {mismatches:?})"
    );
    assert!(
        mismatches.is_empty(),
        "{clip}: {} of {} frames differ: {:#?}",
        mismatches.len(),
        want.len(),
        &mismatches[..mismatches.len().min(5)]
    );
}

/// PSNR in dB between two equally sized 8-bit buffers (∞ when identical).
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let se: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum();
    if se == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (255.0f64 * 255.0 * a.len() as f64 / se).log10()
}
