package dev.streamingllm.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Encodes float rows into GGML block formats, with the rounding of ggml's reference quantizers
 * (quantize_row_q8_0_ref, quantize_row_q4_0_ref), so files written here quantize like llama.cpp's.
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
            default -> throw new IllegalArgumentException("cannot encode " + type + " (supported: F32, F16, BF16, Q8_0, Q4_0)");
        }
    }

    private static void q8_0(float[] values, ByteBuffer out) {
        for (int block = 0; block < values.length; block += 32) {
            float amax = 0;
            for (int i = 0; i < 32; i++) {
                amax = Math.max(amax, Math.abs(values[block + i]));
            }
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            out.putShort(Float.floatToFloat16(d));
            for (int i = 0; i < 32; i++) {
                out.put((byte) Math.round(values[block + i] * id));
            }
        }
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

    /** Round-to-nearest-even truncation of a float to its upper 16 bits, as ggml does. */
    private static short toBFloat16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 64); // quiet NaN
        }
        return (short) ((bits + (0x7fff + ((bits >>> 16) & 1))) >>> 16);
    }
}
