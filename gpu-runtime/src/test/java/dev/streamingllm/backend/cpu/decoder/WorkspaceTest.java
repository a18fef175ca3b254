package dev.streamingllm.backend.cpu.decoder;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.backend.Segment;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.llama.Weights;
import dev.streamingllm.testing.Shared;
import dev.streamingllm.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The decoder's arrays outlive a pass: what a larger pass left in them never reaches a later one. */
class WorkspaceTest {

    private static final int TOKENS = 64;

    @Test
    void aPassAfterLargerOnesComputesAsOnAFreshDecoder() throws IOException {
        try (GGUFFile gguf = GGUFFile.open(Shared.model("stories260K.gguf"))) {
            ModelConfig config = ModelConfig.from(gguf);
            Weights weights = Weights.load(gguf, config);
            int[] tokens = tokens(gguf);

            float[] fresh = prefillThenDecode(new Transformer(config, weights), tokens, null);

            Transformer used = new Transformer(config, weights);
            // Between the prefill and the decode steps of one cache, passes of other caches: a dense 64-token prefill
            // (the most rows and the widest tiles), then three segments at once (the most score rows).
            float[] reused = prefillThenDecode(used, tokens, () -> {
                used.forward(used.newCache(CacheConfig.dense(TOKENS)), tokens, 0, TOKENS, true);
                used.forward(List.of(
                        new Segment(used.newCache(CacheConfig.dense(TOKENS)), tokens, 0, 3, true),
                        new Segment(used.newCache(CacheConfig.dense(TOKENS)), tokens, 5, 1, false),
                        new Segment(used.newCache(CacheConfig.dense(TOKENS)), tokens, 9, 2, true)));
            });

            // to rounding: the same decoder's passes may form their float sums in another order (see AttentionObserverTest)
            double delta = 0;
            double magnitude = 0;
            for (int i = 0; i < fresh.length; i++) {
                delta = Math.max(delta, Math.abs(reused[i] - fresh[i]));
                magnitude = Math.max(magnitude, Math.abs(fresh[i]));
            }
            assertThat(delta / magnitude).isLessThanOrEqualTo(1e-5);
        }
    }

    /**
     * A 24-token prefill into a streaming cache of 4 sinks and a 16-token window, then 16 decode steps, with
     * {@code between} (if any) run after the prefill and after every fourth step.
     */
    private static float[] prefillThenDecode(Transformer transformer, int[] tokens, Runnable between) {
        SinkCache cache = transformer.newCache(CacheConfig.streaming(4, 16));
        int vocab = transformer.config().vocabularySize();
        float[] all = new float[17 * vocab];
        System.arraycopy(transformer.forward(cache, tokens, 0, 24, false), 0, all, 0, vocab);
        for (int i = 0; i < 16; i++) {
            if (between != null && i % 4 == 0) {
                between.run();
            }
            System.arraycopy(transformer.forward(cache, tokens, 24 + i, 1, false), 0, all, (i + 1) * vocab, vocab);
        }
        return all;
    }

    private static int[] tokens(GGUFFile gguf) throws IOException {
        String text = Files.readString(Shared.root().resolve("text/stories-a.txt"));
        return Arrays.copyOf(Tokenizer.fromGGUF(gguf).encode(text, true, false), TOKENS);
    }
}
