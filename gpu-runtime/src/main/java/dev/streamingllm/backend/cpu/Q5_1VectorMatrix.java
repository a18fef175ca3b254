package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.L;
import static dev.streamingllm.backend.cpu.VectorKernels.sum;

import dev.streamingllm.gguf.GGUFTensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q5_1 with the Vector API: each block's table of its 16 low-nibble values {@code d * q + m}, built
 * with one FMA, then {@code 16 * d} added in the lanes whose fifth bit is set, as Q5_K does. The
 * kernels stay in floats with 8 lanes too: a 5-bit weight times an 11-bit activation leaves no room
 * for the 16-bit pair sums of Q4_0's integer kernels.
 */
final class Q5_1VectorMatrix extends Q5_1Matrix {

    Q5_1VectorMatrix(GGUFTensor tensor) {
        super(tensor);
    }

    @Override
    boolean batchesInTiles() {
        return true;
    }

    /** The low and the high nibbles' products in two accumulators, in the order of {@link #dot2}, as {@link Q4_1VectorMatrix#dot} does. */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            float m = f16(data, block + 2);
            int qh = data.get(U32, block + 4);
            IntVector lo = VectorKernels.table(d, m, 0);
            IntVector hi = VectorKernels.table(d, m, 1);
            int xb = xOffset + b * BLOCK;
            for (int c = 0; c < 16; c += L) {
                IntVector q = VectorKernels.bytes(data, block + 8 + c);
                FloatVector w = VectorKernels.lookup(q, lo, hi).add(16 * d, VectorKernels.fifthBits(qh, c));
                acc0 = w.fma(FloatVector.fromArray(F, x, xb + c), acc0);
                w = VectorKernels.lookup(q.lanewise(VectorOperators.LSHR, 4), lo, hi).add(16 * d, VectorKernels.fifthBits(qh, 16 + c));
                acc1 = w.fma(FloatVector.fromArray(F, x, xb + 16 + c), acc1);
            }
        }
        return sum(acc0.add(acc1));
    }

    /** Two rows as {@link #dot} computes one, each activation read once for both (see {@link WeightMatrix#dot2}). */
    @Override
    void dot2(int row, float[] x, int xOffset, float[] blockSums, float[] out, int outOffset) {
        long base0 = row * rowBytes;
        long base1 = base0 + rowBytes;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block0 = base0 + (long) b * BLOCK_BYTES;
            long block1 = base1 + (long) b * BLOCK_BYTES;
            float d0 = f16(data, block0);
            float d1 = f16(data, block1);
            float m0 = f16(data, block0 + 2);
            float m1 = f16(data, block1 + 2);
            int qh0 = data.get(U32, block0 + 4);
            int qh1 = data.get(U32, block1 + 4);
            IntVector lo0 = VectorKernels.table(d0, m0, 0), hi0 = VectorKernels.table(d0, m0, 1);
            IntVector lo1 = VectorKernels.table(d1, m1, 0), hi1 = VectorKernels.table(d1, m1, 1);
            int xb = xOffset + b * BLOCK;
            for (int c = 0; c < 16; c += L) {
                FloatVector x0 = FloatVector.fromArray(F, x, xb + c);
                FloatVector x1 = FloatVector.fromArray(F, x, xb + 16 + c);
                IntVector q = VectorKernels.bytes(data, block0 + 8 + c);
                acc0 = VectorKernels.lookup(q, lo0, hi0).add(16 * d0, VectorKernels.fifthBits(qh0, c)).fma(x0, acc0);
                acc1 = VectorKernels.lookup(q.lanewise(VectorOperators.LSHR, 4), lo0, hi0).add(16 * d0, VectorKernels.fifthBits(qh0, 16 + c)).fma(x1, acc1);
                q = VectorKernels.bytes(data, block1 + 8 + c);
                acc2 = VectorKernels.lookup(q, lo1, hi1).add(16 * d1, VectorKernels.fifthBits(qh1, c)).fma(x0, acc2);
                acc3 = VectorKernels.lookup(q.lanewise(VectorOperators.LSHR, 4), lo1, hi1).add(16 * d1, VectorKernels.fifthBits(qh1, 16 + c)).fma(x1, acc3);
            }
        }
        out[outOffset] = sum(acc0.add(acc1));
        out[outOffset + 1] = sum(acc2.add(acc3));
    }
}
