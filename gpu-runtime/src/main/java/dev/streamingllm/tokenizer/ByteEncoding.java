package dev.streamingllm.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * GPT-2's byte-to-unicode mapping (llama.cpp's unicode_byte_to_utf8): byte-level BPE vocabularies spell every
 * byte as one printable character, so a token's text never holds spaces or control characters. Printable
 * Latin-1 bytes map to themselves; the other 68 bytes map, in order, to U+0100 and up (space becomes 'Ġ').
 */
final class ByteEncoding {

    private ByteEncoding() {
    }

    /** The character that spells byte {@code b} (0..255). */
    static char encode(int b) {
        if (b <= 0x20) {
            return (char) (256 + b); // 33 control bytes and space: U+0100..U+0120
        }
        if (b >= 0x7F && b <= 0xA0) {
            return (char) (256 + 33 + b - 0x7F); // DEL, C1 controls and NBSP: U+0121..U+0142
        }
        return b == 0xAD ? (char) (256 + 67) : (char) b; // soft hyphen: U+0143
    }

    /** The byte that {@code c} spells, or -1 if {@code c} is not part of the mapping. */
    static int decode(char c) {
        if (c <= 0xFF) {
            return encode(c) == c ? c : -1;
        }
        if (c <= 256 + 0x20) {
            return c - 256;
        }
        if (c <= 256 + 66) {
            return c - 256 - 33 + 0x7F;
        }
        return c == 256 + 67 ? 0xAD : -1;
    }

    /** The UTF-8 bytes of {@code text}, each spelled as its character. */
    static String encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        char[] chars = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            chars[i] = encode(bytes[i] & 0xFF);
        }
        return new String(chars);
    }

    /** The bytes a token's text spells; characters outside the mapping pass through as their UTF-8. */
    static byte[] decode(String text) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int b = cp <= Character.MAX_VALUE ? decode((char) cp) : -1;
            if (b >= 0) {
                out.write(b);
            } else {
                out.writeBytes(Character.toString(cp).getBytes(StandardCharsets.UTF_8));
            }
            i += Character.charCount(cp);
        }
        return out.toByteArray();
    }
}
