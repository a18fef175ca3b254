// Kernels of the CUDA decoder, compiled at run time with NVRTC (tests also build them with nvcc).
// No #include: NVRTC then needs no toolkit headers on the machine, and f16/bf16 are converted by hand.
// Every kernel mirrors one step of dev.streamingllm.model.Transformer on the CPU; comments say where they differ.

typedef unsigned short u16;
typedef unsigned char u8;
typedef long long i64;

#define WARP 32

__device__ __forceinline__ float f16_to_f32(u16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ u16 f32_to_f16(float f) {
    u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

__device__ __forceinline__ float bf16_to_f32(u16 b) {
    return __int_as_float(((unsigned int) b) << 16);
}

__device__ __forceinline__ u16 f32_to_bf16(float f) {
    // Round to nearest even, as the CPU's BF16 quantizer does; NaN stays NaN.
    unsigned int bits = __float_as_uint(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return (u16) ((bits >> 16) | 0x40);
    }
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (u16) (bits >> 16);
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = WARP / 2; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = WARP / 2; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ float block_sum(float v, float *shared32) {
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) shared32[warp] = v;
    __syncthreads();
    int warps = blockDim.x / WARP;
    v = lane < warps ? shared32[lane] : 0.f;
    return warp_sum(v);
}

__device__ float block_max(float v, float *shared32) {
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) shared32[warp] = v;
    __syncthreads();
    int warps = blockDim.x / WARP;
    v = lane < warps ? shared32[lane] : __int_as_float(0xff800000);
    return warp_max(v);
}

// ---------------------------------------------------------------------------------------------
// Element-wise steps. One block per row for the norms.

// out[r] = w * (x[r] / sqrt(mean(x[r]^2) + eps)), like ScalarOps.rmsnorm.
extern "C" __global__ void rmsnorm(float *out, const float *x, const float *w, int dim, float eps) {
    __shared__ float red[32];
    const float *xr = x + (size_t) blockIdx.x * dim;
    float *outr = out + (size_t) blockIdx.x * dim;
    float ss = 0.f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
    ss = block_sum(ss, red);
    float inv = (float) (1.0 / sqrt((double) (ss / dim + eps)));
    for (int i = threadIdx.x; i < dim; i += blockDim.x) outr[i] = w[i] * (xr[i] * inv);
}

// x[r][i] += bias[i] for rows x n values (qwen2's QKV biases).
extern "C" __global__ void add_bias(float *x, const float *bias, int n, int total) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < total) x[i] += bias[i % n];
}

// x += y (the residual connections).
extern "C" __global__ void add_in_place(float *x, const float *y, int total) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < total) x[i] += y[i];
}

// gate = silu(gate) * up, like ScalarOps.siluMul.
extern "C" __global__ void silu_mul(float *gate, const float *up, int total) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < total) {
        float g = gate[i];
        gate[i] = g / (1.f + expf(-g)) * up[i];
    }
}

// Activations for the cuBLAS GEMMs, whose operands must share a type with the weights.
extern "C" __global__ void f32_to_f16_rows(u16 *out, const float *x, int total) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < total) out[i] = f32_to_f16(x[i]);
}

extern "C" __global__ void f32_to_bf16_rows(u16 *out, const float *x, int total) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < total) out[i] = f32_to_bf16(x[i]);
}

// ---------------------------------------------------------------------------------------------
// RoPE and the sink cache. Positions follow dev.streamingllm.cache.SinkCache: a token's key is
// rotated by its key position (its place if it is a sink, its window position otherwise) and stored;
// its query is rotated twice, by the window position (against window keys) and by its place
// (against sink keys). Angles are computed in double from the 64-bit position, as Rope does.

// Rotates one head in place. neox: pairs (i, i + ropeDim/2) (qwen2), else (2i, 2i + 1) (llama).
__device__ void rope_head(float *v, const double *inv_freq, int rope_dim, int neox, i64 position, int lane, int lanes) {
    int half = rope_dim / 2;
    for (int i = lane; i < half; i += lanes) {
        double angle = (double) position * inv_freq[i];
        float c = (float) cos(angle), s = (float) sin(angle);
        int a = neox ? i : 2 * i;
        int b = neox ? i + half : 2 * i + 1;
        float x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
    }
}

// Per row (token): rotate k by its key position into the cache slot, copy v beside it, and write the
// two rotations of q. Row metadata: pool slot (which session), cache slot, window and sink positions,
// sink flag. cache layout: [pool slot][layer][cache slot][kvDim], pool stride per session given.
// One block per row; block dim a multiple of 32.
extern "C" __global__ void rope_store(
        const float *q, const float *k, const float *v,
        float *q_window, float *q_sink,
        float *key_cache, float *value_cache,
        const int *pool_slot, const int *cache_slot, const i64 *window_pos, const i64 *sink_pos, const int *is_sink,
        const double *inv_freq, int rope_dim, int neox,
        int heads, int kv_heads, int head_dim,
        int layer, int layers, int slots_per_session) {
    int r = blockIdx.x;
    int q_dim = heads * head_dim, kv_dim = kv_heads * head_dim;
    size_t base = (((size_t) pool_slot[r] * layers + layer) * slots_per_session + cache_slot[r]) * kv_dim;
    float *kc = key_cache + base;
    float *vc = value_cache + base;
    const float *qr = q + (size_t) r * q_dim;
    const float *kr = k + (size_t) r * kv_dim;
    const float *vr = v + (size_t) r * kv_dim;
    float *qw = q_window + (size_t) r * q_dim;
    float *qs = q_sink + (size_t) r * q_dim;
    for (int i = threadIdx.x; i < kv_dim; i += blockDim.x) { kc[i] = kr[i]; vc[i] = vr[i]; }
    for (int i = threadIdx.x; i < q_dim; i += blockDim.x) { qw[i] = qr[i]; qs[i] = qr[i]; }
    __syncthreads();
    i64 key_pos = is_sink[r] ? sink_pos[r] : window_pos[r];
    int warp = threadIdx.x / WARP, lane = threadIdx.x % WARP, warps = blockDim.x / WARP;
    for (int h = warp; h < kv_heads; h += warps) rope_head(kc + h * head_dim, inv_freq, rope_dim, neox, key_pos, lane, WARP);
    for (int h = warp; h < heads; h += warps) {
        rope_head(qw + h * head_dim, inv_freq, rope_dim, neox, window_pos[r], lane, WARP);
        rope_head(qs + h * head_dim, inv_freq, rope_dim, neox, sink_pos[r], lane, WARP);
    }
}

// Attention of one row and one head over its visible keys: the sinks (slots 0..sinkCount-1, scored
// with q_sink), then ringCount ring entries from ringStart (scored with q_window), exactly the
// order of Transformer.attend. A ring entry's slot is sinkCapacity + floorMod(index - sinkCapacity,
// ringSize), as in SinkCache.ringSlot. Grid (heads, rows); dynamic shared memory holds
// (2 * head_dim + visible) floats.
extern "C" __global__ void attention(
        float *out, const float *q_window, const float *q_sink,
        const float *key_cache, const float *value_cache,
        const int *pool_slot, const int *sink_count, const int *ring_start, const int *ring_count,
        const int *sink_capacity, const int *ring_size,
        int heads, int kv_heads, int head_dim, int layer, int layers, int slots_per_session) {
    extern __shared__ float smem[];
    __shared__ float red[32];
    int h = blockIdx.x, r = blockIdx.y;
    int q_dim = heads * head_dim, kv_dim = kv_heads * head_dim;
    int kv_off = (h / (heads / kv_heads)) * head_dim;
    float *qs = smem, *qw = smem + head_dim, *scores = smem + 2 * head_dim;
    for (int i = threadIdx.x; i < head_dim; i += blockDim.x) {
        qs[i] = q_sink[(size_t) r * q_dim + h * head_dim + i];
        qw[i] = q_window[(size_t) r * q_dim + h * head_dim + i];
    }
    __syncthreads();
    int sinks = sink_count[r], ring0 = ring_start[r], cap = sink_capacity[r], rsize = ring_size[r];
    int visible = sinks + ring_count[r];
    size_t layer_base = ((size_t) pool_slot[r] * layers + layer) * slots_per_session;
    float scale = (float) (1.0 / sqrt((double) head_dim));
    int warp = threadIdx.x / WARP, lane = threadIdx.x % WARP, warps = blockDim.x / WARP;
    for (int j = warp; j < visible; j += warps) {
        int slot = j < sinks ? j : cap + (((ring0 + j - sinks - cap) % rsize) + rsize) % rsize;
        const float *key = key_cache + (layer_base + slot) * kv_dim + kv_off;
        const float *query = j < sinks ? qs : qw;
        float d = 0.f;
        for (int i = lane; i < head_dim; i += WARP) d += query[i] * key[i];
        d = warp_sum(d);
        if (lane == 0) scores[j] = d * scale;
    }
    __syncthreads();
    float m = __int_as_float(0xff800000);
    for (int j = threadIdx.x; j < visible; j += blockDim.x) m = fmaxf(m, scores[j]);
    m = block_max(m, red);
    float sum = 0.f;
    for (int j = threadIdx.x; j < visible; j += blockDim.x) {
        float e = expf(scores[j] - m);
        scores[j] = e;
        sum += e;
    }
    sum = block_sum(sum, red);
    float inv = 1.f / sum;
    __syncthreads();
    for (int i = threadIdx.x; i < head_dim; i += blockDim.x) {
        float acc = 0.f;
        for (int j = 0; j < visible; j++) {
            int slot = j < sinks ? j : cap + (((ring0 + j - sinks - cap) % rsize) + rsize) % rsize;
            acc += scores[j] * inv * value_cache[(layer_base + slot) * kv_dim + kv_off + i];
        }
        out[(size_t) r * q_dim + h * head_dim + i] = acc;
    }
}

// ---------------------------------------------------------------------------------------------
// Matrix-vector products y[c][row] = W[row] . x[c] for up to MV_COLS input vectors at once (a small
// decode batch reuses each weight load). One warp per output row, four rows per 128-thread block.
// Weights are GGML rows, blocks as in the CPU's WeightMatrix classes.

#define MV_COLS 8

#define MV_PROLOGUE                                                                 \
    int row = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;               \
    int lane = threadIdx.x % WARP;                                                  \
    if (row >= rows) return;                                                        \
    float acc[MV_COLS];                                                             \
    _Pragma("unroll") for (int c = 0; c < MV_COLS; c++) acc[c] = 0.f;

#define MV_EPILOGUE                                                                 \
    _Pragma("unroll") for (int c = 0; c < MV_COLS; c++) {                          \
        if (c < ncols) {                                                            \
            float s = warp_sum(acc[c]);                                             \
            if (lane == 0) y[(size_t) c * rows + row] = s;                          \
        }                                                                           \
    }

extern "C" __global__ void matvec_f32(float *y, const float *w, const float *x, int rows, int cols, int ncols) {
    MV_PROLOGUE
    const float *wr = w + (size_t) row * cols;
    for (int i = lane; i < cols; i += WARP) {
        float wv = wr[i];
        _Pragma("unroll") for (int c = 0; c < MV_COLS; c++) if (c < ncols) acc[c] += wv * x[(size_t) c * cols + i];
    }
    MV_EPILOGUE
}

extern "C" __global__ void matvec_f16(float *y, const u16 *w, const float *x, int rows, int cols, int ncols) {
    MV_PROLOGUE
    const u16 *wr = w + (size_t) row * cols;
    for (int i = lane; i < cols; i += WARP) {
        float wv = f16_to_f32(wr[i]);
        _Pragma("unroll") for (int c = 0; c < MV_COLS; c++) if (c < ncols) acc[c] += wv * x[(size_t) c * cols + i];
    }
    MV_EPILOGUE
}

extern "C" __global__ void matvec_bf16(float *y, const u16 *w, const float *x, int rows, int cols, int ncols) {
    MV_PROLOGUE
    const u16 *wr = w + (size_t) row * cols;
    for (int i = lane; i < cols; i += WARP) {
        float wv = bf16_to_f32(wr[i]);
        _Pragma("unroll") for (int c = 0; c < MV_COLS; c++) if (c < ncols) acc[c] += wv * x[(size_t) c * cols + i];
    }
    MV_EPILOGUE
}

__device__ __forceinline__ u16 load_u16(const u8 *p) {
    return (u16) (p[0] | (p[1] << 8));
}

// Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 give a block eight lanes, so that a warp reads four consecutive blocks a
// step: its loads of weights and activations are coalesced, where a lane per block read 18 to 34 bytes from its
// neighbours', a byte at a time.

// Q8_0: blocks of 32 as f16 d + 32 int8; value = d * q. Lane sub of a block takes quants 4 * sub to 4 * sub + 3.
extern "C" __global__ void matvec_q8_0(float *y, const u8 *w, const float *x, int rows, int cols, int ncols) {
    MV_PROLOGUE
    int blocks = cols / 32;
    const u8 *wr = w + (size_t) row * blocks * 34;
    int sub = lane % 8;
    for (int b = lane / 8; b < blocks; b += WARP / 8) {
        const u8 *blk = wr + (size_t) b * 34;
        float d = f16_to_f32(load_u16(blk));
        const signed char *qs = (const signed char *) (blk + 2 + 4 * sub);
        float q0 = (float) qs[0], q1 = (float) qs[1], q2 = (float) qs[2], q3 = (float) qs[3];
        _Pragma("unroll") for (int c = 0; c < MV_COLS; c++) if (c < ncols) {
            const float *xc = x + (size_t) c * cols + b * 32 + 4 * sub;
            acc[c] += d * (q0 * xc[0] + q1 * xc[1] + q2 * xc[2] + q3 * xc[3]);
        }
    }
    MV_EPILOGUE
}

// Q4_0: blocks of 32 as f16 d + 16 bytes; element l = (low nibble of byte l) - 8, element l + 16 =
// (high nibble) - 8; value = d * q. Lane sub of a block takes bytes 2 * sub and 2 * sub + 1.
extern "C" __global__ void matvec_q4_0(float *y, const u8 *w, const float *x, int rows, int cols, int ncols) {
    MV_PROLOGUE
    int blocks = cols / 32;
    const u8 *wr = w + (size_t) row * blocks * 18;
    int sub = lane % 8;
    for (int b = lane / 8; b < blocks; b += WARP / 8) {
        const u8 *blk = wr + (size_t) b * 18;
        float d = f16_to_f32(load_u16(blk));
        u8 q0 = blk[2 + 2 * sub], q1 = blk[3 + 2 * sub];
        float lo0 = (float) ((q0 & 0xF) - 8), hi0 = (float) ((q0 >> 4) - 8);
        float lo1 = (float) ((q1 & 0xF) - 8), hi1 = (float) ((q1 >> 4) - 8);
        _Pragma("unroll") for (int c = 0; c < MV_COLS; c++) if (c < ncols) {
            const float *xc = x + (size_t) c * cols + b * 32 + 2 * sub;
            acc[c] += d * (lo0 * xc[0] + lo1 * xc[1] + hi0 * xc[16] + hi1 * xc[17]);
        }
    }
    MV_EPILOGUE
}

// Q4_1: blocks of 32 as f16 d, f16 m + 16 bytes, nibbles as in Q4_0; value = d * q + m, so a block
// adds d times its products plus m times the sum of its activations. Lanes as in Q4_0.
extern "C" __global__ void matvec_q4_1(float *y, const u8 *w, const float *x, int rows, int cols, int ncols) {
    MV_PROLOGUE
    int blocks = cols / 32;
    const u8 *wr = w + (size_t) row * blocks * 20;
    int sub = lane % 8;
    for (int b = lane / 8; b < blocks; b += WARP / 8) {
        const u8 *blk = wr + (size_t) b * 20;
        float d = f16_to_f32(load_u16(blk)), m = f16_to_f32(load_u16(blk + 2));
        u8 q0 = blk[4 + 2 * sub], q1 = blk[5 + 2 * sub];
        float lo0 = (float) (q0 & 0xF), hi0 = (float) (q0 >> 4);
        float lo1 = (float) (q1 & 0xF), hi1 = (float) (q1 >> 4);
        _Pragma("unroll") for (int c = 0; c < MV_COLS; c++) if (c < ncols) {
            const float *xc = x + (size_t) c * cols + b * 32 + 2 * sub;
            acc[c] += d * (lo0 * xc[0] + lo1 * xc[1] + hi0 * xc[16] + hi1 * xc[17]) + m * (xc[0] + xc[1] + xc[16] + xc[17]);
        }
    }
    MV_EPILOGUE
}

// Q5_0 and Q5_1 keep the fifth bits of a block's 32 elements in a little-endian u32 (bit l for element
// l) before Q4's 16 bytes of nibbles; blocks are 22 and 24 bytes, so the word is read byte by byte.
__device__ __forceinline__ unsigned int load_u32(const u8 *p) {
    return (unsigned int) p[0] | ((unsigned int) p[1] << 8) | ((unsigned int) p[2] << 16) | ((unsigned int) p[3] << 24);
}

// Element l's 5-bit quant from its nibble and the block's fifth bits.
__device__ __forceinline__ int q5(int nibble, unsigned int qh, int l) {
    return nibble | (int) (((qh >> l) & 1u) << 4);
}

// Q5_0: blocks of 32 as f16 d, u32 qh + 16 bytes; value = d * (q - 16). Lanes as in Q4_0.
extern "C" __global__ void matvec_q5_0(float *y, const u8 *w, const float *x, int rows, int cols, int ncols) {
    MV_PROLOGUE
    int blocks = cols / 32;
    const u8 *wr = w + (size_t) row * blocks * 22;
    int l = 2 * (lane % 8);
    for (int b = lane / 8; b < blocks; b += WARP / 8) {
        const u8 *blk = wr + (size_t) b * 22;
        float d = f16_to_f32(load_u16(blk));
        unsigned int qh = load_u32(blk + 2);
        u8 q0 = blk[6 + l], q1 = blk[7 + l];
        float lo0 = (float) (q5(q0 & 0xF, qh, l) - 16), hi0 = (float) (q5(q0 >> 4, qh, l + 16) - 16);
        float lo1 = (float) (q5(q1 & 0xF, qh, l + 1) - 16), hi1 = (float) (q5(q1 >> 4, qh, l + 17) - 16);
        _Pragma("unroll") for (int c = 0; c < MV_COLS; c++) if (c < ncols) {
            const float *xc = x + (size_t) c * cols + b * 32 + l;
            acc[c] += d * (lo0 * xc[0] + lo1 * xc[1] + hi0 * xc[16] + hi1 * xc[17]);
        }
    }
    MV_EPILOGUE
}

// Q5_1: blocks of 32 as f16 d, f16 m, u32 qh + 16 bytes; value = d * q + m, as Q4_1. Lanes as in Q4_0.
extern "C" __global__ void matvec_q5_1(float *y, const u8 *w, const float *x, int rows, int cols, int ncols) {
    MV_PROLOGUE
    int blocks = cols / 32;
    const u8 *wr = w + (size_t) row * blocks * 24;
    int l = 2 * (lane % 8);
    for (int b = lane / 8; b < blocks; b += WARP / 8) {
        const u8 *blk = wr + (size_t) b * 24;
        float d = f16_to_f32(load_u16(blk)), m = f16_to_f32(load_u16(blk + 2));
        unsigned int qh = load_u32(blk + 4);
        u8 q0 = blk[8 + l], q1 = blk[9 + l];
        float lo0 = (float) q5(q0 & 0xF, qh, l), hi0 = (float) q5(q0 >> 4, qh, l + 16);
        float lo1 = (float) q5(q1 & 0xF, qh, l + 1), hi1 = (float) q5(q1 >> 4, qh, l + 17);
        _Pragma("unroll") for (int c = 0; c < MV_COLS; c++) if (c < ncols) {
            const float *xc = x + (size_t) c * cols + b * 32 + l;
            acc[c] += d * (lo0 * xc[0] + lo1 * xc[1] + hi0 * xc[16] + hi1 * xc[17]) + m * (xc[0] + xc[1] + xc[16] + xc[17]);
        }
    }
    MV_EPILOGUE
}

// Q4_K's 6-bit scale and min of sub-block j from its 12 packed bytes (ggml's get_scale_min_k4).
__device__ __forceinline__ void q4k_scale_min(const u8 *s, int j, int *scale, int *min) {
    if (j < 4) {
        *scale = s[j] & 63;
        *min = s[j + 4] & 63;
    } else {
        *scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Q4_K: super-blocks of 256 as f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles;
// each 32 bytes hold sub-blocks 2g (low nibbles) and 2g + 1 (high); value = d * scale * q - dmin * min. A warp
// takes a super-block a step: eight lanes a group of 64 elements, four bytes each.
extern "C" __global__ void matvec_q4_k(float *y, const u8 *w, const float *x, int rows, int cols, int ncols) {
    MV_PROLOGUE
    int blocks = cols / 256;
    const u8 *wr = w + (size_t) row * blocks * 144;
    int g = lane / 8, l = 4 * (lane % 8);
    for (int b = 0; b < blocks; b++) {
        const u8 *blk = wr + (size_t) b * 144;
        float d = f16_to_f32(load_u16(blk)), dmin = f16_to_f32(load_u16(blk + 2));
        int s1, m1, s2, m2;
        q4k_scale_min(blk + 4, 2 * g, &s1, &m1);
        q4k_scale_min(blk + 4, 2 * g + 1, &s2, &m2);
        const u8 *qs = blk + 16 + 32 * g + l;
        u8 q0 = qs[0], q1 = qs[1], q2 = qs[2], q3 = qs[3];
        _Pragma("unroll") for (int c = 0; c < MV_COLS; c++) if (c < ncols) {
            const float *xc = x + (size_t) c * cols + b * 256 + 64 * g + l;
            float lo = (q0 & 0xF) * xc[0] + (q1 & 0xF) * xc[1] + (q2 & 0xF) * xc[2] + (q3 & 0xF) * xc[3];
            float hi = (q0 >> 4) * xc[32] + (q1 >> 4) * xc[33] + (q2 >> 4) * xc[34] + (q3 >> 4) * xc[35];
            float xlo = xc[0] + xc[1] + xc[2] + xc[3], xhi = xc[32] + xc[33] + xc[34] + xc[35];
            acc[c] += d * (s1 * lo + s2 * hi) - dmin * (m1 * xlo + m2 * xhi);
        }
    }
    MV_EPILOGUE
}

// ---------------------------------------------------------------------------------------------
// Dequantization to f16 for the cuBLAS GEMM path (prefill and large decode batches). One thread
// per 32 output elements (one quant block, or one eighth of a Q4_K super-block).

// Q6_K: super-blocks of 256 as 128 bytes ql (low four bits), 64 bytes qh (high two bits), 16 int8 scales, f16 d.
// In each half of 128 elements, element l + 32k (l < 32) takes its bits from ql[l] or ql[l + 32] and from qh[l], as
// ggml's dequantize_row_q6_K reads them, and scale 2k + l / 16. A warp takes a super-block a step, lane l the
// elements l + 32k of both halves.
__device__ __forceinline__ void q6k_quarters(const u8 *blk, int h, int l, float q[4], float s[4]) {
    const u8 *ql = blk + 64 * h, *qh = blk + 128 + 32 * h;
    const signed char *sc = (const signed char *) (blk + 192) + 8 * h + l / 16;
    float d = f16_to_f32(load_u16(blk + 208));
    u8 a = ql[l], b = ql[l + 32], hb = qh[l];
    q[0] = (float) (((a & 0xF) | ((hb & 3) << 4)) - 32);
    q[1] = (float) (((b & 0xF) | (((hb >> 2) & 3) << 4)) - 32);
    q[2] = (float) (((a >> 4) | (((hb >> 4) & 3) << 4)) - 32);
    q[3] = (float) (((b >> 4) | (((hb >> 6) & 3) << 4)) - 32);
    _Pragma("unroll") for (int k = 0; k < 4; k++) s[k] = d * sc[2 * k];
}

extern "C" __global__ void matvec_q6_k(float *y, const u8 *w, const float *x, int rows, int cols, int ncols) {
    MV_PROLOGUE
    int blocks = cols / 256;
    const u8 *wr = w + (size_t) row * blocks * 210;
    for (int b = 0; b < blocks; b++) {
        _Pragma("unroll") for (int h = 0; h < 2; h++) {
            float q[4], s[4];
            q6k_quarters(wr + (size_t) b * 210, h, lane, q, s);
            _Pragma("unroll") for (int c = 0; c < MV_COLS; c++) if (c < ncols) {
                const float *xc = x + (size_t) c * cols + b * 256 + 128 * h + lane;
                acc[c] += s[0] * q[0] * xc[0] + s[1] * q[1] * xc[32] + s[2] * q[2] * xc[64] + s[3] * q[3] * xc[96];
            }
        }
    }
    MV_EPILOGUE
}

extern "C" __global__ void dequant_q8_0_f16(u16 *out, const u8 *w, long long blocks) {
    long long b = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= blocks) return;
    const u8 *blk = w + b * 34;
    float d = f16_to_f32(load_u16(blk));
    const signed char *qs = (const signed char *) (blk + 2);
    for (int l = 0; l < 32; l++) out[b * 32 + l] = f32_to_f16(d * (float) qs[l]);
}

extern "C" __global__ void dequant_q4_0_f16(u16 *out, const u8 *w, long long blocks) {
    long long b = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= blocks) return;
    const u8 *blk = w + b * 18;
    float d = f16_to_f32(load_u16(blk));
    for (int l = 0; l < 16; l++) {
        u8 q = blk[2 + l];
        out[b * 32 + l] = f32_to_f16(d * (float) ((q & 0xF) - 8));
        out[b * 32 + l + 16] = f32_to_f16(d * (float) ((q >> 4) - 8));
    }
}

extern "C" __global__ void dequant_q4_1_f16(u16 *out, const u8 *w, long long blocks) {
    long long b = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= blocks) return;
    const u8 *blk = w + b * 20;
    float d = f16_to_f32(load_u16(blk)), m = f16_to_f32(load_u16(blk + 2));
    for (int l = 0; l < 16; l++) {
        u8 q = blk[4 + l];
        out[b * 32 + l] = f32_to_f16(d * (float) (q & 0xF) + m);
        out[b * 32 + l + 16] = f32_to_f16(d * (float) (q >> 4) + m);
    }
}

extern "C" __global__ void dequant_q5_0_f16(u16 *out, const u8 *w, long long blocks) {
    long long b = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= blocks) return;
    const u8 *blk = w + b * 22;
    float d = f16_to_f32(load_u16(blk));
    unsigned int qh = load_u32(blk + 2);
    for (int l = 0; l < 16; l++) {
        u8 q = blk[6 + l];
        out[b * 32 + l] = f32_to_f16(d * (float) (q5(q & 0xF, qh, l) - 16));
        out[b * 32 + l + 16] = f32_to_f16(d * (float) (q5(q >> 4, qh, l + 16) - 16));
    }
}

extern "C" __global__ void dequant_q5_1_f16(u16 *out, const u8 *w, long long blocks) {
    long long b = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= blocks) return;
    const u8 *blk = w + b * 24;
    float d = f16_to_f32(load_u16(blk)), m = f16_to_f32(load_u16(blk + 2));
    unsigned int qh = load_u32(blk + 4);
    for (int l = 0; l < 16; l++) {
        u8 q = blk[8 + l];
        out[b * 32 + l] = f32_to_f16(d * (float) q5(q & 0xF, qh, l) + m);
        out[b * 32 + l + 16] = f32_to_f16(d * (float) q5(q >> 4, qh, l + 16) + m);
    }
}

// units = super-blocks * 8; unit (b, j) writes sub-block j of super-block b.
extern "C" __global__ void dequant_q4_k_f16(u16 *out, const u8 *w, long long units) {
    long long u = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (u >= units) return;
    long long b = u / 8;
    int j = (int) (u % 8), g = j / 2;
    const u8 *blk = w + b * 144;
    float d = f16_to_f32(load_u16(blk)), dmin = f16_to_f32(load_u16(blk + 2));
    int sc, mn;
    q4k_scale_min(blk + 4, j, &sc, &mn);
    float dd = d * sc, mm = dmin * mn;
    const u8 *qs = blk + 16 + 32 * g;
    for (int l = 0; l < 32; l++) {
        int q = (j % 2 == 0) ? (qs[l] & 0xF) : (qs[l] >> 4);
        out[b * 256 + 32 * j + l] = f32_to_f16(dd * q - mm);
    }
}

// Q6_K to f16: a thread per (super-block, half, l), the four elements l + 32k of that half.
extern "C" __global__ void dequant_q6_k_f16(u16 *out, const u8 *w, long long units) {
    long long u = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (u >= units) return;
    long long b = u / 64;
    int h = (int) (u % 64) / 32, l = (int) (u % 32);
    float q[4], s[4];
    q6k_quarters(w + b * 210, h, l, q, s);
    _Pragma("unroll") for (int k = 0; k < 4; k++) out[b * 256 + 128 * h + 32 * k + l] = f32_to_f16(s[k] * q[k]);
}
