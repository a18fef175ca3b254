package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;

/**
 * Q5_0: blocks of 32 as an f16 scale {@code d}, 32 bits {@code qh} and 16 bytes of low nibbles; the
 * low nibbles are elements 0..15, the high nibbles 16..31, bit {@code i} of {@code qh} (little-endian)
 * is the fifth bit of element {@code i}, and value = (q - 16) * d.
 */
sealed class Q5_0Matrix extends WeightMatrix permits Q5_0VectorMatrix {

    static final int BLOCK = 32;
    static final int BLOCK_BYTES = 2 + 4 + 16;

    Q5_0Matrix(GGUFTensor tensor) {
        super(tensor);
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        float sum = 0f;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            int qh = data.get(U32, block + 2);
            int xb = xOffset + b * BLOCK;
            float s = 0f;
            for (int i = 0; i < 16; i++) {
                int q = data.get(I8, block + 6 + i);
                s += (fiveBits(q, qh, i) - 16) * x[xb + i] + (fiveBits(q >> 4, qh, 16 + i) - 16) * x[xb + 16 + i];
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
            int qh = data.get(U32, block + 2);
            int ob = outOffset + b * BLOCK;
            for (int i = 0; i < 16; i++) {
                int q = data.get(I8, block + 6 + i);
                out[ob + i] = (fiveBits(q, qh, i) - 16) * d;
                out[ob + 16 + i] = (fiveBits(q >> 4, qh, 16 + i) - 16) * d;
            }
        }
    }

    /** Element {@code i}'s quant in 0..31: the low nibble of {@code nibble} and bit {@code i} of {@code qh} as its 16s. */
    static int fiveBits(int nibble, int qh, int i) {
        return (nibble & 0xF) | ((qh >>> i) & 1) << 4;
    }
}
