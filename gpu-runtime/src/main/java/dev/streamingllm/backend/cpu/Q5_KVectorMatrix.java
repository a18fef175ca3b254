package dev.streamingllm.backend.cpu;

import static dev.streamingllm.backend.cpu.VectorKernels.F;
import static dev.streamingllm.backend.cpu.VectorKernels.L;
import static dev.streamingllm.backend.cpu.VectorKernels.sum;

import dev.streamingllm.gguf.GGUFTensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Q5_K with the Vector API: Q4_K's table lookup for the low nibble, then {@code 16 * d * scale}
 * added in the lanes whose fifth bit is set.
 */
final class Q5_KVectorMatrix extends Q5_KMatrix {

    Q5_KVectorMatrix(GGUFTensor tensor) {
        super(tensor);
    }

    @Override
    boolean batchesInTiles() {
        return true;
    }

    /** Lanes whose byte in {@code qh} has bit {@code bit} set. */
    private static VectorMask<Float> fifthBit(IntVector qh, int bit) {
        return qh.and(1 << bit).compare(VectorOperators.NE, 0).cast(F);
    }

    /** One sub-block of 32 per step, as in {@link Q4_KVectorMatrix#dot}, for the same reason. */
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
                float dj = d * Q4_KMatrix.scale(data, block + 4, j), mj = dmin * Q4_KMatrix.min(data, block + 4, j);
                IntVector table0 = VectorKernels.table(dj, -mj, 0), table1 = VectorKernels.table(dj, -mj, 1);
                long qs = block + 48 + 32 * (j / 2);
                int xj = xOffset + b * BLOCK + 32 * j;
                for (int c = 0; c < 32; c += L) {
                    IntVector q = VectorKernels.bytes(data, qs + c).lanewise(VectorOperators.LSHR, 4 * (j & 1));
                    IntVector qh = VectorKernels.bytes(data, block + 16 + c);
                    FloatVector w = VectorKernels.lookup(q, table0, table1).add(16 * dj, fifthBit(qh, j));
                    FloatVector next = w.fma(FloatVector.fromArray(F, x, xj + c), acc);
                    acc = other;
                    other = next;
                }
            }
        }
        return sum(acc.add(other));
    }
}
