package dev.streamingllm.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.testing.Oracle;
import dev.streamingllm.testing.QuantizedModels;
import dev.streamingllm.testing.ReferenceLogits;
import dev.streamingllm.testing.Shared;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * tiny-gqa in the types ../shared has no file of (Q4_1, Q5_0, Q5_1), quantized by the runtime's own
 * quantizer ({@link QuantizedModels}, byte for byte llama-quantize's output), against the float64 oracle
 * {@code ../shared/tools/ref_forward.py} run on the same file at test time, over the tokens of
 * {@code tiny-gqa-q4_0-dense-24.json}. The tolerance is {@link ReferenceLogitsTest}'s for quantized files.
 * Without python3, gguf or numpy the tests are skipped, saying so ({@link Oracle}).
 */
class QuantizedReferenceLogitsTest {

    private static final Map<GGMLType, ReferenceLogits> REFERENCES = new ConcurrentHashMap<>();

    @TempDir
    static Path tmp;

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = GGMLType.class, names = {"Q4_1", "Q5_0", "Q5_1"})
    void batchedPrefillMatchesTheOracle(GGMLType type) {
        ReferenceLogits reference = reference(type);
        check(type, reference, ReferenceLogitsTest.run(QuantizedModels.tinyGqa(type), reference, reference.tokens().length), "batched prefill");
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = GGMLType.class, names = {"Q4_1", "Q5_0", "Q5_1"})
    void tokenByTokenDecodeMatchesTheOracle(GGMLType type) {
        ReferenceLogits reference = reference(type);
        check(type, reference, ReferenceLogitsTest.run(QuantizedModels.tinyGqa(type), reference, 1), "token by token");
    }

    private static void check(GGMLType type, ReferenceLogits reference, float[] logits, String how) {
        double error = reference.relativeError(logits);
        System.out.printf("%s, %s: max |logit - oracle| = %.2e of the largest logit%n", QuantizedModels.name(type), how, error);
        assertThat(error).as("%s %s", type, how).isLessThanOrEqualTo(ReferenceLogitsTest.tolerance(reference));
    }

    /** The oracle's logits for tiny-gqa in {@code type}, computed once per test run. */
    private static ReferenceLogits reference(GGMLType type) {
        return REFERENCES.computeIfAbsent(type, t -> Oracle.logits(QuantizedModels.tinyGqa(t),
                ReferenceLogits.read(Shared.reference("tiny-gqa-q4_0-dense-24.json")).tokens(),
                tmp.resolve(QuantizedModels.name(t) + "-dense.json")));
    }
}
