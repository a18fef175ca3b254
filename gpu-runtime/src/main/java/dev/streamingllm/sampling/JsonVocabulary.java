package dev.streamingllm.sampling;

import dev.streamingllm.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.stream.IntStream;

/**
 * A tokenizer's vocabulary as JSON constraints need it, computed once per tokenizer: each token's bytes, a
 * {@link TokenTrie} of all tokens with text, and the <em>plain</em> tokens apart, whose bytes are whole UTF-8
 * characters none of which is a quote, a backslash or a control character. Inside a string a plain token of n
 * characters fits wherever n more characters do, whatever the automaton's state, so the mask takes them as a block
 * and walks only the trie of the others.
 */
final class JsonVocabulary {

    private static final Map<Tokenizer, JsonVocabulary> CACHE = Collections.synchronizedMap(new WeakHashMap<>());

    final int size;
    final byte[][] bytes;
    final TokenTrie all;
    final TokenTrie notPlain;
    /** The plain tokens, fewest characters first, and their characters. */
    final int[] plain;
    final int[] plainLength;
    final int longestPlain;
    /** The plain tokens as a bit set. */
    final long[] plainBits;
    final int[] endOfGeneration;

    private JsonVocabulary(Tokenizer tokenizer) {
        size = tokenizer.vocabularySize();
        bytes = new byte[size][];
        int[] characters = new int[size];
        for (int id = 0; id < size; id++) {
            bytes[id] = tokenizer.isSpecial(id) ? new byte[0] : tokenizer.decodeBytes(id);
            characters[id] = plainCharacters(bytes[id]);
        }
        int[] withText = IntStream.range(0, size).filter(id -> bytes[id].length > 0).toArray();
        all = new TokenTrie(withText, bytes);
        notPlain = new TokenTrie(Arrays.stream(withText).filter(id -> characters[id] < 0).toArray(), bytes);
        plain = Arrays.stream(withText).filter(id -> characters[id] >= 0).boxed()
                .sorted((a, b) -> Integer.compare(characters[a], characters[b])).mapToInt(Integer::intValue).toArray();
        plainLength = Arrays.stream(plain).map(id -> characters[id]).toArray();
        longestPlain = plainLength.length == 0 ? 0 : plainLength[plainLength.length - 1];
        plainBits = new long[(size + 63) / 64];
        for (int id : plain) {
            plainBits[id >>> 6] |= 1L << id;
        }
        endOfGeneration = IntStream.range(0, size).filter(tokenizer::isEndOfGeneration).toArray();
    }

    static JsonVocabulary of(Tokenizer tokenizer) {
        return CACHE.computeIfAbsent(tokenizer, JsonVocabulary::new);
    }

    /** The characters of a plain token, or -1 when the bytes are not plain string text. */
    static int plainCharacters(byte[] text) {
        int characters = 0;
        for (int i = 0; i < text.length; ) {
            int b = text[i] & 0xFF;
            int continuation = JsonAutomaton.continuationBytes(b);
            if (continuation < 0 || b < 0x20 || b == '"' || b == '\\' || i + continuation >= text.length) {
                return -1;
            }
            for (int k = 1; k <= continuation; k++) {
                int c = text[i + k] & 0xFF;
                if (c < 0x80 || c > 0xBF) {
                    return -1;
                }
            }
            i += 1 + continuation;
            characters++;
        }
        return text.length == 0 ? -1 : characters;
    }
}
