package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;

/**
 * Q6_K: super-blocks of 256 as 128 bytes {@code ql} (low 4 bits), 64 bytes {@code qh} (high 2
 * bits), 16 int8 scales (one per 16 elements) and an f16 {@code d} at the end. Each half of 128
 * elements uses 64 bytes of ql and 32 of qh: element {@code l + 32k} (l < 32, k < 4) takes the low
 * or high nibble of {@code ql[l + 32 (k & 1)]} and bits {@code 2k, 2k+1} of {@code qh[l]};
 * value = d * scale * (q - 32).
 */
sealed class Q6_KMatrix extends WeightMatrix permits Q6_KVectorMatrix {

    static final int BLOCK = 256;
    static final int BLOCK_BYTES = 128 + 64 + 16 + 2;

    Q6_KMatrix(GGUFTensor tensor) {
        super(tensor);
    }

    /** Quant {@code l + 32k} (0..63, unbiased) of the half at {@code ql}, {@code qh}. */
    int quant(long ql, long qh, int l, int k) {
        int low = data.get(I8, ql + l + 32 * (k & 1)) >> 4 * (k >> 1) & 0xF;
        int high = data.get(I8, qh + l) >> 2 * k & 3;
        return low | high << 4;
    }

    @Override
    public float dot(int row, float[] x, int xOffset) {
        long base = row * rowBytes;
        float sum = 0f;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block + 208);
            for (int half = 0; half < 2; half++) {
                long ql = block + 64 * half;
                long qh = block + 128 + 32 * half;
                long scales = block + 192 + 8 * half;
                int xh = xOffset + b * BLOCK + 128 * half;
                for (int k = 0; k < 4; k++) {
                    for (int sub = 0; sub < 2; sub++) {
                        float s = 0f;
                        for (int l = 16 * sub; l < 16 * sub + 16; l++) {
                            s += (quant(ql, qh, l, k) - 32) * x[xh + 32 * k + l];
                        }
                        sum += d * data.get(I8, scales + 2 * k + sub) * s;
                    }
                }
            }
        }
        return sum;
    }

    @Override
    public void dequantizeRow(int row, float[] out, int outOffset) {
        long base = row * rowBytes;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) b * BLOCK_BYTES;
            float d = f16(data, block + 208);
            for (int half = 0; half < 2; half++) {
                long ql = block + 64 * half;
                long qh = block + 128 + 32 * half;
                long scales = block + 192 + 8 * half;
                int o = outOffset + b * BLOCK + 128 * half;
                for (int k = 0; k < 4; k++) {
                    for (int l = 0; l < 32; l++) {
                        out[o + 32 * k + l] = d * data.get(I8, scales + 2 * k + l / 16) * (quant(ql, qh, l, k) - 32);
                    }
                }
            }
        }
    }
}
