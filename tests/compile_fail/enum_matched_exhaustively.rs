// The enums that will grow are `#[non_exhaustive]`: a match without a wildcard arm does not
// compile, so adding a variant is not a breaking change. One match per enum, every variant
// named: each must fail with "`_` not covered".
use nvcodec_guard::convert::{ChromaSiting, RgbLayout, SampleType};
use nvcodec_guard::cuda::ContextMode;
use nvcodec_guard::decode::OutputFormat;
use nvcodec_guard::encode::{Preset, RateControl, Tuning};

fn layout(v: RgbLayout) -> u8 {
    match v {
        RgbLayout::Rgb | RgbLayout::Bgr | RgbLayout::Rgba | RgbLayout::Bgra | RgbLayout::PlanarRgb => 0,
    }
}

fn sample(v: SampleType) -> u8 {
    match v {
        SampleType::U8 | SampleType::F16 | SampleType::F32 => 0,
    }
}

fn siting(v: ChromaSiting) -> u8 {
    match v {
        ChromaSiting::Left | ChromaSiting::Center => 0,
    }
}

fn output(v: OutputFormat) -> u8 {
    match v {
        OutputFormat::Auto | OutputFormat::Nv12 | OutputFormat::P016 => 0,
    }
}

fn mode(v: ContextMode) -> u8 {
    match v {
        ContextMode::SharedPrimary | ContextMode::Dedicated => 0,
    }
}

fn rate(v: RateControl) -> u8 {
    match v {
        RateControl::Cqp { .. } | RateControl::Vbr { .. } | RateControl::Cbr { .. } => 0,
    }
}

fn preset(v: Preset) -> u8 {
    match v {
        Preset::P1 | Preset::P2 | Preset::P3 | Preset::P4 | Preset::P5 | Preset::P6 | Preset::P7 => 0,
    }
}

fn tuning(v: Tuning) -> u8 {
    match v {
        Tuning::HighQuality | Tuning::LowLatency | Tuning::UltraLowLatency | Tuning::Lossless => 0,
    }
}

fn main() {
    let _ = (layout, sample, siting, output, mode, rate, preset, tuning);
}
