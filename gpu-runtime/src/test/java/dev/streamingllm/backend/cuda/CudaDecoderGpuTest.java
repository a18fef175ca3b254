package dev.streamingllm.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.streamingllm.backend.Backend;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheSettings;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.model.Model;
import dev.streamingllm.session.Session;
import dev.streamingllm.testing.QuantizedModels;
import dev.streamingllm.testing.ReferenceLogits;
import dev.streamingllm.testing.Shared;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CUDA decoder against the CPU backend and the float64 reference files. Needs a CUDA 13 device;
 * elsewhere every test is skipped with the probe's reason (skips are not passes).
 */
@Tag("gpu")
class CudaDecoderGpuTest {

    @BeforeEach
    void requireDevice() {
        CudaDevice.Probe probe = CudaDevice.probe();
        assumeTrue(probe.device().isPresent(), "no usable CUDA device: " + probe.reason());
    }

    static List<Path> references() throws IOException {
        return ReferenceLogits.all();
    }

    /** Products of every size through the matrix-vector kernels, whatever the weights' type. */
    private static final CudaOptions MATRIX_VECTOR = new CudaOptions(0, 0, CudaOptions.DEFAULT_MAX_ROWS,
            CudaOptions.DEFAULT_MAX_ROWS + 1, CudaOptions.DEFAULT_MAX_ROWS + 1);

    /** Token by token through the matrix-vector kernels, the decode path of quantized and BF16 weights. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("references")
    void decodeMatchesTheReference(Path file) {
        ReferenceLogits reference = ReferenceLogits.read(file);
        float[] logits = run(reference, 1, MATRIX_VECTOR);
        assertThat(reference.relativeError(logits)).isLessThanOrEqualTo(floatWeights(reference) ? 1e-3 : 1e-2);
    }

    /**
     * Token by token as the decoder runs by default: F32 and F16 weights through cuBLAS from one row (F32 as exactly as
     * the kernels, F16 on activations rounded to f16, as in prefill: 7.7e-4 on an H200), the other types through the
     * matrix-vector kernels, with the bounds of {@link #decodeMatchesTheReference}.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("references")
    void defaultDecodeMatchesTheReference(Path file) {
        ReferenceLogits reference = ReferenceLogits.read(file);
        float[] logits = run(reference, 1, CudaOptions.DEFAULT);
        double bound = !floatWeights(reference) ? 1e-2 : reference.model().contains("f16") ? 2e-3 : 1e-3;
        assertThat(reference.relativeError(logits)).isLessThanOrEqualTo(bound);
    }

    /** Whole-prompt prefill: cuBLAS GEMMs on f16/bf16 activations, so a looser bound than decode. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("references")
    void prefillMatchesTheReference(Path file) {
        ReferenceLogits reference = ReferenceLogits.read(file);
        float[] logits = run(reference, reference.tokens().length, CudaOptions.DEFAULT);
        assertThat(reference.relativeError(logits)).isLessThanOrEqualTo(1e-2);
    }

    /**
     * The matrix-vector kernels multiply f32 activations, as the CPU backend does: within one in a thousand. By
     * default F16 weights go through cuBLAS on activations rounded to f16 (8.5e-4 on an H200): within two.
     */
    @Test
    void f16LogitsEqualTheCpuBackends() {
        Path file = Shared.model("tiny-gqa-f16.gguf");
        int[] tokens = new int[200];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (i * 7919 + 13) % 200 + 3;
        }
        CacheConfig cache = CacheConfig.streaming(4, 60);
        float[] cpu;
        try (Model model = Model.load(file)) {
            cpu = decodeAll(new Session(model.decoder(), cache)::decode, tokens);
        }
        try (Model model = Model.load(file, Backend.CUDA, CacheSettings.of(CacheConfig.dense(64)), MATRIX_VECTOR)) {
            float[] gpu = decodeAll(new Session(model.decoder(), cache)::decode, tokens);
            assertThat(relativeL2(gpu, cpu)).as("matrix-vector kernels").isLessThanOrEqualTo(1e-3);
        }
        try (Model model = Model.load(file, Backend.CUDA, CacheSettings.of(CacheConfig.dense(64)))) {
            float[] gpu = decodeAll(new Session(model.decoder(), cache)::decode, tokens);
            assertThat(relativeL2(gpu, cpu)).as("cuBLAS").isLessThanOrEqualTo(2e-3);
        }
    }

    /**
     * Types ../shared has no file of, in tiny-gqa quantized here: decoding runs their matrix-vector
     * kernels, a whole-prompt prefill their dequantization to f16 for the GEMMs; both against the CPU
     * backend's whole-prompt pass on the same file, which multiplies float activations (its 4-bit decode
     * kernels round them to 11 bits, an error of the CPU's own of about 2.5e-3).
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(value = GGMLType.class, names = {"Q4_1", "Q5_0", "Q5_1"})
    void quantizedTypesMatchTheCpuBackend(GGMLType type) {
        Path file = QuantizedModels.tinyGqa(type);
        int[] tokens = new int[48];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (i * 7919 + 13) % 200 + 3;
        }
        float[] cpu;
        try (Model model = Model.load(file)) {
            cpu = forward(model, tokens, tokens.length);
        }
        try (Model model = Model.load(file, Backend.CUDA, CacheSettings.of(CacheConfig.dense(tokens.length)))) {
            assertThat(relativeL2(forward(model, tokens, 1), cpu)).as("%s decode", type).isLessThanOrEqualTo(1e-3);
            assertThat(relativeL2(forward(model, tokens, tokens.length), cpu)).as("%s prefill", type).isLessThanOrEqualTo(1e-2);
        }
    }

    /** Every position's logits of {@code tokens} in a fresh dense cache, {@code chunk} tokens per forward pass. */
    private static float[] forward(Model model, int[] tokens, int chunk) {
        SinkCache cache = model.decoder().newCache(CacheConfig.dense(tokens.length));
        int vocab = model.config().vocabularySize();
        float[] all = new float[tokens.length * vocab];
        for (int i = 0; i < tokens.length; i += chunk) {
            int count = Math.min(chunk, tokens.length - i);
            float[] logits = model.decoder().forward(cache, tokens, i, count, true);
            System.arraycopy(logits, 0, all, i * vocab, logits.length);
        }
        return all;
    }

    @Test
    void aBatchedStepEqualsEachSessionDecodingAlone() {
        try (Model model = Model.load(Shared.model("tiny-gqa-f16.gguf"), Backend.CUDA, CacheSettings.of(CacheConfig.dense(32)), new CudaOptions(32, 12, 16, 9, 9))) {
            CudaDecoder decoder = (CudaDecoder) model.decoder();
            CacheConfig config = CacheConfig.streaming(4, 20);
            int sessions = 5;
            SinkCache[] batched = new SinkCache[sessions];
            SinkCache[] alone = new SinkCache[sessions];
            for (int s = 0; s < sessions; s++) {
                batched[s] = decoder.newCache(config);
                alone[s] = decoder.newCache(config);
            }
            assertThat(decoder.freeSlots()).isEqualTo(decoder.poolSlots() - 2 * sessions);
            for (int step = 0; step < 40; step++) {
                int[] tokens = new int[sessions];
                for (int s = 0; s < sessions; s++) {
                    tokens[s] = 3 + (step * 31 + s * 17) % 250;
                }
                float[][] together = decoder.decodeBatch(List.of(batched), tokens);
                for (int s = 0; s < sessions; s++) {
                    float[] single = decoder.forward(alone[s], tokens, s, 1, false);
                    assertThat(relativeL2(together[s], single)).as("session %d step %d", s, step).isLessThanOrEqualTo(1e-5);
                }
            }
            for (SinkCache c : batched) {
                decoder.release(c);
            }
            assertThat(decoder.freeSlots()).isEqualTo(decoder.poolSlots() - sessions);
        }
    }

    private interface Step {
        float[] decode(int token);
    }

    private static float[] decodeAll(Step step, int[] tokens) {
        float[] last = null;
        float[] all = new float[0];
        for (int token : tokens) {
            last = step.decode(token);
            float[] grown = java.util.Arrays.copyOf(all, all.length + last.length);
            System.arraycopy(last, 0, grown, all.length, last.length);
            all = grown;
        }
        return all;
    }

    private static float[] run(ReferenceLogits reference, int chunk, CudaOptions options) {
        int n = reference.tokens().length;
        CacheConfig cacheConfig = reference.dense() ? CacheConfig.dense(n) : CacheConfig.streaming(reference.sinks(), reference.window());
        try (Model model = Model.load(Shared.model(reference.model()), Backend.CUDA, CacheSettings.of(cacheConfig), options)) {
            SinkCache cache = model.decoder().newCache(cacheConfig);
            int vocab = model.config().vocabularySize();
            float[] all = new float[n * vocab];
            for (int i = 0; i < n; i += chunk) {
                int count = Math.min(chunk, n - i);
                float[] logits = model.decoder().forward(cache, reference.tokens(), i, count, true);
                System.arraycopy(logits, 0, all, i * vocab, logits.length);
            }
            return all;
        }
    }

    private static boolean floatWeights(ReferenceLogits reference) {
        String model = reference.model();
        return model.startsWith("stories260K") || model.contains("f32") || model.contains("f16") || model.contains("bf16");
    }

    static double relativeL2(float[] actual, float[] expected) {
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = actual[i] - expected[i];
            diff += d * d;
            norm += (double) expected[i] * expected[i];
        }
        return Math.sqrt(diff / norm);
    }
}
