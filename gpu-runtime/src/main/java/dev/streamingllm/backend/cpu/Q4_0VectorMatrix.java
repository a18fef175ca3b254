package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.L;
import static dev.streamingllm.backend.cpu.VectorKernels.sum;

import dev.streamingllm.gguf.GGUFTensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q4_0 with the Vector API. A nibble has only 16 values, so a 16-entry table turns 16 nibbles into
 * floats with one permute: fewer instructions than masking and converting them. A single row
 * ({@link #dot}) looks nibbles up in the constant table {@code q - 8} and scales each block's sum once;
 * four activations ({@link #dot4}) share each block's weights, so there the table is {@code (q - 8) * d},
 * built with one FMA per block.
 */
final class Q4_0VectorMatrix extends Q4_0Matrix {

    /** The table {@code q - 8}, in one vector (16 lanes) or two (8 lanes). */
    private static final IntVector Q_LO = VectorKernels.table(1, -8, 0);
    private static final IntVector Q_HI = VectorKernels.table(1, -8, 1);

    Q4_0VectorMatrix(GGUFTensor tensor) {
        super(tensor);
    }

    /**
     * Two blocks per step, each summed on its own and then added to its accumulator: chaining every
     * FMA through one accumulator made each block wait for the previous one (4 cycles of latency),
     * which bounded this loop rather than the arithmetic.
     */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int blocks = cols / BLOCK;
        int b = 0;
        for (; b + 1 < blocks; b += 2) {
            acc0 = block(base, b, x, xOffset, acc0);
            acc1 = block(base, b + 1, x, xOffset, acc1);
        }
        if (b < blocks) {
            acc0 = block(base, b, x, xOffset, acc0);
        }
        return sum(acc0.add(acc1));
    }

    /** {@code acc} plus block {@code b} of the row at {@code base} times the matching floats of {@code x}. */
    private FloatVector block(long base, int b, float[] x, int xOffset, FloatVector acc) {
        long block = base + (long) b * BLOCK_BYTES;
        int xb = xOffset + b * BLOCK;
        FloatVector s = FloatVector.zero(F);
        for (int c = 0; c < 16; c += L) {
            IntVector q = VectorKernels.bytes(data, block + 2 + c);
            s = VectorKernels.lookup(q, Q_LO, Q_HI).fma(FloatVector.fromArray(F, x, xb + c), s);
            s = VectorKernels.lookup(q.lanewise(VectorOperators.LSHR, 4), Q_LO, Q_HI).fma(FloatVector.fromArray(F, x, xb + 16 + c), s);
        }
        return s.fma(FloatVector.broadcast(F, f16(data, block)), acc);
    }

    @Override
    void dot4(int row, float[] x, int xOffset, float[] out, int outOffset) {
        long base = row * rowBytes;
        int x0 = xOffset, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            IntVector lo = VectorKernels.table(d, -8 * d, 0);
            IntVector hi = VectorKernels.table(d, -8 * d, 1);
            for (int c = 0; c < 16; c += L) {
                IntVector q = VectorKernels.bytes(data, block + 2 + c);
                FloatVector w = VectorKernels.lookup(q, lo, hi);
                int i = b * BLOCK + c;
                acc0 = w.fma(FloatVector.fromArray(F, x, x0 + i), acc0);
                acc1 = w.fma(FloatVector.fromArray(F, x, x1 + i), acc1);
                acc2 = w.fma(FloatVector.fromArray(F, x, x2 + i), acc2);
                acc3 = w.fma(FloatVector.fromArray(F, x, x3 + i), acc3);
                w = VectorKernels.lookup(q.lanewise(VectorOperators.LSHR, 4), lo, hi);
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
