//! The encoder's public surface on a machine without a GPU: NVENC struct versions, config
//! validation, plane/pitch arithmetic, input frames, thread-safety markers, and a build
//! that fails with a clear error value (never a panic) when the driver is absent.
//!
//! GUID, rate-control and GOP mapping into `NV_ENC_CONFIG` and status naming are
//! crate-private; their unit tests run with `cargo test --lib encode`.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nvcodec_guard::cuda::ContextMode;
use nvcodec_guard::encode::{
    EncoderBuilder, EncoderConfig, HostPlane, INFINITE_GOP, InputFormat, InputFrame, Plane, Preset,
    RateControl, Tuning,
};
use nvcodec_guard::init::{CudaInitGuard, init_lock_stats};
use nvcodec_guard::{Codec, Error};
use nvidia_video_codec_sdk::sys::nvEncodeAPI as nv;

/// Tests that take the init lock run one at a time, so lock counters are theirs alone.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn struct_versions_match_the_sdk_12_1_header_macros() {
    // nvEncodeAPI.h: NVENCAPI_VERSION = major | minor << 24;
    // NVENCAPI_STRUCT_VERSION(v) = NVENCAPI_VERSION | v << 16 | 0x7 << 28.
    assert_eq!(
        (nv::NVENCAPI_MAJOR_VERSION, nv::NVENCAPI_MINOR_VERSION),
        (12, 1)
    );
    assert_eq!(nv::NVENCAPI_VERSION, 0x0100_000C);
    let v = |ver: u32| nv::NVENCAPI_VERSION | (ver << 16) | (0x7 << 28);
    let cases = [
        (
            "NV_ENCODE_API_FUNCTION_LIST_VER",
            nv::NV_ENCODE_API_FUNCTION_LIST_VER,
            v(2),
            0x7102_000C,
        ),
        (
            "NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER",
            nv::NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER,
            v(1),
            0x7101_000C,
        ),
        (
            "NV_ENC_CAPS_PARAM_VER",
            nv::NV_ENC_CAPS_PARAM_VER,
            v(1),
            0x7101_000C,
        ),
        (
            "NV_ENC_CONFIG_VER",
            nv::NV_ENC_CONFIG_VER,
            v(8) | 1 << 31,
            0xF108_000C,
        ),
        (
            "NV_ENC_PRESET_CONFIG_VER",
            nv::NV_ENC_PRESET_CONFIG_VER,
            v(4) | 1 << 31,
            0xF104_000C,
        ),
        (
            "NV_ENC_INITIALIZE_PARAMS_VER",
            nv::NV_ENC_INITIALIZE_PARAMS_VER,
            v(6) | 1 << 31,
            0xF106_000C,
        ),
        (
            "NV_ENC_PIC_PARAMS_VER",
            nv::NV_ENC_PIC_PARAMS_VER,
            v(6) | 1 << 31,
            0xF106_000C,
        ),
        (
            "NV_ENC_LOCK_BITSTREAM_VER",
            nv::NV_ENC_LOCK_BITSTREAM_VER,
            v(1) | 1 << 31,
            0xF101_000C,
        ),
        (
            "NV_ENC_CREATE_INPUT_BUFFER_VER",
            nv::NV_ENC_CREATE_INPUT_BUFFER_VER,
            v(1),
            0x7101_000C,
        ),
        (
            "NV_ENC_CREATE_BITSTREAM_BUFFER_VER",
            nv::NV_ENC_CREATE_BITSTREAM_BUFFER_VER,
            v(1),
            0x7101_000C,
        ),
        (
            "NV_ENC_LOCK_INPUT_BUFFER_VER",
            nv::NV_ENC_LOCK_INPUT_BUFFER_VER,
            v(1),
            0x7101_000C,
        ),
        (
            "NV_ENC_REGISTER_RESOURCE_VER",
            nv::NV_ENC_REGISTER_RESOURCE_VER,
            v(4),
            0x7104_000C,
        ),
        (
            "NV_ENC_MAP_INPUT_RESOURCE_VER",
            nv::NV_ENC_MAP_INPUT_RESOURCE_VER,
            v(4),
            0x7104_000C,
        ),
        (
            "NV_ENC_SEQUENCE_PARAM_PAYLOAD_VER",
            nv::NV_ENC_SEQUENCE_PARAM_PAYLOAD_VER,
            v(1),
            0x7101_000C,
        ),
    ];
    for (name, actual, formula, literal) in cases {
        assert_eq!(actual, formula, "{name} differs from the header macro");
        assert_eq!(actual, literal, "{name}: {actual:#x}");
    }
}

#[test]
fn defaults_are_sensible_and_valid() {
    let c = EncoderConfig::new(Codec::H264, 1920, 1080);
    assert_eq!((c.frame_rate.num, c.frame_rate.den), (30, 1));
    assert_eq!(c.preset, Preset::P4);
    assert_eq!(c.tuning, Tuning::HighQuality);
    assert_eq!(
        c.rate_control,
        RateControl::Cqp {
            qp_i: 23,
            qp_p: 25,
            qp_b: 27
        }
    );
    assert_eq!((c.gop_length, c.b_frames), (60, 0));
    assert_eq!(c.input_format, InputFormat::Nv12);
    assert_eq!((c.device, c.context_mode), (0, ContextMode::SharedPrimary));
    c.validate().unwrap();
    for codec in [Codec::Hevc, Codec::Av1] {
        EncoderConfig::new(codec, 3840, 2160).validate().unwrap();
    }
    // A fully customized, sensible config.
    EncoderConfig::new(Codec::Hevc, 1280, 720)
        .with_frame_rate(60_000, 1001)
        .with_rate_control(RateControl::Vbr {
            bitrate: 6_000_000,
            max_bitrate: 9_000_000,
        })
        .with_preset(Preset::P7)
        .with_tuning(Tuning::LowLatency)
        .with_gop_length(120)
        .with_b_frames(3)
        .with_input_format(InputFormat::P010)
        .with_context_mode(ContextMode::Dedicated)
        .validate()
        .unwrap();
}

#[test]
fn impossible_configs_are_rejected_before_any_driver_call() {
    let base = || EncoderConfig::new(Codec::H264, 1280, 720);
    let invalid = [
        ("zero width", base().with_size(0, 720)),
        ("zero height", base().with_size(1280, 0)),
        ("too large", base().with_size(20_000, 720)),
        ("odd width for NV12", base().with_size(1279, 720)),
        (
            "odd height for P010",
            EncoderConfig::new(Codec::Hevc, 1280, 719).with_input_format(InputFormat::P010),
        ),
        (
            "odd size for ARGB (encoded 4:2:0)",
            base()
                .with_size(1280, 719)
                .with_input_format(InputFormat::Argb),
        ),
        ("5 B-frames", base().with_b_frames(5)),
        (
            "lossless with VBR",
            base()
                .with_tuning(Tuning::Lossless)
                .with_rate_control(RateControl::Vbr {
                    bitrate: 1_000_000,
                    max_bitrate: 1_000_000,
                }),
        ),
        (
            "lossless with CQP > 0",
            base().with_tuning(Tuning::Lossless),
        ),
        (
            "QP 52 for H.264",
            base().with_rate_control(RateControl::Cqp {
                qp_i: 52,
                qp_p: 20,
                qp_b: 20,
            }),
        ),
        (
            "zero VBR bitrate",
            base().with_rate_control(RateControl::Vbr {
                bitrate: 0,
                max_bitrate: 0,
            }),
        ),
        (
            "peak below average",
            base().with_rate_control(RateControl::Vbr {
                bitrate: 5_000_000,
                max_bitrate: 4_000_000,
            }),
        ),
        (
            "zero CBR bitrate",
            base().with_rate_control(RateControl::Cbr { bitrate: 0 }),
        ),
        ("zero frame rate", base().with_frame_rate(0, 1)),
        ("zero frame rate denominator", base().with_frame_rate(30, 0)),
        ("GOP 0", base().with_gop_length(0)),
        (
            "B-frames with an infinite GOP",
            base().with_gop_length(INFINITE_GOP).with_b_frames(2),
        ),
        (
            "B-frames with intra-only",
            base().with_gop_length(1).with_b_frames(1),
        ),
        ("VP9 encoding", EncoderConfig::new(Codec::Vp9, 640, 360)),
    ];
    for (what, config) in invalid {
        match config.validate() {
            Err(Error::InvalidConfig {
                parameter, reason, ..
            }) => {
                assert!(!parameter.is_empty() && !reason.is_empty())
            }
            other => panic!("{what}: expected InvalidConfig, got {other:?}"),
        }
    }
    // Odd sizes are fine for 4:4:4, AV1 allows QPs up to 255, CQP 0 is lossless.
    base()
        .with_size(641, 361)
        .with_input_format(InputFormat::Yuv444)
        .validate()
        .unwrap();
    EncoderConfig::new(Codec::Av1, 640, 360)
        .with_rate_control(RateControl::Cqp {
            qp_i: 120,
            qp_p: 130,
            qp_b: 140,
        })
        .validate()
        .unwrap();
    base()
        .with_tuning(Tuning::Lossless)
        .with_rate_control(RateControl::LOSSLESS)
        .validate()
        .unwrap();
    base().with_gop_length(1).validate().unwrap();
    base().with_gop_length(INFINITE_GOP).validate().unwrap();
}

#[test]
fn combinations_without_a_profile_are_unsupported() {
    let cases = [
        EncoderConfig::new(Codec::H264, 640, 360).with_input_format(InputFormat::P010),
        EncoderConfig::new(Codec::Av1, 640, 360).with_input_format(InputFormat::Yuv444),
    ];
    for config in cases {
        let err = config.validate().unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
        assert!(err.to_string().contains("supported"), "{err}");
    }
}

#[test]
fn plane_layouts_per_input_format() {
    let p = |row_bytes, rows| Plane { row_bytes, rows };
    let nv12 = InputFormat::Nv12.layout(1920, 1080);
    assert_eq!(nv12.planes(), &[p(1920, 1080), p(1920, 540)]);
    assert_eq!(nv12.packed_size(), 1920 * 1080 * 3 / 2);
    assert_eq!(nv12.surface_rows(), 1620);
    assert_eq!(nv12.plane_offset(1, 2048), Some(2048 * 1080));
    assert_eq!(nv12.surface_size(2048), Some(2048 * 1619 + 1920));

    let p010 = InputFormat::P010.layout(1920, 1080);
    assert_eq!(p010.planes(), &[p(3840, 1080), p(3840, 540)]);
    assert_eq!(p010.packed_size(), 1920 * 1080 * 3);
    assert_eq!(p010.surface_size(3839), None, "pitch below the row");

    let yuv444 = InputFormat::Yuv444.layout(1280, 720);
    assert_eq!(yuv444.planes(), &[p(1280, 720); 3]);
    assert_eq!(yuv444.plane_offset(2, 1536), Some(2 * 1536 * 720));
    assert_eq!(yuv444.packed_size(), 1280 * 720 * 3);

    let argb = InputFormat::Argb.layout(1280, 720);
    assert_eq!(argb.planes(), &[p(5120, 720)]);
    assert_eq!(argb.packed_size(), 1280 * 720 * 4);
    assert_eq!(argb.surface_rows(), 720);

    assert_eq!(
        [
            InputFormat::Nv12,
            InputFormat::P010,
            InputFormat::Yuv444,
            InputFormat::Argb
        ]
        .map(InputFormat::bytes_per_pixel),
        [1, 2, 1, 4]
    );
    assert_eq!(InputFormat::P010.bit_depth(), 10);
    assert!(!InputFormat::Yuv444.is_420() && InputFormat::Argb.is_420());
}

#[test]
fn input_frames_carry_their_options() {
    let data = vec![0u8; 64 * 48 * 3 / 2];
    let frame = InputFrame::packed(&data);
    assert!(!frame.is_force_idr() && !frame.is_device());
    assert!(frame.force_idr().is_force_idr());
    let (y, uv) = data.split_at(64 * 48);
    let planes = InputFrame::planes([
        HostPlane { data: y, pitch: 64 },
        HostPlane {
            data: uv,
            pitch: 64,
        },
    ])
    .with_force_idr(true);
    assert!(planes.is_force_idr());
    // SAFETY: the frame is never encoded.
    let raw = unsafe { InputFrame::device_ptr(0x1000, 64) };
    assert!(raw.is_device());
}

#[test]
fn encoder_is_send_but_not_sync() {
    fn assert_send<T: Send>() {}
    assert_send::<nvcodec_guard::encode::Encoder>();

    // Fails to compile (ambiguous impl) if `Encoder: Sync`.
    trait AmbiguousIfSync<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSync<()> for T {}
    #[allow(dead_code)]
    struct IsSync;
    impl<T: ?Sized + Sync> AmbiguousIfSync<IsSync> for T {}
    <nvcodec_guard::encode::Encoder as AmbiguousIfSync<_>>::check();
}

#[test]
fn building_without_a_driver_is_an_error_value_and_frees_the_lock() {
    let _serial = serial();
    if nvcodec_guard::cuda::driver_available().is_ok() {
        eprintln!("an NVIDIA driver is present; this test covers machines without one");
        return;
    }
    let configs = [
        EncoderConfig::new(Codec::H264, 1280, 720),
        EncoderConfig::new(Codec::Hevc, 640, 360).with_context_mode(ContextMode::Dedicated),
        EncoderConfig::new(Codec::Av1, 640, 360).with_b_frames(2),
    ];
    for config in configs {
        // The context layer loads libcuda.so.1 before NVENC is looked at.
        match EncoderBuilder::new(config.clone()).build() {
            Err(Error::LibraryNotFound { name, reason }) => {
                assert_eq!(name, "libcuda.so.1");
                assert!(!reason.is_empty());
            }
            Err(other) => panic!("expected LibraryNotFound, got {other:?}"),
            Ok(encoder) => panic!("built an encoder without a driver: {encoder:?}"),
        }
        match EncoderBuilder::new(config).build_timeout(Duration::from_secs(5)) {
            Err(Error::LibraryNotFound { name, .. }) => assert_eq!(name, "libcuda.so.1"),
            other => panic!("expected LibraryNotFound, got {other:?}"),
        }
    }
    // The typed steps fail at the context, inside the window, and release the lock.
    let guard = CudaInitGuard::acquire().unwrap();
    let err = EncoderBuilder::new(EncoderConfig::new(Codec::Hevc, 640, 360))
        .create_context(guard)
        .unwrap_err();
    assert!(err.to_string().contains("libcuda.so.1"), "{err}");
    assert_eq!(init_lock_stats().open_windows, 0);
    drop(CudaInitGuard::acquire_timeout(Duration::from_millis(100)).expect("the lock is free"));
}
