package dev.streamingllm.backend.cpu;

import dev.streamingllm.cache.CacheType;
import dev.streamingllm.cache.CacheLayout;

/** {@link Ops} in plain Java. */
final class ScalarOps extends Ops {

    @Override
    public void rmsnorm(float[] out, int outOffset, float[] x, int xOffset, float[] weight, float eps, int size) {
        float ss = 0f;
        for (int i = 0; i < size; i++) {
            ss += x[xOffset + i] * x[xOffset + i];
        }
        float inv = (float) (1.0 / Math.sqrt(ss / size + eps));
        for (int i = 0; i < size; i++) {
            out[outOffset + i] = weight[i] * (x[xOffset + i] * inv);
        }
    }

    @Override
    public void softmax(float[] x, int offset, int size) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < size; i++) {
            max = Math.max(max, x[offset + i]);
        }
        float sum = 0f;
        for (int i = 0; i < size; i++) {
            x[offset + i] = (float) Math.exp(x[offset + i] - max);
            sum += x[offset + i];
        }
        float inv = 1f / sum;
        for (int i = 0; i < size; i++) {
            x[offset + i] *= inv;
        }
    }

    @Override
    public void axpy(float a, float[] x, int xOffset, float[] y, int yOffset, int size) {
        for (int i = 0; i < size; i++) {
            y[yOffset + i] += a * x[xOffset + i];
        }
    }

    @Override
    public void weightedSum(float[] weights, float[] values, int[] rows, int valueOffset, int count,
                            float[] out, int outOffset, int size) {
        for (int i = 0; i < size; i++) {
            float sum = 0f;
            for (int j = 0; j < count; j++) {
                sum += weights[j] * values[rows[j] + valueOffset + i];
            }
            out[outOffset + i] = sum;
        }
    }

    @Override
    public void weightedSumTile(float[] p, int pStride, int rows, float[] values, int entries, float[] out,
                                int outOffset, int outStride, int size) {
        for (int r = 0; r < rows; r++) {
            for (int d = 0; d < size; d++) {
                float sum = 0f;
                for (int e = 0; e < entries; e++) {
                    sum += p[r * pStride + e] * values[e * size + d];
                }
                out[outOffset + r * outStride + d] = sum;
            }
        }
    }

    @Override
    public void widen(short[] halves, int from, float[] out, int outOffset, int count) {
        for (int i = 0; i < count; i++) {
            out[outOffset + i] = Float.float16ToFloat(halves[from + i]);
        }
    }

    @Override
    public void weightedSum(float[] weights, short[] values, int[] rows, int valueOffset, int count,
                            float[] out, int outOffset, int size) {
        for (int i = 0; i < size; i++) {
            float sum = 0f;
            for (int j = 0; j < count; j++) {
                sum += weights[j] * Float.float16ToFloat(values[rows[j] + valueOffset + i]);
            }
            out[outOffset + i] = sum;
        }
    }

    @Override
    public void groupScores(float[] q, int qOffset, int heads, float[] keys, int slots, int element, int from, int to,
                            float scale, float[][] scores, int firstHead, int at, int size) {
        groupScores((s, e) -> keys[CacheLayout.keyIndex(slots, s, e)], q, qOffset, heads, element, from, to, scale, scores,
                firstHead, at, size);
    }

    @Override
    public void groupScores(float[] q, int qOffset, int heads, short[] keys, int slots, int element, int from, int to,
                            float scale, float[][] scores, int firstHead, int at, int size) {
        groupScores((s, e) -> Float.float16ToFloat(keys[CacheLayout.halfKeyIndex(slots, s, e)]), q, qOffset, heads, element,
                from, to, scale, scores, firstHead, at, size);
    }

    @Override
    public void groupScores(float[] q, int qOffset, int heads, byte[] keys, short[] scales, int slots, int element,
                            int from, int to, float scale, float[][] scores, int firstHead, int at, int size) {
        groupScores((s, e) -> keys[CacheLayout.keyIndex(slots, s, e)]
                        * Float.float16ToFloat(scales[CacheLayout.keyScaleIndex(slots, s, e / CacheType.Q8_0_BLOCK)]),
                q, qOffset, heads, element, from, to, scale, scores, firstHead, at, size);
    }

    /** Element {@code e} of slot {@code s}'s key as a float, from a layer of one of the cache's types. */
    private interface Key {
        float at(int s, int e);
    }

    /** The scores of every key type: one chain of fused multiply-adds per key, in element order. */
    private static void groupScores(Key key, float[] q, int qOffset, int heads, int element, int from, int to, float scale,
                                    float[][] scores, int firstHead, int at, int size) {
        for (int g = 0; g < heads; g++) {
            for (int s = from; s < to; s++) {
                float sum = 0f;
                for (int d = 0; d < size; d++) {
                    sum = Math.fma(key.at(s, element + d), q[qOffset + g * size + d], sum);
                }
                scores[firstHead + g][at + s - from] = sum * scale;
            }
        }
    }

    @Override
    public void groupWeightedSum(float[][] weights, int firstHead, int heads, byte[] values, short[] scales, int[] rows,
                                 int valueOffset, int count, float[] out, int outOffset, int headStride, int size) {
        for (int g = 0; g < heads; g++) {
            for (int i = 0; i < size; i++) {
                float sum = 0f;
                for (int j = 0; j < count; j++) {
                    sum += weights[firstHead + g][j] * q8_0(values, scales, rows[j] + valueOffset + i);
                }
                out[outOffset + g * headStride + i] = sum;
            }
        }
    }

    @Override
    public void widen(byte[] quants, short[] scales, int from, float[] out, int outOffset, int count) {
        for (int i = 0; i < count; i++) {
            out[outOffset + i] = q8_0(quants, scales, from + i);
        }
    }

    private static float q8_0(byte[] quants, short[] scales, int at) {
        return quants[at] * Float.float16ToFloat(scales[at / CacheType.Q8_0_BLOCK]);
    }

    @Override
    public void siluMul(float[] gate, int gateOffset, float[] up, int upOffset, int size) {
        for (int i = 0; i < size; i++) {
            float g = gate[gateOffset + i];
            gate[gateOffset + i] = g / (1f + (float) Math.exp(-g)) * up[upOffset + i];
        }
    }

    @Override
    public void scoreTile(float[] q, int qOffset, int qStride, int queries, float[] keys, int keysStride,
                          int from, int to, float scale, float[] scores, int scoresStride, int size) {
        for (int i = 0; i < queries; i++) {
            for (int e = from; e < to; e++) {
                float dot = 0f;
                for (int d = 0; d < size; d++) {
                    dot = Math.fma(keys[d * keysStride + e], q[qOffset + i * qStride + d], dot);
                }
                scores[i * scoresStride + e] = dot * scale;
            }
        }
    }
}
