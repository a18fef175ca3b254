package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.L;
import static dev.streamingllm.backend.cpu.VectorKernels.sum;

import dev.streamingllm.gguf.GGUFTensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q5_0 with the Vector API: each block's table of its 16 low-nibble values {@code (q - 16) * d}, built
 * with one FMA, then {@code 16 * d} added in the lanes whose fifth bit is set, as Q5_K does. The
 * kernels stay in floats with 8 lanes too: a 5-bit weight times an 11-bit activation leaves no room
 * for the 16-bit pair sums of Q4_0's integer kernels.
 */
final class Q5_0VectorMatrix extends Q5_0Matrix {

    Q5_0VectorMatrix(GGUFTensor tensor) {
        super(tensor);
    }

    /** Two alternating accumulators, as in {@link Q4_1VectorMatrix#dot}. */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        FloatVector acc = FloatVector.zero(F);
        FloatVector other = FloatVector.zero(F);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            int qh = data.get(U32, block + 2);
            IntVector lo = VectorKernels.table(d, -16 * d, 0);
            IntVector hi = VectorKernels.table(d, -16 * d, 1);
            int xb = xOffset + b * BLOCK;
            for (int c = 0; c < 16; c += L) {
                IntVector q = VectorKernels.bytes(data, block + 6 + c);
                FloatVector w = VectorKernels.lookup(q, lo, hi).add(16 * d, VectorKernels.fifthBits(qh, c));
                FloatVector next = w.fma(FloatVector.fromArray(F, x, xb + c), acc);
                w = VectorKernels.lookup(q.lanewise(VectorOperators.LSHR, 4), lo, hi).add(16 * d, VectorKernels.fifthBits(qh, 16 + c));
                acc = w.fma(FloatVector.fromArray(F, x, xb + 16 + c), other);
                other = next;
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
            float d = f16(data, block);
            int qh = data.get(U32, block + 2);
            IntVector lo = VectorKernels.table(d, -16 * d, 0);
            IntVector hi = VectorKernels.table(d, -16 * d, 1);
            for (int c = 0; c < 16; c += L) {
                IntVector q = VectorKernels.bytes(data, block + 6 + c);
                FloatVector w = VectorKernels.lookup(q, lo, hi).add(16 * d, VectorKernels.fifthBits(qh, c));
                int i = b * BLOCK + c;
                acc0 = w.fma(FloatVector.fromArray(F, x, x0 + i), acc0);
                acc1 = w.fma(FloatVector.fromArray(F, x, x1 + i), acc1);
                acc2 = w.fma(FloatVector.fromArray(F, x, x2 + i), acc2);
                acc3 = w.fma(FloatVector.fromArray(F, x, x3 + i), acc3);
                w = VectorKernels.lookup(q.lanewise(VectorOperators.LSHR, 4), lo, hi).add(16 * d, VectorKernels.fifthBits(qh, 16 + c));
                i += 16;
                acc0 = w.fma(FloatVector.fromArray(F, x, x0 + i), acc0);
                acc1 = w.fma(FloatVector.fromArray(F, x, x1 + i), acc1);
                acc2 = w.fma(FloatVector.fromArray(F, x, x2 + i), acc2);
                acc3 = w.fma(FloatVector.fromArray(F, x, x3 + i), acc3);
            }
        }
        out[outOffset] = sum(acc0);
        out[outOffset + rows] = sum(acc1);
        out[outOffset + 2 * rows] = sum(acc2);
        out[outOffset + 3 * rows] = sum(acc3);
    }
}
