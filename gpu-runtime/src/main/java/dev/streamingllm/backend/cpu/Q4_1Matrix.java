package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;

/**
 * Q4_1: blocks of 32 as an f16 scale {@code d}, an f16 minimum {@code m} and 16 bytes of 4-bit
 * quants; the low nibbles are elements 0..15, the high nibbles 16..31, and value = d * q + m.
 */
sealed class Q4_1Matrix extends WeightMatrix permits Q4_1VectorMatrix {

    static final int BLOCK = 32;
    static final int BLOCK_BYTES = 2 + 2 + 16;

    Q4_1Matrix(GGUFTensor tensor) {
        super(tensor);
    }

    /** Per block: d times the quants' products, plus m times the activations' sum. */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        float sum = 0f;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            int xb = xOffset + b * BLOCK;
            float s = 0f;
            float xs = 0f;
            for (int i = 0; i < 16; i++) {
                int q = data.get(I8, block + 4 + i);
                s += (q & 0xF) * x[xb + i] + ((q >> 4) & 0xF) * x[xb + 16 + i];
                xs += x[xb + i] + x[xb + 16 + i];
            }
            sum += f16(data, block) * s + f16(data, block + 2) * xs;
        }
        return sum;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            float m = f16(data, block + 2);
            int ob = outOffset + b * BLOCK;
            for (int i = 0; i < 16; i++) {
                int q = data.get(I8, block + 4 + i);
                out[ob + i] = (q & 0xF) * d + m;
                out[ob + 16 + i] = ((q >> 4) & 0xF) * d + m;
            }
        }
    }
}
