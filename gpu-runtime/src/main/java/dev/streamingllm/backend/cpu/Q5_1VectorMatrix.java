package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.L;
import static dev.streamingllm.backend.cpu.VectorKernels.sum;

import dev.streamingllm.gguf.GGUFTensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q5_1 with the Vector API, Q5_0's kernels with an offset, as Q4_1 is Q4_0's: the constant table {@code q} turns 16 low
 * nibbles into floats with one permute, {@code 16} is added in the lanes whose fifth bit is set, each block's sum is
 * scaled once by {@code d}, and {@code m} times the block's activation sum ({@link VectorKernels#blockSums}) is added
 * as one scalar multiply-add. The kernels stay in floats with 8 lanes too, as Q5_0's do.
 */
final class Q5_1VectorMatrix extends Q5_1Matrix {

    /** The table {@code q} of the low nibbles, in one vector (16 lanes) or two (8 lanes). */
    private static final IntVector Q_LO = VectorKernels.table(1, 0, 0);
    private static final IntVector Q_HI = VectorKernels.table(1, 0, 1);

    Q5_1VectorMatrix(GGUFTensor tensor) {
        super(tensor);
    }

    @Override
    boolean batchesInTiles() {
        return true;
    }

    @Override
    boolean readsBlockSums() {
        return true;
    }

    /**
     * One row: per block the quants' products summed on their own and scaled into the accumulator, the offset
     * {@code m} times the block's activation sum beside it, in the order of {@link #dot2}. A table of {@code d * q + m}
     * built per block cost an FMA and two broadcasts per block and row.
     */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        FloatVector acc = FloatVector.zero(F);
        float offset = 0f;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            int qh = data.get(U32, block + 4);
            int xb = xOffset + b * BLOCK;
            FloatVector s = FloatVector.zero(F);
            for (int c = 0; c < 16; c += L) {
                IntVector q = VectorKernels.bytes(data, block + 8 + c);
                s = VectorKernels.lookup(q, Q_LO, Q_HI).add(16, VectorKernels.fifthBits(qh, c)).fma(FloatVector.fromArray(F, x, xb + c), s);
                s = VectorKernels.lookup(q.lanewise(VectorOperators.LSHR, 4), Q_LO, Q_HI).add(16, VectorKernels.fifthBits(qh, 16 + c))
                        .fma(FloatVector.fromArray(F, x, xb + 16 + c), s);
            }
            acc = s.fma(FloatVector.broadcast(F, f16(data, block)), acc);
            offset += f16(data, block + 2) * VectorKernels.blockSum(x, xb);
        }
        return sum(acc) + offset;
    }

    /** Two rows as {@link #dot} computes one, each activation and block sum read once for both (see {@link WeightMatrix#dot2}). */
    @Override
    void dot2(int row, float[] x, int xOffset, float[] blockSums, float[] out, int outOffset) {
        long base0 = row * rowBytes;
        long base1 = base0 + rowBytes;
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = acc0;
        float offset0 = 0f;
        float offset1 = 0f;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block0 = base0 + (long) b * BLOCK_BYTES;
            long block1 = base1 + (long) b * BLOCK_BYTES;
            int qh0 = data.get(U32, block0 + 4);
            int qh1 = data.get(U32, block1 + 4);
            int xb = xOffset + b * BLOCK;
            FloatVector s0 = FloatVector.zero(F);
            FloatVector s1 = s0;
            for (int c = 0; c < 16; c += L) {
                FloatVector xLow = FloatVector.fromArray(F, x, xb + c);
                FloatVector xHigh = FloatVector.fromArray(F, x, xb + 16 + c);
                IntVector q0 = VectorKernels.bytes(data, block0 + 8 + c);
                IntVector q1 = VectorKernels.bytes(data, block1 + 8 + c);
                s0 = VectorKernels.lookup(q0, Q_LO, Q_HI).add(16, VectorKernels.fifthBits(qh0, c)).fma(xLow, s0);
                s0 = VectorKernels.lookup(q0.lanewise(VectorOperators.LSHR, 4), Q_LO, Q_HI).add(16, VectorKernels.fifthBits(qh0, 16 + c)).fma(xHigh, s0);
                s1 = VectorKernels.lookup(q1, Q_LO, Q_HI).add(16, VectorKernels.fifthBits(qh1, c)).fma(xLow, s1);
                s1 = VectorKernels.lookup(q1.lanewise(VectorOperators.LSHR, 4), Q_LO, Q_HI).add(16, VectorKernels.fifthBits(qh1, 16 + c)).fma(xHigh, s1);
            }
            acc0 = s0.fma(FloatVector.broadcast(F, f16(data, block0)), acc0);
            acc1 = s1.fma(FloatVector.broadcast(F, f16(data, block1)), acc1);
            float sum = blockSums[b];
            offset0 += f16(data, block0 + 2) * sum;
            offset1 += f16(data, block1 + 2) * sum;
        }
        out[outOffset] = sum(acc0) + offset0;
        out[outOffset + 1] = sum(acc1) + offset1;
    }
}
