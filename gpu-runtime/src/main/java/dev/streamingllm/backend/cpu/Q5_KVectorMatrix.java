package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.L;
import static dev.streamingllm.backend.cpu.VectorKernels.sum;

import dev.streamingllm.gguf.GGUFTensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q5_K with the Vector API. With 16 lanes (AVX-512), a decode step multiplies 32 rows at a time in a copy interleaved
 * for it ({@link InterleavedQ5_K}), against the activations rounded to 11 bits ({@link QuantizedActivations}). Rows
 * that do not come in groups of 32, and machines with 8 lanes, take the row kernels, in floats as Q4_K's 16-lane
 * kernels are: a group's 32 bytes of nibbles and the 32 bytes of fifth bits are loaded once for its two sub-blocks,
 * each quant assembled in an int lane ({@code nibble | bit << 4}) and converted, each sub-block's products scaled once
 * by {@code d * scale}, its minimum applied to the sub-block's activation sum. A per-sub-block table of the 16 low
 * values plus a masked add for the fifth bit, looked up per element, put its permutes and table builds on the one
 * port that shuffles. Batches go through float tiles, of the interleaved copy where there is one ({@link GroupTiles}), else of
 * the file's rows ({@link Gemm}).
 */
final class Q5_KVectorMatrix extends Q5_KMatrix {

    private final SubBlockFactors.Lazy factors = new SubBlockFactors.Lazy(this, BLOCK_BYTES);

    /** The rows interleaved in groups for a decode step's kernel, where {@link InterleavedRows#applies}; else null. */
    private final InterleavedRows.Lazy interleaved;

    Q5_KVectorMatrix(GGUFTensor tensor) {
        super(tensor);
        interleaved = InterleavedRows.applies(this) ? InterleavedQ5_K.lazy(this, this::interleave) : null;
    }

    /** Each super-block's quants (0..31), its eight scales and minimums and its {@code d} and {@code dmin}, in the file's element order. */
    private void interleave(InterleavedQ5_K groups) {
        byte[] quants = new byte[BLOCK];
        byte[] scales = new byte[8];
        byte[] mins = new byte[8];
        for (int row = 0; row < rows; row++) {
            for (int b = 0; b < cols / BLOCK; b++) {
                long block = row * rowBytes + (long) b * BLOCK_BYTES;
                for (int e = 0; e < BLOCK; e++) {
                    int g = e / 64;
                    int upper = e % 64 / 32;
                    int nibble = data.get(I8, block + 48 + 32 * g + e % 32) >> 4 * upper & 0xF;
                    int fifth = data.get(I8, block + 16 + e % 32) >> (2 * g + upper) & 1;
                    quants[e] = (byte) (nibble | fifth << 4);
                }
                for (int s = 0; s < 8; s++) {
                    scales[s] = (byte) Q4_KMatrix.scale(data, block + 4, s);
                    mins[s] = (byte) Q4_KMatrix.min(data, block + 4, s);
                }
                groups.put(row, b, quants, scales, mins, f16(data, block), f16(data, block + 2));
            }
        }
    }

    @Override
    boolean quantizesActivations() {
        return interleaved != null;
    }

    @Override
    InterleavedRows.Lazy interleaved() {
        return interleaved;
    }

    @Override
    boolean batchesInTiles() {
        return true;
    }

    @Override
    boolean readsBlockSums() {
        return !quantizesActivations();
    }

    /** Quants of sub-block {@code 2g} (low nibbles of {@code q}, bit {@code 2g} of {@code qh}) as floats. */
    private static FloatVector low(IntVector q, IntVector qh, int g) {
        return (FloatVector) q.and(0xF).or(qh.lanewise(VectorOperators.LSHL, 4).lanewise(VectorOperators.LSHR, 2 * g).and(16))
                .convert(VectorOperators.I2F, 0);
    }

    /** Quants of sub-block {@code 2g + 1} (high nibbles of {@code q}, bit {@code 2g + 1} of {@code qh}) as floats. */
    private static FloatVector high(IntVector q, IntVector qh, int g) {
        return (FloatVector) q.lanewise(VectorOperators.LSHR, 4).or(qh.lanewise(VectorOperators.LSHL, 3).lanewise(VectorOperators.LSHR, 2 * g).and(16))
                .convert(VectorOperators.I2F, 0);
    }

    /**
     * As ggml computes it, {@code d1 * q - m1}, a vector of quants at a time (for {@link Gemm}'s tiles). The factors are
     * unpacked here rather than read from {@link SubBlockFactors}, as Q4_K's are: a tile decodes a weight once per batch,
     * and a matrix held interleaved then never builds them.
     */
    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            float dmin = f16(data, block + 2);
            for (int g = 0; g < 4; g++) {
                float d1 = d * Q4_KMatrix.scale(data, block + 4, 2 * g), m1 = dmin * Q4_KMatrix.min(data, block + 4, 2 * g);
                float d2 = d * Q4_KMatrix.scale(data, block + 4, 2 * g + 1), m2 = dmin * Q4_KMatrix.min(data, block + 4, 2 * g + 1);
                long qs = block + 48 + 32 * g;
                int o = outOffset + b * BLOCK + 64 * g;
                for (int l = 0; l < 32; l += L) {
                    IntVector q = VectorKernels.bytes(data, qs + l);
                    IntVector qh = VectorKernels.bytes(data, block + 16 + l);
                    low(q, qh, g).mul(d1).sub(m1).intoArray(out, o + l);
                    high(q, qh, g).mul(d2).sub(m2).intoArray(out, o + 32 + l);
                }
            }
        }
    }

    /**
     * One row in floats: per sub-block the quants times the activations, scaled once by {@code d1 = d * scale}, less
     * {@code m1 = dmin * min} times the sub-block's activation sum ({@link SubBlockFactors}).
     */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        return dot(row, x, xOffset, null);
    }

    /**
     * Two rows, each through {@link #dot(int, float[], int, float[])} with the matmul's block sums. Written as one
     * two-row kernel, as Q4_K's, the quants' assembly took it past C2's node budget for inlining and every group
     * boxed its vectors (13 tok/s); the one-row kernel is larger than C2 inlines at a hot call site, so
     * it is compiled once, on its own.
     */
    @Override
    void dot2(int row, float[] x, int xOffset, float[] blockSums, float[] out, int outOffset) {
        out[outOffset] = dot(row, x, xOffset, blockSums);
        out[outOffset + 1] = dot(row + 1, x, xOffset, blockSums);
    }

    /** {@link #dot} reading each sub-block's activation sum from {@code blockSums}, or summing it where that is null. */
    private float dot(int row, float[] x, int xOffset, float[] blockSums) {
        long base = row * rowBytes;
        SubBlockFactors f = factors.get();
        float[] d = f.d();
        float[] m = f.m();
        int sub = row * f.perRow();
        FloatVector acc = FloatVector.zero(F);
        float offset = 0f;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            for (int g = 0; g < 4; g++, sub += 2) {
                long qs = block + 48 + 32 * g;
                int xg = xOffset + b * BLOCK + 64 * g;
                FloatVector low = FloatVector.zero(F);
                FloatVector high = low;
                for (int c = 0; c < 32; c += L) {
                    IntVector q = VectorKernels.bytes(data, qs + c);
                    IntVector qh = VectorKernels.bytes(data, block + 16 + c);
                    low = low(q, qh, g).fma(FloatVector.fromArray(F, x, xg + c), low);
                    high = high(q, qh, g).fma(FloatVector.fromArray(F, x, xg + 32 + c), high);
                }
                acc = low.fma(FloatVector.broadcast(F, d[sub]), acc);
                acc = high.fma(FloatVector.broadcast(F, d[sub + 1]), acc);
                float lowSum = blockSums != null ? blockSums[b * 8 + 2 * g] : VectorKernels.blockSum(x, xg);
                float highSum = blockSums != null ? blockSums[b * 8 + 2 * g + 1] : VectorKernels.blockSum(x, xg + 32);
                offset += m[sub] * lowSum + m[sub + 1] * highSum;
            }
        }
        return sum(acc) - offset;
    }
}
