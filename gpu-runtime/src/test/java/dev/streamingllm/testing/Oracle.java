package dev.streamingllm.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The float64 reference forward pass, {@code ../shared/tools/ref_forward.py}, run at test time on any llama-layout
 * GGUF file. It needs python3 with the {@code gguf} and {@code numpy} packages ({@code .ci/run} installs them);
 * without them a test that asks for it is skipped, saying what is missing.
 */
public final class Oracle {

    private static final String PROBLEM = probe();

    private Oracle() {
    }

    /** Dense logits of {@code model} over {@code tokens}, written to {@code out} and read back. */
    public static ReferenceLogits logits(Path model, int[] tokens, Path out) {
        assumeTrue(PROBLEM == null, PROBLEM);
        String tokenList = Arrays.stream(tokens).mapToObj(Integer::toString).collect(Collectors.joining(","));
        run(List.of("python3", Shared.root().resolve("tools/ref_forward.py").toString(), model.toString(), out.toString(),
                "--tokens", tokenList, "--full"), true);
        ReferenceLogits reference = ReferenceLogits.read(out);
        assertThat(reference.tokens()).containsExactly(tokens);
        assertThat(reference.logits()).hasNumberOfRows(tokens.length);
        return reference;
    }

    private static String probe() {
        String output = run(List.of("python3", "-c", "import gguf, numpy"), false);
        return output == null ? null : "the float64 oracle needs python3 with the gguf and numpy packages "
                + "(python3 -m pip install gguf numpy): " + output.strip();
    }

    /** Runs {@code command}; null when it succeeds, else its output. With {@code mustSucceed} a failure fails the test. */
    private static String run(List<String> command, boolean mustSucceed) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            boolean done = process.waitFor(10, TimeUnit.MINUTES);
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
