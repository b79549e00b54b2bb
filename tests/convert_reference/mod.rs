//! The CPU reference converter (f64), shared by `convert_cpu` and `gpu_convert`.
//!
//! It restates the formulas of `src/convert/matrix.rs` from the standards, independently of
//! the crate (H.273 §8.3 range equations; R′G′B′ from Y′CbCr with Kr, Kb of BT.601 / BT.709 /
//! BT.2020), and the kernel's sampling (bilinear chroma at the left/MPEG-2 siting, edges
//! clamped), so that the crate's coefficients and the GPU's output are both checked against
//! something they do not share code with.
#![allow(dead_code)]

/// Kr, Kb by H.273 matrix code point (the ones the converter supports).
pub fn kr_kb(matrix_code: u8) -> (f64, f64) {
    match matrix_code {
        1 => (0.2126, 0.0722),   // BT.709
        5 | 6 => (0.299, 0.114), // BT.601
        9 => (0.2627, 0.0593),   // BT.2020 NCL
        4 => (0.30, 0.11),       // FCC
        7 => (0.212, 0.087),     // SMPTE 240M
        other => panic!("no reference for matrix {other}"),
    }
}

/// How samples are coded: matrix code point, full range?, significant bits, storage bits.
#[derive(Debug, Clone, Copy)]
pub struct Coding {
    pub matrix: u8,
    pub full: bool,
    pub bits: u32,
    pub storage: u32,
}

impl Coding {
    /// R′, G′, B′ (unclamped) of stored samples `y, cb, cr`.
    pub fn rgb(&self, y: f64, cb: f64, cr: f64) -> [f64; 3] {
        // Back to b-bit code values.
        let scale = f64::from(1u32 << (self.storage - self.bits));
        let (dy, dcb, dcr) = (y / scale, cb / scale, cr / scale);
        let n = self.bits as i32;
        let (ey, epb, epr) = if self.full {
            let max = 2f64.powi(n) - 1.0;
            let mid = 2f64.powi(n - 1);
            (dy / max, (dcb - mid) / max, (dcr - mid) / max)
        } else {
            let k = 2f64.powi(n - 8);
            (
                (dy - 16.0 * k) / (219.0 * k),
                (dcb - 128.0 * k) / (224.0 * k),
                (dcr - 128.0 * k) / (224.0 * k),
            )
        };
        let (kr, kb) = kr_kb(self.matrix);
        let kg = 1.0 - kr - kb;
        let r = ey + (2.0 - 2.0 * kr) * epr;
        let b = ey + (2.0 - 2.0 * kb) * epb;
        let g = (ey - kr * r - kb * b) / kg;
        [r, g, b]
    }

    /// The stored samples of `b`-bit code values.
    pub fn store(&self, code: f64) -> f64 {
        code * f64::from(1u32 << (self.storage - self.bits))
    }
}

/// A decoded 4:2:0 picture in the packed layout (luma rows, then interleaved CbCr rows),
/// samples widened to f64.
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub luma: Vec<f64>,
    /// `⌈w/2⌉ × ⌈h/2⌉` samples each (4:2:0), or `w × h` (4:4:4).
    pub cb: Vec<f64>,
    pub cr: Vec<f64>,
    /// 4:4:4: chroma at every luma position, used as it is.
    pub full_chroma: bool,
}

impl Picture {
    /// From packed NV12 (`bytes_per_sample` 1) or P016 (2, little-endian) bytes.
    pub fn from_packed(
        bytes: &[u8],
        width: usize,
        height: usize,
        bytes_per_sample: usize,
    ) -> Picture {
        let sample = |i: usize| -> f64 {
            if bytes_per_sample == 1 {
                f64::from(bytes[i])
            } else {
                f64::from(u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]))
            }
        };
        let luma: Vec<f64> = (0..width * height).map(sample).collect();
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        let base = width * height;
        let mut cb = Vec::with_capacity(cw * ch);
        let mut cr = Vec::with_capacity(cw * ch);
        for i in 0..cw * ch {
            cb.push(sample(base + 2 * i));
            cr.push(sample(base + 2 * i + 1));
        }
        Picture {
            width,
            height,
            luma,
            cb,
            cr,
            full_chroma: false,
        }
    }

    /// From packed planar 4:4:4 bytes (Y, U, V planes of `width × height`), 1 or 2 bytes per
    /// sample.
    pub fn from_packed_444(
        bytes: &[u8],
        width: usize,
        height: usize,
        bytes_per_sample: usize,
    ) -> Picture {
        let sample = |i: usize| -> f64 {
            if bytes_per_sample == 1 {
                f64::from(bytes[i])
            } else {
                f64::from(u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]))
            }
        };
        let n = width * height;
        Picture {
            width,
            height,
            luma: (0..n).map(sample).collect(),
            cb: (n..2 * n).map(sample).collect(),
            cr: (2 * n..3 * n).map(sample).collect(),
            full_chroma: true,
        }
    }

    /// Bilinear chroma at luma (x, y): chroma position `(x/2 + dx, y/2 + dy)` in chroma
    /// samples, `dx = 0` (left siting) or `−0.25` (centre), `dy = −0.25`; edges clamped.
    pub fn chroma(&self, plane: &[f64], x: usize, y: usize, dx: f64, dy: f64) -> f64 {
        let (cw, ch) = (
            self.width.div_ceil(2) as i64,
            self.height.div_ceil(2) as i64,
        );
        let cx = x as f64 * 0.5 + dx;
        let cy = y as f64 * 0.5 + dy;
        let (x0, y0) = (cx.floor(), cy.floor());
        let (fx, fy) = (cx - x0, cy - y0);
        let clampx = |v: i64| v.clamp(0, cw - 1) as usize;
        let clampy = |v: i64| v.clamp(0, ch - 1) as usize;
        let (xa, xb) = (clampx(x0 as i64), clampx(x0 as i64 + 1));
        let (ya, yb) = (clampy(y0 as i64), clampy(y0 as i64 + 1));
        let at = |xx: usize, yy: usize| plane[yy * cw as usize + xx];
        let top = at(xa, ya) + (at(xb, ya) - at(xa, ya)) * fx;
        let bottom = at(xa, yb) + (at(xb, yb) - at(xa, yb)) * fx;
        top + (bottom - top) * fy
    }

    /// Clamped R′G′B′ (0–1) of every pixel, row-major, left siting unless `dx` says.
    pub fn to_rgb(&self, coding: &Coding, dx: f64) -> Vec<[f64; 3]> {
        let mut out = Vec::with_capacity(self.width * self.height);
        for y in 0..self.height {
            for x in 0..self.width {
                let l = self.luma[y * self.width + x];
                let (cb, cr) = if self.full_chroma {
                    (self.cb[y * self.width + x], self.cr[y * self.width + x])
                } else {
                    (
                        self.chroma(&self.cb, x, y, dx, -0.25),
                        self.chroma(&self.cr, x, y, dx, -0.25),
                    )
                };
                out.push(coding.rgb(l, cb, cr).map(|v| v.clamp(0.0, 1.0)));
            }
        }
        out
    }
}

/// IEEE half → f64.
pub fn half_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 => {
            if frac == 0.0 {
                sign * f64::INFINITY
            } else {
                f64::NAN
            }
        }
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}
