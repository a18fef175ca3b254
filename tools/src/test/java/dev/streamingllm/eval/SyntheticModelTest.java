package dev.streamingllm.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import dev.streamingllm.backend.cpu.decoder.Transformer;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.gguf.GGUFFile;
import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.llama.Weights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SyntheticModelTest {

    private static final SyntheticModel.Shape SMALL = new SyntheticModel.Shape(64, 2, 4, 2, 128, 300, 256);
    private static final long SEED = 42;
    private static final int ROW = 7;
    private static final int[] PROMPT = {1, 5, 9};

    /** The F32 model's embedding row and logits: what every other type approximates. */
    private static float[] exactRow;
    private static float[] exactLogits;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void writeTheF32Model() throws IOException {
        Path file = tmp.resolve("synthetic-F32.gguf");
        SyntheticModel.write(SMALL, GGMLType.F32, file, SEED);
        exactRow = row(file);
        exactLogits = logits(file);
    }

    @Test
    void theF32WeightsAreTheSeedsNoise() {
        // token_embd is the first tensor: the first split of the seed's stream, row by row, in [-0.05, 0.05)
        SplittableRandom embedding = new SplittableRandom(SEED).split();
        float[] expected = new float[SMALL.dim()];
        for (int r = 0; r <= ROW; r++) {
            for (int i = 0; i < expected.length; i++) {
                expected[i] = (float) (embedding.nextDouble() - 0.5) * 0.1f;
            }
        }
        assertThat(exactRow).containsExactly(expected);
    }

    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"})
    void eachTypeHoldsTheSameWeightsWithinItsPrecisionAndGivesTheSameLogitsRoughly(GGMLType type) throws IOException {
        Path file = tmp.resolve("synthetic-" + type + ".gguf");
        SyntheticModel.write(SMALL, type, file, SEED);
        try (GGUFFile gguf = GGUFFile.open(file)) {
            ModelConfig config = ModelConfig.from(gguf);
            assertThat(config.dim()).isEqualTo(64);
            assertThat(config.kvHeads()).isEqualTo(2);
            assertThat(config.vocabularySize()).isEqualTo(300);
            assertThat(config.contextLength()).isEqualTo(256);
            assertThat(gguf.tensor("blk.1.ffn_down.weight").type()).isEqualTo(type);
            assertThat(gguf.tensor("blk.1.ffn_norm.weight").type()).isEqualTo(GGMLType.F32);
        }
        // the noise spans 0.1; a type of b bits per weight rounds by about 0.1 / 2^b at most
        float[] row = row(file);
        for (int i = 0; i < row.length; i++) {
            assertThat(row[i]).isCloseTo(exactRow[i], offset(tolerance(type)));
        }
        assertThat(correlation(logits(file), exactLogits)).isGreaterThan(type == GGMLType.F16 || type == GGMLType.BF16 || type == GGMLType.Q8_0 ? 0.999 : 0.98);
    }

    @Test
    void theSameSeedWritesTheSameFileAndAnotherSeedAnother() throws IOException {
        Path again = tmp.resolve("again.gguf");
        Path other = tmp.resolve("other.gguf");
        SyntheticModel.write(SMALL, GGMLType.F32, again, SEED);
        SyntheticModel.write(SMALL, GGMLType.F32, other, SEED + 1);
        assertThat(Files.mismatch(again, tmp.resolve("synthetic-F32.gguf"))).isEqualTo(-1);
        assertThat(Files.mismatch(other, again)).isNotEqualTo(-1);
        assertThat(row(other)).isNotEqualTo(exactRow);
    }

    @Test
    void rejectsUnknownShapesAndTypes() {
        assertThatThrownBy(() -> SyntheticModel.shape("gpt-5")).hasMessageContaining("unknown shape 'gpt-5'")
                .hasMessageContaining("llama-134m");
        assertThatThrownBy(() -> SyntheticModel.write(SMALL, GGMLType.Q6_K, tmp.resolve("x.gguf"), 1))
                .hasMessageContaining("not Q6_K");
    }

    private static float tolerance(GGMLType type) {
        return switch (type) {
            case F16 -> 1e-4f;
            case BF16 -> 5e-4f;
            case Q8_0 -> 1e-3f;
            case Q5_0, Q5_1 -> 5e-3f;
            case Q4_0, Q4_1 -> 1e-2f;
            default -> throw new IllegalArgumentException(type.toString());
        };
    }

    private static float[] row(Path file) throws IOException {
        try (GGUFFile gguf = GGUFFile.open(file)) {
            float[] row = new float[SMALL.dim()];
            Weights.load(gguf, ModelConfig.from(gguf)).tokenEmbedding().dequantizeRow(ROW, row, 0);
            return row;
        }
    }

    private static float[] logits(Path file) throws IOException {
        try (GGUFFile gguf = GGUFFile.open(file)) {
            ModelConfig config = ModelConfig.from(gguf);
            Transformer transformer = new Transformer(config, Weights.load(gguf, config));
            float[] logits = transformer.forward(transformer.newCache(CacheConfig.dense(16)), PROMPT, 0, PROMPT.length, false);
            assertThat(logits).hasSize(SMALL.vocabularySize()).doesNotContain(Float.NaN);
            return logits;
        }
    }

    private static double correlation(float[] a, float[] b) {
        double meanA = 0;
        double meanB = 0;
        for (int i = 0; i < a.length; i++) {
            meanA += a[i] / a.length;
            meanB += b[i] / b.length;
        }
        double ab = 0;
        double aa = 0;
        double bb = 0;
        for (int i = 0; i < a.length; i++) {
            ab += (a[i] - meanA) * (b[i] - meanB);
            aa += (a[i] - meanA) * (a[i] - meanA);
            bb += (b[i] - meanB) * (b[i] - meanB);
        }
        return ab / Math.sqrt(aa * bb);
    }
}
