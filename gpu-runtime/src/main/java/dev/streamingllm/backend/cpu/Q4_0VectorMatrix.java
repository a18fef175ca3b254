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
 * Q4_0 with the Vector API. A decode step multiplies integers against the activations quantized to 11 bits
 * ({@link QuantizedActivations}): with 16 lanes (AVX-512), 32 rows at a time in a copy of the matrix interleaved for
 * it ({@link InterleavedNibbles}); with 8 (AVX2), row by row ({@link #dot(int, QuantizedActivations, int)}), about
 * twice as fast as the float kernels on the same machine. Larger batches go through float tiles: of the interleaved
 * copy from {@link InterleavedNibbles#TILED_FROM} tokens ({@link GroupTiles}), else of the file's rows from two
 * ({@link Gemm}, {@link #dequantizeRow}).
 *
 * <p>The float row kernels ({@link #dot}, {@link #dot2}), for a matrix whose rows are not in whole groups, look
 * nibbles up in the constant table {@code q - 8}, one permute for 16 nibbles where 16 lanes hold the table, and scale
 * each block's sum once.
 */
final class Q4_0VectorMatrix extends Q4_0Matrix {

    /** The table {@code q - 8}, in one vector (16 lanes) or two (8 lanes). */
    private static final IntVector Q_LO = VectorKernels.table(1, -8, 0);
    private static final IntVector Q_HI = VectorKernels.table(1, -8, 1);

    /** The rows interleaved in groups for a decode step's kernel, where {@link InterleavedRows#applies}; else null. */
    private final InterleavedRows.Lazy interleaved;

    Q4_0VectorMatrix(GGUFTensor tensor) {
        super(tensor);
        interleaved = InterleavedRows.applies(this)
                ? InterleavedNibbles.ofBlocks(this, BLOCK_BYTES, false) : null;
    }

    @Override
    boolean batchesInTiles() {
        return true;
    }

    /** As the plain kernel computes it, {@code (q - 8) * d}, a vector of nibbles at a time (for {@link Gemm}'s tiles). */
    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            int ob = outOffset + b * BLOCK;
            for (int c = 0; c < 16; c += L) {
                IntVector q = VectorKernels.bytes(data, block + 2 + c);
                ((FloatVector) q.and(0xF).sub(8).convert(VectorOperators.I2F, 0)).mul(d).intoArray(out, ob + c);
                ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(d).intoArray(out, ob + 16 + c);
            }
        }
    }

    @Override
    boolean quantizesActivations() {
        return L == 8 || interleaved != null;
    }

    @Override
    InterleavedRows.Lazy interleaved() {
        return interleaved;
    }

    /**
     * Row {@code row} against quantized activations, in integers ({@link VectorKernels#products}): a
     * block is two 16-lane multiplies, one add, one 32-bit multiply and one FMA with both scales, where
     * the float kernel takes four two-vector table lookups and four FMAs. Blocks alternate between two
     * accumulators: through one, each block waited for the previous block's FMA (4 cycles of latency),
     * which bounded this loop rather than the arithmetic. One block per step keeps the method small
     * enough for C2 to inline the final {@code sum} (with two, it ran out of inlining budget and boxed a
     * vector per row).
     */
    @Override
    float dot(int row, QuantizedActivations x, int b) {
        long base = row * rowBytes;
        int blocks = cols / BLOCK;
        int first = b * blocks;
        FloatVector acc = FloatVector.zero(F);
        FloatVector other = FloatVector.zero(F);
        for (int k = 0; k < blocks; k++) {
            FloatVector next = block(base + (long) k * BLOCK_BYTES, x, first + k, acc);
            acc = other;
            other = next;
        }
        return sum(acc.add(other));
    }

    /** {@code acc} plus the weight block at {@code block} times activation block {@code xb}. */
    private FloatVector block(long block, QuantizedActivations x, int xb, FloatVector acc) {
        ShortVector q = nibbles(block);
        return VectorKernels.products(low(q), high(q), x, xb).fma(FloatVector.broadcast(F, f16(data, block) * x.scales[xb]), acc);
    }

    /** The 16 quant bytes of the block at {@code block} as 16-bit lanes. */
    private ShortVector nibbles(long block) {
        return VectorKernels.halfBlock(data, block + 2);
    }

    /** Elements 0..15 of a block, {@code q - 8}. */
    private static ShortVector low(ShortVector nibbles) {
        return nibbles.and((short) 0xF).sub((short) 8);
    }

    /** Elements 16..31 of a block, {@code q - 8}. */
    private static ShortVector high(ShortVector nibbles) {
        return nibbles.lanewise(VectorOperators.LSHR, 4).sub((short) 8);
    }

    /**
     * One row: each block's products summed on their own, then scaled into the accumulator, in the order of
     * {@link #dot2}, which decodes: this one runs only for the last row of a matrix with an odd number of rows.
     */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * BLOCK;
            FloatVector s = FloatVector.zero(F);
            for (int c = 0; c < 16; c += L) {
                IntVector q = VectorKernels.bytes(data, block + 2 + c);
                s = VectorKernels.lookup(q, Q_LO, Q_HI).fma(FloatVector.fromArray(F, x, xb + c), s);
                s = VectorKernels.lookup(q.lanewise(VectorOperators.LSHR, 4), Q_LO, Q_HI).fma(FloatVector.fromArray(F, x, xb + 16 + c), s);
            }
            acc = s.fma(FloatVector.broadcast(F, f16(data, block)), acc);
        }
        return sum(acc);
    }

    /**
     * Two rows as {@link #dot} computes one, each activation read once for both. Larger than C2 inlines at a hot call
     * site, it is compiled on its own: through the one-row kernel, called from {@link WeightMatrix#dot2} beside the
     * Q8_0 output matrix's, SmolLM2 requantized to Q4_0 decoded at 18-21 tok/s in two JVMs of three (the two kernels
     * inlined together ran out of C2's node budget and boxed their vectors) and at 40 in the third.
     */
    @Override
    void dot2(int row, float[] x, int xOffset, float[] blockSums, float[] out, int outOffset) {
        long base0 = row * rowBytes;
        long base1 = base0 + rowBytes;
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = acc0;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block0 = base0 + (long) b * BLOCK_BYTES;
            long block1 = base1 + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * BLOCK;
            FloatVector s0 = FloatVector.zero(F);
            FloatVector s1 = s0;
            for (int c = 0; c < 16; c += L) {
                FloatVector xLow = FloatVector.fromArray(F, x, xb + c);
                FloatVector xHigh = FloatVector.fromArray(F, x, xb + 16 + c);
                IntVector q0 = VectorKernels.bytes(data, block0 + 2 + c);
                IntVector q1 = VectorKernels.bytes(data, block1 + 2 + c);
                s0 = VectorKernels.lookup(q0, Q_LO, Q_HI).fma(xLow, s0);
                s0 = VectorKernels.lookup(q0.lanewise(VectorOperators.LSHR, 4), Q_LO, Q_HI).fma(xHigh, s0);
                s1 = VectorKernels.lookup(q1, Q_LO, Q_HI).fma(xLow, s1);
                s1 = VectorKernels.lookup(q1.lanewise(VectorOperators.LSHR, 4), Q_LO, Q_HI).fma(xHigh, s1);
            }
            acc0 = s0.fma(FloatVector.broadcast(F, f16(data, block0)), acc0);
            acc1 = s1.fma(FloatVector.broadcast(F, f16(data, block1)), acc1);
        }
        out[outOffset] = sum(acc0);
        out[outOffset + 1] = sum(acc1);
    }
}
