package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.L;
import static dev.streamingllm.backend.cpu.VectorKernels.sum;

import dev.streamingllm.cache.CacheType;
import dev.streamingllm.cache.CacheLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** {@link Ops} with the Vector API; tails shorter than a vector run in plain Java. */
final class VectorOps extends Ops {

    /** For heads narrower than a vector, and the tail of a row. */
    private static final Ops SCALAR = Ops.scalar();
    /** As many halves as a float vector has bytes / 2: two to each of its lanes. */
    private static final VectorSpecies<Short> PAIRS = VectorSpecies.of(short.class, F.vectorShape());

    @Override
    public void rmsnorm(float[] out, int outOffset, float[] x, int xOffset, float[] weight, float eps, int size) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i + L <= size; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, xOffset + i);
            acc = v.fma(v, acc);
        }
        float ss = sum(acc);
        for (; i < size; i++) {
            ss += x[xOffset + i] * x[xOffset + i];
        }
        float inv = (float) (1.0 / Math.sqrt(ss / size + eps));
        i = 0;
        for (; i + L <= size; i += L) {
            FloatVector.fromArray(F, x, xOffset + i).mul(inv).mul(FloatVector.fromArray(F, weight, i)).intoArray(out, outOffset + i);
        }
        for (; i < size; i++) {
            out[outOffset + i] = weight[i] * (x[xOffset + i] * inv);
        }
    }

    @Override
    public void softmax(float[] x, int offset, int size) {
        FloatVector maxes = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i + L <= size; i += L) {
            maxes = maxes.max(FloatVector.fromArray(F, x, offset + i));
        }
        float max = maxes.reduceLanes(VectorOperators.MAX);
        for (; i < size; i++) {
            max = Math.max(max, x[offset + i]);
        }
        FloatVector sums = FloatVector.zero(F);
        i = 0;
        for (; i + L <= size; i += L) {
            FloatVector e = VectorKernels.exp(FloatVector.fromArray(F, x, offset + i).sub(max));
            e.intoArray(x, offset + i);
            sums = sums.add(e);
        }
        float sum = sum(sums);
        for (; i < size; i++) {
            x[offset + i] = (float) Math.exp(x[offset + i] - max);
            sum += x[offset + i];
        }
        float inv = 1f / sum;
        i = 0;
        for (; i + L <= size; i += L) {
            FloatVector.fromArray(F, x, offset + i).mul(inv).intoArray(x, offset + i);
        }
        for (; i < size; i++) {
            x[offset + i] *= inv;
        }
    }

    @Override
    public void axpy(float a, float[] x, int xOffset, float[] y, int yOffset, int size) {
        int i = 0;
        for (; i + L <= size; i += L) {
            FloatVector.fromArray(F, x, xOffset + i).fma(FloatVector.broadcast(F, a), FloatVector.fromArray(F, y, yOffset + i)).intoArray(y, yOffset + i);
        }
        for (; i < size; i++) {
            y[yOffset + i] += a * x[xOffset + i];
        }
    }

    /**
     * Keys in tiles ({@link CacheLayout}) are scored {@code L} slots per vector, a slot to a lane: each element's
     * multiply-add adds one product to every lane's sum, so no lanes are summed across a vector and each score is its
     * own chain of fused multiply-adds in element order, the scalar kernel's. Three heads of a group share each load
     * and conversion of the keys; heads left over go one at a time. A vector's slots outside {@code [from, to)} are
     * computed and not stored. Each pass is a method of its own, for each key type: with both passes in one method,
     * C2 compiled the halves' kernel to code that took 2.5 times as long.
     */
    @Override
    public void groupScores(float[] q, int qOffset, int heads, float[] keys, int slots, int element, int from, int to,
                            float scale, float[][] scores, int firstHead, int at, int size) {
        float[] edge = new float[L];
        int g = 0;
        for (; g + 3 <= heads; g += 3) {
            threeHeads(q, qOffset + g * size, size, keys, slots, element, from, to, scale,
                    scores[firstHead + g], scores[firstHead + g + 1], scores[firstHead + g + 2], at, edge);
        }
        for (; g < heads; g++) {
            oneHead(q, qOffset + g * size, size, keys, slots, element, from, to, scale, scores[firstHead + g], at, edge);
        }
    }

    /** Where in its chunk's run the keys' element {@code element + d} ends for {@code d} up to {@code size}. */
    private static int chunkEnd(int element, int d, int size) {
        return Math.min(size, d + CacheLayout.CHUNK - (element + d) % CacheLayout.CHUNK);
    }

    private static void threeHeads(float[] q, int q0, int size, float[] keys, int slots, int element, int from, int to,
                                   float scale, float[] s0, float[] s1, float[] s2, int at, float[] edge) {
        int q1 = q0 + size;
        int q2 = q1 + size;
        for (int slot = from - from % L; slot < to; slot += L) {
            FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0;
            for (int d = 0; d < size; ) {
                int end = chunkEnd(element, d, size);
                int base = CacheLayout.keyIndex(slots, slot, element + d) - d * CacheLayout.TILE;
                for (; d < end; d++) {
                    FloatVector key = FloatVector.fromArray(F, keys, base + d * CacheLayout.TILE);
                    acc0 = key.fma(FloatVector.broadcast(F, q[q0 + d]), acc0);
                    acc1 = key.fma(FloatVector.broadcast(F, q[q1 + d]), acc1);
                    acc2 = key.fma(FloatVector.broadcast(F, q[q2 + d]), acc2);
                }
            }
            store(acc0.mul(scale), s0, slot, from, to, at, edge);
            store(acc1.mul(scale), s1, slot, from, to, at, edge);
            store(acc2.mul(scale), s2, slot, from, to, at, edge);
        }
    }

    private static void oneHead(float[] q, int q0, int size, float[] keys, int slots, int element, int from, int to,
                                float scale, float[] s0, int at, float[] edge) {
        for (int slot = from - from % L; slot < to; slot += L) {
            FloatVector acc = FloatVector.zero(F);
            for (int d = 0; d < size; ) {
                int end = chunkEnd(element, d, size);
                int base = CacheLayout.keyIndex(slots, slot, element + d) - d * CacheLayout.TILE;
                for (; d < end; d++) {
                    acc = FloatVector.fromArray(F, keys, base + d * CacheLayout.TILE).fma(FloatVector.broadcast(F, q[q0 + d]), acc);
                }
            }
            store(acc.mul(scale), s0, slot, from, to, at, edge);
        }
    }

    /**
     * Halves in tiles hold a pair of elements per int lane ({@link CacheLayout#halfKeyIndex}), converted in place as
     * {@link #pairs} are: one load gives elements {@code d} and {@code d + 1} of {@code L} keys.
     */
    @Override
    public void groupScores(float[] q, int qOffset, int heads, short[] keys, int slots, int element, int from, int to,
                            float scale, float[][] scores, int firstHead, int at, int size) {
        if (size % 2 != 0 || element % 2 != 0) {
            SCALAR.groupScores(q, qOffset, heads, keys, slots, element, from, to, scale, scores, firstHead, at, size);
            return;
        }
        float[] edge = new float[L];
        int g = 0;
        for (; g + 3 <= heads; g += 3) {
            threeHeads(q, qOffset + g * size, size, keys, slots, element, from, to, scale,
                    scores[firstHead + g], scores[firstHead + g + 1], scores[firstHead + g + 2], at, edge);
        }
        for (; g < heads; g++) {
            oneHead(q, qOffset + g * size, size, keys, slots, element, from, to, scale, scores[firstHead + g], at, edge);
        }
    }

    private static void threeHeads(float[] q, int q0, int size, short[] keys, int slots, int element, int from, int to,
                                   float scale, float[] s0, float[] s1, float[] s2, int at, float[] edge) {
        int q1 = q0 + size;
        int q2 = q1 + size;
        for (int slot = from - from % L; slot < to; slot += L) {
            FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0;
            for (int d = 0; d < size; ) {
                int end = chunkEnd(element, d, size);
                int base = CacheLayout.halfKeyIndex(slots, slot, element + d) - d * CacheLayout.TILE;
                for (; d < end; d += 2) {
                    IntVector pairs = pairs(keys, base + d * CacheLayout.TILE);
                    FloatVector even = VectorKernels.evenHalves(pairs);
                    FloatVector odd = VectorKernels.oddHalves(pairs);
                    acc0 = odd.fma(FloatVector.broadcast(F, q[q0 + d + 1]), even.fma(FloatVector.broadcast(F, q[q0 + d]), acc0));
                    acc1 = odd.fma(FloatVector.broadcast(F, q[q1 + d + 1]), even.fma(FloatVector.broadcast(F, q[q1 + d]), acc1));
                    acc2 = odd.fma(FloatVector.broadcast(F, q[q2 + d + 1]), even.fma(FloatVector.broadcast(F, q[q2 + d]), acc2));
                }
            }
            store(acc0.mul(scale), s0, slot, from, to, at, edge);
            store(acc1.mul(scale), s1, slot, from, to, at, edge);
            store(acc2.mul(scale), s2, slot, from, to, at, edge);
        }
    }

    private static void oneHead(float[] q, int q0, int size, short[] keys, int slots, int element, int from, int to,
                                float scale, float[] s0, int at, float[] edge) {
        for (int slot = from - from % L; slot < to; slot += L) {
            FloatVector acc = FloatVector.zero(F);
            for (int d = 0; d < size; ) {
                int end = chunkEnd(element, d, size);
                int base = CacheLayout.halfKeyIndex(slots, slot, element + d) - d * CacheLayout.TILE;
                for (; d < end; d += 2) {
                    IntVector pairs = pairs(keys, base + d * CacheLayout.TILE);
                    acc = VectorKernels.oddHalves(pairs).fma(FloatVector.broadcast(F, q[q0 + d + 1]),
                            VectorKernels.evenHalves(pairs).fma(FloatVector.broadcast(F, q[q0 + d]), acc));
                }
            }
            store(acc.mul(scale), s0, slot, from, to, at, edge);
        }
    }

    /** Quants widen from bytes and take their block's scale, a vector of {@code L} keys' halves, once for the pass's heads. */
    @Override
    public void groupScores(float[] q, int qOffset, int heads, byte[] keys, short[] scales, int slots, int element,
                            int from, int to, float scale, float[][] scores, int firstHead, int at, int size) {
        float[] edge = new float[L];
        int g = 0;
        for (; g + 3 <= heads; g += 3) {
            threeHeads(q, qOffset + g * size, size, keys, scales, slots, element, from, to, scale,
                    scores[firstHead + g], scores[firstHead + g + 1], scores[firstHead + g + 2], at, edge);
        }
        for (; g < heads; g++) {
            oneHead(q, qOffset + g * size, size, keys, scales, slots, element, from, to, scale, scores[firstHead + g], at, edge);
        }
    }

    private static void threeHeads(float[] q, int q0, int size, byte[] keys, short[] scales, int slots, int element, int from,
                                   int to, float scale, float[] s0, float[] s1, float[] s2, int at, float[] edge) {
        int q1 = q0 + size;
        int q2 = q1 + size;
        for (int slot = from - from % L; slot < to; slot += L) {
            FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0;
            for (int d = 0; d < size; ) {
                int end = chunkEnd(element, d, size);
                int base = CacheLayout.keyIndex(slots, slot, element + d) - d * CacheLayout.TILE;
                FloatVector blockScale = scales(scales, CacheLayout.keyScaleIndex(slots, slot, (element + d) / CacheType.Q8_0_BLOCK));
                for (; d < end; d++) {
                    FloatVector key = quants(keys, base + d * CacheLayout.TILE).mul(blockScale);
                    acc0 = key.fma(FloatVector.broadcast(F, q[q0 + d]), acc0);
                    acc1 = key.fma(FloatVector.broadcast(F, q[q1 + d]), acc1);
                    acc2 = key.fma(FloatVector.broadcast(F, q[q2 + d]), acc2);
                }
            }
            store(acc0.mul(scale), s0, slot, from, to, at, edge);
            store(acc1.mul(scale), s1, slot, from, to, at, edge);
            store(acc2.mul(scale), s2, slot, from, to, at, edge);
        }
    }

    private static void oneHead(float[] q, int q0, int size, byte[] keys, short[] scales, int slots, int element, int from,
                                int to, float scale, float[] s0, int at, float[] edge) {
        for (int slot = from - from % L; slot < to; slot += L) {
            FloatVector acc = FloatVector.zero(F);
            for (int d = 0; d < size; ) {
                int end = chunkEnd(element, d, size);
                int base = CacheLayout.keyIndex(slots, slot, element + d) - d * CacheLayout.TILE;
                FloatVector blockScale = scales(scales, CacheLayout.keyScaleIndex(slots, slot, (element + d) / CacheType.Q8_0_BLOCK));
                for (; d < end; d++) {
                    acc = quants(keys, base + d * CacheLayout.TILE).mul(blockScale).fma(FloatVector.broadcast(F, q[q0 + d]), acc);
                }
            }
            store(acc.mul(scale), s0, slot, from, to, at, edge);
        }
    }

    /**
     * The scores of the {@code L} slots from {@code slot} into {@code scores} from {@code at + slot - from}, those of
     * slots outside {@code [from, to)} left out. Unmasked where the vector lies inside: a masked store in these
     * kernels kept C2 from resolving the Vector API's calls, and the kernel ran 30 to 90 times slower. A vector at an
     * edge goes through {@code edge}, a scratch of {@code L} floats: reading its lanes one by one ({@code lane(i)}
     * with a variable {@code i}) has no intrinsic, and allocated the vector for every lane.
     */
    private static void store(FloatVector scores, float[] out, int slot, int from, int to, int at, float[] edge) {
        if (slot >= from && slot + L <= to) {
            scores.intoArray(out, at + slot - from);
            return;
        }
        scores.intoArray(edge, 0);
        for (int lane = Math.max(0, from - slot); lane < Math.min(L, to - slot); lane++) {
            out[at + slot - from + lane] = edge[lane];
        }
    }

    /** {@code L} quant bytes from {@code at} as floats. */
    private static FloatVector quants(byte[] quants, int at) {
        return (FloatVector) ByteVector.fromArray(VectorKernels.B, quants, at).convertShape(VectorOperators.B2F, F, 0);
    }

    /** {@code L} half scales from {@code at} as floats. */
    private static FloatVector scales(short[] scales, int at) {
        return VectorKernels.halves(ShortVector.fromArray(VectorKernels.H, scales, at));
    }

    /** Up to four vectors of the output at a time stay in registers across every key. */
    @Override
    public void weightedSum(float[] weights, float[] values, int[] rows, int valueOffset, int count,
                            float[] out, int outOffset, int size) {
        int i = 0;
        for (; i + 4 * L <= size; i += 4 * L) {
            FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
            for (int j = 0; j < count; j++) {
                FloatVector w = FloatVector.broadcast(F, weights[j]);
                int v = rows[j] + valueOffset + i;
                acc0 = FloatVector.fromArray(F, values, v).fma(w, acc0);
                acc1 = FloatVector.fromArray(F, values, v + L).fma(w, acc1);
                acc2 = FloatVector.fromArray(F, values, v + 2 * L).fma(w, acc2);
                acc3 = FloatVector.fromArray(F, values, v + 3 * L).fma(w, acc3);
            }
            acc0.intoArray(out, outOffset + i);
            acc1.intoArray(out, outOffset + i + L);
            acc2.intoArray(out, outOffset + i + 2 * L);
            acc3.intoArray(out, outOffset + i + 3 * L);
        }
        for (; i + L <= size; i += L) {
            FloatVector acc = FloatVector.zero(F);
            for (int j = 0; j < count; j++) {
                acc = FloatVector.fromArray(F, values, rows[j] + valueOffset + i).fma(FloatVector.broadcast(F, weights[j]), acc);
            }
            acc.intoArray(out, outOffset + i);
        }
        if (i < size) {
            SCALAR.weightedSum(weights, values, rows, valueOffset + i, count, out, outOffset + i, size - i);
        }
    }

    /**
     * {@code 2 L} elements from {@code valueOffset} of three heads' weighted sums, split as {@link #split} splits (head
     * {@code g}'s at {@code split[g * size + i]}): a group of three without the fourth head's duplicate multiply-adds.
     */
    private static void threeHeadValues(float[] w0, float[] w1, float[] w2, short[] values, int[] rows, int valueOffset, int count,
                                        float[] split, int i, int size) {
        FloatVector even0 = FloatVector.zero(F), odd0 = even0, even1 = even0, odd1 = even0, even2 = even0, odd2 = even0;
        for (int j = 0; j < count; j++) {
            IntVector pairs = pairs(values, rows[j] + valueOffset);
            FloatVector even = VectorKernels.evenHalves(pairs);
            FloatVector odd = VectorKernels.oddHalves(pairs);
            FloatVector w = FloatVector.broadcast(F, w0[j]);
            even0 = even.fma(w, even0);
            odd0 = odd.fma(w, odd0);
            w = FloatVector.broadcast(F, w1[j]);
            even1 = even.fma(w, even1);
            odd1 = odd.fma(w, odd1);
            w = FloatVector.broadcast(F, w2[j]);
            even2 = even.fma(w, even2);
            odd2 = odd.fma(w, odd2);
        }
        even0.intoArray(split, i);
        odd0.intoArray(split, i + L);
        even1.intoArray(split, size + i);
        odd1.intoArray(split, size + i + L);
        even2.intoArray(split, 2 * size + i);
        odd2.intoArray(split, 2 * size + i + L);
    }

    /**
     * Up to four heads of a group per pass over the values, each value read and widened once for the four, as
     * {@link #groupScores(float[], int, int, short[], int[], int, int, int, float, float[][], int, int)} reads keys.
     */
    @Override
    public void groupWeightedSum(float[][] weights, int firstHead, int heads, short[] values, int[] rows, int valueOffset,
                                 int count, float[] out, int outOffset, int headStride, int size) {
        if (heads == 1 || size % (2 * L) != 0) {
            super.groupWeightedSum(weights, firstHead, heads, values, rows, valueOffset, count, out, outOffset, headStride, size);
            return;
        }
        float[] split = new float[4 * size];
        for (int h = 0; h < heads; h += 4) {
            int last = Math.min(heads, h + 4) - 1;
            float[] w0 = weights[firstHead + h];
            float[] w1 = weights[firstHead + Math.min(h + 1, last)];
            float[] w2 = weights[firstHead + Math.min(h + 2, last)];
            float[] w3 = weights[firstHead + last];
            if (last - h == 2) {
                for (int i = 0; i < size; i += 2 * L) {
                    threeHeadValues(w0, w1, w2, values, rows, valueOffset + i, count, split, i, size);
                }
            } else {
                for (int i = 0; i < size; i += 2 * L) {
                    FloatVector even0 = FloatVector.zero(F), odd0 = even0, even1 = even0, odd1 = even0;
                    FloatVector even2 = even0, odd2 = even0, even3 = even0, odd3 = even0;
                    for (int j = 0; j < count; j++) {
                        IntVector pairs = pairs(values, rows[j] + valueOffset + i);
                        FloatVector even = VectorKernels.evenHalves(pairs);
                        FloatVector odd = VectorKernels.oddHalves(pairs);
                        FloatVector w = FloatVector.broadcast(F, w0[j]);
                        even0 = even.fma(w, even0);
                        odd0 = odd.fma(w, odd0);
                        w = FloatVector.broadcast(F, w1[j]);
                        even1 = even.fma(w, even1);
                        odd1 = odd.fma(w, odd1);
                        w = FloatVector.broadcast(F, w2[j]);
                        even2 = even.fma(w, even2);
                        odd2 = odd.fma(w, odd2);
                        w = FloatVector.broadcast(F, w3[j]);
                        even3 = even.fma(w, even3);
                        odd3 = odd.fma(w, odd3);
                    }
                    even0.intoArray(split, i);
                    odd0.intoArray(split, i + L);
                    even1.intoArray(split, size + i);
                    odd1.intoArray(split, size + i + L);
                    even2.intoArray(split, 2 * size + i);
                    odd2.intoArray(split, 2 * size + i + L);
                    even3.intoArray(split, 3 * size + i);
                    odd3.intoArray(split, 3 * size + i + L);
                }
            }
            for (int g = 0; h + g <= last; g++) {
                join(split, g * size, out, outOffset + (h + g) * headStride, size);
            }
        }
    }

    /**
     * As {@link #scores(float[], int, short[], int[], int, int, int, float, float[], int)} reads keys: even and
     * odd elements accumulate apart, {@code 2 L} elements of the output per pass over the values, and are put
     * back in order at the end. (Four accumulators per pass instead of two ran half as fast.)
     */
    @Override
    public void weightedSum(float[] weights, short[] values, int[] rows, int valueOffset, int count,
                            float[] out, int outOffset, int size) {
        if (size % (2 * L) != 0) {
            SCALAR.weightedSum(weights, values, rows, valueOffset, count, out, outOffset, size);
            return;
        }
        float[] split = new float[size];
        for (int i = 0; i < size; i += 2 * L) {
            FloatVector even = FloatVector.zero(F), odd = even;
            for (int j = 0; j < count; j++) {
                FloatVector w = FloatVector.broadcast(F, weights[j]);
                IntVector pairs = pairs(values, rows[j] + valueOffset + i);
                even = VectorKernels.evenHalves(pairs).fma(w, even);
                odd = VectorKernels.oddHalves(pairs).fma(w, odd);
            }
            even.intoArray(split, i);
            odd.intoArray(split, i + L);
        }
        join(split, 0, out, outOffset, size);
    }

    /**
     * Four rows by two vectors of the output per pass over the entries: eight accumulators, two value loads and four
     * broadcasts per entry, within AVX2's sixteen registers. Other rows and elements go one row at a time.
     */
    @Override
    public void weightedSumTile(float[] p, int pStride, int rows, float[] values, int entries, float[] out,
                                int outOffset, int outStride, int size) {
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            int p0 = r * pStride, p1 = p0 + pStride, p2 = p1 + pStride, p3 = p2 + pStride;
            int d = 0;
            for (; d + 2 * L <= size; d += 2 * L) {
                FloatVector a00 = FloatVector.zero(F), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
                for (int e = 0; e < entries; e++) {
                    FloatVector v0 = FloatVector.fromArray(F, values, e * size + d);
                    FloatVector v1 = FloatVector.fromArray(F, values, e * size + d + L);
                    FloatVector w = FloatVector.broadcast(F, p[p0 + e]);
                    a00 = v0.fma(w, a00);
                    a01 = v1.fma(w, a01);
                    w = FloatVector.broadcast(F, p[p1 + e]);
                    a10 = v0.fma(w, a10);
                    a11 = v1.fma(w, a11);
                    w = FloatVector.broadcast(F, p[p2 + e]);
                    a20 = v0.fma(w, a20);
                    a21 = v1.fma(w, a21);
                    w = FloatVector.broadcast(F, p[p3 + e]);
                    a30 = v0.fma(w, a30);
                    a31 = v1.fma(w, a31);
                }
                int o = outOffset + r * outStride + d;
                a00.intoArray(out, o);
                a01.intoArray(out, o + L);
                a10.intoArray(out, o + outStride);
                a11.intoArray(out, o + outStride + L);
                a20.intoArray(out, o + 2 * outStride);
                a21.intoArray(out, o + 2 * outStride + L);
                a30.intoArray(out, o + 3 * outStride);
                a31.intoArray(out, o + 3 * outStride + L);
            }
            for (int i = 0; i < 4 && d < size; i++) {
                weightedSumRow(p, p0 + i * pStride, values, entries, out, outOffset + (r + i) * outStride, d, size);
            }
        }
        for (; r < rows; r++) {
            weightedSumRow(p, r * pStride, values, entries, out, outOffset + r * outStride, 0, size);
        }
    }

    /** Elements {@code [from, size)} of one row of {@link #weightedSumTile}, a vector at a time, then one by one. */
    private static void weightedSumRow(float[] p, int pRow, float[] values, int entries, float[] out, int outRow, int from, int size) {
        int d = from;
        for (; d + L <= size; d += L) {
            FloatVector acc = FloatVector.zero(F);
            for (int e = 0; e < entries; e++) {
                acc = FloatVector.fromArray(F, values, e * size + d).fma(FloatVector.broadcast(F, p[pRow + e]), acc);
            }
            acc.intoArray(out, outRow + d);
        }
        for (; d < size; d++) {
            float sum = 0f;
            for (int e = 0; e < entries; e++) {
                sum += p[pRow + e] * values[e * size + d];
            }
            out[outRow + d] = sum;
        }
    }

    /**
     * Up to four heads of a group per pass over the values, each value widened and scaled once for the four; one head
     * alone takes two vectors of its elements per pass instead, so that no pass computes a head twice.
     */
    @Override
    public void groupWeightedSum(float[][] weights, int firstHead, int heads, byte[] values, short[] scales, int[] rows,
                                 int valueOffset, int count, float[] out, int outOffset, int headStride, int size) {
        if (size % L != 0 || valueOffset % L != 0) {
            SCALAR.groupWeightedSum(weights, firstHead, heads, values, scales, rows, valueOffset, count, out, outOffset, headStride, size);
            return;
        }
        if (heads == 1) {
            float[] w = weights[firstHead];
            int i = 0;
            for (; i + 2 * L <= size; i += 2 * L) {
                FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
                for (int j = 0; j < count; j++) {
                    FloatVector weight = FloatVector.broadcast(F, w[j]);
                    acc0 = q8_0(values, scales, rows[j] + valueOffset + i).fma(weight, acc0);
                    acc1 = q8_0(values, scales, rows[j] + valueOffset + i + L).fma(weight, acc1);
                }
                acc0.intoArray(out, outOffset + i);
                acc1.intoArray(out, outOffset + i + L);
            }
            if (i < size) {
                FloatVector acc = FloatVector.zero(F);
                for (int j = 0; j < count; j++) {
                    acc = q8_0(values, scales, rows[j] + valueOffset + i).fma(FloatVector.broadcast(F, w[j]), acc);
                }
                acc.intoArray(out, outOffset + i);
            }
            return;
        }
        for (int h = 0; h < heads; h += 4) {
            int last = Math.min(heads, h + 4) - 1;
            float[] w0 = weights[firstHead + h];
            float[] w1 = weights[firstHead + Math.min(h + 1, last)];
            float[] w2 = weights[firstHead + Math.min(h + 2, last)];
            float[] w3 = weights[firstHead + last];
            if (last - h == 2 && size % (2 * L) == 0) {
                for (int i = 0; i < size; i += 2 * L) {
                    threeHeadValues(w0, w1, w2, values, scales, rows, valueOffset + i, count, out, outOffset + h * headStride + i, headStride);
                }
                continue;
            }
            for (int i = 0; i < size; i += L) {
                FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
                for (int j = 0; j < count; j++) {
                    FloatVector value = q8_0(values, scales, rows[j] + valueOffset + i);
                    acc0 = value.fma(FloatVector.broadcast(F, w0[j]), acc0);
                    acc1 = value.fma(FloatVector.broadcast(F, w1[j]), acc1);
                    acc2 = value.fma(FloatVector.broadcast(F, w2[j]), acc2);
                    acc3 = value.fma(FloatVector.broadcast(F, w3[j]), acc3);
                }
                int at = outOffset + h * headStride + i;
                acc0.intoArray(out, at);
                if (h + 1 <= last) {
                    acc1.intoArray(out, at + headStride);
                }
                if (h + 2 <= last) {
                    acc2.intoArray(out, at + 2 * headStride);
                }
                if (h + 3 <= last) {
                    acc3.intoArray(out, at + 3 * headStride);
                }
            }
        }
    }

    /**
     * Two vectors of elements from {@code valueOffset} of three heads' weighted sums over Q8_0 values, into
     * {@code out[at]}, {@code headStride} apart: a group of three without the fourth head's duplicate multiply-adds.
     */
    private static void threeHeadValues(float[] w0, float[] w1, float[] w2, byte[] values, short[] scales, int[] rows, int valueOffset,
                                        int count, float[] out, int at, int headStride) {
        FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0;
        for (int j = 0; j < count; j++) {
            FloatVector first = q8_0(values, scales, rows[j] + valueOffset);
            FloatVector second = q8_0(values, scales, rows[j] + valueOffset + L);
            FloatVector w = FloatVector.broadcast(F, w0[j]);
            a0 = first.fma(w, a0);
            b0 = second.fma(w, b0);
            w = FloatVector.broadcast(F, w1[j]);
            a1 = first.fma(w, a1);
            b1 = second.fma(w, b1);
            w = FloatVector.broadcast(F, w2[j]);
            a2 = first.fma(w, a2);
            b2 = second.fma(w, b2);
        }
        a0.intoArray(out, at);
        b0.intoArray(out, at + L);
        a1.intoArray(out, at + headStride);
        b1.intoArray(out, at + headStride + L);
        a2.intoArray(out, at + 2 * headStride);
        b2.intoArray(out, at + 2 * headStride + L);
    }

    @Override
    public void widen(byte[] quants, short[] scales, int from, float[] out, int outOffset, int count) {
        int i = 0;
        for (; i + L <= count && from % L == 0; i += L) {
            q8_0(quants, scales, from + i).intoArray(out, outOffset + i);
        }
        if (i < count) {
            SCALAR.widen(quants, scales, from + i, out, outOffset + i, count - i);
        }
    }

    /** {@code L} values of Q8_0 blocks from {@code at} (a multiple of {@code L}, so within one block) as floats. */
    private static FloatVector q8_0(byte[] quants, short[] scales, int at) {
        return ((FloatVector) ByteVector.fromArray(VectorKernels.B, quants, at).castShape(F, 0))
                .mul(WeightMatrix.f16(scales[at / CacheType.Q8_0_BLOCK]));
    }

    @Override
    public void widen(short[] halves, int from, float[] out, int outOffset, int count) {
        int i = 0;
        for (; i + L <= count; i += L) {
            VectorKernels.halves(ShortVector.fromArray(VectorKernels.H, halves, from + i)).intoArray(out, outOffset + i);
        }
        if (i < count) {
            SCALAR.widen(halves, from + i, out, outOffset + i, count - i);
        }
    }

    /**
     * {@code size} floats from {@code from[fromOffset]} into {@code to[toOffset]} in the order the half kernels
     * accumulate them ({@link #pairs}): per {@code 2 L} elements, the even ones, then the odd ones.
     */
    private static void split(float[] from, int fromOffset, float[] to, int toOffset, int size) {
        for (int i = 0; i < size; i += 2 * L) {
            for (int lane = 0; lane < L; lane++) {
                to[toOffset + i + lane] = from[fromOffset + i + 2 * lane];
                to[toOffset + i + L + lane] = from[fromOffset + i + 2 * lane + 1];
            }
        }
    }

    /** {@link #split} undone: even and odd elements put back in order. */
    private static void join(float[] from, int fromOffset, float[] to, int toOffset, int size) {
        for (int i = 0; i < size; i += 2 * L) {
            for (int lane = 0; lane < L; lane++) {
                to[toOffset + i + 2 * lane] = from[fromOffset + i + lane];
                to[toOffset + i + 2 * lane + 1] = from[fromOffset + i + L + lane];
            }
        }
    }

    /** {@code 2 L} halves from {@code offset}, two to an int lane (element {@code 2 i} in the low bits of lane {@code i}). */
    private static IntVector pairs(short[] halves, int offset) {
        return ShortVector.fromArray(PAIRS, halves, offset).reinterpretAsInts();
    }

    @Override
    public void siluMul(float[] gate, int gateOffset, float[] up, int upOffset, int size) {
        int i = 0;
        for (; i + L <= size; i += L) {
            FloatVector g = FloatVector.fromArray(F, gate, gateOffset + i);
            FloatVector silu = g.div(VectorKernels.exp(g.neg()).add(1f));
            silu.mul(FloatVector.fromArray(F, up, upOffset + i)).intoArray(gate, gateOffset + i);
        }
        for (; i < size; i++) {
            float g = gate[gateOffset + i];
            gate[gateOffset + i] = g / (1f + (float) Math.exp(-g)) * up[upOffset + i];
        }
    }

    /** Four queries per pass over a vector of keys: one load of keys feeds four FMAs. */
    @Override
    public void scoreTile(float[] q, int qOffset, int qStride, int queries, float[] keys, int keysStride,
                          int from, int to, float scale, float[] scores, int scoresStride, int size) {
        for (int e = from; e < to; e += L) {
            VectorMask<Float> inside = F.indexInRange(e, to);
            int i = 0;
            for (; i + 4 <= queries; i += 4) {
                int q0 = qOffset + i * qStride, q1 = q0 + qStride, q2 = q1 + qStride, q3 = q2 + qStride;
                FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
                for (int d = 0; d < size; d++) {
                    FloatVector k = FloatVector.fromArray(F, keys, d * keysStride + e);
                    acc0 = k.fma(FloatVector.broadcast(F, q[q0 + d]), acc0);
                    acc1 = k.fma(FloatVector.broadcast(F, q[q1 + d]), acc1);
                    acc2 = k.fma(FloatVector.broadcast(F, q[q2 + d]), acc2);
                    acc3 = k.fma(FloatVector.broadcast(F, q[q3 + d]), acc3);
                }
                int out = i * scoresStride + e;
                acc0.mul(scale).intoArray(scores, out, inside);
                acc1.mul(scale).intoArray(scores, out + scoresStride, inside);
                acc2.mul(scale).intoArray(scores, out + 2 * scoresStride, inside);
                acc3.mul(scale).intoArray(scores, out + 3 * scoresStride, inside);
            }
            for (; i < queries; i++) {
                int q0 = qOffset + i * qStride;
                FloatVector acc = FloatVector.zero(F);
                for (int d = 0; d < size; d++) {
                    acc = FloatVector.fromArray(F, keys, d * keysStride + e).fma(FloatVector.broadcast(F, q[q0 + d]), acc);
                }
                acc.mul(scale).intoArray(scores, i * scoresStride + e, inside);
            }
        }
    }
}
