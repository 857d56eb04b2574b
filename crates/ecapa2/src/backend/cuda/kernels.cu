// ECAPA2's elementwise and reduction kernels for the CUDA backend (compiled at run time by NVRTC;
// the heavy products are cuBLAS GEMMs). No headers: fp16 conversions are inline PTX, so NVRTC
// needs nothing but itself.
//
// Rules every kernel follows, so that the same source also compiles as plain C++ for the CPU
// emulator that tests the backend without a GPU (src/backend/cuda/emulator.rs):
//   * one thread per output element, 1-D grid, `i < p.n` guard; no shared memory, no
//     synchronisation, no atomics; a thread writes only its own outputs, and an in-place kernel
//     reads only the element it writes;
//   * one parameter: a struct of device pointers first, then 64-bit, then 32-bit fields (the
//     host mirrors each in `params.rs` with #[repr(C)]).
//
// Activations ("act") are fp16 (ECAPA2_ACT_F16) or fp32 storage; all arithmetic is fp32, sums
// over time are fp64 (as the CPU engine's). Maps are [row][height][frame][channel] with every
// row padded to the batch's longest; frames at or beyond a row's length hold zeros.

#ifdef ECAPA2_EMULATOR
#include "emulator.h"
#else
#define EC_DEVICE __device__ __forceinline__
#define EC_KERNEL extern "C" __global__ void
#endif

typedef long long i64;

#ifdef ECAPA2_ACT_F16
typedef unsigned short act;
#ifdef ECAPA2_EMULATOR
EC_DEVICE float ld(const act* p, i64 i) { return emu_h2f(p[i]); }
EC_DEVICE void st(act* p, i64 i, float v) { p[i] = emu_f2h(v); }
#else
EC_DEVICE float ld(const act* p, i64 i) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(p[i]));
    return f;
}
EC_DEVICE void st(act* p, i64 i, float v) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    p[i] = h;
}
#endif
#else
typedef float act;
EC_DEVICE float ld(const act* p, i64 i) { return p[i]; }
EC_DEVICE void st(act* p, i64 i, float v) { p[i] = v; }
#endif

#ifdef ECAPA2_EMULATOR
#define THREAD_INDEX emu_thread_index()
#else
#define THREAD_INDEX ((i64)blockIdx.x * (i64)blockDim.x + (i64)threadIdx.x)
#endif

// ---- 3×3 convolution (stride (s, 1), zero padding 1) as im2col + GEMM ----

// col[(row, ho, t)][(kh, kw, ci)] = x[row][ho·s + kh − 1][t + kw − 1][ci], zero outside, for
// the output pixels p0 .. p0 + n / (9c) (a chunk: the matrix never holds a whole batch).
struct Im2col3x3 {
    const act* x;
    act* col;
    i64 n, p0;
    int rows, h, t, c, ho, stride;
};

EC_KERNEL im2col3x3(const Im2col3x3 p) {
    i64 i = THREAD_INDEX;
    if (i >= p.n) return;
    i64 k9 = 9 * (i64)p.c;
    i64 m = p.p0 + i / k9;
    int kk = (int)(i % k9);
    int ci = kk % p.c, tap = kk / p.c;
    int kh = tap / 3, kw = tap % 3;
    int t = (int)(m % p.t);
    i64 rest = m / p.t;
    int ho = (int)(rest % p.ho);
    i64 row = rest / p.ho;
    int hh = ho * p.stride + kh - 1, ts = t + kw - 1;
    float v = 0.0f;
    if (hh >= 0 && hh < p.h && ts >= 0 && ts < p.t)
        v = ld(p.x, ((row * p.h + hh) * p.t + ts) * p.c + ci);
    st(p.col, i, v);
}

// ---- the epilogue after every product, and in-place activation ----

// out[pixel·out_ld + out_offset + c] = ((y + bias) → ReLU if relu) · scale + shift, where y is
// an fp32 GEMM result (`y`, for the pixels from p0 on) or the activation itself (`y_act`, in
// place, p0 = 0); zero on padded frames.
// `bias` is per channel (bias_stride 0) or per row and channel (bias_stride = c); each of
// bias/scale/shift may be null.
struct Epilogue {
    const float* y;
    const act* y_act;
    act* out;
    const int* lens;
    const float* bias;
    const float* scale;
    const float* shift;
    i64 n, p0;
    int h, t, c, bias_stride, relu, out_ld, out_offset;
};

EC_KERNEL epilogue(const Epilogue p) {
    i64 i = THREAD_INDEX;
    if (i >= p.n) return;
    i64 pixel = p.p0 + i / p.c;
    int c = (int)(i % p.c);
    int t = (int)(pixel % p.t);
    i64 row = pixel / ((i64)p.t * p.h);
    float v = 0.0f;
    if (t < p.lens[row]) {
        v = p.y ? p.y[i] : ld(p.y_act, pixel * p.c + c);
        if (p.bias) v += p.bias[row * p.bias_stride + c];
        if (p.relu) v = v > 0.0f ? v : 0.0f;
        if (p.scale) v = v * p.scale[c] + p.shift[c];
    }
    st(p.out, pixel * p.out_ld + p.out_offset + c, v);
}

// ---- reshapes ----

// (C, H, T) → (C·H, T) per row, as the CPU flattens: y[row][0][t][c·H + h] = x[row][h][t][c].
struct Flatten {
    const act* x;
    act* y;
    i64 n;
    int h, t, c;
};

EC_KERNEL flatten(const Flatten p) {
    i64 i = THREAD_INDEX;
    if (i >= p.n) return;
    int ch = p.c * p.h;
    int j = (int)(i % ch);
    i64 pixel = i / ch;  // (row, t)
    int t = (int)(pixel % p.t);
    i64 row = pixel / p.t;
    int c = j / p.h, h = j % p.h;
    st(p.y, i, ld(p.x, ((row * p.h + h) * p.t + t) * p.c + c));
}

// Every s-th frequency row: y[row][ho][t][c] = x[row][ho·s][t][c] (strided 1×1 projections).
struct Subsample {
    const act* x;
    act* y;
    i64 n;
    int h, t, c, ho, stride;
};

EC_KERNEL subsample(const Subsample p) {
    i64 i = THREAD_INDEX;
    if (i >= p.n) return;
    i64 tc = (i64)p.t * p.c;
    i64 within = i % tc;
    i64 rest = i / tc;
    int ho = (int)(rest % p.ho);
    i64 row = rest / p.ho;
    st(p.y, i, ld(p.x, (row * p.h + (i64)ho * p.stride) * tc + within));
}

// ---- squeeze-excitation ----

// Mean over each row's own frames: axis 0 → one value per (row, channel) over height and frames;
// axis 1 → one per (row, height) over channels and frames.
struct SeSqueeze {
    const act* x;
    float* z;
    const int* lens;
    i64 n;
    int h, t, c, axis;
};

EC_KERNEL se_squeeze(const SeSqueeze p) {
    i64 i = THREAD_INDEX;
    if (i >= p.n) return;
    int per = p.axis == 0 ? p.c : p.h;
    i64 row = i / per;
    int k = (int)(i % per);
    int len = p.lens[row];
    double sum = 0.0;
    if (p.axis == 0) {
        for (int h = 0; h < p.h; ++h)
            for (int t = 0; t < len; ++t)
                sum += (double)ld(p.x, ((row * p.h + h) * p.t + t) * p.c + k);
        p.z[i] = (float)(sum / ((double)p.h * len));
    } else {
        for (int t = 0; t < len; ++t)
            for (int c = 0; c < p.c; ++c)
                sum += (double)ld(p.x, ((row * p.h + k) * p.t + t) * p.c + c);
        p.z[i] = (float)(sum / ((double)p.c * len));
    }
}

// y[row][o] = W[o]·x[row] + bias[o] (fp64 sum), then mode 1: ReLU → ·scale + shift;
// mode 2: sigmoid. The SE bottleneck and the per-utterance dense layers.
struct Dense {
    const float* x;
    const float* w;
    const float* bias;
    const float* scale;
    const float* shift;
    float* y;
    i64 n;
    int inputs, outputs, mode;
};

EC_KERNEL dense(const Dense p) {
    i64 i = THREAD_INDEX;
    if (i >= p.n) return;
    i64 row = i / p.outputs;
    int o = (int)(i % p.outputs);
    const float* x = p.x + row * p.inputs;
    const float* w = p.w + (i64)o * p.inputs;
    double sum = 0.0;
    for (int k = 0; k < p.inputs; ++k) sum += (double)w[k] * (double)x[k];
    float v = (float)(sum + (double)(p.bias ? p.bias[o] : 0.0f));
    if (p.mode == 1) {
        v = v > 0.0f ? v : 0.0f;
        v = v * p.scale[o] + p.shift[o];
    } else if (p.mode == 2) {
        v = 1.0f / (1.0f + expf(-v));
    }
    p.y[i] = v;
}

// x ← x · gate (+ residual), the gate per (row, channel) (axis 0) or (row, height) (axis 1);
// padded frames stay zero.
struct SeGate {
    act* x;
    const float* gate;
    const act* residual;
    const int* lens;
    i64 n;
    int h, t, c, axis;
};

EC_KERNEL se_gate(const SeGate p) {
    i64 i = THREAD_INDEX;
    if (i >= p.n) return;
    int c = (int)(i % p.c);
    i64 pixel = i / p.c;
    int t = (int)(pixel % p.t);
    i64 rh = pixel / p.t;  // row·h + height
    int h = (int)(rh % p.h);
    i64 row = rh / p.h;
    float v = 0.0f;
    if (t < p.lens[row]) {
        float g = p.axis == 0 ? p.gate[row * p.c + c] : p.gate[row * p.h + h];
        v = ld(p.x, i) * g;
        if (p.residual) v += ld(p.residual, i);
    }
    st(p.x, i, v);
}

// ---- Res2Net branches (dilated Conv1d with reflect padding at each row's own length) ----

// col[(row, t)][(j, ci)] = u[row][reflect(t + j·dilation − pad)][ci] with u = group g's input
// (+ group g−1's output for g > 1, already written in place); zero on padded frames.
struct Res2Im2col {
    const act* x;
    act* col;
    const int* lens;
    i64 n;
    int t, c, width, group, k, dilation, pad;
};

EC_KERNEL res2_im2col(const Res2Im2col p) {
    i64 i = THREAD_INDEX;
    if (i >= p.n) return;
    int kw = p.k * p.width;
    int kk = (int)(i % kw);
    i64 m = i / kw;
    int j = kk / p.width, ci = kk % p.width;
    int t = (int)(m % p.t);
    i64 row = m / p.t;
    int len = p.lens[row];
    float v = 0.0f;
    if (t < len) {
        int s = t + j * p.dilation - p.pad;
        if (s < 0) s = -s;
        if (s >= len) s = 2 * (len - 1) - s;
        i64 base = (row * p.t + s) * p.c;
        v = ld(p.x, base + (i64)p.group * p.width + ci);
        if (p.group > 1) v += ld(p.x, base + (i64)(p.group - 1) * p.width + ci);
    }
    st(p.col, i, v);
}

// ---- statistics over each row's own frames (height-1 maps), fp64 ----

// mode 0: [mean…, unbiased variance…]; mode 1: [mean…, sqrt(unbiased variance + eps)…].
struct Moments {
    const act* x;
    float* out;
    const int* lens;
    i64 n;
    double eps;
    int t, c, mode;
};

EC_KERNEL moments(const Moments p) {
    i64 i = THREAD_INDEX;
    if (i >= p.n) return;
    i64 row = i / p.c;
    int c = (int)(i % p.c);
    int len = p.lens[row];
    const i64 base = row * p.t * p.c + c;
    double sum = 0.0;
    for (int t = 0; t < len; ++t) sum += (double)ld(p.x, base + (i64)t * p.c);
    double mean = sum / len;
    double ss = 0.0;
    for (int t = 0; t < len; ++t) {
        double d = (double)ld(p.x, base + (i64)t * p.c) - mean;
        ss += d * d;
    }
    double var = ss / (len - 1);
    float* out = p.out + row * 2 * (i64)p.c;
    out[c] = (float)mean;
    out[p.c + c] = (float)(p.mode == 0 ? var : sqrt(var + p.eps));
}

// Attentive statistics: softmax over frames of the logits, weighted mean and
// sqrt(|weighted variance| + eps) of x: [μ…, σ…].
struct Attentive {
    const act* logits;
    const act* x;
    float* out;
    const int* lens;
    i64 n;
    double eps;
    int t, c;
};

EC_KERNEL attentive(const Attentive p) {
    i64 i = THREAD_INDEX;
    if (i >= p.n) return;
    i64 row = i / p.c;
    int c = (int)(i % p.c);
    int len = p.lens[row];
    const i64 base = row * p.t * p.c + c;
    float mx = ld(p.logits, base);
    for (int t = 1; t < len; ++t) {
        float l = ld(p.logits, base + (i64)t * p.c);
        mx = l > mx ? l : mx;
    }
    double z = 0.0, s1 = 0.0, s2 = 0.0;
    for (int t = 0; t < len; ++t) {
        i64 at = base + (i64)t * p.c;
        double a = exp((double)ld(p.logits, at) - (double)mx);
        double v = (double)ld(p.x, at);
        z += a;
        s1 += a * v;
        s2 += a * v * v;
    }
    double mu = s1 / z;
    double var = s2 / z - mu * mu;
    float* out = p.out + row * 2 * (i64)p.c;
    out[c] = (float)mu;
    out[p.c + c] = (float)sqrt((var < 0.0 ? -var : var) + p.eps);
}

// y = x · scale + shift per channel of per-row vectors.
struct Affine {
    const float* x;
    const float* scale;
    const float* shift;
    float* y;
    i64 n;
    int c;
};

EC_KERNEL affine(const Affine p) {
    i64 i = THREAD_INDEX;
    if (i >= p.n) return;
    int c = (int)(i % p.c);
    p.y[i] = p.x[i] * p.scale[c] + p.shift[c];
}
