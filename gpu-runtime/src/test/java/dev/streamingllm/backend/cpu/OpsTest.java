package dev.streamingllm.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheType;
import dev.streamingllm.cache.SinkCache;
import java.util.Random;
import java.util.stream.Stream;
import jdk.incubator.vector.IntVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The attention kernels, both paths: scores over keys in a cache's tiles bit for bit against one chain of multiply-adds
 * per key; weighted sums and prefill tiles against double-precision sums, with head widths narrower than a vector, one
 * vector, several and with a tail, and values in scattered rows, as the ring buffer leaves them.
 */
class OpsTest {

    static final int[] HEAD_SIZES = {5, 8, 16, 24, 64, 80, 128};
    static final int[] KEY_COUNTS = {0, 1, 3, 4, 5, 8, 13, 37};

    static Stream<Ops> paths() {
        return Simd.ENABLED ? Stream.of(Ops.scalar(), Ops.vector()) : Stream.of(Ops.scalar());
    }

    /**
     * Keys in a cache layer's tiles, stored by the cache itself in each of its types, score as one chain of fused
     * multiply-adds per key in element order, bit for bit, on both paths: groups of one to seven heads (passes of three
     * and leftovers), every KV head's elements of a layer, runs of slots that start and end anywhere in a tile and
     * cross tiles, written at an offset and nowhere else. A prefill tile over the same keys transposed gets the same
     * bits, and the sums are within float rounding of double-precision ones.
     */
    @ParameterizedTest
    @MethodSource("paths")
    void keysInTilesScoreAsOneChainOfMultiplyAddsPerKey(Ops ops) {
        Random random = new Random(7);
        int slots = 53;
        for (CacheType type : CacheType.values()) {
            for (int size : type == CacheType.Q8_0 ? new int[] {16, 32, 64} : HEAD_SIZES) {
                int kvHeads = type == CacheType.Q8_0 ? 2 : 3;
                int kvDim = kvHeads * size;
                SinkCache cache = new SinkCache(CacheConfig.dense(slots - 1).withType(type), 1, kvDim);
                float[] value = new float[kvDim];
                for (int slot = 0; slot < slots; slot++) {
                    cache.store(0, slot, randoms(random, kvDim), 0, value, 0);
                }
                float[][] keys = widenedKeys(cache, slots);
                for (int heads = 1; heads <= 7; heads++) {
                    float[] q = randoms(random, heads * size + 2);
                    for (int[] run : new int[][] {{0, slots}, {3, 4}, {5, 21}, {16, 32}, {17, 50}, {31, 33}, {9, 9}}) {
                        int from = run[0];
                        int to = run[1];
                        int kvHead = (from + heads) % kvHeads;
                        int element = kvHead * size;
                        float[][] scores = new float[heads + 2][to - from + 4];
                        switch (type) {
                            case F32 -> ops.groupScores(q, 2, heads, cache.keys(0), cache.stride(), element, from, to, 0.125f, scores, 1, 3, size);
                            case F16 -> ops.groupScores(q, 2, heads, cache.halfKeys(0), cache.stride(), element, from, to, 0.125f, scores, 1, 3, size);
                            case Q8_0 -> ops.groupScores(q, 2, heads, cache.quantKeys(0), cache.keyScales(0), cache.stride(), element, from, to,
                                    0.125f, scores, 1, 3, size);
                        }
                        // The same keys transposed, as a prefill tile gathers them.
                        float[] transposed = new float[size * (slots + 16)];
                        for (int d = 0; d < size; d++) {
                            for (int slot = 0; slot < slots; slot++) {
                                transposed[d * (slots + 16) + slot] = keys[slot][element + d];
                            }
                        }
                        float[] tile = new float[heads * slots];
                        ops.scoreTile(q, 2, size, heads, transposed, slots + 16, from, to, 0.125f, tile, slots, size);
                        String at = ops.getClass().getSimpleName() + " " + type + " size " + size + " heads " + heads + " slots [" + from + ", " + to + ")";
                        for (int g = 0; g < heads; g++) {
                            for (int slot = from; slot < to; slot++) {
                                float chain = 0f;
                                double want = 0;
                                for (int d = 0; d < size; d++) {
                                    chain = Math.fma(keys[slot][element + d], q[2 + g * size + d], chain);
                                    want += (double) keys[slot][element + d] * q[2 + g * size + d];
                                }
                                float score = scores[1 + g][3 + slot - from];
                                assertThat(Float.floatToRawIntBits(score)).as("%s head %d slot %d", at, g, slot)
                                        .isEqualTo(Float.floatToRawIntBits(chain * 0.125f));
                                assertThat(Float.floatToRawIntBits(tile[g * slots + slot])).as("%s head %d slot %d in a prefill tile", at, g, slot)
                                        .isEqualTo(Float.floatToRawIntBits(score));
                                assertThat((double) score).as("%s head %d slot %d", at, g, slot)
                                        .isCloseTo(want * 0.125, within(1e-5 * (1 + Math.abs(want))));
                            }
                            float[] row = scores[1 + g];
                            assertThat(java.util.Arrays.copyOfRange(row, 0, 3)).as("%s before the run", at).containsOnly(0f);
                            assertThat(row[3 + to - from]).as("%s after the run", at).isZero();
                        }
                        assertThat(scores[0]).as("%s head before the group", at).containsOnly(0f);
                        assertThat(scores[heads + 1]).as("%s head after the group", at).containsOnly(0f);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("paths")
    void aTileOfQueriesScoresTransposedKeysAndWritesOnlyItsRange(Ops ops) {
        Random random = new Random(11);
        for (int size : HEAD_SIZES) {
            for (int queries : new int[] {1, 3, 4, 9}) {
                for (int count : KEY_COUNTS) {
                    int from = Math.min(2, count);
                    int to = count + 2;
                    int keysStride = to + 16 + 3;
                    int qStride = size + 5;
                    int scoresStride = to + 4;
                    float[] keys = randoms(random, size * keysStride);
                    float[] q = randoms(random, 1 + queries * qStride);
                    float[] scores = new float[queries * scoresStride];
                    java.util.Arrays.fill(scores, -1f);
                    ops.scoreTile(q, 1, qStride, queries, keys, keysStride, from, to, 0.25f, scores, scoresStride, size);
                    for (int i = 0; i < queries; i++) {
                        for (int e = 0; e < scoresStride; e++) {
                            float got = scores[i * scoresStride + e];
                            if (e < from || e >= to) {
                                assertThat(got).as("score %d of query %d outside [%d, %d) is untouched", e, i, from, to).isEqualTo(-1f);
                                continue;
                            }
                            double want = 0;
                            for (int d = 0; d < size; d++) {
                                want += (double) q[1 + i * qStride + d] * keys[d * keysStride + e];
                            }
                            assertThat((double) got).as("%s size %d, %d queries, key %d of query %d", ops.getClass().getSimpleName(), size, queries, e, i)
                                    .isCloseTo(want * 0.25, within(1e-5 * (1 + Math.abs(want))));
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("paths")
    void weightedSumAddsTheValueRowsInOrder(Ops ops) {
        Random random = new Random(11);
        for (int size : HEAD_SIZES) {
            for (int count : KEY_COUNTS) {
                int stride = size + 5;
                float[] values = randoms(random, count * stride + size + 1);
                int[] rows = scatteredRows(random, count, stride);
                float[] weights = randoms(random, count);
                float[] out = new float[size + 4];
                java.util.Arrays.fill(out, 9f);
                ops.weightedSum(weights, values, rows, 1, count, out, 2, size);
                for (int i = 0; i < out.length; i++) {
                    if (i < 2 || i >= 2 + size) {
                        assertThat(out[i]).as("out[%d] outside the head is untouched", i).isEqualTo(9f);
                        continue;
                    }
                    double want = 0;
                    for (int j = 0; j < count; j++) {
                        want += (double) weights[j] * values[rows[j] + 1 + i - 2];
                    }
                    assertThat((double) out[i]).as("%s size %d, %d keys, element %d", ops.getClass().getSimpleName(), size, count, i)
                            .isCloseTo(want, within(1e-5 * (1 + Math.abs(want))));
                }
            }
        }
    }

    /** A tile's probabilities times its value rows, rows in fours and one by one, entries a row does not see at 0. */
    @ParameterizedTest
    @MethodSource("paths")
    void aTileOfProbabilitiesWeighsEveryValueRow(Ops ops) {
        Random random = new Random(19);
        for (int size : HEAD_SIZES) {
            for (int entries : KEY_COUNTS) {
                for (int rows : new int[] {1, 3, 4, 5, 9}) {
                    int pStride = entries + 5;
                    float[] p = randoms(random, rows * pStride);
                    for (int i = 0; i < p.length; i += 3) {
                        p[i] = 0f;
                    }
                    float[] values = randoms(random, entries * size);
                    int outStride = size + 7;
                    float[] out = new float[2 + rows * outStride];
                    ops.weightedSumTile(p, pStride, rows, values, entries, out, 2, outStride, size);
                    for (int r = 0; r < rows; r++) {
                        for (int d = 0; d < size; d++) {
                            double want = 0;
                            for (int e = 0; e < entries; e++) {
                                want += (double) p[r * pStride + e] * values[e * size + d];
                            }
                            assertThat((double) out[2 + r * outStride + d]).as("%s size %d entries %d rows %d: row %d element %d",
                                    ops.getClass().getSimpleName(), size, entries, rows, r, d).isCloseTo(want, within(1e-5 * (1 + Math.abs(want))));
                        }
                        for (int d = size; d < outStride && 2 + r * outStride + d < out.length; d++) {
                            assertThat(out[2 + r * outStride + d]).as("untouched gap").isZero();
                        }
                    }
                }
            }
        }
    }

    /** An F16 cache's weighted sum widens each half exactly: the same sums as over the halves' float values. */
    @ParameterizedTest
    @MethodSource("paths")
    void halfKernelsComputeOverTheHalvesValues(Ops ops) {
        Random random = new Random(13);
        for (int size : HEAD_SIZES) {
            for (int count : KEY_COUNTS) {
                int stride = size + 3;
                short[] halves = halves(random, count * stride + size + 2);
                int[] rows = scatteredRows(random, count, stride);
                float[] weights = randoms(random, count);
                float[] out = new float[size];
                ops.weightedSum(weights, halves, rows, 2, count, out, 0, size);
                for (int i = 0; i < size; i++) {
                    double want = 0;
                    for (int j = 0; j < count; j++) {
                        want += (double) weights[j] * Float.float16ToFloat(halves[rows[j] + 2 + i]);
                    }
                    assertThat((double) out[i]).as("%s sum size %d element %d", ops.getClass().getSimpleName(), size, i)
                            .isCloseTo(want, within(1e-5 * (1 + Math.abs(want))));
                }
            }
        }
    }

    /**
     * The query heads of a group, weighed together, get each head's own outputs bit for bit: groups of one to nine
     * heads (a group of three runs one head twice; more than four take several passes), over halves and floats, values
     * at scattered rows and an offset, whole or in two parts, and only the group's outputs written.
     */
    @ParameterizedTest
    @MethodSource("paths")
    void aGroupOfHeadsGetsEachHeadsOwnOutputs(Ops ops) {
        Random random = new Random(23);
        for (int size : HEAD_SIZES) {
            for (int heads = 1; heads <= 9; heads++) {
                int keys = 7;
                int stride = size + 3;
                short[] halves = halves(random, keys * stride + size + 2);
                float[] floats = randoms(random, keys * stride + size + 2);
                int[] rows = scatteredRows(random, keys, stride);
                float[][] weights = new float[heads + 2][];
                for (int g = 0; g < weights.length; g++) {
                    weights[g] = randoms(random, keys);
                }
                int stride2 = size + 2;
                int half = size % 32 == 0 ? size / 2 : size;
                float[] out = new float[1 + heads * stride2];
                float[] outFloats = new float[1 + heads * stride2];
                for (int from = 0; from < size; from += half) {
                    ops.groupWeightedSum(weights, 1, heads, halves, rows, 2 + from, keys, out, 1 + from, stride2, half);
                    ops.groupWeightedSum(weights, 1, heads, floats, rows, 2 + from, keys, outFloats, 1 + from, stride2, half);
                }
                for (int g = 0; g < heads; g++) {
                    float[] alone = new float[size];
                    float[] aloneFloats = new float[size];
                    ops.weightedSum(weights[1 + g], halves, rows, 2, keys, alone, 0, size);
                    ops.weightedSum(weights[1 + g], floats, rows, 2, keys, aloneFloats, 0, size);
                    String head = ops.getClass().getSimpleName() + " size " + size + " head " + g + " of " + heads;
                    assertThat(java.util.Arrays.copyOfRange(out, 1 + g * stride2, 1 + g * stride2 + size)).as("%s output", head)
                            .containsExactly(alone);
                    assertThat(java.util.Arrays.copyOfRange(outFloats, 1 + g * stride2, 1 + g * stride2 + size))
                            .as("%s float output", head).containsExactly(aloneFloats);
                    assertThat(java.util.Arrays.copyOfRange(out, 1 + g * stride2 + size, 1 + (g + 1) * stride2))
                            .as("%s after the output", head).containsOnly(0f);
                }
                assertThat(out[0]).as("the output before the group").isZero();
            }
        }
    }

    /** Rows of halves widen to their exact float values, from any offset, with tails shorter than a vector. */
    @ParameterizedTest
    @MethodSource("paths")
    void halvesWidenToTheirExactFloats(Ops ops) {
        Random random = new Random(17);
        short[] halves = halves(random, 200);
        for (int count : new int[] {0, 1, 7, 8, 16, 23, 64, 131}) {
            float[] out = new float[count + 3];
            ops.widen(halves, 5, out, 3, count);
            for (int i = 0; i < count; i++) {
                assertThat(out[3 + i]).as("%s element %d of %d", ops.getClass().getSimpleName(), i, count)
                        .isEqualTo(Float.float16ToFloat(halves[5 + i]));
            }
            assertThat(out[0]).isZero();
        }
    }

    /** The cache's vector conversion, two halves to an int lane, gives every finite half's exact float value. */
    @Test
    void everyFiniteHalfConvertsExactlyFromEitherHalfOfALane() {
        assumeTrue(Simd.ENABLED, "the Vector API kernels are off on this JVM");
        int lanes = VectorKernels.L;
        int[] pairs = new int[lanes];
        float[] even = new float[lanes];
        float[] odd = new float[lanes];
        for (int first = 0; first < 0x10000; first += lanes) {
            for (int lane = 0; lane < lanes; lane++) {
                // element 2i in the low bits, 2i + 1 in the high bits; the high one runs through the halves backwards
                pairs[lane] = (first + lane) | (0xFFFF - first - lane) << 16;
            }
            IntVector v = IntVector.fromArray(VectorKernels.I, pairs, 0);
            VectorKernels.evenHalves(v).intoArray(even, 0);
            VectorKernels.oddHalves(v).intoArray(odd, 0);
            for (int lane = 0; lane < lanes; lane++) {
                short low = (short) (first + lane);
                short high = (short) (0xFFFF - first - lane);
                if (Float.isFinite(Float.float16ToFloat(low))) {
                    assertThat(even[lane]).as("half %04x", low & 0xFFFF).isEqualTo(Float.float16ToFloat(low));
                }
                if (Float.isFinite(Float.float16ToFloat(high))) {
                    assertThat(odd[lane]).as("half %04x", high & 0xFFFF).isEqualTo(Float.float16ToFloat(high));
                }
            }
        }
    }

    /**
     * A Q8_0 cache's weighted sum: each element is its quant times its block's scale, in groups of one to six heads,
     * values at scattered block-aligned rows, at offsets on a block, inside one, and off the lanes (where the vector
     * path falls back), and only the heads' outputs written.
     */
    @ParameterizedTest
    @MethodSource("paths")
    void q8_0ValuesWeighAsTheirBlocksValues(Ops ops) {
        Random random = new Random(29);
        for (int size : new int[] {8, 16, 24, 32, 48, 64, 96}) {
            for (int offset : new int[] {0, 8, 16, 32, 3}) {
                for (int heads = 1; heads <= 6; heads++) {
                    int keys = 15;
                    int stride = (offset + size + 31) / 32 * 32 + 32;
                    byte[] quants = new byte[keys * stride];
                    random.nextBytes(quants);
                    short[] scales = new short[quants.length / 32];
                    for (int b = 0; b < scales.length; b++) {
                        scales[b] = Float.floatToFloat16((random.nextFloat() + 0.01f) / 64);
                    }
                    int[] rows = scatteredRows(random, keys, stride);
                    float[][] weights = new float[heads + 1][];
                    for (int g = 0; g < weights.length; g++) {
                        weights[g] = randoms(random, keys);
                    }
                    int headStride = size + 2;
                    float[] out = new float[1 + heads * headStride];
                    ops.groupWeightedSum(weights, 1, heads, quants, scales, rows, offset, keys, out, 1, headStride, size);
                    String at = ops.getClass().getSimpleName() + " size " + size + " offset " + offset + " heads " + heads;
                    for (int g = 0; g < heads; g++) {
                        for (int i = 0; i < size; i++) {
                            double want = 0;
                            for (int j = 0; j < keys; j++) {
                                want += (double) weights[1 + g][j] * q8_0(quants, scales, rows[j] + offset + i);
                            }
                            assertThat((double) out[1 + g * headStride + i]).as("%s head %d output %d", at, g, i)
                                    .isCloseTo(want, within(1e-5 * (1 + Math.abs(want))));
                        }
                        assertThat(out[1 + g * headStride + size]).as("%s after head %d's output", at, g).isZero();
                    }
                    assertThat(out[0]).as("%s before the group's output", at).isZero();
                }
            }
        }
    }

    /** Rows of Q8_0 blocks widen to their exact values, from a block's start, inside one and off the lanes. */
    @ParameterizedTest
    @MethodSource("paths")
    void q8_0BlocksWidenToTheirExactValues(Ops ops) {
        Random random = new Random(31);
        byte[] quants = new byte[256];
        random.nextBytes(quants);
        short[] scales = new short[quants.length / 32];
        for (int b = 0; b < scales.length; b++) {
            scales[b] = Float.floatToFloat16(random.nextFloat() - 0.5f);
        }
        for (int from : new int[] {0, 16, 32, 5}) {
            for (int count : new int[] {0, 1, 8, 16, 23, 64, 131}) {
                float[] out = new float[count + 3];
                ops.widen(quants, scales, from, out, 3, count);
                for (int i = 0; i < count; i++) {
                    assertThat(out[3 + i]).as("%s element %d of %d from %d", ops.getClass().getSimpleName(), i, count, from)
                            .isEqualTo(q8_0(quants, scales, from + i));
                }
                assertThat(out[0]).isZero();
            }
        }
    }

    private static float q8_0(byte[] quants, short[] scales, int at) {
        return quants[at] * Float.float16ToFloat(scales[at / 32]);
    }

    /**
     * The vector exponential against {@code Math.exp}: within 2 ulp over the normal results, within a few of the
     * smallest subnormal below them, 0 far below, infinity past the largest float, NaN for NaN.
     */
    @Test
    void theVectorExponentialIsWithinTwoUlp() {
        assumeTrue(Simd.ENABLED, "the Vector API kernels are off on this JVM");
        int lanes = VectorKernels.L;
        int n = 400_000;
        float[] x = new float[n + 8 * lanes];
        for (int i = 0; i < n; i++) {
            x[i] = -110f + 200f * i / n;
        }
        float[] special = {0f, -0f, 1f, -1f, 88.72283f, 88.7229f, 89f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
            -87.33654f, -103.9f, -104.5f, 1e-8f, Float.MAX_VALUE, -Float.MAX_VALUE};
        System.arraycopy(special, 0, x, n, special.length);
        float[] e = new float[x.length];
        for (int i = 0; i + lanes <= x.length; i += lanes) {
            VectorKernels.exp(jdk.incubator.vector.FloatVector.fromArray(VectorKernels.F, x, i)).intoArray(e, i);
        }
        for (int i = 0; i < n + special.length; i++) {
            float want = (float) Math.exp(x[i]);
            if (Float.isNaN(want)) {
                assertThat(e[i]).as("e^%s", x[i]).isNaN();
            } else if (Float.isInfinite(want)) {
                assertThat(e[i]).as("e^%s", x[i]).isEqualTo(want);
            } else if (want >= Float.MIN_NORMAL) {
                assertThat(Math.abs(e[i] - want)).as("e^%s = %s, not %s", x[i], want, e[i]).isLessThanOrEqualTo(2 * Math.ulp(want));
            } else {
                assertThat(Math.abs(e[i] - want)).as("e^%s = %s, not %s", x[i], want, e[i]).isLessThanOrEqualTo(4 * Float.MIN_VALUE);
            }
        }
    }

    /**
     * Softmax and SwiGLU give the same bits on their ten-thousandth call as on their first, whatever the JIT compiled
     * in between: the library exponential the vector path used to call changed its last bit once compiled.
     */
    @ParameterizedTest
    @MethodSource("paths")
    void softmaxAndSwigluGiveTheSameBitsBeforeAndAfterCompilation(Ops ops) {
        Random random = new Random(37);
        float[] input = new float[1024];
        for (int i = 0; i < input.length; i++) {
            input[i] = (random.nextFloat() - 0.5f) * 40;
        }
        float[] up = randoms(random, input.length);
        float[] firstSoftmax = null;
        float[] firstSwiglu = null;
        for (int call = 0; call < 10_000; call++) {
            float[] p = input.clone();
            ops.softmax(p, 0, p.length);
            float[] g = input.clone();
            ops.siluMul(g, 0, up, 0, g.length);
            if (call == 0) {
                firstSoftmax = p;
                firstSwiglu = g;
            } else if (!java.util.Arrays.equals(p, firstSoftmax) || !java.util.Arrays.equals(g, firstSwiglu)) {
                assertThat(p).as("%s softmax on call %d", ops.getClass().getSimpleName(), call).containsExactly(firstSoftmax);
                assertThat(g).as("%s SwiGLU on call %d", ops.getClass().getSimpleName(), call).containsExactly(firstSwiglu);
            }
        }
    }

    /** Every slot's key as the cache holds it, widened. */
    private static float[][] widenedKeys(SinkCache cache, int slots) {
        float[][] keys = new float[slots][cache.kvDim()];
        for (int slot = 0; slot < slots; slot++) {
            for (int i = 0; i < cache.kvDim(); i++) {
                keys[slot][i] = cache.key(0, slot, i);
            }
        }
        return keys;
    }

    /** Halves of both signs, some of them subnormal (below 2^-14), which the vector widening must normalize. */
    private static short[] halves(Random random, int n) {
        short[] out = new short[n];
        for (int i = 0; i < n; i++) {
            float v = (random.nextFloat() * 2 - 1) * (i % 7 == 0 ? 1e-5f : 1f);
            out[i] = Float.floatToFloat16(v);
        }
        return out;
    }

    /** Row starts {@code 0, stride, 2 * stride ..} in shuffled order, as ring slots after wrapping. */
    private static int[] scatteredRows(Random random, int count, int stride) {
        int[] rows = new int[count];
        for (int j = 0; j < count; j++) {
            rows[j] = j * stride;
        }
        for (int j = count - 1; j > 0; j--) {
            int k = random.nextInt(j + 1);
            int t = rows[j];
            rows[j] = rows[k];
            rows[k] = t;
        }
        return rows;
    }

    private static float[] randoms(Random random, int n) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }
}
