package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;

/**
 * Q4_0: blocks of 32 as an f16 scale {@code d} and 16 bytes of 4-bit quants; the low nibbles are
 * elements 0..15, the high nibbles 16..31, and value = (q - 8) * d.
 */
sealed class Q4_0Matrix extends WeightMatrix permits Q4_0VectorMatrix {

    static final int BLOCK = 32;
    static final int BLOCK_BYTES = 2 + 16;

    Q4_0Matrix(GGUFTensor tensor) {
        super(tensor);
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        float sum = 0f;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * BLOCK;
            float s = 0f;
            for (int i = 0; i < 16; i++) {
                int q = data.get(I8, block + 2 + i);
                s += ((q & 0xF) - 8) * x[xb + i] + (((q >> 4) & 0xF) - 8) * x[xb + 16 + i];
            }
            sum += f16(data, block) * s;
        }
        return sum;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            int ob = outOffset + b * BLOCK;
            for (int i = 0; i < 16; i++) {
                int q = data.get(I8, block + 2 + i);
                out[ob + i] = ((q & 0xF) - 8) * d;
                out[ob + 16 + i] = (((q >> 4) & 0xF) - 8) * d;
            }
        }
    }
}
