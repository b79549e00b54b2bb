//! Plane and pitch arithmetic of each [`InputFormat`], and the checked copy of host planes
//! into a pitched NVENC surface.
//!
//! Invariant: a frame's bytes are only copied after every plane was checked against its
//! format's layout (rows × row bytes within the slice at the given pitch), and the copy
//! itself uses checked slicing, so no input can make it read or write out of bounds.
//!
//! Surface layout (what NVENC's input buffers and registered device pointers hold): the
//! planes one after another, each `rows` rows at the surface pitch; for NV12 and P010 the
//! interleaved UV plane starts at `pitch × height`, for YUV444 U at `pitch × height` and V
//! at `2 × pitch × height`.

use crate::error::{Error, FrameError, Result};
use nvcodec_media::{InputFormat, PlaneLayout};

/// Host memory of one plane: `data` starts at the plane's first row, rows are `pitch`
/// bytes apart. The last row needs only its picture bytes, no padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPlane<'a> {
    /// The plane's bytes.
    pub data: &'a [u8],
    /// Bytes from one row to the next (at least the plane's row bytes).
    pub pitch: usize,
}

fn plane_name(format: InputFormat, index: usize) -> &'static str {
    match (format, index) {
        (InputFormat::Argb, _) => "ARGB",
        (_, 0) => "Y",
        (InputFormat::Nv12 | InputFormat::P010, _) => "UV",
        (_, 1) => "U",
        _ => "V",
    }
}

/// Checks `planes` against the layout of a `width`×`height` frame of `format`.
pub(crate) fn check_host_planes(
    format: InputFormat,
    width: u32,
    height: u32,
    planes: &[HostPlane<'_>],
) -> Result<()> {
    let layout = format.layout(width, height);
    let expected = layout.planes();
    if planes.len() != expected.len() {
        return Err(FrameError::PlaneCount {
            format,
            expected: expected.len(),
            got: planes.len(),
        }
        .into());
    }
    for (index, (plane, spec)) in planes.iter().zip(expected).enumerate() {
        let name = plane_name(format, index);
        if plane.pitch < spec.row_bytes {
            return Err(FrameError::PitchTooSmall {
                format,
                width,
                height,
                plane: name,
                pitch: plane.pitch,
                row_bytes: spec.row_bytes,
            }
            .into());
        }
        // Saturating: a size past `usize::MAX` is more than any slice holds, so it is
        // refused below (it used to wrap to 0 and pass).
        let needed = spec
            .rows
            .checked_sub(1)
            .and_then(|r| plane.pitch.checked_mul(r))
            .and_then(|b| b.checked_add(spec.row_bytes))
            .unwrap_or(usize::MAX);
        if spec.rows > 0 && plane.data.len() < needed {
            return Err(FrameError::PlaneTooShort {
                format,
                width,
                height,
                plane: name,
                len: plane.data.len(),
                rows: spec.rows,
                pitch: plane.pitch,
                needed,
            }
            .into());
        }
    }
    Ok(())
}

/// Bytes a device surface of a `width`×`height` frame of `format` spans at `pitch` (see
/// [`PlaneLayout::surface_size`]), or why no surface fits that pitch.
pub(crate) fn device_surface_size(
    format: InputFormat,
    width: u32,
    height: u32,
    pitch: usize,
) -> Result<usize> {
    let layout = format.layout(width, height);
    if let Some(size) = layout.surface_size(pitch) {
        return Ok(size);
    }
    let narrow = layout
        .planes()
        .iter()
        .enumerate()
        .find(|(_, p)| pitch < p.row_bytes);
    Err(match narrow {
        Some((index, spec)) => FrameError::PitchTooSmall {
            format,
            width,
            height,
            plane: plane_name(format, index),
            pitch,
            row_bytes: spec.row_bytes,
        },
        None => FrameError::SurfaceTooLarge {
            format,
            width,
            height,
            pitch,
        },
    }
    .into())
}

/// Splits a tightly packed frame (planes back to back, pitch = row bytes) into planes.
pub(crate) fn split_packed(
    format: InputFormat,
    width: u32,
    height: u32,
    data: &[u8],
) -> Result<Vec<HostPlane<'_>>> {
    let layout = format.layout(width, height);
    let size = layout.packed_size();
    if data.len() != size {
        return Err(FrameError::PackedSize {
            format,
            width,
            height,
            expected: size,
            len: data.len(),
        }
        .into());
    }
    let mut planes = Vec::with_capacity(layout.planes().len());
    let mut rest = data;
    for spec in layout.planes() {
        let (plane, tail) = rest
            .split_at_checked(spec.row_bytes.saturating_mul(spec.rows))
            // Unreachable: `data` is exactly the sum of the planes' sizes (checked above).
            .ok_or(Error::Internal {
                what: "a packed frame of the checked size is shorter than its planes",
            })?;
        planes.push(HostPlane {
            data: plane,
            pitch: spec.row_bytes,
        });
        rest = tail;
    }
    Ok(planes)
}

/// Copies checked `planes` into a pitched surface `dst` (planes back to back, each row at
/// `dst_pitch`), as [`PlaneLayout::plane_offset`] places them.
pub(crate) fn copy_to_surface(
    layout: &PlaneLayout,
    planes: &[HostPlane<'_>],
    dst: &mut [u8],
    dst_pitch: usize,
) -> Result<()> {
    let dst_len = dst.len();
    let mut offset = 0usize;
    for (spec, plane) in layout.planes().iter().zip(planes) {
        for row in 0..spec.rows {
            let src = row
                .checked_mul(plane.pitch)
                .and_then(|start| plane.data.get(start..start.checked_add(spec.row_bytes)?))
                // Unreachable: the caller checked every plane (`check_host_planes`, or
                // `split_packed`, whose planes are exact).
                .ok_or(Error::Internal {
                    what: "a checked host plane is shorter than its rows",
                })?;
            let target = row
                .checked_mul(dst_pitch)
                .and_then(|r| r.checked_add(offset))
                .filter(|_| dst_pitch >= spec.row_bytes)
                .and_then(|start| dst.get_mut(start..start.checked_add(spec.row_bytes)?))
                .ok_or_else(|| {
                    Error::DriverContract {
                        call: "NvEncLockInputBuffer",
                        violation: format!(
                            "input surface of {dst_len} bytes at pitch {dst_pitch} has no room for this frame"
                        ),
                    }
                })?;
            target.copy_from_slice(src);
        }
        offset = dst_pitch
            .checked_mul(spec.rows)
            .and_then(|bytes| bytes.checked_add(offset))
            .ok_or_else(|| Error::DriverContract {
                call: "NvEncLockInputBuffer",
                violation: format!("surface pitch {dst_pitch} overflows"),
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nvcodec_media::Plane;

    #[test]
    fn encode_layouts_of_every_format() {
        let nv12 = InputFormat::Nv12.layout(640, 360);
        assert_eq!(
            nv12.planes(),
            &[
                Plane {
                    row_bytes: 640,
                    rows: 360
                },
                Plane {
                    row_bytes: 640,
                    rows: 180
                }
            ]
        );
        assert_eq!(nv12.packed_size(), 640 * 360 * 3 / 2);
        assert_eq!(nv12.surface_rows(), 540);
        assert_eq!(nv12.plane_offset(1, 768), Some(768 * 360));

        let p010 = InputFormat::P010.layout(640, 360);
        assert_eq!(p010.planes()[0].row_bytes, 1280);
        assert_eq!(
            p010.planes()[1],
            Plane {
                row_bytes: 1280,
                rows: 180
            }
        );
        assert_eq!(p010.packed_size(), 640 * 360 * 3);

        let yuv444 = InputFormat::Yuv444.layout(641, 361);
        assert_eq!(yuv444.planes().len(), 3);
        assert!(yuv444.planes().iter().all(|p| *p
            == Plane {
                row_bytes: 641,
                rows: 361
            }));
        assert_eq!(yuv444.surface_rows(), 3 * 361);
        assert_eq!(yuv444.plane_offset(2, 704), Some(2 * 704 * 361));

        let argb = InputFormat::Argb.layout(320, 240);
        assert_eq!(
            argb.planes(),
            &[Plane {
                row_bytes: 1280,
                rows: 240
            }]
        );
        assert_eq!(argb.packed_size(), 320 * 240 * 4);
        assert_eq!(argb.plane_offset(1, 1280), Some(1280 * 240));
        assert_eq!(argb.plane_offset(2, 1280), None);
    }

    #[test]
    fn encode_layouts_of_u32_max_sides_saturate_and_every_check_still_refuses() {
        let formats = [
            InputFormat::Nv12,
            InputFormat::P010,
            InputFormat::Yuv444,
            InputFormat::Argb,
        ];
        for format in formats {
            let layout = format.layout(u32::MAX, u32::MAX);
            assert_eq!(layout.packed_size(), usize::MAX, "{format:?}");
            let row = layout.planes()[0].row_bytes;
            assert_eq!(row, u32::MAX as usize * format.bytes_per_pixel());
            assert_eq!(layout.surface_size(row), None, "{format:?} overflows");
            assert_eq!(layout.plane_offset(1, usize::MAX), None);
            let data = [0u8; 64];
            assert!(split_packed(format, u32::MAX, u32::MAX, &data).is_err());
            let planes = vec![
                HostPlane {
                    data: &data,
                    pitch: row
                };
                layout.planes().len()
            ];
            assert!(check_host_planes(format, u32::MAX, u32::MAX, &planes).is_err());
        }
    }

    #[test]
    fn encode_surface_size_needs_no_padding_after_the_last_row() {
        let nv12 = InputFormat::Nv12.layout(640, 360);
        assert_eq!(nv12.surface_size(640), Some(640 * 540));
        assert_eq!(nv12.surface_size(768), Some(768 * 539 + 640));
        assert_eq!(nv12.surface_size(639), None);
        assert_eq!(nv12.surface_size(usize::MAX), None);
    }

    #[test]
    fn encode_host_planes_are_checked_against_pitch_and_rows() {
        let (w, h) = (64u32, 32u32);
        let y = vec![0u8; 80 * 31 + 64];
        let uv = vec![0u8; 64 * 16];
        let ok = [
            HostPlane {
                data: &y,
                pitch: 80,
            },
            HostPlane {
                data: &uv,
                pitch: 64,
            },
        ];
        check_host_planes(InputFormat::Nv12, w, h, &ok).unwrap();

        let short_y = [
            HostPlane {
                data: &y[..80 * 31 + 63],
                pitch: 80,
            },
            ok[1],
        ];
        let err = check_host_planes(InputFormat::Nv12, w, h, &short_y).unwrap_err();
        assert!(err.to_string().contains("Y plane"), "{err}");
        assert!(
            matches!(
                err,
                Error::Frame(FrameError::PlaneTooShort {
                    plane: "Y",
                    len: 2543,
                    rows: 32,
                    pitch: 80,
                    needed: 2544,
                    ..
                })
            ),
            "{err:?}"
        );

        let narrow = [
            ok[0],
            HostPlane {
                data: &uv,
                pitch: 63,
            },
        ];
        let err = check_host_planes(InputFormat::Nv12, w, h, &narrow).unwrap_err();
        assert!(
            err.to_string().contains("UV plane") && err.to_string().contains("pitch 63"),
            "{err}"
        );
        assert!(
            matches!(
                err,
                Error::Frame(FrameError::PitchTooSmall {
                    plane: "UV",
                    pitch: 63,
                    row_bytes: 64,
                    ..
                })
            ),
            "{err:?}"
        );

        let err = check_host_planes(InputFormat::Yuv444, w, h, &ok).unwrap_err();
        assert!(err.to_string().contains("3 plane(s), got 2"), "{err}");
        assert!(
            matches!(
                err,
                Error::Frame(FrameError::PlaneCount {
                    format: InputFormat::Yuv444,
                    expected: 3,
                    got: 2,
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn encode_packed_frames_split_into_planes() {
        let data: Vec<u8> = (0..(8 * 4 * 3 / 2)).map(|i| i as u8).collect();
        let planes = split_packed(InputFormat::Nv12, 8, 4, &data).unwrap();
        assert_eq!(planes.len(), 2);
        assert_eq!((planes[0].data.len(), planes[0].pitch), (32, 8));
        assert_eq!((planes[1].data.len(), planes[1].pitch), (16, 8));
        assert_eq!(planes[1].data[0], 32);
        let err = split_packed(InputFormat::Nv12, 8, 4, &data[1..]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Frame(FrameError::PackedSize {
                    expected: 48,
                    len: 47,
                    ..
                })
            ),
            "{err:?}"
        );
        let argb = vec![0u8; 3 * 2 * 4];
        assert_eq!(
            split_packed(InputFormat::Argb, 3, 2, &argb).unwrap().len(),
            1
        );
    }

    #[test]
    fn encode_copy_places_planes_at_pitch_offsets() {
        // 4x2 NV12 from packed planes into a surface of pitch 6.
        let y = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let uv = [9u8, 10, 11, 12];
        let planes = [
            HostPlane { data: &y, pitch: 4 },
            HostPlane {
                data: &uv,
                pitch: 4,
            },
        ];
        let layout = InputFormat::Nv12.layout(4, 2);
        let mut dst = vec![0u8; 6 * layout.surface_rows()];
        copy_to_surface(&layout, &planes, &mut dst, 6).unwrap();
        assert_eq!(
            dst,
            [1, 2, 3, 4, 0, 0, 5, 6, 7, 8, 0, 0, 9, 10, 11, 12, 0, 0]
        );
        // A destination too small is an error, not a panic.
        let mut small = vec![0u8; 13];
        assert!(copy_to_surface(&layout, &planes, &mut small, 6).is_err());
        assert!(copy_to_surface(&layout, &planes, &mut dst, 3).is_err());
    }

    #[test]
    fn encode_device_pitch_is_checked_against_every_plane() {
        // 64x32 NV12: 32 rows of Y and 16 of UV, 64 bytes each.
        assert_eq!(
            device_surface_size(InputFormat::Nv12, 64, 32, 128).unwrap(),
            128 * 47 + 64
        );
        let err = device_surface_size(InputFormat::Nv12, 64, 32, 60).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Frame(FrameError::PitchTooSmall {
                    plane: "Y",
                    pitch: 60,
                    row_bytes: 64,
                    ..
                })
            ),
            "{err:?}"
        );
        let err = device_surface_size(InputFormat::Argb, 64, 32, usize::MAX / 8).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Frame(FrameError::SurfaceTooLarge {
                    format: InputFormat::Argb,
                    width: 64,
                    height: 32,
                    ..
                })
            ),
            "{err:?}"
        );
    }
}
