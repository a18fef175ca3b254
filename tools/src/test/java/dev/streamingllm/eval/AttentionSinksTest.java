package dev.streamingllm.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.backend.cpu.decoder.Transformer;
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

/** {@link AttentionSinks} on stories260K: its averages are shares of one unit of attention per query. */
class AttentionSinksTest {

    @Test
    void averagesAreSharesOfEachQuerysAttention() throws IOException {
        try (GGUFFile gguf = GGUFFile.open(Shared.model("stories260K.gguf"))) {
            ModelConfig config = ModelConfig.from(gguf);
            Transformer transformer = new Transformer(config, Weights.load(gguf, config));
            String text = Files.readString(Shared.root().resolve("text/stories-a.txt"));
            int[] tokens = Arrays.copyOf(Tokenizer.fromGGUF(gguf).encode(text, true, false), 96);

            AttentionSinks sinks = AttentionSinks.measure(transformer, tokens, 32);

            assertThat(sinks.layers()).isEqualTo(config.layers());
            assertThat(sinks.keys()).isEqualTo(32);
            assertThat(sinks.queries()).isEqualTo(96 - 32);
            for (int l = 0; l < sinks.layers(); l++) {
                assertThat(sinks.total(l)).as("layer %d, all keys", l).isCloseTo(1.0, Offset.offset(1e-5));
                double shown = 0;
                for (int k = 0; k < sinks.keys(); k++) {
                    assertThat(sinks.share(l, k)).isBetween(0.0, 1.0);
                    shown += sinks.share(l, k);
                }
                // keys 0..31 and the query itself (at 32 or later) are distinct keys of every counted query
                assertThat(shown + sinks.recent(l)).as("layer %d, keys shown and the query", l).isLessThanOrEqualTo(1 + 1e-5);
                assertThat(sinks.recent(l)).isPositive();
            }
        }
    }

    @Test
    void needsMoreTokensThanKeyPositions() throws IOException {
        try (GGUFFile gguf = GGUFFile.open(Shared.model("stories260K.gguf"))) {
            ModelConfig config = ModelConfig.from(gguf);
            Transformer transformer = new Transformer(config, Weights.load(gguf, config));
            assertThatThrownBy(() -> AttentionSinks.measure(transformer, new int[] {1, 2, 3}, 3))
                    .hasMessageContaining("more tokens (3) than key positions (3)");
        }
    }
}
