package dev.streamingllm.tokenizer;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Turns generated tokens into text one token at a time. A token may end in the middle of a UTF-8 character (byte
 * tokens, byte-level BPE); those bytes wait for the tokens that complete them instead of becoming U+FFFD. Bytes
 * that can never form a character do become U+FFFD. Nothing is stripped: the first token's leading space is
 * kept, since a generation continues a prompt. Not thread-safe; use one per stream.
 */
public final class TokenDecoder {

    private final Tokenizer tokenizer;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE);
    private ByteBuffer pending = ByteBuffer.allocate(16);

    TokenDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** The text that {@code token} completes; empty while a character is still incomplete. */
    public String append(int token) {
        byte[] bytes = tokenizer.decodeBytes(token);
        if (pending.remaining() < bytes.length) {
            pending = ByteBuffer.allocate(pending.position() + bytes.length).put(pending.flip());
        }
        pending.put(bytes);
        return decode(false);
    }

    /** Ends the stream: returns what is left (an incomplete character as U+FFFD) and starts afresh. */
    public String flush() {
        String rest = decode(true);
        utf8.reset();
        return rest;
    }

    private String decode(boolean endOfInput) {
        pending.flip();
        CharBuffer text = CharBuffer.allocate(pending.remaining() + 1);
        utf8.decode(pending, text, endOfInput);
        if (endOfInput) {
            utf8.flush(text);
        }
        pending.compact();
        return text.flip().toString();
    }
}
