package dev.streamingllm.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.backend.cpu.decoder.Transformer;
import dev.streamingllm.llama.Weights;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SyntheticModelTest {

    private static final SyntheticModel.Shape SMALL = new SyntheticModel.Shape(64, 2, 4, 2, 128, 300, 256);

    @TempDir
    Path tmp;

    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"})
    void writesAModelTheRuntimeLoadsAndRuns(GGMLType type) throws IOException {
        Path file = tmp.resolve("synthetic-" + type + ".gguf");
        SyntheticModel.write(SMALL, type, file, 42);
        try (GGUFFile gguf = GGUFFile.open(file)) {
            ModelConfig config = ModelConfig.from(gguf);
            assertThat(config.dim()).isEqualTo(64);
            assertThat(config.kvHeads()).isEqualTo(2);
            assertThat(config.vocabularySize()).isEqualTo(300);
            assertThat(gguf.tensor("blk.1.ffn_down.weight").type()).isEqualTo(type);
            Weights weights = Weights.load(gguf, config);
            float[] row = new float[64];
            weights.tokenEmbedding().dequantizeRow(7, row, 0);
            for (float v : row) {
                // noise is uniform in [-0.05, 0.05); quantization may round by at most one step
                assertThat(Math.abs(v)).isLessThanOrEqualTo(0.051f);
            }
            assertThat(row).isNotEqualTo(new float[64]);
            Transformer transformer = new Transformer(config, weights);
            float[] logits = transformer.forward(transformer.newCache(CacheConfig.dense(16)), new int[] {1, 5, 9}, 0, 3, false);
            assertThat(logits).hasSize(300).doesNotContain(Float.NaN);
        }
    }

    @Test
    void rejectsUnknownShapesAndTypes() {
        assertThatThrownBy(() -> SyntheticModel.shape("gpt-5")).hasMessageContaining("unknown shape 'gpt-5'")
                .hasMessageContaining("llama-134m");
        assertThatThrownBy(() -> SyntheticModel.write(SMALL, GGMLType.Q6_K, tmp.resolve("x.gguf"), 1))
                .hasMessageContaining("not Q6_K");
    }
}
