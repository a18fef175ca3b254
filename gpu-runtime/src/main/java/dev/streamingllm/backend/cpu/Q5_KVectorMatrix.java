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

    @Override
    void dot4(int row, float[] x, int xOffset, float[] out, int outOffset) {
        long base = row * rowBytes;
        int x0 = xOffset, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            float dmin = f16(data, block + 2);
            for (int g = 0; g < 4; g++) {
                float d1 = d * Q4_KMatrix.scale(data, block + 4, 2 * g), m1 = dmin * Q4_KMatrix.min(data, block + 4, 2 * g);
                float d2 = d * Q4_KMatrix.scale(data, block + 4, 2 * g + 1), m2 = dmin * Q4_KMatrix.min(data, block + 4, 2 * g + 1);
                IntVector low0 = VectorKernels.table(d1, -m1, 0), low1 = VectorKernels.table(d1, -m1, 1);
                IntVector high0 = VectorKernels.table(d2, -m2, 0), high1 = VectorKernels.table(d2, -m2, 1);
                long qs = block + 48 + 32 * g;
                for (int c = 0; c < 32; c += L) {
                    IntVector q = VectorKernels.bytes(data, qs + c);
                    IntVector qh = VectorKernels.bytes(data, block + 16 + c);
                    FloatVector w = VectorKernels.lookup(q, low0, low1).add(16 * d1, fifthBit(qh, 2 * g));
                    int i = b * BLOCK + 64 * g + c;
                    acc0 = w.fma(FloatVector.fromArray(F, x, x0 + i), acc0);
                    acc1 = w.fma(FloatVector.fromArray(F, x, x1 + i), acc1);
                    acc2 = w.fma(FloatVector.fromArray(F, x, x2 + i), acc2);
                    acc3 = w.fma(FloatVector.fromArray(F, x, x3 + i), acc3);
                    w = VectorKernels.lookup(q.lanewise(VectorOperators.LSHR, 4), high0, high1).add(16 * d2, fifthBit(qh, 2 * g + 1));
                    i += 32;
                    acc0 = w.fma(FloatVector.fromArray(F, x, x0 + i), acc0);
                    acc1 = w.fma(FloatVector.fromArray(F, x, x1 + i), acc1);
                    acc2 = w.fma(FloatVector.fromArray(F, x, x2 + i), acc2);
                    acc3 = w.fma(FloatVector.fromArray(F, x, x3 + i), acc3);
                }
            }
        }
        out[outOffset] = sum(acc0);
        out[outOffset + rows] = sum(acc1);
        out[outOffset + 2 * rows] = sum(acc2);
        out[outOffset + 3 * rows] = sum(acc3);
    }
}
