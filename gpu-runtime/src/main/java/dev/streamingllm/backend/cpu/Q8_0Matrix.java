package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;

/** Q8_0: blocks of 32 as an f16 scale {@code d} and 32 int8 quants; value = q * d. */
sealed class Q8_0Matrix extends WeightMatrix permits Q8_0VectorMatrix {

    static final int BLOCK = 32;
    static final int BLOCK_BYTES = 2 + 32;

    Q8_0Matrix(GGUFTensor tensor) {
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
            for (int i = 0; i < BLOCK; i++) {
                s += data.get(I8, block + 2 + i) * x[xb + i];
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
            for (int i = 0; i < BLOCK; i++) {
                out[outOffset + b * BLOCK + i] = data.get(I8, block + 2 + i) * d;
            }
        }
    }
}
