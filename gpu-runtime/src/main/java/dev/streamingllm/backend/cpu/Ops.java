package dev.streamingllm.backend.cpu;

import dev.streamingllm.cache.CacheLayout;

/**
 * The decoder's vector kernels besides matmul, on float arrays with offsets so they run on one row
 * of a batch. {@link #get()} is the Vector API implementation when the JVM has
 * {@code jdk.incubator.vector}, else plain Java (see {@link Simd}).
 */
public abstract sealed class Ops permits ScalarOps, VectorOps {

    private static final Ops INSTANCE = Simd.ENABLED ? vector() : scalar();

    Ops() {
    }

    /** The fastest implementation this JVM can run. */
    public static Ops get() {
        return INSTANCE;
    }

    static Ops scalar() {
        return new ScalarOps();
    }

    static Ops vector() {
        return new VectorOps();
    }

    /** {@code out = weight * x / sqrt(mean(x^2) + eps)} over {@code size} elements. */
    public abstract void rmsnorm(float[] out, int outOffset, float[] x, int xOffset, float[] weight, float eps, int size);

    /** Softmax of {@code x[offset .. offset + size)} in place. */
    public abstract void softmax(float[] x, int offset, int size);

    /** {@code y += a * x} over {@code size} elements. */
    public abstract void axpy(float a, float[] x, int xOffset, float[] y, int yOffset, int size);

    /**
     * Attention output: {@code out[outOffset ..] = sum over j < count of weights[j] * values[rows[j] + valueOffset ..]}
     * over {@code size} elements, added in order of {@code j}.
     */
    public abstract void weightedSum(float[] weights, float[] values, int[] rows, int valueOffset, int count,
                                     float[] out, int outOffset, int size);

    /**
     * Scores of several queries at once against keys stored transposed (one row per element of the head):
     * {@code scores[i * scoresStride + e] = scale * sum over d < size of q[qOffset + i * qStride + d] * keys[d * keysStride + e]}
     * for {@code i < queries} and {@code e} in {@code [from, to)}. A prefill tile's queries share every load of a
     * key, and the scores come out in lanes with no sum across a vector. Each row of {@code keys} must be readable
     * up to {@code to} rounded up to a multiple of the vector length.
     */
    public abstract void scoreTile(float[] q, int qOffset, int qStride, int queries, float[] keys, int keysStride,
                                   int from, int to, float scale, float[] scores, int scoresStride, int size);

    /**
     * A tile's attention outputs from its probabilities over all of its entries:
     * {@code out[outOffset + r * outStride + d] = sum over e < entries of p[r * pStride + e] * values[e * size + d]} for
     * {@code r < rows} and {@code d < size}, the entries added in order as {@link #weightedSum} adds them; an entry a row
     * does not see has probability 0. Several rows share every load of a value.
     */
    public abstract void weightedSumTile(float[] p, int pStride, int rows, float[] values, int entries, float[] out,
                                         int outOffset, int outStride, int size);

    /** {@link #weightedSum} over values stored as IEEE halves. */
    public abstract void weightedSum(float[] weights, short[] values, int[] rows, int valueOffset, int count,
                                     float[] out, int outOffset, int size);

    /**
     * Attention scores of {@code heads} query heads that share one KV head (grouped-query attention) against the keys
     * of slots {@code [from, to)} of a cache layer of {@code slots} slots whose keys lie in tiles
     * ({@link CacheLayout#keyIndex}): {@code scores[firstHead + g][at + s - from] = scale * sum over d < size of
     * q[qOffset + g * size + d] * key(s)[element + d]}, the products added in order of {@code d} by fused
     * multiply-adds. That is {@link #scoreTile}'s order, so a key's score has the same bits in decode and in a prefill
     * tile, whichever keys, heads and slots a call covers.
     */
    public abstract void groupScores(float[] q, int qOffset, int heads, float[] keys, int slots, int element, int from, int to,
                                     float scale, float[][] scores, int firstHead, int at, int size);

    /** {@link #groupScores} over keys stored as IEEE halves ({@link CacheLayout#halfKeyIndex}). */
    public abstract void groupScores(float[] q, int qOffset, int heads, short[] keys, int slots, int element, int from, int to,
                                     float scale, float[][] scores, int firstHead, int at, int size);

    /**
     * {@link #groupScores} over keys stored as Q8_0 blocks ({@link dev.streamingllm.cache.CacheType#Q8_0}): element
     * {@code i} of a key is its quant times the half scale of its block {@code i / 32} ({@link CacheLayout#keyScaleIndex}),
     * a product that is exact in a float.
     */
    public abstract void groupScores(float[] q, int qOffset, int heads, byte[] keys, short[] scales, int slots, int element,
                                     int from, int to, float scale, float[][] scores, int firstHead, int at, int size);

    /**
     * {@link #weightedSum} of {@code heads} query heads that share one KV head, over elements
     * {@code [valueOffset, valueOffset + size)} of the values: head {@code g}'s weights in {@code weights[firstHead + g]},
     * its output at {@code out[outOffset + g * headStride]}. Each output is the one {@link #weightedSum} gives, bit
     * for bit, whichever elements a call covers.
     */
    public void groupWeightedSum(float[][] weights, int firstHead, int heads, float[] values, int[] rows, int valueOffset,
                                 int count, float[] out, int outOffset, int headStride, int size) {
        for (int g = 0; g < heads; g++) {
            weightedSum(weights[firstHead + g], values, rows, valueOffset, count, out, outOffset + g * headStride, size);
        }
    }

    /** {@link #groupWeightedSum} over values stored as IEEE halves. */
    public void groupWeightedSum(float[][] weights, int firstHead, int heads, short[] values, int[] rows, int valueOffset,
                                 int count, float[] out, int outOffset, int headStride, int size) {
        for (int g = 0; g < heads; g++) {
            weightedSum(weights[firstHead + g], values, rows, valueOffset, count, out, outOffset + g * headStride, size);
        }
    }

    /**
     * {@link #groupWeightedSum} over values stored as Q8_0 blocks: element {@code e} is {@code values[e]} times the half
     * {@code scales[e / 32]}. Each row and {@code valueOffset} start a block.
     */
    public abstract void groupWeightedSum(float[][] weights, int firstHead, int heads, byte[] values, short[] scales, int[] rows,
                                          int valueOffset, int count, float[] out, int outOffset, int headStride, int size);

    /** {@code count} values of Q8_0 blocks from {@code quants[from]} (a block's start) as floats into {@code out[outOffset]}. */
    public abstract void widen(byte[] quants, short[] scales, int from, float[] out, int outOffset, int count);

    /** {@code count} IEEE halves from {@code halves[from]} as floats into {@code out[outOffset]}. */
    public abstract void widen(short[] halves, int from, float[] out, int outOffset, int count);

    /** SwiGLU: {@code gate = silu(gate) * up = gate / (1 + exp(-gate)) * up} over {@code size} elements. */
    public abstract void siluMul(float[] gate, int gateOffset, float[] up, int upOffset, int size);

    /** An IEEE half as a float. */
    public static float f16ToFloat(short half) {
        return Float.float16ToFloat(half);
    }

    /** A float rounded to the nearest IEEE half (ties to even). */
    public static short floatToF16(float value) {
        return Float.floatToFloat16(value);
    }

    /** A bfloat16 as a float: its bits are the upper half of the float's. */
    public static float bf16ToFloat(short bf16) {
        return Float.intBitsToFloat(bf16 << 16);
    }

    /** A float rounded to the nearest bfloat16 (ties to even), NaN kept quiet, as ggml does. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((bits >>> 16) | 64);
        }
        return (short) ((bits + (0x7FFF + ((bits >>> 16) & 1))) >>> 16);
    }
}
