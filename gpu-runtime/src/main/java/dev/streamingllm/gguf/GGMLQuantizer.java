package dev.streamingllm.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Encodes float rows into GGML block formats, with the rounding of ggml's reference quantizers
 * (quantize_row_q8_0_ref, quantize_row_q4_0_ref, quantize_row_q4_1_ref, quantize_row_q5_0_ref,
 * quantize_row_q5_1_ref): the same float operations in the same order, f16 rounded to nearest even, so
 * files written here quantize like llama.cpp's, byte for byte.
 */
public final class GGMLQuantizer {

    private GGMLQuantizer() {
    }

    /** Encodes {@code values} (a multiple of the type's block size) as {@code type} into {@code out}. */
    public static void encode(float[] values, GGMLType type, ByteBuffer out) {
        out.order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case F32 -> {
                for (float v : values) {
                    out.putFloat(v);
                }
            }
            case F16 -> {
                for (float v : values) {
                    out.putShort(Float.floatToFloat16(v));
                }
            }
            case BF16 -> {
                for (float v : values) {
                    out.putShort(toBFloat16(v));
                }
            }
            case Q8_0 -> q8_0(values, out);
            case Q4_0 -> q4_0(values, out);
            case Q4_1 -> q4_1(values, out);
            case Q5_0 -> q5_0(values, out);
            case Q5_1 -> q5_1(values, out);
            default -> throw new IllegalArgumentException("cannot encode " + type + " (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1)");
        }
    }

    private static void q8_0(float[] values, ByteBuffer out) {
        byte[] quants = new byte[32];
        for (int block = 0; block < values.length; block += 32) {
            out.putShort(q8_0Block(values, block, quants, 0));
            out.put(quants);
        }
    }

    /**
     * One Q8_0 block, {@code values[offset .. offset + 32)}, as quantize_row_q8_0_ref makes it: its 32 quants into
     * {@code quants[quantsOffset ..]}, its scale returned as IEEE half bits.
     */
    public static short q8_0Block(float[] values, int offset, byte[] quants, int quantsOffset) {
        float amax = 0;
        for (int i = 0; i < 32; i++) {
            amax = Math.max(amax, Math.abs(values[offset + i]));
        }
        float d = amax / 127f;
        float id = d != 0 ? 1f / d : 0f;
        for (int i = 0; i < 32; i++) {
            quants[quantsOffset + i] = (byte) Math.round(values[offset + i] * id);
        }
        return Float.floatToFloat16(d);
    }

    private static void q4_0(float[] values, ByteBuffer out) {
        for (int block = 0; block < values.length; block += 32) {
            float amax = 0;
            float max = 0;
            for (int i = 0; i < 32; i++) {
                float v = values[block + i];
                if (Math.abs(v) > amax) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -8f;
            float id = d != 0 ? 1f / d : 0f;
            out.putShort(Float.floatToFloat16(d));
            for (int i = 0; i < 16; i++) {
                int lo = Math.min(15, (int) (values[block + i] * id + 8.5f));
                int hi = Math.min(15, (int) (values[block + 16 + i] * id + 8.5f));
                out.put((byte) (lo | (hi << 4)));
            }
        }
    }

    /** d = (max - min) / 15 and the minimum; q = round((x - min) / d) in 0..15 (C's (int8_t) cast truncates x + 0.5). */
    private static void q4_1(float[] values, ByteBuffer out) {
        for (int block = 0; block < values.length; block += 32) {
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (int i = 0; i < 32; i++) {
                float v = values[block + i];
                if (v < min) {
                    min = v;
                }
                if (v > max) {
                    max = v;
                }
            }
            float d = (max - min) / 15;
            float id = d != 0 ? 1f / d : 0f;
            out.putShort(Float.floatToFloat16(d));
            out.putShort(Float.floatToFloat16(min));
            for (int i = 0; i < 16; i++) {
                int lo = Math.min(15, (int) ((values[block + i] - min) * id + 0.5f));
                int hi = Math.min(15, (int) ((values[block + 16 + i] - min) * id + 0.5f));
                out.put((byte) (lo | (hi << 4)));
            }
        }
    }

    /** Q4_0 with a fifth bit: d = max / -16 (max the value of largest magnitude), q = round(x / d) + 16 in 0..31. */
    private static void q5_0(float[] values, ByteBuffer out) {
        for (int block = 0; block < values.length; block += 32) {
            float amax = 0;
            float max = 0;
            for (int i = 0; i < 32; i++) {
                float v = values[block + i];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -16;
            float id = d != 0 ? 1f / d : 0f;
            int[] q = new int[32];
            for (int i = 0; i < 32; i++) {
                q[i] = Math.min(31, (int) (values[block + i] * id + 16.5f));
            }
            out.putShort(Float.floatToFloat16(d));
            putFiveBits(q, out);
        }
    }

    /** Q4_1 with a fifth bit: d = (max - min) / 31, q = round((x - min) / d) in 0..31. */
    private static void q5_1(float[] values, ByteBuffer out) {
        for (int block = 0; block < values.length; block += 32) {
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (int i = 0; i < 32; i++) {
                float v = values[block + i];
                if (v < min) {
                    min = v;
                }
                if (v > max) {
                    max = v;
                }
            }
            float d = (max - min) / 31;
            float id = d != 0 ? 1f / d : 0f;
            int[] q = new int[32];
            for (int i = 0; i < 32; i++) {
                // ggml casts to uint8_t without clamping: x + 0.5 stays below 32 since (x - min) * id <= 31 within rounding.
                q[i] = (int) ((values[block + i] - min) * id + 0.5f) & 0xFF;
            }
            out.putShort(Float.floatToFloat16(d));
            out.putShort(Float.floatToFloat16(min));
            putFiveBits(q, out);
        }
    }

    /** 32 quants of 5 bits: their fifth bits as a little-endian uint32 (bit i for element i), then Q4's nibbles. */
    private static void putFiveBits(int[] q, ByteBuffer out) {
        int qh = 0;
        for (int i = 0; i < 32; i++) {
            qh |= ((q[i] & 0x10) >> 4) << i;
        }
        out.putInt(qh);
        for (int i = 0; i < 16; i++) {
            out.put((byte) ((q[i] & 0x0F) | ((q[16 + i] & 0x0F) << 4)));
        }
    }

    /** Round-to-nearest-even truncation of a float to its upper 16 bits, as ggml does. */
    private static short toBFloat16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 64); // quiet NaN
        }
        return (short) ((bits + (0x7fff + ((bits >>> 16) & 1))) >>> 16);
    }
}
