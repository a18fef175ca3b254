package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;

/**
 * Q5_K: Q4_K's super-block with a fifth bit per element: f16 {@code d}, f16 {@code dmin}, 12 bytes
 * of scales and mins, 32 bytes {@code qh}, 128 bytes of low nibbles. Element {@code l} of
 * sub-block {@code j} takes bit {@code j} of {@code qh[l]} as its 16s; value = d * scale * q - dmin * min.
 */
sealed class Q5_KMatrix extends WeightMatrix permits Q5_KVectorMatrix {

    static final int BLOCK = 256;
    static final int BLOCK_BYTES = 2 + 2 + 12 + 32 + 128;

    Q5_KMatrix(GGUFTensor tensor) {
        super(tensor);
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        float sum = 0f;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            float dmin = f16(data, block + 2);
            for (int g = 0; g < 4; g++) {
                long qs = block + 48 + 32 * g;
                int xg = xOffset + b * BLOCK + 64 * g;
                float lo = 0f, hi = 0f, xlo = 0f, xhi = 0f;
                for (int l = 0; l < 32; l++) {
                    int q = data.get(I8, qs + l);
                    int h = data.get(I8, block + 16 + l) >> (2 * g);
                    lo += ((q & 0xF) | (h & 1) << 4) * x[xg + l];
                    hi += (((q >> 4) & 0xF) | (h & 2) << 3) * x[xg + 32 + l];
                    xlo += x[xg + l];
                    xhi += x[xg + 32 + l];
                }
                sum += d * (Q4_KMatrix.scale(data, block + 4, 2 * g) * lo + Q4_KMatrix.scale(data, block + 4, 2 * g + 1) * hi)
                        - dmin * (Q4_KMatrix.min(data, block + 4, 2 * g) * xlo + Q4_KMatrix.min(data, block + 4, 2 * g + 1) * xhi);
            }
        }
        return sum;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block);
            float dmin = f16(data, block + 2);
            for (int g = 0; g < 4; g++) {
                float d1 = d * Q4_KMatrix.scale(data, block + 4, 2 * g), m1 = dmin * Q4_KMatrix.min(data, block + 4, 2 * g);
                float d2 = d * Q4_KMatrix.scale(data, block + 4, 2 * g + 1), m2 = dmin * Q4_KMatrix.min(data, block + 4, 2 * g + 1);
                long qs = block + 48 + 32 * g;
                int o = outOffset + b * BLOCK + 64 * g;
                for (int l = 0; l < 32; l++) {
                    int q = data.get(I8, qs + l);
                    int h = data.get(I8, block + 16 + l) >> (2 * g);
                    out[o + l] = d1 * ((q & 0xF) | (h & 1) << 4) - m1;
                    out[o + 32 + l] = d2 * (((q >> 4) & 0xF) | (h & 2) << 3) - m2;
                }
            }
        }
    }
}
