// Compiles kernels.cu as host C++ for the CPU emulator (tests only): a kernel is a plain
// function run once per thread index, fp16 is the compiler's _Float16 (round to nearest even,
// as cvt.rn.f16.f32).
#include <math.h>
#include <cmath>
#include <cstring>

#define EC_DEVICE static inline
#define EC_KERNEL extern "C" void

static thread_local long long emu_index;
static inline long long emu_thread_index() { return emu_index; }

static inline float emu_h2f(unsigned short h) {
    _Float16 f;
    std::memcpy(&f, &h, 2);
    return (float)f;
}
static inline unsigned short emu_f2h(float v) {
    _Float16 f = (_Float16)v;
    unsigned short h;
    std::memcpy(&h, &f, 2);
    return h;
}

// emu_<kernel>(params, threads): the kernel over threads 0..threads.
template <typename P>
static void emu_run(void (*kernel)(P), const void* params, long long threads) {
    P p;
    std::memcpy(&p, params, sizeof(P));
    for (long long i = 0; i < threads; ++i) {
        emu_index = i;
        kernel(p);
    }
}
#define EMULATE(name) \
    extern "C" void emu_##name(const void* params, long long threads) { emu_run(name, params, threads); }
