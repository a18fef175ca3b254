package dev.streamingllm.backend.cpu.decoder;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.backend.Decoder;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.llama.Weights;
import dev.streamingllm.testing.Shared;
import dev.streamingllm.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/** What an {@link AttentionObserver} sees of the CPU decoder, and that looking changes nothing. */
class AttentionObserverTest {

    private static final int TOKENS = 48;

    @Test
    void seesEveryLayerHeadAndQueryOnceAsAProbabilityRowOverTheVisibleKeys() throws IOException {
        try (GGUFFile gguf = GGUFFile.open(Shared.model("stories260K.gguf"))) {
            Transformer transformer = transformer(gguf);
            ModelConfig config = transformer.config();
            int[] tokens = tokens(gguf);
            int[][][] seen = new int[config.layers()][config.heads()][TOKENS];
            long[] rows = {0};
            AttentionObserver observer = (layer, head, position, probabilities, visible) -> {
                rows[0]++;
                seen[layer][head][(int) position]++;
                // dense cache: the query at position q sees keys 0..q
                assertThat(visible).isEqualTo(position + 1);
                double sum = 0;
                for (int j = 0; j < visible; j++) {
                    assertThat(probabilities[j]).isBetween(0f, 1f);
                    sum += probabilities[j];
                }
                assertThat(sum).isCloseTo(1.0, Offset.offset(1e-5));
            };
            transformer.forward(transformer.newCache(CacheConfig.dense(TOKENS)), tokens, 0, TOKENS, false, observer);

            assertThat(rows[0]).isEqualTo((long) config.layers() * config.heads() * TOKENS);
            for (int[][] layer : seen) {
                for (int[] head : layer) {
                    assertThat(head).containsOnly(1);
                }
            }
        }
    }

    @Test
    void logitsAreTheSameWithAndWithoutAnObserver() throws IOException {
        try (GGUFFile gguf = GGUFFile.open(Shared.model("stories260K.gguf"))) {
            Transformer transformer = transformer(gguf);
            int[] tokens = tokens(gguf);
            AttentionObserver looking = (layer, head, position, probabilities, visible) -> {
            };
            for (int chunk : new int[] {TOKENS, 1}) {
                float[] plain = run(transformer, tokens, chunk, null);
                float[] observed = run(transformer, tokens, chunk, looking);
                // to rounding, not always to the bit: two passes of the same decoder, observed or not, can differ in
                // the last bits (their float sums are not always formed in the same order from one pass to the next)
                double delta = 0;
                double magnitude = 0;
                for (int i = 0; i < plain.length; i++) {
                    delta = Math.max(delta, Math.abs(observed[i] - plain[i]));
                    magnitude = Math.max(magnitude, Math.abs(plain[i]));
                }
                assertThat(delta / magnitude).as("chunk %d", chunk).isLessThanOrEqualTo(1e-5);
            }
        }
    }

    /** All logits of {@code tokens}, {@code chunk} per pass; without an observer through the plain {@link Decoder} call. */
    private static float[] run(Transformer transformer, int[] tokens, int chunk, AttentionObserver observer) {
        var cache = transformer.newCache(CacheConfig.dense(TOKENS));
        int vocab = transformer.config().vocabularySize();
        float[] all = new float[TOKENS * vocab];
        for (int i = 0; i < TOKENS; i += chunk) {
            float[] logits = observer == null
                    ? transformer.forward(cache, tokens, i, chunk, true)
                    : transformer.forward(cache, tokens, i, chunk, true, observer);
            System.arraycopy(logits, 0, all, i * vocab, logits.length);
        }
        return all;
    }

    private static Transformer transformer(GGUFFile gguf) {
        ModelConfig config = ModelConfig.from(gguf);
        return new Transformer(config, Weights.load(gguf, config));
    }

    private static int[] tokens(GGUFFile gguf) throws IOException {
        String text = Files.readString(Shared.root().resolve("text/stories-a.txt"));
        return Arrays.copyOf(Tokenizer.fromGGUF(gguf).encode(text, true, false), TOKENS);
    }
}
