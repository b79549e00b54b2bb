//! Fuzz target `seek_plan`: random access's planning (display order, runs, feeding, hand-out)
//! over any track the bytes describe — timestamps repeated, out of order, saturated to
//! `i64::MIN`/`i64::MAX` or equal to the raw placeholder, hidden samples, any bitstream display
//! ranks, disposable samples, a decoder that outputs one frame too many — run against a model
//! decoder that names frames as NVDEC does. Checked: every frame handed out is the frame a
//! whole decode shows at the index asked for, with its sample's pts, or the call fails with a
//! typed error the case explains (`src/decode/seek/model.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nvcodec_guard::decode::fuzz_plan(data));
