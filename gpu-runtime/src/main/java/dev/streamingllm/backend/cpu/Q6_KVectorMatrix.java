package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.L;
import static dev.streamingllm.backend.cpu.VectorKernels.sum;

import dev.streamingllm.gguf.GGUFTensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q6_K with the Vector API. Six bits have too many values for a one-register table, so the quants
 * are assembled in int lanes (4 bits from ql, 2 from qh), converted, and scaled by
 * {@code d * scale} with the bias of 32 folded into the same FMA. Lanes never straddle a scale:
 * one scale covers 16 elements and a vector holds 8 or 16. With 8 lanes (AVX2) the quants are
 * assembled in 16-bit lanes instead and multiplied with the activations rounded to 11 bits
 * ({@link QuantizedActivations}), as Q4_0 and Q4_K do there.
 */
final class Q6_KVectorMatrix extends Q6_KMatrix {

    Q6_KVectorMatrix(GGUFTensor tensor) {
        super(tensor);
    }

    @Override
    boolean batchesInTiles() {
        return true;
    }

    /**
     * As the plain kernel computes it, {@code (d * scale) * (q - 32)}, a vector of 6-bit quants at a time (for
     * {@link Gemm}'s tiles): four low bits from {@code ql}, two high bits from {@code qh}.
     */
    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block + 208);
            for (int half = 0; half < 2; half++) {
                long ql = block + 64 * half;
                long qh = block + 128 + 32 * half;
                long scales = block + 192 + 8 * half;
                int o = outOffset + b * BLOCK + 128 * half;
                for (int k = 0; k < 4; k++) {
                    for (int l = 0; l < 32; l += L) {
                        float factor = d * data.get(I8, scales + 2 * k + l / 16);
                        IntVector low = VectorKernels.bytes(data, ql + l + 32 * (k & 1)).lanewise(VectorOperators.LSHR, 4 * (k >> 1)).and(0xF);
                        IntVector high = VectorKernels.bytes(data, qh + l).lanewise(VectorOperators.LSHR, 2 * k).and(3);
                        ((FloatVector) low.or(high.lanewise(VectorOperators.LSHL, 4)).sub(32).convert(VectorOperators.I2F, 0))
                                .mul(factor).intoArray(out, o + 32 * k + l);
                    }
                }
            }
        }
    }

    @Override
    boolean quantizesActivations() {
        return L == 8;
    }

    /** The float {@link #dot4} assembles each quant once for four tokens and stays faster for batches (prefill 94 against 70 tok/s). */
    @Override
    boolean quantizesBatches() {
        return false;
    }

    /**
     * Row {@code row} against quantized activations, in integers, one sub-block of 16 elements (one
     * scale) per step; sub-block {@code j} of a super-block has scale {@code j} and lies in activation
     * block {@code j / 2}. About 1.4x the float kernel's decode speed on AVX2 (llama-134m Q6_K, whole model).
     */
    @Override
    float dot(int row, QuantizedActivations x, int b) {
        long base = row * rowBytes;
        int first = b * (cols / QuantizedActivations.BLOCK);
        FloatVector acc = FloatVector.zero(F);
        FloatVector other = FloatVector.zero(F);
        for (int k = 0; k < cols / BLOCK; k++) {
            long block = base + (long) k * BLOCK_BYTES;
            float d = f16(data, block + 208);
            for (int j = 0; j < 16; j++) {
                int xb = first + 8 * k + j / 2;
                float ds = d * data.get(I8, block + 192 + j);
                FloatVector next = products(quants(block, j), x, xb, j).fma(FloatVector.broadcast(F, ds * x.scales[xb]), acc);
                acc = other;
                other = next;
            }
        }
        return sum(acc.add(other));
    }

    /**
     * Quants {@code q} of sub-block {@code j} times its 16 activations of block {@code xb}, as 8 float
     * lanes that sum to their dot product. A quant (at most 32 in size) times an 11-bit activation fills
     * a 16-bit lane (at most 32 x 1023), so pairs of lanes cannot be added in 16 bits as Q4_0's are:
     * each 32-bit lane is split into its two signed halves by shifts, and those are added.
     */
    private static FloatVector products(ShortVector q, QuantizedActivations x, int xb, int j) {
        ShortVector products = q.mul(ShortVector.fromArray(VectorKernels.HALF_BLOCK, x.values, xb * QuantizedActivations.BLOCK + 16 * (j & 1)));
        IntVector lanes = products.reinterpretAsInts();
        IntVector pairs = lanes.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(lanes.lanewise(VectorOperators.ASHR, 16));
        return (FloatVector) pairs.convert(VectorOperators.I2F, 0);
    }

    /**
     * The 16 quants {@code q - 32} of sub-block {@code j} of the super-block at {@code block}, as 16-bit
     * lanes: in half {@code j / 8}, quarter {@code k = j / 2 % 4}, elements {@code 16 (j & 1) ..} of it.
     */
    private ShortVector quants(long block, int j) {
        int half = j >> 3;
        int k = (j >> 1) & 3;
        int l = 16 * (j & 1);
        ShortVector low = VectorKernels.halfBlock(data, block + 64 * half + 32 * (k & 1) + l)
                .lanewise(VectorOperators.LSHR, 4 * (k >> 1)).and((short) 0xF);
        ShortVector high = VectorKernels.halfBlock(data, block + 128 + 32 * half + l)
                .lanewise(VectorOperators.LSHR, 2 * k).and((short) 3).lanewise(VectorOperators.LSHL, 4);
        return low.or(high).sub((short) 32);
    }

    /** Weights {@code ds * (q - 32)} for quants with low bits {@code low} and high bits {@code qh >> shift & 3}. */
    private static FloatVector weights(IntVector low, IntVector qh, int shift, float ds) {
        IntVector q = low.or(qh.lanewise(VectorOperators.LSHR, shift).and(3).lanewise(VectorOperators.LSHL, 4));
        return ((FloatVector) q.convert(VectorOperators.I2F, 0)).fma(ds, -32 * ds);
    }

    /**
     * One quarter (k) of a 32-lane stripe per step, the blocks alternating between two accumulators:
     * one call site per helper keeps the method inside C2's inlining budget (written out four times, the
     * helpers and the final sum were not inlined on 8 lanes, and every call boxed its vectors).
     */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        FloatVector acc = FloatVector.zero(F);
        FloatVector other = FloatVector.zero(F);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block + 208);
            for (int half = 0; half < 2; half++) {
                long ql = block + 64 * half;
                long scales = block + 192 + 8 * half;
                int xh = xOffset + b * BLOCK + 128 * half;
                for (int c = 0; c < 32; c += L) {
                    IntVector qh = VectorKernels.bytes(data, block + 128 + 32 * half + c);
                    for (int k = 0; k < 4; k++) {
                        IntVector q = VectorKernels.bytes(data, ql + 32 * (k & 1) + c);
                        IntVector low = k < 2 ? q.and(0xF) : q.lanewise(VectorOperators.LSHR, 4);
                        FloatVector w = weights(low, qh, 2 * k, d * data.get(I8, scales + 2 * k + c / 16));
                        FloatVector next = w.fma(FloatVector.fromArray(F, x, xh + 32 * k + c), acc);
                        acc = other;
                        other = next;
                    }
                }
            }
        }
        return sum(acc.add(other));
    }

    @Override
    void dot4(int row, float[] x, int xOffset, float[] out, int outOffset) {
        long base = row * rowBytes;
        int x0 = xOffset, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block + 208);
            for (int half = 0; half < 2; half++) {
                long ql = block + 64 * half;
                long scales = block + 192 + 8 * half;
                for (int c = 0; c < 32; c += L) {
                    IntVector qa = VectorKernels.bytes(data, ql + c);
                    IntVector qb = VectorKernels.bytes(data, ql + 32 + c);
                    IntVector qh = VectorKernels.bytes(data, block + 128 + 32 * half + c);
                    int s = c / 16;
                    for (int k = 0; k < 4; k++) {
                        IntVector low = (k & 1) == 0 ? qa : qb;
                        low = k < 2 ? low.and(0xF) : low.lanewise(VectorOperators.LSHR, 4);
                        FloatVector w = weights(low, qh, 2 * k, d * data.get(I8, scales + 2 * k + s));
                        int i = b * BLOCK + 128 * half + 32 * k + c;
                        acc0 = w.fma(FloatVector.fromArray(F, x, x0 + i), acc0);
                        acc1 = w.fma(FloatVector.fromArray(F, x, x1 + i), acc1);
                        acc2 = w.fma(FloatVector.fromArray(F, x, x2 + i), acc2);
                        acc3 = w.fma(FloatVector.fromArray(F, x, x3 + i), acc3);
                    }
                }
            }
        }
        out[outOffset] = sum(acc0);
        out[outOffset + rows] = sum(acc1);
        out[outOffset + 2 * rows] = sum(acc2);
        out[outOffset + 3 * rows] = sum(acc3);
    }
}
