package dev.streamingllm.tokenizer;

import dev.streamingllm.gguf.GGUFFile;
import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.PriorityQueue;
import java.util.stream.IntStream;

/**
 * SentencePiece-style tokenization of a {@code tokenizer.ggml.model = llama} vocabulary (llama.cpp's
 * llm_tokenizer_spm): spaces become {@code ▁}, a space is put before the text, then neighbouring pieces merge,
 * highest-scoring token first, until no neighbouring pair is a token. What is left that is not a token is spelled
 * with byte tokens ({@code <0xXX>}).
 */
final class SpmTokenizer extends Tokenizer {

    private static final char ESCAPED_SPACE = '\u2581';

    /** Highest score first; on ties the leftmost pair, as llama.cpp's llm_bigram_spm comparator. */
    private static final Comparator<Bigram> ORDER = (a, b) -> a.score() > b.score() ? -1
            : a.score() < b.score() ? 1 : Integer.compare(a.left(), b.left());

    /** The token for each byte when a piece is not a token: {@code <0xXX>}, else the byte as text, else unknown. */
    private final int[] byteTokens = new int[256];

    private SpmTokenizer(Vocabulary vocab) {
        super(vocab, text -> text.replace(ESCAPED_SPACE, ' ').getBytes(StandardCharsets.UTF_8));
        for (int b = 0; b < 256; b++) {
            int id = vocab.id(String.format("<0x%02X>", b));
            if (id == Vocabulary.NONE && b < 0x80) {
                id = vocab.id(String.valueOf((char) b));
            }
            byteTokens[b] = id != Vocabulary.NONE ? id : vocab.unk;
        }
    }

    static SpmTokenizer load(GGUFFile gguf) {
        return new SpmTokenizer(new Vocabulary(gguf, 1, 2, 0, true, true));
    }

    @Override
    void encodeText(String text, boolean afterSpecial, IntStream.Builder ids) {
        String escaped = (afterSpecial && vocab.addSpacePrefix ? " " + text : text).replace(' ', ESCAPED_SPACE);
        new Merge(escaped).run(ids);
    }

    private record Bigram(int left, int right, float score, int size) {
    }

    /**
     * One run of merges over a text. Symbols start as single code points in a linked list; a merge grows the left
     * symbol and empties the right one, so a queued pair whose sizes no longer add up is stale and skipped.
     */
    private final class Merge {
        private final String text;
        private final int[] start;
        private final int[] length;
        private final int[] prev;
        private final int[] next;
        private final PriorityQueue<Bigram> queue = new PriorityQueue<>(ORDER);

        Merge(String text) {
            this.text = text;
            int n = text.codePointCount(0, text.length());
            start = new int[n];
            length = new int[n];
            prev = new int[n];
            next = new int[n];
            for (int i = 0, pos = 0; i < n; i++) {
                start[i] = pos;
                length[i] = Character.charCount(text.codePointAt(pos));
                pos += length[i];
                prev[i] = i - 1;
                next[i] = pos == text.length() ? -1 : i + 1;
            }
        }

        void run(IntStream.Builder ids) {
            for (int i = 1; i < start.length; i++) {
                tryAddBigram(i - 1, i);
            }
            while (!queue.isEmpty()) {
                Bigram bigram = queue.poll();
                int left = bigram.left();
                int right = bigram.right();
                if (length[left] == 0 || length[right] == 0 || length[left] + length[right] != bigram.size()) {
                    continue;
                }
                length[left] += length[right];
                length[right] = 0;
                next[left] = next[right];
                if (next[right] >= 0) {
                    prev[next[right]] = left;
                }
                tryAddBigram(prev[left], left);
                tryAddBigram(left, next[left]);
            }
            for (int i = 0; i != -1; i = next[i]) {
                emit(text.substring(start[i], start[i] + length[i]), ids);
            }
        }

        private void tryAddBigram(int left, int right) {
            if (left == -1 || right == -1) {
                return;
            }
            int id = vocab.id(text.substring(start[left], start[left] + length[left] + length[right]));
            if (id != Vocabulary.NONE) {
                queue.add(new Bigram(left, right, vocab.scores[id], length[left] + length[right]));
            }
        }

        /** A finished symbol is always a token or a single code point; the latter may need byte tokens. */
        private void emit(String symbol, IntStream.Builder ids) {
            int id = vocab.id(symbol);
            if (id != Vocabulary.NONE) {
                ids.add(id);
                return;
            }
            for (byte b : symbol.getBytes(StandardCharsets.UTF_8)) {
                int byteToken = byteTokens[b & 0xFF];
                if (byteToken == Vocabulary.NONE) {
                    throw new IllegalArgumentException(vocab.file + ": no token for byte " + (b & 0xFF)
                            + " of '" + symbol + "' (the vocabulary has neither <0xXX> tokens nor an unknown token)");
                }
                ids.add(byteToken);
            }
        }
    }
}
