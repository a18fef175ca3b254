package dev.streamingllm.backend.cpu;

import java.lang.foreign.MemorySegment;

/**
 * The sub-block factors of Q4_K and Q5_K rows, {@code d1 = d * scale} and {@code m1 = dmin * min} per 32 weights,
 * as ggml's dequantizers compute them, for the row kernels: unpacked from their 6 bits and multiplied out once, where
 * unpacking them for every token made a Q4_K weight cost twice a Q4_0 one. Eight bytes per 32 weights beside the file's 18
 * (Q4_K) or 22 (Q5_K); sub-block {@code j} of row {@code r} at {@code r * perRow + j}.
 */
record SubBlockFactors(float[] d, float[] m, int perRow) {

    /** Factors of {@code matrix}'s rows, in super-blocks of 256 weights and {@code blockBytes} bytes, scales 4 bytes in. */
    static SubBlockFactors of(WeightMatrix matrix, int blockBytes) {
        MemorySegment data = matrix.data;
        int perRow = matrix.cols / 32;
        float[] d1 = new float[matrix.rows * perRow];
        float[] m1 = new float[matrix.rows * perRow];
        for (int r = 0; r < matrix.rows; r++) {
            for (int b = 0; b < matrix.cols / 256; b++) {
                long block = r * matrix.rowBytes + (long) b * blockBytes;
                float d = WeightMatrix.f16(data, block);
                float dmin = WeightMatrix.f16(data, block + 2);
                for (int j = 0; j < 8; j++) {
                    d1[r * perRow + b * 8 + j] = d * Q4_KMatrix.scale(data, block + 4, j);
                    m1[r * perRow + b * 8 + j] = dmin * Q4_KMatrix.min(data, block + 4, j);
                }
            }
        }
        return new SubBlockFactors(d1, m1, perRow);
    }

    /**
     * A matrix's factors, built at its first multiply rather than at load: a model decoded on the GPU only reads its
     * embedding rows on the host. Racy but safe: each thread that finds them missing builds the same factors, and a
     * record's final fields publish its arrays.
     */
    static final class Lazy {

        private final WeightMatrix matrix;
        private final int blockBytes;
        private SubBlockFactors built;

        Lazy(WeightMatrix matrix, int blockBytes) {
            this.matrix = matrix;
            this.blockBytes = blockBytes;
        }

        SubBlockFactors get() {
            SubBlockFactors factors = built;
            if (factors == null) {
                factors = of(matrix, blockBytes);
                built = factors;
            }
            return factors;
        }
    }
}
