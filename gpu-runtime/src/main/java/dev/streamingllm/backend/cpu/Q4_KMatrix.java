package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;
import java.lang.foreign.MemorySegment;

/**
 * Q4_K: super-blocks of 256 as f16 {@code d}, f16 {@code dmin}, 12 bytes of 6-bit scales and mins
 * for eight sub-blocks of 32, and 128 bytes of 4-bit quants. The elements come in four groups of
 * 64: 32 bytes whose low nibbles are sub-block 2g and high nibbles sub-block 2g+1; value =
 * d * scale * q - dmin * min.
 */
sealed class Q4_KMatrix extends WeightMatrix permits Q4_KVectorMatrix {

    static final int BLOCK = 256;
    static final int BLOCK_BYTES = 2 + 2 + 12 + 128;

    Q4_KMatrix(GGUFTensor tensor) {
        super(tensor);
    }

    /** The 6-bit scale of sub-block {@code j} from the 12 packed bytes at {@code scales} (ggml's get_scale_min_k4). */
    static int scale(MemorySegment data, long scales, int j) {
        return j < 4
                ? data.get(I8, scales + j) & 63
                : (data.get(I8, scales + j + 4) & 0xF) | ((data.get(I8, scales + j - 4) & 0xFF) >> 6) << 4;
    }

    /** The 6-bit min of sub-block {@code j}, packed beside the scales. */
    static int min(MemorySegment data, long scales, int j) {
        return j < 4
                ? data.get(I8, scales + j + 4) & 63
                : (data.get(I8, scales + j + 4) & 0xFF) >> 4 | ((data.get(I8, scales + j) & 0xFF) >> 6) << 4;
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
                long qs = block + 16 + 32 * g;
                int xg = xOffset + b * BLOCK + 64 * g;
                float lo = 0f, hi = 0f, xlo = 0f, xhi = 0f;
                for (int l = 0; l < 32; l++) {
                    int q = data.get(I8, qs + l);
                    lo += (q & 0xF) * x[xg + l];
                    hi += ((q >> 4) & 0xF) * x[xg + 32 + l];
                    xlo += x[xg + l];
                    xhi += x[xg + 32 + l];
                }
                sum += d * (scale(data, block + 4, 2 * g) * lo + scale(data, block + 4, 2 * g + 1) * hi)
                        - dmin * (min(data, block + 4, 2 * g) * xlo + min(data, block + 4, 2 * g + 1) * xhi);
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
                float d1 = d * scale(data, block + 4, 2 * g), m1 = dmin * min(data, block + 4, 2 * g);
                float d2 = d * scale(data, block + 4, 2 * g + 1), m2 = dmin * min(data, block + 4, 2 * g + 1);
                long qs = block + 16 + 32 * g;
                int o = outOffset + b * BLOCK + 64 * g;
                for (int l = 0; l < 32; l++) {
                    int q = data.get(I8, qs + l);
                    out[o + l] = d1 * (q & 0xF) - m1;
                    out[o + 32 + l] = d2 * ((q >> 4) & 0xF) - m2;
                }
            }
        }
    }
}
