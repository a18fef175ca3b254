package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;

/**
 * Q5_1: blocks of 32 as an f16 scale {@code d}, an f16 minimum {@code m}, 32 bits {@code qh} and 16
 * bytes of low nibbles, laid out as Q5_0's; value = d * q + m with q in 0..31.
 */
sealed class Q5_1Matrix extends WeightMatrix permits Q5_1VectorMatrix {

    static final int BLOCK = 32;
    static final int BLOCK_BYTES = 2 + 2 + 4 + 16;

    Q5_1Matrix(GGUFTensor tensor) {
        super(tensor);
    }

    /** Per block: d times the quants' products, plus m times the activations' sum. */
    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        float sum = 0f;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            int qh = data.get(U32, block + 4);
            int xb = xOffset + b * BLOCK;
            float s = 0f;
            float xs = 0f;
            for (int i = 0; i < 16; i++) {
                int q = data.get(I8, block + 8 + i);
                s += Q5_0Matrix.fiveBits(q, qh, i) * x[xb + i] + Q5_0Matrix.fiveBits(q >> 4, qh, 16 + i) * x[xb + 16 + i];
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
            int qh = data.get(U32, block + 4);
            int ob = outOffset + b * BLOCK;
            for (int i = 0; i < 16; i++) {
                int q = data.get(I8, block + 8 + i);
                out[ob + i] = Q5_0Matrix.fiveBits(q, qh, i) * d + m;
                out[ob + 16 + i] = Q5_0Matrix.fiveBits(q >> 4, qh, 16 + i) * d + m;
            }
        }
    }
}
