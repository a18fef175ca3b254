package dev.streamingllm.tokenizer;

import static dev.streamingllm.tokenizer.TokenAttributes.CONTROL;
import static dev.streamingllm.tokenizer.TokenAttributes.NORMAL;
import static dev.streamingllm.tokenizer.TokenAttributes.RSTRIP;
import static dev.streamingllm.tokenizer.TokenAttributes.UNKNOWN;
import static dev.streamingllm.tokenizer.TokenAttributes.USER_DEFINED;

import dev.streamingllm.gguf.GGUFException;
import dev.streamingllm.gguf.GGUFFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tokens of a GGUF vocabulary and what llama.cpp derives from them when it loads one (llama_vocab::impl::load):
 * attributes, special ids, the end-of-generation set, and the special tokens to find in text, longest first.
 */
final class Vocabulary {

    static final int NONE = -1;

    private static final Logger log = LoggerFactory.getLogger(Vocabulary.class);

    // Token texts llama.cpp recognises when the file does not name these ids; they are forced to CONTROL.
    private static final Set<String> EOT_TEXTS = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
            "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>");
    private static final Set<String> EOM_TEXTS = Set.of("<|eom_id|>");
    private static final Set<String> FIM_PRE_TEXTS = Set.of("<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
            "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>");
    private static final Set<String> FIM_SUF_TEXTS = Set.of("<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
            "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>");
    private static final Set<String> FIM_MID_TEXTS = Set.of("<|fim_middle|>", "<fim-middle>", "<fim_middle>",
            "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>");
    private static final Set<String> FIM_PAD_TEXTS = Set.of("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]");
    private static final Set<String> FIM_REP_TEXTS = Set.of("<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>");
    private static final Set<String> FIM_SEP_TEXTS = Set.of("<|file_sep|>");
    // Token texts that end generation whatever the metadata says (llama.cpp's special_eog_ids).
    private static final Set<String> EOG_TEXTS = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
            "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]",
            "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
            "<｜end▁of▁sentence｜>", "[e~[");

    final Path file;
    final String[] tokens;
    final float[] scores;
    final int[] attributes;
    final int bos;
    final int eos;
    final int unk;
    final boolean addBos;
    final boolean addEos;
    final boolean addSpacePrefix;
    /** CONTROL, USER_DEFINED and UNKNOWN tokens, longest text (in UTF-8 bytes) first. */
    final int[] specialTokens;
    private final Map<String, Integer> ids;
    private final boolean[] endOfGeneration;

    /**
     * Loads the vocabulary; the defaults are llama.cpp's per-model values for keys the file lacks ({@link #NONE}:
     * no such token).
     */
    Vocabulary(GGUFFile gguf, int defaultBos, int defaultEos, int defaultUnk, boolean defaultAddBos, boolean defaultAddSpacePrefix) {
        this.file = gguf.path();
        this.tokens = gguf.getStringArray("tokenizer.ggml.tokens").clone();
        int n = tokens.length;
        this.scores = scores(gguf, n);
        this.attributes = attributes(gguf, n);
        this.ids = new HashMap<>(n * 2);
        for (int id = 0; id < n; id++) {
            if (tokens[id].isEmpty()) {
                tokens[id] = "[EMPTY_" + id + "]"; // as llama.cpp, so that every text names one token
            }
            Integer previous = ids.putIfAbsent(tokens[id], id);
            if (previous != null) {
                throw new GGUFException(file, "duplicate token '" + tokens[id] + "' has ids " + previous + " and " + id);
            }
        }

        this.bos = specialId(gguf, "tokenizer.ggml.bos_token_id", defaultBos);
        this.eos = specialId(gguf, "tokenizer.ggml.eos_token_id", defaultEos);
        this.unk = specialId(gguf, "tokenizer.ggml.unknown_token_id", defaultUnk);
        this.addBos = gguf.getBoolean("tokenizer.ggml.add_bos_token", defaultAddBos);
        this.addEos = gguf.getBoolean("tokenizer.ggml.add_eos_token", false);
        this.addSpacePrefix = gguf.getBoolean("tokenizer.ggml.add_space_prefix", defaultAddSpacePrefix);
        if (addBos && bos == NONE) {
            throw new GGUFException(file, "tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set");
        }
        if (addEos && eos == NONE) {
            throw new GGUFException(file, "tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set");
        }

        int eot = detect(specialId(gguf, "tokenizer.ggml.eot_token_id", NONE), EOT_TEXTS);
        int eom = detect(specialId(gguf, "tokenizer.ggml.eom_token_id", NONE), EOM_TEXTS);
        detect(specialId(gguf, "tokenizer.ggml.fim_pre_token_id", NONE), FIM_PRE_TEXTS);
        detect(specialId(gguf, "tokenizer.ggml.fim_suf_token_id", NONE), FIM_SUF_TEXTS);
        detect(specialId(gguf, "tokenizer.ggml.fim_mid_token_id", NONE), FIM_MID_TEXTS);
        int fimPad = detect(specialId(gguf, "tokenizer.ggml.fim_pad_token_id", NONE), FIM_PAD_TEXTS);
        int fimRep = detect(specialId(gguf, "tokenizer.ggml.fim_rep_token_id", NONE), FIM_REP_TEXTS);
        int fimSep = detect(specialId(gguf, "tokenizer.ggml.fim_sep_token_id", NONE), FIM_SEP_TEXTS);

        this.endOfGeneration = new boolean[n];
        for (int id = 0; id < n; id++) {
            if (EOG_TEXTS.contains(tokens[id])) {
                endOfGeneration[id] = true;
                attributes[id] |= CONTROL;
            }
        }
        for (int id : new int[] {fimPad, fimRep, fimSep, eos, eot, eom}) {
            if (id != NONE) {
                endOfGeneration[id] = true;
            }
        }

        this.specialTokens = IntStream.range(0, n)
                .filter(id -> has(id, CONTROL | USER_DEFINED | UNKNOWN))
                .boxed()
                .sorted(Comparator.comparingInt((Integer id) -> -tokens[id].getBytes(StandardCharsets.UTF_8).length))
                .mapToInt(Integer::intValue)
                .toArray();

        // llama.cpp's per-model rule: phi-3's chat tokens swallow the whitespace that follows them.
        String name = gguf.findString("general.name").orElse("").toLowerCase(Locale.ROOT);
        if (name.contains("phi-3") || name.contains("phi3")) {
            for (int id : specialTokens) {
                attributes[id] |= RSTRIP;
            }
            setRstrip("</s>", true);
            for (String text : List.of("<unk>", "<s>", "<|endoftext|>")) {
                setRstrip(text, false);
            }
        }
    }

    int size() {
        return tokens.length;
    }

    /** The id of the token spelled {@code text}, or {@link #NONE}. */
    int id(String text) {
        return ids.getOrDefault(text, NONE);
    }

    boolean has(int id, int attribute) {
        return (attributes[id] & attribute) != 0;
    }

    boolean isEndOfGeneration(int id) {
        return id >= 0 && id < endOfGeneration.length && endOfGeneration[id];
    }

    private void setRstrip(String text, boolean rstrip) {
        int id = id(text);
        if (id != NONE) {
            attributes[id] = rstrip ? attributes[id] | RSTRIP : attributes[id] & ~RSTRIP;
        }
    }

    /** The id under {@code key}, else the default; like llama.cpp, ids outside the vocabulary are ignored. */
    private int specialId(GGUFFile gguf, String key, int defaultId) {
        int id = defaultId >= 0 && defaultId < size() ? defaultId : NONE;
        if (gguf.metadata().get(key) instanceof Number value) {
            if (value.longValue() >= 0 && value.longValue() < size()) {
                return value.intValue();
            }
            log.warn("{}: {} = {} is outside the vocabulary of {} tokens, using {}", file, key, value, size(), id);
        }
        return id;
    }

    /** The id the file named, else the lowest-numbered token spelled as one of {@code texts}, which becomes CONTROL. */
    private int detect(int id, Set<String> texts) {
        if (id == NONE) {
            id = IntStream.range(0, size()).filter(i -> texts.contains(tokens[i])).findFirst().orElse(NONE);
            if (id != NONE) {
                attributes[id] |= CONTROL;
            }
        }
        return id;
    }

    private static float[] scores(GGUFFile gguf, int n) {
        Object value = gguf.metadata().get("tokenizer.ggml.scores");
        float[] scores = new float[n];
        if (value instanceof float[] floats && floats.length >= n) {
            System.arraycopy(floats, 0, scores, 0, n);
        } else if (value instanceof int[] ints && ints.length >= n) {
            for (int i = 0; i < n; i++) {
                scores[i] = ints[i];
            }
        } else if (value != null) {
            throw new GGUFException(gguf.path(), "tokenizer.ggml.scores must be " + n + " floats or integers");
        }
        return scores;
    }

    private static int[] attributes(GGUFFile gguf, int n) {
        int[] attributes = new int[n];
        if (!gguf.contains("tokenizer.ggml.token_type")) {
            Arrays.fill(attributes, NORMAL);
            return attributes;
        }
        int[] types = gguf.getIntArray("tokenizer.ggml.token_type");
        if (types.length < n) {
            throw new GGUFException(gguf.path(), "tokenizer.ggml.token_type has " + types.length + " entries for " + n + " tokens");
        }
        for (int i = 0; i < n; i++) {
            attributes[i] = TokenAttributes.fromTokenType(types[i]);
        }
        return attributes;
    }
}
