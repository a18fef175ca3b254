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

    /**
     * Quants widen in place in each loop, not in a small method that returns them: where C2 judges such a call site
     * cold (the output matrix's rows in {@link Gemm}, a few percent of its calls) it leaves the call out of line and
     * allocates every vector crossing it, and batched steps run at half speed (BENCHMARKS.md).
     */
    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            for (int c = 0; c < BLOCK; c += L) {
                FloatVector q = (FloatVector) ByteVector.fromMemorySegment(B, data, block + 2 + c, LE).castShape(F, 0);
                q.mul(d).intoArray(out, outOffset + b * BLOCK + c);
            }
        }
    }

    /**
     * Two blocks per step into two accumulators: with one, each block waited for the previous block's FMA on it (4
     * cycles of latency), which bounded this loop rather than the arithmetic. An odd last block goes to the first.
     */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int blocks = cols / BLOCK;
        int b = 0;
        for (; b + 1 < blocks; b += 2) {
            long block0 = base + (long) b * BLOCK_BYTES;
            long block1 = block0 + BLOCK_BYTES;
            int xb = xOffset + b * BLOCK;
            FloatVector s0 = FloatVector.zero(F);
            FloatVector s1 = FloatVector.zero(F);
            for (int c = 0; c < BLOCK; c += L) {
                FloatVector q0 = (FloatVector) ByteVector.fromMemorySegment(B, data, block0 + 2 + c, LE).castShape(F, 0);
                FloatVector q1 = (FloatVector) ByteVector.fromMemorySegment(B, data, block1 + 2 + c, LE).castShape(F, 0);
                s0 = q0.fma(FloatVector.fromArray(F, x, xb + c), s0);
                s1 = q1.fma(FloatVector.fromArray(F, x, xb + BLOCK + c), s1);
            }
            acc0 = s0.fma(FloatVector.broadcast(F, f16(data, block0)), acc0);
            acc1 = s1.fma(FloatVector.broadcast(F, f16(data, block1)), acc1);
        }
        if (b < blocks) {
            long block = base + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * BLOCK;
            FloatVector s = FloatVector.zero(F);
            for (int c = 0; c < BLOCK; c += L) {
                FloatVector q = (FloatVector) ByteVector.fromMemorySegment(B, data, block + 2 + c, LE).castShape(F, 0);
                s = q.fma(FloatVector.fromArray(F, x, xb + c), s);
            }
            acc0 = s.fma(FloatVector.broadcast(F, f16(data, block)), acc0);
        }
        return sum(acc0.add(acc1));
    }

    /**
     * Rows {@code row} and {@code row + 1} as {@link #dot(int, float[], int)} computes each, in the same order, so each
     * gets the bits it gets alone: the activations are loaded once for both rows, and the two rows' four sums are
     * four chains for the FMA units to overlap where one row has two.
     */
    @Override
    void dot2(int row, float[] x, int xOffset, float[] blockSums, float[] out, int outOffset) {
        long base0 = row * rowBytes;
        long base1 = base0 + rowBytes;
        FloatVector acc00 = FloatVector.zero(F);
        FloatVector acc01 = acc00;
        FloatVector acc10 = acc00;
        FloatVector acc11 = acc00;
        int blocks = cols / BLOCK;
        int b = 0;
        for (; b + 1 < blocks; b += 2) {
            long block00 = base0 + (long) b * BLOCK_BYTES;
            long block10 = base1 + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * BLOCK;
            FloatVector s00 = FloatVector.zero(F);
            FloatVector s01 = s00;
            FloatVector s10 = s00;
            FloatVector s11 = s00;
            for (int c = 0; c < BLOCK; c += L) {
                FloatVector x0 = FloatVector.fromArray(F, x, xb + c);
                FloatVector x1 = FloatVector.fromArray(F, x, xb + BLOCK + c);
                s00 = ((FloatVector) ByteVector.fromMemorySegment(B, data, block00 + 2 + c, LE).castShape(F, 0)).fma(x0, s00);
                s01 = ((FloatVector) ByteVector.fromMemorySegment(B, data, block00 + BLOCK_BYTES + 2 + c, LE).castShape(F, 0)).fma(x1, s01);
                s10 = ((FloatVector) ByteVector.fromMemorySegment(B, data, block10 + 2 + c, LE).castShape(F, 0)).fma(x0, s10);
                s11 = ((FloatVector) ByteVector.fromMemorySegment(B, data, block10 + BLOCK_BYTES + 2 + c, LE).castShape(F, 0)).fma(x1, s11);
            }
            acc00 = s00.fma(FloatVector.broadcast(F, f16(data, block00)), acc00);
            acc01 = s01.fma(FloatVector.broadcast(F, f16(data, block00 + BLOCK_BYTES)), acc01);
            acc10 = s10.fma(FloatVector.broadcast(F, f16(data, block10)), acc10);
            acc11 = s11.fma(FloatVector.broadcast(F, f16(data, block10 + BLOCK_BYTES)), acc11);
        }
        if (b < blocks) {
            long block0 = base0 + (long) b * BLOCK_BYTES;
            long block1 = base1 + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * BLOCK;
            FloatVector s0 = FloatVector.zero(F);
            FloatVector s1 = s0;
            for (int c = 0; c < BLOCK; c += L) {
                FloatVector xc = FloatVector.fromArray(F, x, xb + c);
                s0 = ((FloatVector) ByteVector.fromMemorySegment(B, data, block0 + 2 + c, LE).castShape(F, 0)).fma(xc, s0);
                s1 = ((FloatVector) ByteVector.fromMemorySegment(B, data, block1 + 2 + c, LE).castShape(F, 0)).fma(xc, s1);
            }
            acc00 = s0.fma(FloatVector.broadcast(F, f16(data, block0)), acc00);
            acc10 = s1.fma(FloatVector.broadcast(F, f16(data, block1)), acc10);
        }
        out[outOffset] = sum(acc00.add(acc01));
        out[outOffset + 1] = sum(acc10.add(acc11));
    }
}
