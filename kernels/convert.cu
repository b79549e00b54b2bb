// Y'CbCr -> R'G'B' conversion kernels of nvcodec-guard (src/convert).
//
// Compiled to PTX by scripts/gpu-frames.sh (nvcc -ptx, see the PTX header for the exact
// command) and committed as src/convert/kernels.ptx; the crate loads that text with
// cuModuleLoadData. No header is included (nvcc's implicit ones give __ldg), so the file builds
// with any nvcc.
//
// Each thread converts PIXELS (4) consecutive pixels of one row. Every number that depends on
// the colour matrix, the range, the bit depth and the chroma siting comes in `ConvertParams`
// from the crate's one Rust module for that math (src/convert/matrix.rs); this file only
// samples, multiplies, clamps and stores:
//   chroma at luma (x, y): bilinear at (x * sx + chroma_x_offset, y * sy + chroma_y_offset)
//       in chroma-sample units (sx, sy = 0.5 for 4:2:0, 1 for 4:4:4), edges clamped
//   (R, G, B) = m * (Y - y_offset, Cb - c_offset, Cr - c_offset), clamped to [0, 1]
//   u8: floor(v * 255 + 0.5); floats: (v - mean) * inv_std; alpha: 255 or 1.0
//
// Memory traffic: a group's luma samples are one vector load. For the two sitings the crate
// uses, a 4:2:0 group's chroma comes from a window of three (left) or four (centre) chroma
// columns read once per chroma row (interleaved CbCr: one 4-sample load and one or two
// 2-sample loads), and a 4:4:4 group's from one vector load per plane. Each output plane
// (planar), or each of the 3 or 4 parts of the group's span of an interleaved row, is one
// vector store of 4 values (4, 8 or 16 bytes). Where an address is not aligned for that, in a
// group cut by the right edge, where the window reaches past a chroma edge, and for any other
// siting, samples are read and values written one by one. The formula and its rounding are
// the same on every path (chroma_420 says why the window gives exactly the per-pixel
// positions), so every path writes the same bits.

// Pixels per thread, consecutive in one row. Must match PIXELS_PER_THREAD in
// src/convert/launch.rs.
constexpr unsigned int PIXELS = 4;

// Must match `KernelParams` in src/convert/launch.rs field for field (repr(C)).
struct ConvertParams {
    unsigned long long luma;            // device address of luma sample (0, 0)
    unsigned long long chroma_u;        // device address of the first Cb sample
    unsigned long long chroma_v;        // device address of the first Cr sample
    unsigned long long dst;             // device address of output pixel (0, 0), channel 0
    unsigned long long dst_pitch;       // bytes between output rows
    unsigned long long dst_plane_pitch; // bytes between channel planes (planar only)
    unsigned int luma_pitch;            // bytes between luma rows
    unsigned int chroma_pitch;          // bytes between chroma rows
    unsigned int chroma_step;           // samples from one Cb to the next in a row (2: NV12)
    unsigned int width;                 // output (= luma) width
    unsigned int height;                // output (= luma) height
    unsigned int chroma_width;          // chroma samples per row
    unsigned int chroma_height;         // chroma rows
    unsigned int channels;              // 3 or 4 values per pixel
    unsigned int planar;                // 1: channel planes (CHW), 0: interleaved (HWC)
    int index_r, index_g, index_b, index_a; // channel position of each; index_a < 0: none
                                            // (interleaved: together they cover every channel)
    float chroma_scale_x, chroma_scale_y;   // chroma samples per luma sample
    float chroma_x_offset, chroma_y_offset; // siting, in chroma samples
    float y_offset, c_offset;               // in stored-sample units
    float m[9];                             // rows R, G, B; columns Y, Cb, Cr
    float mean[3];                          // per channel R, G, B (floats only)
    float inv_std[3];
    float alpha;                            // alpha value on the 0-1 scale
};

// ---- Memory access: global loads through the read-only path, global stores ----

template <typename T>
__device__ __forceinline__ T load(unsigned long long at) {
    return __ldg(reinterpret_cast<const T*>(at));
}

// Plain (weak) global stores (__stwb compiles to STG.E.STRONG.SM on sm_90).
__device__ __forceinline__ void store(unsigned long long at, unsigned char v) {
    asm volatile("st.global.u8 [%0], %1;" ::"l"(at), "h"((unsigned short)v));
}
__device__ __forceinline__ void store(unsigned long long at, unsigned short v) {
    asm volatile("st.global.u16 [%0], %1;" ::"l"(at), "h"(v));
}
__device__ __forceinline__ void store(unsigned long long at, unsigned int v) {
    asm volatile("st.global.u32 [%0], %1;" ::"l"(at), "r"(v));
}
__device__ __forceinline__ void store(unsigned long long at, uint2 v) {
    asm volatile("st.global.v2.u32 [%0], {%1, %2};" ::"l"(at), "r"(v.x), "r"(v.y));
}
__device__ __forceinline__ void store(unsigned long long at, uint4 v) {
    asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(at), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w));
}

__device__ __forceinline__ bool aligned(unsigned long long v, unsigned long long to) {
    return v % to == 0;
}

// Two and four consecutive samples of type T as one unsigned word.
template <typename T> struct Wide;
template <> struct Wide<unsigned char> { typedef unsigned short Two; typedef unsigned int Four; };
template <> struct Wide<unsigned short> { typedef unsigned int Two; typedef unsigned long long Four; };

// Samples at `at` and after it, one load (`at` aligned to their size), as floats.
template <typename T>
__device__ __forceinline__ void load2(unsigned long long at, float& a, float& b) {
    unsigned int v = load<typename Wide<T>::Two>(at);
    a = (float)(T)v;
    b = (float)(T)(v >> (8 * sizeof(T)));
}

template <typename T>
__device__ __forceinline__ void load4(unsigned long long at, float (&s)[PIXELS]) {
    unsigned long long v = load<typename Wide<T>::Four>(at);
#pragma unroll
    for (unsigned int k = 0; k < 4; ++k) s[k] = (float)(T)(v >> (8 * sizeof(T) * k));
}

template <typename T>
__device__ __forceinline__ float load_sample(unsigned long long base, unsigned int pitch,
                                             unsigned int step, int x, int y) {
    return (float)load<T>(base + (unsigned long long)(unsigned int)y * pitch
                          + (unsigned long long)((unsigned int)x * step) * sizeof(T));
}

// ---- Chroma ----

__device__ __forceinline__ float bilinear(float a, float b, float c, float d, float fx, float fy) {
    float top = a + (b - a) * fx;
    float bottom = c + (d - c) * fx;
    return top + (bottom - top) * fy;
}

// The vertical half of the chroma position of luma row y: the two chroma rows (clamped) and
// the weight of the second.
struct ChromaRows { int y0, y1; float fy; };

__device__ __forceinline__ ChromaRows chroma_rows(const ConvertParams& p, unsigned int y) {
    float cy = (float)y * p.chroma_scale_y + p.chroma_y_offset;
    float fy0 = floorf(cy);
    int y0 = (int)fy0, maxy = (int)p.chroma_height - 1;
    return {min(max(y0, 0), maxy), min(max(y0 + 1, 0), maxy), cy - fy0};
}

// Any siting: the chroma sample of `plane` at luma (x, y), bilinear, edges clamped.
template <typename T>
__device__ __forceinline__ float chroma_at(const ConvertParams& p, unsigned long long plane,
                                           unsigned int x, const ChromaRows& r) {
    float cx = (float)x * p.chroma_scale_x + p.chroma_x_offset;
    float fx0 = floorf(cx);
    float fx = cx - fx0;
    int x0 = (int)fx0, x1 = x0 + 1;
    int maxx = (int)p.chroma_width - 1;
    x0 = min(max(x0, 0), maxx); x1 = min(max(x1, 0), maxx);
    float a = load_sample<T>(plane, p.chroma_pitch, p.chroma_step, x0, r.y0);
    float b = load_sample<T>(plane, p.chroma_pitch, p.chroma_step, x1, r.y0);
    float c = load_sample<T>(plane, p.chroma_pitch, p.chroma_step, x0, r.y1);
    float d = load_sample<T>(plane, p.chroma_pitch, p.chroma_step, x1, r.y1);
    return bilinear(a, b, c, d, fx, r.fy);
}

__host__ __device__ constexpr int floor_div4(int v) { return v >= 0 ? v / 4 : -((3 - v) / 4); }

// 4:2:0 (sx = 0.5) with chroma_x_offset = OX4 / 4 (0: left siting, -1: centre), for the group
// of luma pixels x0 .. x0 + 3 (x0 a multiple of 4) of row y.
//
// Why this is chroma_at exactly: for x < 2^21, x * 0.5 + OX4 / 4 is exact in f32, so pixel
// x0 + i has floor(cx) = x0 / 2 + K(i) and fraction F(i), where K(i) = floor((2i + OX4) / 4)
// and F(i) = ((2i + OX4) mod 4) / 4, constants. Its two columns are then entries K(i) - JLO
// and K(i) + 1 - JLO of the window of columns x0 / 2 + JLO .. x0 / 2 + 2, each clamped to the
// plane as chroma_at clamps them, and the rows and bilinear() are chroma_at's.
template <typename T, int OX4>
__device__ __forceinline__ void chroma_420(const ConvertParams& p, unsigned int x0,
                                           const ChromaRows& r, float (&cb)[PIXELS],
                                           float (&cr)[PIXELS]) {
    constexpr int JLO = floor_div4(OX4);
    constexpr int JHI = floor_div4(2 * ((int)PIXELS - 1) + OX4) + 1;
    constexpr int N = JHI - JLO + 1;
    static_assert(PIXELS == 4 && (JLO == 0 || JLO == -1) && JHI == 2, "window layout");
    const int c0 = (int)(x0 / 2), maxx = (int)p.chroma_width - 1;
    float w[2][2][N]; // [Cb, Cr][chroma row][window column]
    // Interleaved CbCr (NV12, P016), window inside the plane, rows aligned for the 4-sample
    // load: columns c0, c0 + 1 in one load, c0 + 2 (and c0 - 1) as pairs.
    const bool vector = p.chroma_step == 2 && p.chroma_v == p.chroma_u + sizeof(T)
        && aligned(p.chroma_u | p.chroma_pitch, 4 * sizeof(T)) && c0 + JLO >= 0 && c0 + 2 <= maxx;
#pragma unroll
    for (int row = 0; row < 2; ++row) {
        const int cy = row == 0 ? r.y0 : r.y1;
        if (vector) {
            const unsigned long long at = p.chroma_u + (unsigned long long)(unsigned int)cy * p.chroma_pitch
                + (unsigned long long)(2 * c0) * sizeof(T);
            float s[PIXELS];
            load4<T>(at, s);
            w[0][row][-JLO] = s[0]; w[1][row][-JLO] = s[1];
            w[0][row][1 - JLO] = s[2]; w[1][row][1 - JLO] = s[3];
            load2<T>(at + 4 * sizeof(T), w[0][row][2 - JLO], w[1][row][2 - JLO]);
            if (JLO < 0) load2<T>(at - 2 * sizeof(T), w[0][row][0], w[1][row][0]);
        } else {
#pragma unroll
            for (int j = 0; j < N; ++j) {
                int c = min(max(c0 + JLO + j, 0), maxx);
                w[0][row][j] = load_sample<T>(p.chroma_u, p.chroma_pitch, p.chroma_step, c, cy);
                w[1][row][j] = load_sample<T>(p.chroma_v, p.chroma_pitch, p.chroma_step, c, cy);
            }
        }
    }
#pragma unroll
    for (int i = 0; i < (int)PIXELS; ++i) {
        const int k = floor_div4(2 * i + OX4) - JLO;
        const float fx = (float)(2 * i + OX4 - 4 * floor_div4(2 * i + OX4)) * 0.25f;
        cb[i] = bilinear(w[0][0][k], w[0][0][k + 1], w[0][1][k], w[0][1][k + 1], fx, r.fy);
        cr[i] = bilinear(w[1][0][k], w[1][0][k + 1], w[1][1][k], w[1][1][k + 1], fx, r.fy);
    }
}

// 4:4:4 (sx = sy = 1, no offset, planes at least the picture's size): the sample at (x, y).
// chroma_at's fractions are then exactly 0, so it returns that sample too.
template <typename T>
__device__ __forceinline__ void chroma_444(const ConvertParams& p, unsigned int x0, unsigned int y,
                                           unsigned int n, float (&cb)[PIXELS], float (&cr)[PIXELS]) {
    const unsigned long long row = (unsigned long long)y * p.chroma_pitch;
    if (n == PIXELS && p.chroma_step == 1
        && aligned(p.chroma_u | p.chroma_v | p.chroma_pitch, PIXELS * sizeof(T))) {
        load4<T>(p.chroma_u + row + x0 * sizeof(T), cb);
        load4<T>(p.chroma_v + row + x0 * sizeof(T), cr);
    } else {
#pragma unroll
        for (unsigned int i = 0; i < PIXELS; ++i) {
            if (i < n) {
                cb[i] = load_sample<T>(p.chroma_u, p.chroma_pitch, p.chroma_step, x0 + i, y);
                cr[i] = load_sample<T>(p.chroma_v, p.chroma_pitch, p.chroma_step, x0 + i, y);
            }
        }
    }
}

// ---- Output ----

__device__ __forceinline__ float clamp01(float v) { return fminf(fmaxf(v, 0.0f), 1.0f); }

// The stored bits of one output value.
__device__ __forceinline__ unsigned int encode(unsigned char*, float v, float, float) {
    return (unsigned char)(v * 255.0f + 0.5f);
}

__device__ __forceinline__ unsigned int encode(float*, float v, float mean, float inv_std) {
    return __float_as_uint((v - mean) * inv_std);
}

__device__ __forceinline__ unsigned int encode(unsigned short*, float v, float mean, float inv_std) {
    float f = (v - mean) * inv_std;
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

// One value, and four consecutive values (`at` aligned to their size), of type Out.
__device__ __forceinline__ void store1(unsigned long long at, unsigned char*, unsigned int v) {
    store(at, (unsigned char)v);
}
__device__ __forceinline__ void store1(unsigned long long at, unsigned short*, unsigned int v) {
    store(at, (unsigned short)v);
}
__device__ __forceinline__ void store1(unsigned long long at, float*, unsigned int v) {
    store(at, v);
}
__device__ __forceinline__ void store4(unsigned long long at, unsigned char*, const unsigned int (&v)[4]) {
    store(at, v[0] | v[1] << 8 | v[2] << 16 | v[3] << 24);
}
__device__ __forceinline__ void store4(unsigned long long at, unsigned short*, const unsigned int (&v)[4]) {
    store(at, make_uint2(v[0] | v[1] << 16, v[2] | v[3] << 16));
}
__device__ __forceinline__ void store4(unsigned long long at, float*, const unsigned int (&v)[4]) {
    store(at, make_uint4(v[0], v[1], v[2], v[3]));
}

// Writes the n pixels of the group at (x0, y); `value[i][c]` holds pixel i's R, G, B, alpha.
template <typename Out, unsigned int CH>
__device__ __forceinline__ void store_group(const ConvertParams& p, unsigned int x0, unsigned int y,
                                            unsigned int n, const unsigned int (&value)[PIXELS][4]) {
    const unsigned long long elem = sizeof(Out);
    const unsigned long long row = p.dst + (unsigned long long)y * p.dst_pitch;
    const int index[4] = {p.index_r, p.index_g, p.index_b, p.index_a};
    const bool whole = n == PIXELS
        && aligned(p.dst | p.dst_pitch | (p.planar ? p.dst_plane_pitch : 0), PIXELS * elem);
    if (p.planar) {
        // Colour c: PIXELS values in plane index[c].
#pragma unroll
        for (int c = 0; c < 4; ++c) {
            if (index[c] < 0) continue;
            const unsigned long long at = row + (unsigned long long)index[c] * p.dst_plane_pitch + x0 * elem;
            if (whole) {
                const unsigned int v[4] = {value[0][c], value[1][c], value[2][c], value[3][c]};
                store4(at, (Out*)0, v);
            } else {
#pragma unroll
                for (unsigned int i = 0; i < PIXELS; ++i)
                    if (i < n) store1(at + i * elem, (Out*)0, value[i][c]);
            }
        }
    } else if (whole) {
        // The group's CH * PIXELS values are contiguous: CH stores of PIXELS values; value e of
        // the span is channel e % CH of pixel e / CH, i.e. the colour whose index is e % CH.
        const unsigned long long at = row + (unsigned long long)x0 * CH * elem;
#pragma unroll
        for (unsigned int j = 0; j < CH; ++j) {
            unsigned int v[4];
#pragma unroll
            for (unsigned int k = 0; k < 4; ++k) {
                const unsigned int e = j * PIXELS + k, i = e / CH;
                const int slot = (int)(e % CH);
                v[k] = slot == index[0] ? value[i][0]
                     : slot == index[1] ? value[i][1]
                     : slot == index[2] ? value[i][2] : value[i][3];
            }
            store4(at + j * PIXELS * elem, (Out*)0, v);
        }
    } else {
#pragma unroll
        for (unsigned int i = 0; i < PIXELS; ++i) {
            if (i >= n) continue;
            const unsigned long long at = row + (unsigned long long)(x0 + i) * CH * elem;
#pragma unroll
            for (int c = 0; c < 4; ++c)
                if (index[c] >= 0) store1(at + (unsigned int)index[c] * elem, (Out*)0, value[i][c]);
        }
    }
}

// ---- The kernels ----

template <typename In, typename Out>
__device__ __forceinline__ void convert(const ConvertParams& p) {
    const unsigned int x0 = (blockIdx.x * blockDim.x + threadIdx.x) * PIXELS;
    const unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x0 >= p.width || y >= p.height) return;
    const unsigned int n = min(PIXELS, p.width - x0); // pixels of the group inside the picture

    float luma[PIXELS] = {}, cb[PIXELS] = {}, cr[PIXELS] = {};
    if (n == PIXELS && aligned(p.luma | p.luma_pitch, PIXELS * sizeof(In))) {
        load4<In>(p.luma + (unsigned long long)y * p.luma_pitch + x0 * sizeof(In), luma);
    } else {
#pragma unroll
        for (unsigned int i = 0; i < PIXELS; ++i)
            if (i < n) luma[i] = load_sample<In>(p.luma, p.luma_pitch, 1, x0 + i, y);
    }

    const float sx = p.chroma_scale_x, ox = p.chroma_x_offset;
    const ChromaRows rows = chroma_rows(p, y);
    if (sx == 0.5f && ox == 0.0f && p.width <= (1u << 21)) {
        chroma_420<In, 0>(p, x0, rows, cb, cr);
    } else if (sx == 0.5f && ox == -0.25f && p.width <= (1u << 21)) {
        chroma_420<In, -1>(p, x0, rows, cb, cr);
    } else if (sx == 1.0f && p.chroma_scale_y == 1.0f && ox == 0.0f && p.chroma_y_offset == 0.0f
               && p.chroma_width >= p.width && p.chroma_height >= p.height
               && p.width <= (1u << 24) && p.height <= (1u << 24)) {
        chroma_444<In>(p, x0, y, n, cb, cr);
    } else {
#pragma unroll
        for (unsigned int i = 0; i < PIXELS; ++i) {
            if (i < n) {
                cb[i] = chroma_at<In>(p, p.chroma_u, x0 + i, rows);
                cr[i] = chroma_at<In>(p, p.chroma_v, x0 + i, rows);
            }
        }
    }

    unsigned int value[PIXELS][4];
    const unsigned int alpha = encode((Out*)0, p.alpha, 0.0f, 1.0f);
#pragma unroll
    for (unsigned int i = 0; i < PIXELS; ++i) {
        float yv = luma[i] - p.y_offset, u = cb[i] - p.c_offset, v = cr[i] - p.c_offset;
        float rgb[3];
        rgb[0] = clamp01(p.m[0] * yv + p.m[1] * u + p.m[2] * v);
        rgb[1] = clamp01(p.m[3] * yv + p.m[4] * u + p.m[5] * v);
        rgb[2] = clamp01(p.m[6] * yv + p.m[7] * u + p.m[8] * v);
#pragma unroll
        for (int c = 0; c < 3; ++c) value[i][c] = encode((Out*)0, rgb[c], p.mean[c], p.inv_std[c]);
        value[i][3] = alpha;
    }
    if (p.channels == 4) store_group<Out, 4>(p, x0, y, n, value);
    else store_group<Out, 3>(p, x0, y, n, value);
}

// Names: <stored sample type>_to_<output type>. yuv8: NV12 / YUV444 8-bit; yuv16: P016 /
// YUV444_16Bit (value in the high bits, which the offsets and matrix already account for).
extern "C" __global__ void yuv8_to_u8(const ConvertParams p) { convert<unsigned char, unsigned char>(p); }
extern "C" __global__ void yuv8_to_f16(const ConvertParams p) { convert<unsigned char, unsigned short>(p); }
extern "C" __global__ void yuv8_to_f32(const ConvertParams p) { convert<unsigned char, float>(p); }
extern "C" __global__ void yuv16_to_u8(const ConvertParams p) { convert<unsigned short, unsigned char>(p); }
extern "C" __global__ void yuv16_to_f16(const ConvertParams p) { convert<unsigned short, unsigned short>(p); }
extern "C" __global__ void yuv16_to_f32(const ConvertParams p) { convert<unsigned short, float>(p); }
