package dev.streamingllm.backend.cpu;

import java.lang.foreign.MemorySegment;

/**
 * The sub-block factors of Q4_K and Q5_K rows, {@code d1 = d * scale} and {@code m1 = dmin * min} per 32 weights,
 * as ggml's dequantizers compute them: unpacked from their 6 bits and multiplied out once at load, where unpacking
 * them for every token made a Q4_K weight cost twice a Q4_0 one. Eight bytes per 32 weights beside the file's 18
 * (Q4_K) or 22 (Q5_K); sub-block {@code j} of row {@code r} at {@code r * perRow + j}.
 */
record SubBlockFactors(float[] d, float[] m, int perRow) {

    /** Factors of {@code rows} rows of {@code cols} weights in super-blocks of 256, whose packed scales start 4 bytes in. */
    static SubBlockFactors of(MemorySegment data, int rows, int cols, long rowBytes, int blockBytes) {
        int perRow = cols / 32;
        float[] d1 = new float[rows * perRow];
        float[] m1 = new float[rows * perRow];
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < cols / 256; b++) {
                long block = r * rowBytes + (long) b * blockBytes;
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
}
