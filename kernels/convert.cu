// Y'CbCr -> R'G'B' conversion kernels of nvcodec-guard (src/convert).
//
// Compiled to PTX by scripts/gpu-frames.sh (nvcc -ptx, see the PTX header for the exact
// command) and committed as src/convert/kernels.ptx; the crate loads that text with
// cuModuleLoadData. No CUDA headers are used, so the file builds with any nvcc (or clang).
//
// One thread per output pixel. Every number that depends on the colour matrix, the range,
// the bit depth and the chroma siting comes in `ConvertParams` from the crate's one Rust
// module for that math (src/convert/matrix.rs); this file only samples, multiplies, clamps
// and stores:
//   chroma at luma (x, y): bilinear at (x * sx + chroma_x_offset, y * sy + chroma_y_offset)
//       in chroma-sample units (sx, sy = 0.5 for 4:2:0, 1 for 4:4:4), edges clamped
//   (R, G, B) = m * (Y - y_offset, Cb - c_offset, Cr - c_offset), clamped to [0, 1]
//   u8: floor(v * 255 + 0.5); floats: (v - mean) * inv_std; alpha: 255 or 1.0

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
    float chroma_scale_x, chroma_scale_y;   // chroma samples per luma sample
    float chroma_x_offset, chroma_y_offset; // siting, in chroma samples
    float y_offset, c_offset;               // in stored-sample units
    float m[9];                             // rows R, G, B; columns Y, Cb, Cr
    float mean[3];                          // per channel R, G, B (floats only)
    float inv_std[3];
    float alpha;                            // alpha value on the 0-1 scale
};

template <typename T>
__device__ __forceinline__ float load_sample(unsigned long long base, unsigned int pitch,
                                             unsigned int step, int x, int y) {
    const T* row = reinterpret_cast<const T*>(base + (unsigned long long)y * pitch);
    return (float)row[(unsigned int)x * step];
}

template <typename T>
__device__ __forceinline__ float chroma_at(const ConvertParams& p, unsigned long long plane,
                                           float cx, float cy) {
    float fx0 = floorf(cx), fy0 = floorf(cy);
    float fx = cx - fx0, fy = cy - fy0;
    int x0 = (int)fx0, y0 = (int)fy0;
    int x1 = x0 + 1, y1 = y0 + 1;
    int maxx = (int)p.chroma_width - 1, maxy = (int)p.chroma_height - 1;
    x0 = min(max(x0, 0), maxx); x1 = min(max(x1, 0), maxx);
    y0 = min(max(y0, 0), maxy); y1 = min(max(y1, 0), maxy);
    float a = load_sample<T>(plane, p.chroma_pitch, p.chroma_step, x0, y0);
    float b = load_sample<T>(plane, p.chroma_pitch, p.chroma_step, x1, y0);
    float c = load_sample<T>(plane, p.chroma_pitch, p.chroma_step, x0, y1);
    float d = load_sample<T>(plane, p.chroma_pitch, p.chroma_step, x1, y1);
    float top = a + (b - a) * fx;
    float bottom = c + (d - c) * fx;
    return top + (bottom - top) * fy;
}

__device__ __forceinline__ float clamp01(float v) { return fminf(fmaxf(v, 0.0f), 1.0f); }

__device__ __forceinline__ void store(unsigned long long at, unsigned char*, float v, float, float) {
    *reinterpret_cast<unsigned char*>(at) = (unsigned char)(v * 255.0f + 0.5f);
}

__device__ __forceinline__ void store(unsigned long long at, float*, float v, float mean, float inv_std) {
    *reinterpret_cast<float*>(at) = (v - mean) * inv_std;
}

__device__ __forceinline__ void store(unsigned long long at, unsigned short*, float v, float mean, float inv_std) {
    float f = (v - mean) * inv_std;
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    *reinterpret_cast<unsigned short*>(at) = h;
}

template <typename In, typename Out>
__device__ __forceinline__ void convert(const ConvertParams& p) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= (int)p.width || y >= (int)p.height) return;

    float luma = load_sample<In>(p.luma, p.luma_pitch, 1, x, y);
    float cx = (float)x * p.chroma_scale_x + p.chroma_x_offset;
    float cy = (float)y * p.chroma_scale_y + p.chroma_y_offset;
    float cb = chroma_at<In>(p, p.chroma_u, cx, cy);
    float cr = chroma_at<In>(p, p.chroma_v, cx, cy);

    float yv = luma - p.y_offset, u = cb - p.c_offset, v = cr - p.c_offset;
    float rgb[3];
    rgb[0] = clamp01(p.m[0] * yv + p.m[1] * u + p.m[2] * v);
    rgb[1] = clamp01(p.m[3] * yv + p.m[4] * u + p.m[5] * v);
    rgb[2] = clamp01(p.m[6] * yv + p.m[7] * u + p.m[8] * v);

    const unsigned long long elem = sizeof(Out);
    unsigned long long row = p.dst + (unsigned long long)y * p.dst_pitch;
    int index[3] = {p.index_r, p.index_g, p.index_b};
#pragma unroll
    for (int c = 0; c < 3; ++c) {
        unsigned long long at = p.planar
            ? row + (unsigned long long)index[c] * p.dst_plane_pitch + (unsigned long long)x * elem
            : row + ((unsigned long long)x * p.channels + (unsigned long long)index[c]) * elem;
        store(at, (Out*)0, rgb[c], p.mean[c], p.inv_std[c]);
    }
    if (p.index_a >= 0) {
        unsigned long long at = p.planar
            ? row + (unsigned long long)p.index_a * p.dst_plane_pitch + (unsigned long long)x * elem
            : row + ((unsigned long long)x * p.channels + (unsigned long long)p.index_a) * elem;
        store(at, (Out*)0, p.alpha, 0.0f, 1.0f);
    }
}

// Names: <stored sample type>_to_<output type>. yuv8: NV12 / YUV444 8-bit; yuv16: P016 /
// YUV444_16Bit (value in the high bits, which the offsets and matrix already account for).
extern "C" __global__ void yuv8_to_u8(const ConvertParams p) { convert<unsigned char, unsigned char>(p); }
extern "C" __global__ void yuv8_to_f16(const ConvertParams p) { convert<unsigned char, unsigned short>(p); }
extern "C" __global__ void yuv8_to_f32(const ConvertParams p) { convert<unsigned char, float>(p); }
extern "C" __global__ void yuv16_to_u8(const ConvertParams p) { convert<unsigned short, unsigned char>(p); }
extern "C" __global__ void yuv16_to_f16(const ConvertParams p) { convert<unsigned short, unsigned short>(p); }
extern "C" __global__ void yuv16_to_f32(const ConvertParams p) { convert<unsigned short, float>(p); }
