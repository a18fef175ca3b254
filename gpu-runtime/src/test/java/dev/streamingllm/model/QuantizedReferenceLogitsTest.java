package dev.streamingllm.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.streamingllm.gguf.GGMLType;
import dev.streamingllm.testing.QuantizedModels;
import dev.streamingllm.testing.ReferenceLogits;
import dev.streamingllm.testing.Shared;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * tiny-gqa in the types ../shared has no file of (Q4_1, Q5_0, Q5_1), quantized by the runtime's own
 * quantizer ({@link QuantizedModels}, byte for byte llama-quantize's output), against the float64 oracle
 * {@code ../shared/tools/ref_forward.py} run on the same file at test time, over the tokens of
 * {@code tiny-gqa-q4_0-dense-24.json}. The tolerance is {@link ReferenceLogitsTest}'s for quantized files.
 * The oracle needs python3 with the {@code gguf} and {@code numpy} packages; without them the tests are
 * skipped, saying so.
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
        assumeTrue(Oracle.PROBLEM == null, Oracle.PROBLEM);
        return REFERENCES.computeIfAbsent(type, t -> {
            Path model = QuantizedModels.tinyGqa(t);
            Path out = tmp.resolve(QuantizedModels.name(t) + "-dense.json");
            int[] tokens = ReferenceLogits.read(Shared.reference("tiny-gqa-q4_0-dense-24.json")).tokens();
            String tokenList = Arrays.stream(tokens).mapToObj(Integer::toString).collect(Collectors.joining(","));
            run(List.of("python3", Shared.root().resolve("tools/ref_forward.py").toString(), model.toString(), out.toString(),
                    "--tokens", tokenList, "--full"), true);
            ReferenceLogits reference = ReferenceLogits.read(out);
            assertThat(reference.tokens()).containsExactly(tokens);
            assertThat(reference.logits()).hasNumberOfRows(tokens.length);
            return reference;
        });
    }

    /** Why the oracle cannot run here (python3, gguf or numpy missing), or null; probed once. */
    private static final class Oracle {
        static final String PROBLEM = probe();

        private static String probe() {
            String output = run(List.of("python3", "-c", "import gguf, numpy"), false);
            return output == null ? null : "the float64 oracle needs python3 with the gguf and numpy packages "
                    + "(python3 -m pip install gguf numpy): " + output.strip();
        }
    }

    /**
     * Runs {@code command}; returns null when it succeeds, else its output. With {@code mustSucceed} a
     * failure fails the test instead.
     */
    private static String run(List<String> command, boolean mustSucceed) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            boolean done = process.waitFor(5, TimeUnit.MINUTES);
            if (!done) {
                process.destroyForcibly();
            }
            boolean ok = done && process.exitValue() == 0;
            if (mustSucceed) {
                assertThat(ok).as("%s\n%s", String.join(" ", command), output).isTrue();
            }
            return ok ? null : output;
        } catch (IOException e) {
            if (mustSucceed) {
                throw new UncheckedIOException(e);
            }
            return e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
