package dev.streamingllm.tokenizer;

import dev.streamingllm.gguf.GGUFFile;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.stream.IntStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Byte-level BPE of a {@code tokenizer.ggml.model = gpt2} vocabulary (llama.cpp's llm_tokenizer_bpe): the
 * pre-tokenizer splits the text into words, each word's UTF-8 bytes are spelled with GPT-2's byte characters, and
 * neighbouring symbols merge, lowest {@code tokenizer.ggml.merges} rank first, until no pair has a rank.
 */
final class BpeTokenizer extends Tokenizer {

    private static final Logger log = LoggerFactory.getLogger(BpeTokenizer.class);

    /** Lowest rank first; on ties the leftmost pair, as llama.cpp's llm_bigram_bpe comparator. */
    private static final Comparator<Bigram> ORDER = Comparator.comparingInt(Bigram::rank).thenComparingInt(Bigram::left);

    private final PreTokenizer preTokenizer;
    /** Merge rank by "left right", the form merges are stored in; the first of duplicate merges wins. */
    private final Map<String, Integer> ranks;

    private BpeTokenizer(Vocabulary vocab, PreTokenizer preTokenizer, Map<String, Integer> ranks) {
        super(vocab, ByteEncoding::decode);
        this.preTokenizer = preTokenizer;
        this.ranks = ranks;
    }

    static BpeTokenizer load(GGUFFile gguf) {
        String pre = gguf.findString("tokenizer.ggml.pre").orElse("");
        if (pre.isEmpty()) {
            log.warn("{}: no tokenizer.ggml.pre, using the 'default' pre-tokenizer; tokens may differ from the model's", gguf.path());
            pre = "default";
        }
        PreTokenizer preTokenizer = PreTokenizer.forName(pre, gguf.path());
        String[] merges = gguf.getStringArray("tokenizer.ggml.merges");
        Map<String, Integer> ranks = new HashMap<>(merges.length * 2);
        for (int rank = 0; rank < merges.length; rank++) {
            if (merges[rank].indexOf(' ', 1) > 0) {
                ranks.putIfAbsent(merges[rank], rank);
            }
        }
        // GPT-2 vocabularies have no default BOS/EOS: llama.cpp's fallback id 11 is Falcon's and wrong elsewhere.
        Vocabulary vocab = new Vocabulary(gguf, Vocabulary.NONE, Vocabulary.NONE, Vocabulary.NONE, preTokenizer.addBos(), false);
        return new BpeTokenizer(vocab, preTokenizer, ranks);
    }

    @Override
    void encodeText(String text, boolean afterSpecial, IntStream.Builder ids) {
        for (String word : preTokenizer.split(text)) {
            String symbols = ByteEncoding.encode(word);
            int id = vocab.id(symbols);
            if (preTokenizer.ignoreMerges() && id != Vocabulary.NONE) {
                ids.add(id);
            } else if (!symbols.isEmpty()) {
                new Merge(symbols).run(ids);
            }
        }
    }

    private record Bigram(int left, int right, int rank, int size) {
    }

    /**
     * The merges of one word. Every byte character is one char, so symbol i starts at char i; a merge grows the left
     * symbol and empties the right one, so a queued pair whose sizes no longer add up is stale and skipped.
     */
    private final class Merge {
        private final String word;
        private final int[] length;
        private final int[] prev;
        private final int[] next;
        private final PriorityQueue<Bigram> queue = new PriorityQueue<>(ORDER);

        Merge(String word) {
            this.word = word;
            int n = word.length();
            length = new int[n];
            prev = new int[n];
            next = new int[n];
            for (int i = 0; i < n; i++) {
                length[i] = 1;
                prev[i] = i - 1;
                next[i] = i + 1 == n ? -1 : i + 1;
            }
        }

        void run(IntStream.Builder ids) {
            for (int i = 1; i < word.length(); i++) {
                addBigram(i - 1, i);
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
                addBigram(prev[left], left);
                addBigram(left, next[left]);
            }
            for (int i = 0; i != -1; i = next[i]) {
                emit(symbol(i), ids);
            }
        }

        private void addBigram(int left, int right) {
            if (left == -1 || right == -1) {
                return;
            }
            Integer rank = ranks.get(symbol(left) + " " + symbol(right));
            if (rank != null) {
                queue.add(new Bigram(left, right, rank, length[left] + length[right]));
            }
        }

        private String symbol(int i) {
            return word.substring(i, i + length[i]);
        }

        /**
         * A symbol that is not a token falls back to its single-byte tokens; like llama.cpp, which looks up each
         * UTF-8 byte of the spelled symbol, only ASCII characters can match.
         */
        private void emit(String symbol, IntStream.Builder ids) {
            int id = vocab.id(symbol);
            if (id != Vocabulary.NONE) {
                ids.add(id);
                return;
            }
            for (char c : symbol.toCharArray()) {
                int single = c < 0x80 ? vocab.id(String.valueOf(c)) : Vocabulary.NONE;
                if (single != Vocabulary.NONE) {
                    ids.add(single);
                }
            }
        }
    }
}
