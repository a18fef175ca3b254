package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.B;
import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.L;
import static dev.streamingllm.backend.cpu.VectorKernels.sum;
import static dev.streamingllm.backend.cpu.VectorKernels.LE;

import dev.streamingllm.gguf.GGUFTensor;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;

/** Q8_0 with the Vector API: int8 quants widen to floats; one multiply by the block scale per block. */
final class Q8_0VectorMatrix extends Q8_0Matrix {

    Q8_0VectorMatrix(GGUFTensor tensor) {
        super(tensor);
    }

    @Override
    boolean batchesInTiles() {
        return true;
    }

    private FloatVector quants(long offset) {
        return (FloatVector) ByteVector.fromMemorySegment(B, data, offset, LE).castShape(F, 0);
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            for (int c = 0; c < BLOCK; c += L) {
                quants(block + 2 + c).mul(d).intoArray(out, outOffset + b * BLOCK + c);
            }
        }
    }

    /**
     * Two blocks per step into two accumulators: with one, each block waited for the previous
     * block's FMA on it (4 cycles of latency), which bounded this loop rather than the arithmetic.
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
        FloatVector s = quants(block + 2).mul(FloatVector.fromArray(F, x, xb));
        for (int c = L; c < BLOCK; c += L) {
            s = quants(block + 2 + c).fma(FloatVector.fromArray(F, x, xb + c), s);
        }
        return s.fma(FloatVector.broadcast(F, f16(data, block)), acc);
    }
}
