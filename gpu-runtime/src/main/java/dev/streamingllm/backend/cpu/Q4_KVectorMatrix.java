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
 * Q4_K with the Vector API. With 16 lanes (AVX-512), a decode step multiplies 32 rows at a time in a copy
 * interleaved as Q4_1's is ({@link InterleavedNibbles}), each sub-block of 32 a Q4_1 block; rows that do not come
 * in groups of 32 are multiplied in floats, each sub-block's products scaled once and its minimum applied to the
 * sub-block's activation sum. With 8 lanes (AVX2) the kernels multiply integers against the quantized activations,
 * row by row, as Q4_0's do. Batches go through float tiles, of the interleaved copy where there is one ({@link GroupTiles}), else of
 * the file's rows ({@link Gemm}).
 */
final class Q4_KVectorMatrix extends Q4_KMatrix {

    private final SubBlockFactors.Lazy factors = new SubBlockFactors.Lazy(this, BLOCK_BYTES);

    /** The rows interleaved in groups for a decode step's kernel, where {@link InterleavedRows#applies}; else null. */
    private final InterleavedRows.Lazy interleaved;

    Q4_KVectorMatrix(GGUFTensor tensor) {
        super(tensor);
        interleaved = InterleavedRows.applies(this) ? InterleavedNibbles.lazy(this, true, this::interleave) : null;
    }

    /**
     * Each sub-block as a Q4_1 block: its 32 nibbles in Q4_1's order (byte {@code j} holds weights {@code j} and
     * {@code j + 16}), {@code d * scale} and {@code -dmin * min}, as ggml forms them.
     */
    private void interleave(InterleavedNibbles groups) {
        byte[] quants = new byte[16];
        for (int row = 0; row < rows; row++) {
            for (int b = 0; b < cols / BLOCK; b++) {
                long block = row * rowBytes + (long) b * BLOCK_BYTES;
                float d = f16(data, block);
                float dmin = f16(data, block + 2);
                for (int j = 0; j < 8; j++) {
                    long qs = block + 16 + 32 * (j / 2);
                    int shift = 4 * (j % 2);
                    for (int t = 0; t < 16; t++) {
                        int low = (data.get(I8, qs + t) >> shift) & 0xF;
                        int high = (data.get(I8, qs + t + 16) >> shift) & 0xF;
                        quants[t] = (byte) (low | high << 4);
                    }
                    groups.put(row, 8 * b + j, quants, d * scale(data, block + 4, j), -(dmin * min(data, block + 4, j)));
                }
            }
        }
    }

    @Override
    boolean batchesInTiles() {
        return true;
    }

    /**
     * As ggml computes it, {@code d1 * q - m1}, a vector of nibbles at a time (for {@link Gemm}'s tiles). The factors
     * are unpacked here rather than read from {@link SubBlockFactors}: a tile decodes a weight once per batch, so the
     * unpacking costs little, and a matrix held interleaved then never builds them.
     */
    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            float dmin = f16(data, block + 2);
            for (int g = 0; g < 4; g++) {
                float d1 = d * scale(data, block + 4, 2 * g), m1 = dmin * min(data, block + 4, 2 * g);
                float d2 = d * scale(data, block + 4, 2 * g + 1), m2 = dmin * min(data, block + 4, 2 * g + 1);
                long qs = block + 16 + 32 * g;
                int o = outOffset + b * BLOCK + 64 * g;
                for (int l = 0; l < 32; l += L) {
                    IntVector q = VectorKernels.bytes(data, qs + l);
                    VectorKernels.lowNibbles(q).mul(d1).sub(m1).intoArray(out, o + l);
                    VectorKernels.highNibbles(q).mul(d2).sub(m2).intoArray(out, o + 32 + l);
                }
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
     * Row {@code row} against quantized activations, in integers, one group of 64 per step: its 32 bytes are
     * loaded once, their low nibbles are sub-block {@code 2g} (into {@code acc}) and their high nibbles
     * {@code 2g + 1} (into {@code other}). A weight {@code d1 * q - m1} is taken as {@code d1 * q} against the
     * activations, minus {@code m1} times their sum. The factors {@code d1 * x.scale} stay scalars: computed in
     * vectors ahead of the groups, as Q6_K's are, they took this method past C2's node budget for inlining, and
     * every group boxed its vectors.
     */
    @Override
    float dot(int row, QuantizedActivations x, int b) {
        long base = row * rowBytes;
        SubBlockFactors f = factors.get();
        float[] d = f.d();
        float[] m = f.m();
        int sub = row * f.perRow();
        int xb = b * (cols / QuantizedActivations.BLOCK);
        FloatVector acc = FloatVector.zero(F);
        FloatVector other = FloatVector.zero(F);
        float offset = 0;
        for (int k = 0; k < cols / BLOCK; k++) {
            long block = base + (long) k * BLOCK_BYTES;
            for (int g = 0; g < 4; g++, xb += 2, sub += 2) {
                long qs = block + 16 + 32 * g;
                ShortVector q0 = VectorKernels.halfBlock(data, qs);
                ShortVector q1 = VectorKernels.halfBlock(data, qs + 16);
                acc = products(q0.and((short) 0xF), q1.and((short) 0xF), x, xb)
                        .fma(FloatVector.broadcast(F, d[sub] * x.scales[xb]), acc);
                other = products(q0.lanewise(VectorOperators.LSHR, 4), q1.lanewise(VectorOperators.LSHR, 4), x, xb + 1)
                        .fma(FloatVector.broadcast(F, d[sub + 1] * x.scales[xb + 1]), other);
                offset += m[sub] * x.sums[xb] + m[sub + 1] * x.sums[xb + 1];
            }
        }
        return sum(acc.add(other)) - offset;
    }

    /**
     * Unsigned 4-bit weights {@code low} (elements 0..15 of a sub-block) and {@code high} (16..31) times
     * activation block {@code xb}, as 8 float lanes that sum to their dot product: a 16-bit lane adds two
     * products of at most 15 x 1023, and pairs of lanes go to 32 bits ({@link VectorKernels#pairSums}).
     */
    private static FloatVector products(ShortVector low, ShortVector high, QuantizedActivations x, int xb) {
        int v = xb * QuantizedActivations.BLOCK;
        return VectorKernels.pairSums(low.mul(ShortVector.fromArray(VectorKernels.HALF_BLOCK, x.values, v))
                .add(high.mul(ShortVector.fromArray(VectorKernels.HALF_BLOCK, x.values, v + 16))));
    }

    @Override
    boolean readsBlockSums() {
        return !quantizesActivations();
    }

    /**
     * One row in floats, factored as Q4_1's kernel is: per sub-block the nibbles, converted to floats, times the
     * activations, scaled once by {@code d * scale}, less {@code dmin * min} times the sub-block's activation sum
     * (both from {@link SubBlockFactors}). A group's 32 bytes are loaded once for its two sub-blocks
     * (low nibbles, then high). Looking each nibble up in a per-sub-block table of its 16 values put a build of the
     * table and two permutes on the shuffle port for every 32 weights.
     */
    @Override
    public float dot(int row, float[] x, int xOffset) {
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
                long qs = block + 16 + 32 * g;
                int xg = xOffset + b * BLOCK + 64 * g;
                FloatVector low = FloatVector.zero(F);
                FloatVector high = low;
                for (int c = 0; c < 32; c += L) {
                    IntVector q = VectorKernels.bytes(data, qs + c);
                    low = VectorKernels.lowNibbles(q).fma(FloatVector.fromArray(F, x, xg + c), low);
                    high = VectorKernels.highNibbles(q).fma(FloatVector.fromArray(F, x, xg + 32 + c), high);
                }
                acc = low.fma(FloatVector.broadcast(F, d[sub]), acc);
                acc = high.fma(FloatVector.broadcast(F, d[sub + 1]), acc);
                offset += m[sub] * VectorKernels.blockSum(x, xg) + m[sub + 1] * VectorKernels.blockSum(x, xg + 32);
            }
        }
        return sum(acc) - offset;
    }

    /** Two rows as {@link #dot} computes one, each activation and block sum read once for both. */
    @Override
    void dot2(int row, float[] x, int xOffset, float[] blockSums, float[] out, int outOffset) {
        long base0 = row * rowBytes;
        long base1 = base0 + rowBytes;
        SubBlockFactors f = factors.get();
        float[] d = f.d();
        float[] m = f.m();
        int sub0 = row * f.perRow();
        int sub1 = sub0 + f.perRow();
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = acc0;
        float offset0 = 0f;
        float offset1 = 0f;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block0 = base0 + (long) b * BLOCK_BYTES;
            long block1 = base1 + (long) b * BLOCK_BYTES;
            for (int g = 0; g < 4; g++, sub0 += 2, sub1 += 2) {
                int xg = xOffset + b * BLOCK + 64 * g;
                FloatVector low0 = FloatVector.zero(F);
                FloatVector high0 = low0;
                FloatVector low1 = low0;
                FloatVector high1 = low0;
                for (int c = 0; c < 32; c += L) {
                    FloatVector xLow = FloatVector.fromArray(F, x, xg + c);
                    FloatVector xHigh = FloatVector.fromArray(F, x, xg + 32 + c);
                    IntVector q0 = VectorKernels.bytes(data, block0 + 16 + 32 * g + c);
                    IntVector q1 = VectorKernels.bytes(data, block1 + 16 + 32 * g + c);
                    low0 = VectorKernels.lowNibbles(q0).fma(xLow, low0);
                    high0 = VectorKernels.highNibbles(q0).fma(xHigh, high0);
                    low1 = VectorKernels.lowNibbles(q1).fma(xLow, low1);
                    high1 = VectorKernels.highNibbles(q1).fma(xHigh, high1);
                }
                acc0 = low0.fma(FloatVector.broadcast(F, d[sub0]), acc0);
                acc0 = high0.fma(FloatVector.broadcast(F, d[sub0 + 1]), acc0);
                acc1 = low1.fma(FloatVector.broadcast(F, d[sub1]), acc1);
                acc1 = high1.fma(FloatVector.broadcast(F, d[sub1 + 1]), acc1);
                float lowSum = blockSums[b * 8 + 2 * g];
                float highSum = blockSums[b * 8 + 2 * g + 1];
                offset0 += m[sub0] * lowSum + m[sub0 + 1] * highSum;
                offset1 += m[sub1] * lowSum + m[sub1 + 1] * highSum;
            }
        }
        out[outOffset] = sum(acc0) - offset0;
        out[outOffset + 1] = sum(acc1) - offset1;
    }
}
