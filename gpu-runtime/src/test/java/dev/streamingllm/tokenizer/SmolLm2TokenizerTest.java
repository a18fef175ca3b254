package dev.streamingllm.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.pull.ModelCatalog;
import dev.streamingllm.pull.ModelPuller;
import dev.streamingllm.pull.PullProgress;
import dev.streamingllm.testing.Shared;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The default model's byte-level BPE (pre-tokenizer {@code smollm}) against llama.cpp's {@code llama-tokenize} on the
 * same file: the whole of Pride and Prejudice, and 3,000 varied strings (code, numbers, emoji, accents, other
 * scripts, whitespace runs, special-token text left unparsed). The expected ids were written by
 * {@code src/test/resources/tokenizer/smollm2-vectors.py}; the model comes through the runtime's own pull code.
 */
class SmolLm2TokenizerTest {

    private static Tokenizer tokenizer;

    @BeforeAll
    static void load() {
        Path file = ModelPuller.standard(PullProgress.QUIET).pull(ModelCatalog.SMOLLM2_135M_INSTRUCT);
        try (GGUFFile gguf = GGUFFile.open(file)) {
            tokenizer = Tokenizer.fromGGUF(gguf);
        }
    }

    @Test
    void aWholeNovelEncodesToLlamaCppsIds() throws IOException {
        String text = Files.readString(Shared.root().resolve("text/pride-and-prejudice.txt"));
        int[] expected;
        try (InputStream in = new GZIPInputStream(resource("smollm2-pride-and-prejudice.ids.gz").toUri().toURL().openStream())) {
            expected = Arrays.stream(new String(in.readAllBytes(), StandardCharsets.US_ASCII).split(" ")).mapToInt(Integer::parseInt).toArray();
        }
        int[] ids = tokenizer.encode(text, false, false);
        int mismatch = Arrays.mismatch(ids, expected);
        assertThat(mismatch).as("first position that differs from llama-tokenize (of %d and %d ids)", ids.length, expected.length)
                .isEqualTo(-1);
        assertThat(ids).hasSize(169_758);
        assertThat(tokenizer.decode(ids)).isEqualTo(text);
    }

    @Test
    void variedStringsEncodeToLlamaCppsIds() {
        Path base = resource("smollm2.inp").resolveSibling("smollm2");
        List<TokenizerVectorsTest.Vector> vectors = TokenizerVectorsTest.vectors(base);
        assertThat(vectors).hasSize(3000);
        for (TokenizerVectorsTest.Vector vector : vectors) {
            int[] ids = tokenizer.encode(vector.input(), false, false);
            assertThat(ids).as("ids of #%d %s", vector.index(), TokenizerVectorsTest.printable(vector.input()))
                    .containsExactly(vector.expected());
            assertThat(tokenizer.decode(ids)).as("decoded #%d", vector.index()).isEqualTo(vector.input());
        }
    }

    @Test
    void chatMlMarkersAreSingleTokensOnlyWhenParsed() {
        assertThat(tokenizer.encode("<|im_start|>user\nHi<|im_end|>\n", false, true)).startsWith(1).contains(2);
        assertThat(tokenizer.encode("<|im_start|>", false, false)).hasSizeGreaterThan(1).doesNotContain(1);
    }

    private static Path resource(String name) {
        try {
            return Path.of(SmolLm2TokenizerTest.class.getResource("/tokenizer/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
