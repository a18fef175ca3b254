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
 * Q4_K with the Vector API: like Q4_0, each sub-block of 32 builds the table of its 16 values
 * {@code d * scale * q - dmin * min} with one FMA, and its nibbles index it. With 8 float lanes the
 * table needs two vectors, and there the kernels multiply integers instead, as Q4_0's do.
 */
final class Q4_KVectorMatrix extends Q4_KMatrix {

    Q4_KVectorMatrix(GGUFTensor tensor) {
        super(tensor);
    }

    @Override
    boolean batchesInTiles() {
        return true;
    }

    /** As the plain kernel computes it, {@code d1 * q - m1}, a vector of nibbles at a time (for {@link Gemm}'s tiles). */
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
                    ((FloatVector) q.and(0xF).convert(VectorOperators.I2F, 0)).mul(d1).sub(m1).intoArray(out, o + l);
                    ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).mul(d2).sub(m2).intoArray(out, o + 32 + l);
                }
            }
        }
    }

    @Override
    boolean quantizesActivations() {
        return L == 8;
    }

    /**
     * Row {@code row} against quantized activations, in integers, one group of 64 per step: its 32 bytes are
     * loaded once, their low nibbles are sub-block {@code 2g} (into {@code acc}) and their high nibbles
     * {@code 2g + 1} (into {@code other}). A weight {@code ds * q - dm} is taken as {@code ds * q} against the
     * activations, minus {@code dm} times their sum. The scales and mins are unpacked once per super-block
     * ({@link #scales}, {@link #mins}): unpacked per sub-block, they cost as much as the integer products.
     * The factors {@code ds * x.scale} stay scalars: computed in vectors ahead of the groups, as Q6_K's are,
     * they took this method past C2's node budget for inlining, and every group boxed its vectors.
     */
    @Override
    float dot(int row, QuantizedActivations x, int b) {
        long base = row * rowBytes;
        int xb = b * (cols / QuantizedActivations.BLOCK);
        FloatVector acc = FloatVector.zero(F);
        FloatVector other = FloatVector.zero(F);
        float offset = 0;
        for (int k = 0; k < cols / BLOCK; k++) {
            long block = base + (long) k * BLOCK_BYTES;
            float d = f16(data, block);
            float dmin = f16(data, block + 2);
            long scales = scales(data, block + 4);
            long mins = mins(data, block + 4);
            for (int g = 0; g < 4; g++, xb += 2) {
                long qs = block + 16 + 32 * g;
                ShortVector q0 = VectorKernels.halfBlock(data, qs);
                ShortVector q1 = VectorKernels.halfBlock(data, qs + 16);
                acc = products(q0.and((short) 0xF), q1.and((short) 0xF), x, xb)
                        .fma(FloatVector.broadcast(F, d * (int) (scales >>> 16 * g & 63) * x.scales[xb]), acc);
                other = products(q0.lanewise(VectorOperators.LSHR, 4), q1.lanewise(VectorOperators.LSHR, 4), x, xb + 1)
                        .fma(FloatVector.broadcast(F, d * (int) (scales >>> 16 * g + 8 & 63) * x.scales[xb + 1]), other);
                offset += dmin * ((int) (mins >>> 16 * g & 63) * x.sums[xb] + (int) (mins >>> 16 * g + 8 & 63) * x.sums[xb + 1]);
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

    /**
     * One sub-block of 32 per step, the sub-blocks alternating between two accumulators: one call site
     * per helper keeps the method inside C2's inlining budget (with both sub-blocks of a group written
     * out, the final sum was not inlined on 8 lanes and every row boxed its accumulators).
     */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        FloatVector acc = FloatVector.zero(F);
        FloatVector other = FloatVector.zero(F);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            float dmin = f16(data, block + 2);
            for (int j = 0; j < 8; j++) {
                // Sub-block j: the low nibbles of group j / 2 when j is even, the high nibbles when odd.
                float dj = d * scale(data, block + 4, j), mj = dmin * min(data, block + 4, j);
                IntVector table0 = VectorKernels.table(dj, -mj, 0), table1 = VectorKernels.table(dj, -mj, 1);
                long qs = block + 16 + 32 * (j / 2);
                int xj = xOffset + b * BLOCK + 32 * j;
                for (int c = 0; c < 32; c += L) {
                    IntVector q = VectorKernels.bytes(data, qs + c).lanewise(VectorOperators.LSHR, 4 * (j & 1));
                    FloatVector next = VectorKernels.lookup(q, table0, table1).fma(FloatVector.fromArray(F, x, xj + c), acc);
                    acc = other;
                    other = next;
                }
            }
        }
        return sum(acc.add(other));
    }
}
