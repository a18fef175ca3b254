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
 * Q4_1 with the Vector API, Q4_0's kernels with an offset. A decode step multiplies integers against the quantized
 * activations, as Q4_0's does (interleaved groups of 32 rows with 16 lanes, row by row with 8): a weight
 * {@code d * q + m} is taken as {@code d * (q - 8)}, Q4_0's product, plus {@code 8 * d + m} times the block's
 * activation sum ({@link QuantizedActivations#sums}), as Q4_K's minimum is. Larger batches go through
 * {@link Gemm}'s float tiles ({@link #dequantizeRow}), as Q4_0's do.
 *
 * <p>The float row kernels ({@link #dot}, {@link #dot2}), for a matrix whose rows are not in whole groups, scale each
 * block's products once and add the minimum times the block's activation sum.
 */
final class Q4_1VectorMatrix extends Q4_1Matrix {

    /** The rows interleaved in groups for a decode step's kernel, where {@link InterleavedRows#applies}; else null. */
    private final InterleavedRows.Lazy interleaved;

    Q4_1VectorMatrix(GGUFTensor tensor) {
        super(tensor);
        interleaved = InterleavedRows.applies(this)
                ? InterleavedNibbles.ofBlocks(this, BLOCK_BYTES, true) : null;
    }

    @Override
    boolean batchesInTiles() {
        return true;
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
     * Row {@code row} against quantized activations, in integers ({@link VectorKernels#products}), one
     * block per step into two alternating accumulators, as {@link Q4_0VectorMatrix} does and for the
     * same reasons; the offsets add up in a float beside them.
     */
    @Override
    float dot(int row, QuantizedActivations x, int b) {
        long base = row * rowBytes;
        int blocks = cols / BLOCK;
        int first = b * blocks;
        FloatVector acc = FloatVector.zero(F);
        FloatVector other = FloatVector.zero(F);
        float offset = 0f;
        for (int k = 0; k < blocks; k++) {
            long block = base + (long) k * BLOCK_BYTES;
            FloatVector next = block(block, x, first + k, acc);
            acc = other;
            other = next;
            offset += offset(block) * x.sums[first + k];
        }
        return sum(acc.add(other)) + offset;
    }

    /** {@code acc} plus {@code d * (q - 8)} of the weight block at {@code block} times activation block {@code xb}. */
    private FloatVector block(long block, QuantizedActivations x, int xb, FloatVector acc) {
        ShortVector q = nibbles(block);
        return VectorKernels.products(low(q), high(q), x, xb).fma(FloatVector.broadcast(F, f16(data, block) * x.scales[xb]), acc);
    }

    /** What a block adds per unit of activation beside {@code d * (q - 8)}: {@code 8 * d + m}. */
    private float offset(long block) {
        return 8 * f16(data, block) + f16(data, block + 2);
    }

    /** The 16 quant bytes of the block at {@code block} as 16-bit lanes. */
    private ShortVector nibbles(long block) {
        return VectorKernels.halfBlock(data, block + 4);
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
     * Factored as the plain kernel is: per block, {@code d} times the nibbles' products with the activations, plus
     * {@code m} times the block's activation sum ({@link VectorKernels#blockSum}), one scalar multiply-add. The nibbles
     * convert to floats and multiply the activations directly. A table of {@code d * q + m} per block, looked up per
     * nibble, took up to 1.7 times as long with 16 lanes: its permutes, broadcasts and half conversions all queue on
     * the one port that shuffles. {@link #dot2} adds in exactly this order, so a row's result does not depend on which
     * path ran it.
     */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        FloatVector acc = FloatVector.zero(F);
        float offset = 0f;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * BLOCK;
            FloatVector products = FloatVector.zero(F);
            for (int c = 0; c < 16; c += L) {
                IntVector q = VectorKernels.bytes(data, block + 4 + c);
                products = VectorKernels.lowNibbles(q).fma(FloatVector.fromArray(F, x, xb + c), products);
                products = VectorKernels.highNibbles(q).fma(FloatVector.fromArray(F, x, xb + 16 + c), products);
            }
            int header = data.get(U32, block);
            acc = products.fma(FloatVector.broadcast(F, f16(header)), acc);
            offset += f16(header >>> 16) * VectorKernels.blockSum(x, xb);
        }
        return sum(acc) + offset;
    }

    /**
     * {@code d * q + m} in one FMA per weight (for {@link Gemm}'s tiles): a conversion and an FMA cost less than a
     * lookup in a per-block table, which needs two vectors with 8 lanes.
     */
    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            FloatVector d = FloatVector.broadcast(F, f16(data, block));
            FloatVector m = FloatVector.broadcast(F, f16(data, block + 2));
            int ob = outOffset + b * BLOCK;
            for (int c = 0; c < 16; c += L) {
                IntVector q = VectorKernels.bytes(data, block + 4 + c);
                VectorKernels.lowNibbles(q).fma(d, m).intoArray(out, ob + c);
                VectorKernels.highNibbles(q).fma(d, m).intoArray(out, ob + 16 + c);
            }
        }
    }

    @Override
    boolean readsBlockSums() {
        return !quantizesActivations();
    }

    /** Two rows as {@link #dot} computes one, each activation and block sum read once for both. */
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
            int xb = xOffset + b * BLOCK;
            FloatVector products0 = FloatVector.zero(F);
            FloatVector products1 = products0;
            for (int c = 0; c < 16; c += L) {
                FloatVector xLow = FloatVector.fromArray(F, x, xb + c);
                FloatVector xHigh = FloatVector.fromArray(F, x, xb + 16 + c);
                IntVector q0 = VectorKernels.bytes(data, block0 + 4 + c);
                IntVector q1 = VectorKernels.bytes(data, block1 + 4 + c);
                products0 = VectorKernels.lowNibbles(q0).fma(xLow, products0);
                products0 = VectorKernels.highNibbles(q0).fma(xHigh, products0);
                products1 = VectorKernels.lowNibbles(q1).fma(xLow, products1);
                products1 = VectorKernels.highNibbles(q1).fma(xHigh, products1);
            }
            // d and m in one load per block
            int header0 = data.get(U32, block0);
            int header1 = data.get(U32, block1);
            acc0 = products0.fma(FloatVector.broadcast(F, f16(header0)), acc0);
            acc1 = products1.fma(FloatVector.broadcast(F, f16(header1)), acc1);
            float sum = blockSums[b];
            offset0 += f16(header0 >>> 16) * sum;
            offset1 += f16(header1 >>> 16) * sum;
        }
        out[outOffset] = sum(acc0) + offset0;
        out[outOffset + 1] = sum(acc1) + offset1;
    }
}
