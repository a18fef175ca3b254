package dev.streamingllm.backend.cpu;

import dev.streamingllm.gguf.GGUFTensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A straightforward double-precision dequantizer written from ggml-quants.c's dequantize_row_*
 * (same loops, same names), as the yardstick for the kernels.
 */
final class Reference {

    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Reference() {
    }

    static double[] row(GGUFTensor t, int row) {
        int n = t.cols();
        long rowBytes = t.type().byteSize(n);
        MemorySegment m = t.data().asSlice(row * rowBytes, rowBytes);
        double[] y = new double[n];
        switch (t.type()) {
            case F32 -> {
                for (int i = 0; i < n; i++) y[i] = m.get(FLOAT, 4L * i);
            }
            case F16 -> {
                for (int i = 0; i < n; i++) y[i] = half(m, 2L * i);
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) y[i] = Float.intBitsToFloat((m.get(HALF, 2L * i) & 0xFFFF) << 16);
            }
            case Q8_0 -> {
                for (int i = 0; i < n / 32; i++) {
                    long x = 34L * i;
                    double d = half(m, x);
                    for (int j = 0; j < 32; j++) y[i * 32 + j] = m.get(ValueLayout.JAVA_BYTE, x + 2 + j) * d;
                }
            }
            case Q4_0 -> {
                for (int i = 0; i < n / 32; i++) {
                    long x = 18L * i;
                    double d = half(m, x);
                    for (int j = 0; j < 16; j++) {
                        int b = u8(m, x + 2 + j);
                        y[i * 32 + j] = ((b & 0x0F) - 8) * d;
                        y[i * 32 + j + 16] = ((b >> 4) - 8) * d;
                    }
                }
            }
            case Q4_1 -> {
                for (int i = 0; i < n / 32; i++) {
                    long x = 20L * i;
                    double d = half(m, x), min = half(m, x + 2);
                    for (int j = 0; j < 16; j++) {
                        int b = u8(m, x + 4 + j);
                        y[i * 32 + j] = (b & 0x0F) * d + min;
                        y[i * 32 + j + 16] = (b >> 4) * d + min;
                    }
                }
            }
            case Q5_0 -> {
                for (int i = 0; i < n / 32; i++) {
                    long x = 22L * i;
                    double d = half(m, x);
                    long qh = m.get(U32, x + 2) & 0xFFFFFFFFL;
                    for (int j = 0; j < 16; j++) {
                        int xh0 = (int) (((qh >> j) << 4) & 0x10);
                        int xh1 = (int) ((qh >> (j + 12)) & 0x10);
                        int b = u8(m, x + 6 + j);
                        y[i * 32 + j] = (((b & 0x0F) | xh0) - 16) * d;
                        y[i * 32 + j + 16] = (((b >> 4) | xh1) - 16) * d;
                    }
                }
            }
            case Q5_1 -> {
                for (int i = 0; i < n / 32; i++) {
                    long x = 24L * i;
                    double d = half(m, x), min = half(m, x + 2);
                    long qh = m.get(U32, x + 4) & 0xFFFFFFFFL;
                    for (int j = 0; j < 16; j++) {
                        int xh0 = (int) (((qh >> j) << 4) & 0x10);
                        int xh1 = (int) ((qh >> (j + 12)) & 0x10);
                        int b = u8(m, x + 8 + j);
                        y[i * 32 + j] = ((b & 0x0F) | xh0) * d + min;
                        y[i * 32 + j + 16] = ((b >> 4) | xh1) * d + min;
                    }
                }
            }
            case Q4_K -> {
                int yi = 0;
                for (int i = 0; i < n / 256; i++) {
                    long x = 144L * i;
                    double d = half(m, x), min = half(m, x + 2);
                    long scales = x + 4, q = x + 16;
                    int is = 0;
                    for (int j = 0; j < 256; j += 64) {
                        int[] sm = scaleMinK4(m, scales, is);
                        double d1 = d * sm[0], m1 = min * sm[1];
                        sm = scaleMinK4(m, scales, is + 1);
                        double d2 = d * sm[0], m2 = min * sm[1];
                        for (int l = 0; l < 32; ++l) y[yi++] = d1 * (u8(m, q + l) & 0xF) - m1;
                        for (int l = 0; l < 32; ++l) y[yi++] = d2 * (u8(m, q + l) >> 4) - m2;
                        q += 32;
                        is += 2;
                    }
                }
            }
            case Q5_K -> {
                int yi = 0;
                for (int i = 0; i < n / 256; i++) {
                    long x = 176L * i;
                    double d = half(m, x), min = half(m, x + 2);
                    long scales = x + 4, qh = x + 16, ql = x + 48;
                    int is = 0, u1 = 1, u2 = 2;
                    for (int j = 0; j < 256; j += 64) {
                        int[] sm = scaleMinK4(m, scales, is);
                        double d1 = d * sm[0], m1 = min * sm[1];
                        sm = scaleMinK4(m, scales, is + 1);
                        double d2 = d * sm[0], m2 = min * sm[1];
                        for (int l = 0; l < 32; ++l) y[yi++] = d1 * ((u8(m, ql + l) & 0xF) + ((u8(m, qh + l) & u1) != 0 ? 16 : 0)) - m1;
                        for (int l = 0; l < 32; ++l) y[yi++] = d2 * ((u8(m, ql + l) >> 4) + ((u8(m, qh + l) & u2) != 0 ? 16 : 0)) - m2;
                        ql += 32;
                        is += 2;
                        u1 <<= 2;
                        u2 <<= 2;
                    }
                }
            }
            case Q6_K -> {
                for (int i = 0; i < n / 256; i++) {
                    long x = 210L * i;
                    double d = half(m, x + 208);
                    long ql = x, qh = x + 128, sc = x + 192;
                    int y0 = i * 256;
                    for (int nn = 0; nn < 256; nn += 128) {
                        for (int l = 0; l < 32; ++l) {
                            int is = l / 16;
                            int q1 = ((u8(m, ql + l) & 0xF) | (((u8(m, qh + l) >> 0) & 3) << 4)) - 32;
                            int q2 = ((u8(m, ql + l + 32) & 0xF) | (((u8(m, qh + l) >> 2) & 3) << 4)) - 32;
                            int q3 = ((u8(m, ql + l) >> 4) | (((u8(m, qh + l) >> 4) & 3) << 4)) - 32;
                            int q4 = ((u8(m, ql + l + 32) >> 4) | (((u8(m, qh + l) >> 6) & 3) << 4)) - 32;
                            y[y0 + l] = d * i8(m, sc + is) * q1;
                            y[y0 + l + 32] = d * i8(m, sc + is + 2) * q2;
                            y[y0 + l + 64] = d * i8(m, sc + is + 4) * q3;
                            y[y0 + l + 96] = d * i8(m, sc + is + 6) * q4;
                        }
                        y0 += 128;
                        ql += 64;
                        qh += 32;
                        sc += 8;
                    }
                }
            }
            default -> throw new IllegalArgumentException(t.type().toString());
        }
        return y;
    }

    static double dot(GGUFTensor t, int row, float[] x, int offset) {
        double[] w = row(t, row);
        double sum = 0;
        for (int i = 0; i < w.length; i++) {
            sum += w[i] * x[offset + i];
        }
        return sum;
    }

    /** get_scale_min_k4: {scale, min} of sub-block j. */
    private static int[] scaleMinK4(MemorySegment m, long q, int j) {
        if (j < 4) {
            return new int[] {u8(m, q + j) & 63, u8(m, q + j + 4) & 63};
        }
        return new int[] {(u8(m, q + j + 4) & 0xF) | ((u8(m, q + j - 4) >> 6) << 4), (u8(m, q + j + 4) >> 4) | ((u8(m, q + j) >> 6) << 4)};
    }

    private static double half(MemorySegment m, long offset) {
        return Float.float16ToFloat(m.get(HALF, offset));
    }

    private static int u8(MemorySegment m, long offset) {
        return m.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
    }

    private static int i8(MemorySegment m, long offset) {
        return m.get(ValueLayout.JAVA_BYTE, offset);
    }
}
