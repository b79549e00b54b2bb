// The conversion kernels without Rust, on a GPU machine with nvcc (issue 13): PTX files (the
// crate's kernels/convert.ptx before and after a change, and variants of the new one), loaded with
// cuModuleLoadData as the crate loads them, are
//   1. compared bit for bit on random frames: NV12, P016, YUV444, YUV444_16Bit; odd and even
//      sizes; aligned and misaligned pitches and planes; left, centre and an arbitrary
//      chroma siting; every layout and value type; packed and misaligned destinations;
//   2. timed on a 1920x1080 NV12 frame (luma pitch 2048, chroma after 1088 rows, as NVDEC
//      lays it out) to planar f32 and other outputs, K launches queued back to back on one
//      stream between two events (median of 5), against device-to-device copies
//      (cuMemcpyDtoDAsync) timed the same way: of the frame, of as many bytes as a
//      conversion reads and writes, and of 1 GiB; each also through a CUDA graph (no
//      per-launch host cost), and rotating through 16 frames so the data is not in L2.
// Bytes per second count bytes read plus bytes written.
//
//   nvcc -O2 -o kernel_bench bench/kernel/kernel_bench.cu -lcuda
//   ./kernel_bench OLD.ptx NEW.ptx [VARIANT.ptx ...] > results.jsonl
//
// OLD converts one pixel per thread, NEW and the variants 4 (PIXELS in kernels/convert.cu);
// NEW is compared with OLD and timed in full, each variant timed on NV12 -> planar f32 with
// blocks of 256 threads. Prints one JSON object per line; exits non-zero if any output
// differs.
#include <cuda.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#define CK(call)                                                                           \
    do {                                                                                   \
        CUresult r_ = (call);                                                              \
        if (r_ != CUDA_SUCCESS) {                                                          \
            const char* s_ = "?";                                                          \
            cuGetErrorString(r_, &s_);                                                     \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, s_);             \
            exit(2);                                                                       \
        }                                                                                  \
    } while (0)

// ConvertParams of kernels/convert.cu (KernelParams in src/convert/launch.rs).
struct Params {
    unsigned long long luma, chroma_u, chroma_v, dst, dst_pitch, dst_plane_pitch;
    unsigned int luma_pitch, chroma_pitch, chroma_step, width, height, chroma_width,
        chroma_height, channels, planar;
    int index[4];
    float chroma_scale[2], chroma_offset[2], y_offset, c_offset, m[9], mean[3], inv_std[3],
        alpha;
    unsigned int pad;
};
static_assert(sizeof(Params) == 192, "ConvertParams is 192 bytes");

struct Kernels {
    const char* name;
    CUfunction f[2][3]; // [16-bit samples][u8, f16, f32]
    unsigned int pixels; // per thread
};

static Kernels load(const char* name, const char* path, unsigned int pixels) {
    std::ifstream in(path);
    if (!in) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
    std::stringstream text;
    text << in.rdbuf();
    std::string ptx = text.str();
    CUmodule module;
    CK(cuModuleLoadData(&module, ptx.c_str()));
    Kernels k{name, {}, pixels};
    const char* names[2][3] = {{"yuv8_to_u8", "yuv8_to_f16", "yuv8_to_f32"},
                               {"yuv16_to_u8", "yuv16_to_f16", "yuv16_to_f32"}};
    for (int w = 0; w < 2; ++w)
        for (int o = 0; o < 3; ++o) CK(cuModuleGetFunction(&k.f[w][o], module, names[w][o]));
    return k;
}

static void launch(const Kernels& k, bool wide, int out, Params p, unsigned int bx,
                   unsigned int by, CUstream stream) {
    unsigned int gx = (p.width + bx * k.pixels - 1) / (bx * k.pixels);
    unsigned int gy = (p.height + by - 1) / by;
    void* args[] = {&p};
    CK(cuLaunchKernel(k.f[wide][out], gx, gy, 1, bx, by, 1, 0, stream, args, nullptr));
}

// ---- Frames and parameters ----

struct Format { const char* name; unsigned int bytes; bool full_chroma; };
static const Format FORMATS[] = {
    {"nv12", 1, false}, {"p016", 2, false}, {"yuv444", 1, true}, {"yuv444p16", 2, true}};
struct Layout { const char* name; unsigned int channels; bool planar; int index[4]; };
static const Layout LAYOUTS[] = {{"rgb", 3, false, {0, 1, 2, -1}},
                                 {"bgr", 3, false, {2, 1, 0, -1}},
                                 {"rgba", 4, false, {0, 1, 2, 3}},
                                 {"bgra", 4, false, {2, 1, 0, 3}},
                                 {"planar", 3, true, {0, 1, 2, -1}}};
static const char* SAMPLES[] = {"u8", "f16", "f32"};
static const unsigned int ELEM[] = {1, 2, 4};

// A frame's source layout: `siting` 0 left, 1 centre, 2 arbitrary (-0.125, 0.3 for 4:4:4);
// `misaligned`: pitch and chroma plane off the vector alignment.
struct Source { unsigned long long luma, chroma_u, chroma_v; unsigned int pitch; size_t bytes; };

static Source source_layout(const Format& f, unsigned int w, unsigned int h, bool misaligned,
                            unsigned int rows_aligned) {
    unsigned int s = f.bytes;
    unsigned int pitch = misaligned ? w * s + (f.full_chroma ? s : 2 * s) : (w * s + 255) / 256 * 256;
    unsigned int ch = f.full_chroma ? h : (h + 1) / 2;
    size_t luma = (size_t)pitch * std::max(h, rows_aligned);
    size_t cu = luma + (misaligned ? 2 * s : 0);
    size_t plane = (size_t)pitch * ch;
    Source src{0, cu, f.full_chroma ? cu + plane : cu + s, pitch,
               cu + (f.full_chroma ? 2 : 1) * plane + 64};
    return src;
}

static Params params_for(const Format& f, unsigned int w, unsigned int h, const Source& s,
                         unsigned long long base, int siting, const Layout& l, int out) {
    Params p{};
    p.luma = base + s.luma;
    p.chroma_u = base + s.chroma_u;
    p.chroma_v = base + s.chroma_v;
    p.luma_pitch = p.chroma_pitch = s.pitch;
    p.chroma_step = f.full_chroma ? 1 : 2;
    p.width = w;
    p.height = h;
    p.chroma_width = f.full_chroma ? w : (w + 1) / 2;
    p.chroma_height = f.full_chroma ? h : (h + 1) / 2;
    float scale = f.full_chroma ? 1.0f : 0.5f;
    p.chroma_scale[0] = p.chroma_scale[1] = scale;
    p.chroma_offset[0] = f.full_chroma ? 0.0f : (siting == 1 ? -0.25f : 0.0f);
    p.chroma_offset[1] = f.full_chroma ? 0.0f : -0.25f;
    if (siting == 2) {
        p.chroma_offset[0] = -0.125f;
        p.chroma_offset[1] = f.full_chroma ? 0.3f : -0.25f;
    }
    float sc = f.bytes == 2 ? 64.0f : 1.0f; // 10-bit in the high bits of 16
    p.y_offset = 16 * sc;
    p.c_offset = 128 * sc;
    const float m[9] = {1.164f, 0, 1.793f, 1.164f, -0.213f, -0.533f, 1.164f, 2.112f, 0};
    for (int i = 0; i < 9; ++i) p.m[i] = m[i] / sc;
    p.channels = l.channels;
    p.planar = l.planar;
    for (int i = 0; i < 4; ++i) p.index[i] = l.index[i];
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std_[3] = {0.229f, 0.224f, 0.225f};
    for (int c = 0; c < 3; ++c) {
        p.mean[c] = out ? mean[c] : 0.0f;
        p.inv_std[c] = out ? 1.0f / std_[c] : 1.0f;
    }
    p.alpha = 1.0f;
    return p;
}

// Destination: packed, or (misaligned) one element in with a pitch one element longer.
static size_t set_destination(Params& p, unsigned long long base, const Layout& l, int out,
                              bool misaligned) {
    size_t elem = ELEM[out];
    size_t row = (size_t)p.width * (l.planar ? 1 : l.channels) * elem;
    size_t pitch = misaligned ? row + elem : row;
    size_t plane = pitch * p.height + (misaligned ? elem : 0);
    size_t offset = misaligned ? elem : 0;
    p.dst = base + offset;
    p.dst_pitch = pitch;
    p.dst_plane_pitch = l.planar ? plane : 0;
    return offset + (l.planar ? 3 * plane : pitch * p.height) + 64;
}

// ---- 1. Bit-for-bit comparison ----

static int compare(const Kernels& a, const Kernels& b, CUstream stream) {
    struct Size { unsigned int w, h; };
    const Size sizes[] = {{1920, 1080}, {642, 362}, {641, 361}, {320, 240}, {130, 18},
                          {2, 2},       {1, 1},     {5, 3},     {7, 9}};
    std::mt19937 rng(1);
    int cases = 0, differ = 0;
    for (const Format& f : FORMATS)
        for (const Size& sz : sizes)
            for (int variant = 0; variant < 4; ++variant) { // aligned, misaligned, centre, other
                bool misaligned = variant == 1;
                int siting = variant == 2 ? 1 : variant == 3 ? 2 : 0;
                Source s = source_layout(f, sz.w, sz.h, misaligned, 0);
                std::vector<unsigned char> host(s.bytes);
                for (auto& v : host) v = (unsigned char)rng();
                CUdeviceptr src;
                CK(cuMemAlloc(&src, s.bytes));
                CK(cuMemcpyHtoD(src, host.data(), s.bytes));
                for (const Layout& l : LAYOUTS)
                    for (int out = 0; out < 3; ++out)
                        for (int dm = 0; dm < 2; ++dm) {
                            Params p = params_for(f, sz.w, sz.h, s, src, siting, l, out);
                            size_t bytes = set_destination(p, 0, l, out, dm);
                            CUdeviceptr da, db;
                            CK(cuMemAlloc(&da, bytes));
                            CK(cuMemAlloc(&db, bytes));
                            CK(cuMemsetD8(da, 0xA5, bytes));
                            CK(cuMemsetD8(db, 0xA5, bytes));
                            Params pa = p, pb = p;
                            pa.dst += da;
                            pb.dst += db;
                            launch(a, f.bytes == 2, out, pa, 32, 8, stream);
                            launch(b, f.bytes == 2, out, pb, 32, 8, stream);
                            CK(cuStreamSynchronize(stream));
                            std::vector<unsigned char> ha(bytes), hb(bytes);
                            CK(cuMemcpyDtoH(ha.data(), da, bytes));
                            CK(cuMemcpyDtoH(hb.data(), db, bytes));
                            CK(cuMemFree(da));
                            CK(cuMemFree(db));
                            ++cases;
                            if (ha != hb) {
                                size_t i = std::mismatch(ha.begin(), ha.end(), hb.begin()).first - ha.begin();
                                if (differ++ < 20)
                                    printf("{\"differs\":\"%s %ux%u variant %d %s %s dst%s\",\"byte\":%zu,\"%s\":%u,\"%s\":%u}\n",
                                           f.name, sz.w, sz.h, variant, l.name, SAMPLES[out],
                                           dm ? " misaligned" : "", i, a.name, ha[i], b.name, hb[i]);
                            }
                        }
                CK(cuMemFree(src));
            }
    printf("{\"compare\":\"%s vs %s\",\"cases\":%d,\"differing\":%d}\n", a.name, b.name, cases, differ);
    fflush(stdout);
    return differ;
}

// ---- 2. Timing ----

struct Timer {
    CUevent start, stop;
    Timer() { CK(cuEventCreate(&start, 0)); CK(cuEventCreate(&stop, 0)); }
    // Median over 5 repetitions of `iters` calls of `work(i)`, in microseconds per call.
    template <typename F> double per_call(CUstream stream, int iters, F work) {
        for (int i = 0; i < 20; ++i) work(i);
        std::vector<double> us;
        for (int rep = 0; rep < 5; ++rep) {
            CK(cuEventRecord(start, stream));
            for (int i = 0; i < iters; ++i) work(i);
            CK(cuEventRecord(stop, stream));
            CK(cuEventSynchronize(stop));
            float ms;
            CK(cuEventElapsedTime(&ms, start, stop));
            us.push_back(ms * 1000.0 / iters);
        }
        std::sort(us.begin(), us.end());
        return us[2];
    }
    // The same, the `iters` calls captured once into a graph and the graph replayed.
    template <typename F> double per_call_graph(CUstream stream, int iters, F work) {
        CUgraph graph;
        CUgraphExec exec;
        CK(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
        for (int i = 0; i < iters; ++i) work(i);
        CK(cuStreamEndCapture(stream, &graph));
        CK(cuGraphInstantiate(&exec, graph, 0));
        double us = per_call(stream, 1, [&](int) { CK(cuGraphLaunch(exec, stream)); }) / iters;
        CK(cuGraphExecDestroy(exec));
        CK(cuGraphDestroy(graph));
        return us;
    }
};

static void report(const char* what, const char* kernel, const char* block, const char* how,
                   size_t bytes, double us) {
    printf("{\"case\":\"%s\",\"kernel\":\"%s\",\"block\":\"%s\",\"timing\":\"%s\",\"bytes\":%zu,"
           "\"us\":%.3f,\"gb_s\":%.1f}\n",
           what, kernel, block, how, bytes, us, bytes / us / 1e3);
    fflush(stdout);
}

int main(int argc, char** argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s OLD.ptx NEW.ptx [VARIANT.ptx ...]\n", argv[0]); return 2; }
    CK(cuInit(0));
    CUdevice dev;
    CK(cuDeviceGet(&dev, 0));
    CUcontext ctx;
    CK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cuCtxSetCurrent(ctx));
    char name[256];
    CK(cuDeviceGetName(name, sizeof name, dev));
    int sms, l2;
    CK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
    CK(cuDeviceGetAttribute(&l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, dev));
    printf("{\"device\":\"%s\",\"multiprocessors\":%d,\"l2_bytes\":%d}\n", name, sms, l2);
    Kernels old_k = load("old", argv[1], 1);
    Kernels new_k = load("new", argv[2], 4);
    std::vector<Kernels> variants;
    for (int i = 3; i < argc; ++i) {
        const char* slash = strrchr(argv[i], '/');
        variants.push_back(load(slash ? slash + 1 : argv[i], argv[i], 4));
    }
    CUstream stream;
    CK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));

    int differing = compare(old_k, new_k, stream);

    // 1080p NV12 frames as NVDEC lays them out, 16 of them (448 MB with their outputs) to
    // rotate through, more than the L2 holds.
    const unsigned int W = 1920, H = 1080;
    const int FRAMES = 16, K = 2000;
    Timer t;
    struct Output { const char* what; const Format* f; int layout; int out; };
    const Output outputs[] = {{"nv12->planar f32", &FORMATS[0], 4, 2},
                              {"nv12->rgb u8", &FORMATS[0], 0, 0},
                              {"nv12->bgra u8", &FORMATS[0], 3, 0},
                              {"nv12->planar f16", &FORMATS[0], 4, 1},
                              {"nv12->rgb f32", &FORMATS[0], 0, 2},
                              {"p016->planar f32", &FORMATS[1], 4, 2},
                              {"yuv444->planar f32", &FORMATS[2], 4, 2}};
    struct Block { unsigned int x, y; const char* name; };
    const Block blocks[] = {{32, 8, "32x8"},  {64, 4, "64x4"},   {128, 2, "128x2"},
                            {32, 4, "32x4"},  {64, 8, "64x8"},   {16, 16, "16x16"},
                            {128, 4, "128x4"}, {256, 1, "256x1"}};
    for (const Output& o : outputs) {
        const Layout& l = LAYOUTS[o.layout];
        Source s = source_layout(*o.f, W, H, false, 1088);
        size_t read = (size_t)W * H * o.f->bytes * 3 / (o.f->full_chroma ? 1 : 2);
        Params probe = params_for(*o.f, W, H, s, 0, 0, l, o.out);
        size_t dst_bytes = set_destination(probe, 0, l, o.out, false) - 64;
        size_t bytes = read + dst_bytes;
        bool main_case = o.layout == 4 && o.out == 2 && o.f == &FORMATS[0];
        int frames = main_case ? FRAMES : 1;
        std::vector<CUdeviceptr> srcs(frames), dsts(frames);
        std::vector<Params> ps(frames);
        for (int i = 0; i < frames; ++i) {
            CK(cuMemAlloc(&srcs[i], s.bytes));
            CK(cuMemsetD8(srcs[i], 0x80 + i, s.bytes));
            CK(cuMemAlloc(&dsts[i], dst_bytes + 64));
            ps[i] = params_for(*o.f, W, H, s, srcs[i], 0, l, o.out);
            set_destination(ps[i], dsts[i], l, o.out, false);
        }
        bool wide = o.f->bytes == 2;
        double us = t.per_call(stream, K, [&](int) { launch(old_k, wide, o.out, ps[0], 32, 8, stream); });
        report(o.what, "old", "32x8", "queued", bytes, us);
        for (const Block& b : blocks) {
            if (!main_case && !(b.x == 32 && b.y == 8)) continue;
            us = t.per_call(stream, K, [&](int) { launch(new_k, wide, o.out, ps[0], b.x, b.y, stream); });
            report(o.what, "new", b.name, "queued", bytes, us);
        }
        if (main_case) {
            us = t.per_call_graph(stream, 200, [&](int) { launch(old_k, wide, o.out, ps[0], 32, 8, stream); });
            report(o.what, "old", "32x8", "graph", bytes, us);
            us = t.per_call_graph(stream, 200, [&](int) { launch(new_k, wide, o.out, ps[0], 32, 8, stream); });
            report(o.what, "new", "32x8", "graph", bytes, us);
            for (const Kernels& v : variants)
                for (const Block& b : blocks) {
                    if (b.x * b.y != 256) continue;
                    us = t.per_call(stream, K, [&](int) { launch(v, wide, o.out, ps[0], b.x, b.y, stream); });
                    report(o.what, v.name, b.name, "queued", bytes, us);
                }
            us = t.per_call(stream, K, [&](int i) { launch(old_k, wide, o.out, ps[i % FRAMES], 32, 8, stream); });
            report(o.what, "old", "32x8", "queued, 16 frames rotating", bytes, us);
            for (const Block& b : blocks) {
                if (b.x * b.y != 256) continue;
                us = t.per_call(stream, K, [&](int i) { launch(new_k, wide, o.out, ps[i % FRAMES], b.x, b.y, stream); });
                report(o.what, "new", b.name, "queued, 16 frames rotating", bytes, us);
            }
        }
        for (int i = 0; i < frames; ++i) {
            CK(cuMemFree(srcs[i]));
            CK(cuMemFree(dsts[i]));
        }
    }

    // Copies: the NV12 frame, half the planar f32 conversion's bytes (so read + written equal
    // the conversion's), and 1 GiB; bytes counted read + written.
    const size_t frame = (size_t)W * H * 3 / 2, same = (frame + (size_t)W * H * 12) / 2;
    const size_t sizes[] = {frame, same, (size_t)1 << 30};
    const char* names[] = {"copy nv12 frame", "copy same bytes as nv12->planar f32", "copy 1 GiB"};
    for (int c = 0; c < 3; ++c) {
        size_t n = sizes[c];
        int frames = c == 1 ? FRAMES : 1, iters = c == 2 ? 20 : K;
        std::vector<CUdeviceptr> from(frames), to(frames);
        for (int i = 0; i < frames; ++i) {
            CK(cuMemAlloc(&from[i], n));
            CK(cuMemAlloc(&to[i], n));
            CK(cuMemsetD8(from[i], 1, n));
        }
        double us = t.per_call(stream, iters, [&](int) { CK(cuMemcpyDtoDAsync(to[0], from[0], n, stream)); });
        report(names[c], "cuMemcpyDtoDAsync", "-", "queued", 2 * n, us);
        if (c < 2) {
            us = t.per_call_graph(stream, 200, [&](int) { CK(cuMemcpyDtoDAsync(to[0], from[0], n, stream)); });
            report(names[c], "cuMemcpyDtoDAsync", "-", "graph", 2 * n, us);
        }
        if (c == 1) {
            us = t.per_call(stream, iters, [&](int i) { CK(cuMemcpyDtoDAsync(to[i % FRAMES], from[i % FRAMES], n, stream)); });
            report(names[c], "cuMemcpyDtoDAsync", "-", "queued, 16 frames rotating", 2 * n, us);
        }
        for (int i = 0; i < frames; ++i) {
            CK(cuMemFree(from[i]));
            CK(cuMemFree(to[i]));
        }
    }
    return differing != 0;
}
