package dev.streamingllm.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.gguf.GGUFException;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.gguf.GGUFWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Small hand-made vocabularies that pin down llama.cpp's rules where the shared vectors do not reach. */
class TokenizerSyntheticVocabularyTest {

    private static final int IM_START = 3;
    private static final int IM_END = 4;
    private static final int AB = 5;
    private static final int BCD = 6;
    private static final int SPACE = 7;
    private static final int A = 8;
    private static final int SPACE_X = 13;
    private static final int BYTES = 14; // <0x00>

    @TempDir
    Path tmp;

    /** SentencePiece: control, user-defined ("ab", "bcd"), a few pieces, and the 256 byte tokens. */
    private Tokenizer spm() throws IOException {
        List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "ab", "bcd",
                "▁", "a", "b", "c", "d", "x", "▁x"));
        List<Integer> types = new ArrayList<>(List.of(2, 3, 3, 3, 3, 4, 4, 1, 1, 1, 1, 1, 1, 1));
        for (int b = 0; b < 256; b++) {
            tokens.add(String.format("<0x%02X>", b));
            types.add(6);
        }
        float[] scores = new float[tokens.size()];
        scores[SPACE_X] = 1f;
        return write(new GGUFWriter()
                .put("tokenizer.ggml.model", "llama")
                .put("tokenizer.ggml.tokens", tokens.toArray(String[]::new))
                .put("tokenizer.ggml.scores", scores)
                .put("tokenizer.ggml.token_type", types.stream().mapToInt(Integer::intValue).toArray())
                .put("tokenizer.ggml.bos_token_id", 1)
                .put("tokenizer.ggml.eos_token_id", 2));
    }

    private GGUFWriter bpe() {
        return new GGUFWriter()
                .put("tokenizer.ggml.model", "gpt2")
                .put("tokenizer.ggml.tokens", new String[] {"a", "b", "ab", "Ġ"})
                .put("tokenizer.ggml.merges", new String[] {"a b"});
    }

    private Tokenizer write(GGUFWriter writer) throws IOException {
        Path file = tmp.resolve("vocab-" + System.nanoTime() + ".gguf");
        writer.write(file);
        try (GGUFFile gguf = GGUFFile.open(file)) {
            return Tokenizer.fromGGUF(gguf);
        }
    }

    @Test
    void specialTokensAreCutLongestFirstAcrossTheWholeText() throws IOException {
        Tokenizer tokenizer = spm();
        // "bcd" is longer than "ab", so it is cut first although "ab" starts earlier (tokenizer_st_partition)
        assertThat(tokenizer.encode("abcd", false, false)).containsExactly(SPACE, A, BCD);
        assertThat(tokenizer.decode(new int[] {SPACE, A, BCD})).isEqualTo("abcd");
        assertThat(tokenizer.encode("xab", false, false)).containsExactly(SPACE_X, AB);
    }

    @Test
    void controlTokensNeedParseSpecialAndAreFollowedByASpacePrefix() throws IOException {
        Tokenizer tokenizer = spm();
        assertThat(tokenizer.encode("<|im_start|>x<|im_end|>", true, true)).containsExactly(1, IM_START, SPACE_X, IM_END);
        int[] literal = tokenizer.encode("<|im_start|>x", false, false);
        assertThat(literal).doesNotContain(IM_START).startsWith(SPACE, BYTES + '<');
        assertThat(tokenizer.decode(literal)).isEqualTo("<|im_start|>x");
        assertThat(tokenizer.isEndOfGeneration(IM_END)).isTrue();
        assertThat(tokenizer.isEndOfGeneration(IM_START)).isFalse();
        assertThat(tokenizer.encode("", true, false)).containsExactly(1);
        assertThat(tokenizer.encode("", false, false)).isEmpty();
    }

    @Test
    void bpeWithoutPreTokenizerFallsBackToTheDefaultOne() throws IOException {
        Tokenizer tokenizer = write(bpe());
        assertThat(tokenizer.encode("ab a", true, true)).containsExactly(2, 3, 0);
        assertThat(tokenizer.decode(new int[] {2, 3, 0})).isEqualTo("ab a");
        assertThat(tokenizer.bos()).isEqualTo(-1);
        assertThat(tokenizer.eos()).isEqualTo(-1);
    }

    @Test
    void unknownPreTokenizerIsAnErrorNamingFileAndValue() {
        assertThatThrownBy(() -> write(bpe().put("tokenizer.ggml.pre", "no-such-pre")))
                .isInstanceOf(GGUFException.class)
                .hasMessageContaining(tmp.toString())
                .hasMessageContaining("'no-such-pre'")
                .hasMessageContaining("tokenizer.ggml.pre");
    }

    @Test
    void unsupportedTokenizerModelIsAnErrorNamingFileAndValue() {
        assertThatThrownBy(() -> write(bpe().put("tokenizer.ggml.model", "bert")))
                .isInstanceOf(GGUFException.class)
                .hasMessageContaining(tmp.toString())
                .hasMessageContaining("'bert'")
                .hasMessageContaining("tokenizer.ggml.model");
    }

    @Test
    void addBosWithoutBosIdIsAnError() {
        assertThatThrownBy(() -> write(bpe().put("tokenizer.ggml.add_bos_token", true)))
                .isInstanceOf(GGUFException.class)
                .hasMessageContaining("tokenizer.ggml.bos_token_id");
    }

    @Test
    void everyPreTokenizerNameCompiles() {
        for (String pre : Arrays.asList("default", "llama3", "llama-bpe", "dbrx", "deepseek-llm", "deepseek-coder",
                "deepseek-v3", "falcon", "starcoder", "refact", "smollm", "gpt-2", "mpt", "olmo", "qwen2", "stablelm2",
                "qwen35", "tekken", "gpt-4o", "llama4")) {
            PreTokenizer preTokenizer = PreTokenizer.forName(pre, tmp);
            assertThat(String.join("", preTokenizer.split("Hello, World 123 'S ü\n"))).as(pre).isEqualTo("Hello, World 123 'S ü\n");
        }
    }
}
