package dev.streamingllm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.testing.Shared;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;
import tools.jackson.databind.json.JsonMapper;

/** {@code bin/streamingllm bench}: its JSON line, and one clear error for counts it cannot time. */
class BenchCommandTest {

    @Test
    void printsPrefillAndDecodeRatesAsOneJsonLine() throws Exception {
        String model = Shared.model("stories260K.gguf").toString();
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            exit = StreamingLlmCli.commandLine().execute("bench", model, "--json", "--prompt", "8", "--generate", "4", "--repetitions", "1");
        } finally {
            System.setOut(stdout);
        }
        assertThat(exit).isZero();
        var json = JsonMapper.builder().build().readTree(captured.toString(StandardCharsets.UTF_8));
        assertThat(json.get("prompt_tokens").asInt()).isEqualTo(8);
        assertThat(json.get("generated_tokens").asInt()).isEqualTo(4);
        assertThat(json.get("prefill_tokens_per_s").asDouble()).isPositive();
        assertThat(json.get("decode_tokens_per_s").asDouble()).isPositive();
    }

    @ParameterizedTest
    @CsvSource({"--prompt, 0", "--generate, -1", "--repetitions, 0"})
    void countsBelowOneAreRefusedByName(String option, String value) {
        StringWriter err = new StringWriter();
        CommandLine cli = StreamingLlmCli.commandLine();
        cli.setErr(new PrintWriter(err, true));
        int exit = cli.execute("bench", Shared.model("stories260K.gguf").toString(), option, value);
        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).isEqualTo("error: " + option + " must be at least 1, was " + value + System.lineSeparator());
    }

    @Test
    void latencyRunsOnTheCacheTypeAskedForAndAnUnknownTypeIsNamed() {
        String model = Shared.model("stories260K.gguf").toString();
        PrintStream stdout = System.out;
        PrintStream stderr = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(progress, true, StandardCharsets.UTF_8));
            exit = StreamingLlmCli.commandLine().execute("bench", model, "--latency", "--cache", "96,64", "--modes", "streaming",
                    "--tokens", "2", "--cache-type", "F16", "--json");
        } finally {
            System.setOut(stdout);
            System.setErr(stderr);
        }
        assertThat(exit).isZero();
        assertThat(captured.toString(StandardCharsets.UTF_8)).contains("\"cache\":96").contains("\"cache\":64");
        // the untimed pass runs at the smallest cache, before the first size timed
        String lines = progress.toString(StandardCharsets.UTF_8);
        assertThat(lines).contains("warm-up: cache 64, untimed");
        assertThat(lines.indexOf("warm-up")).isLessThan(lines.indexOf("cache    96  streaming"));

        StringWriter err = new StringWriter();
        CommandLine cli = StreamingLlmCli.commandLine();
        cli.setErr(new PrintWriter(err, true));
        assertThat(cli.execute("bench", model, "--latency", "--cache-type", "q3")).isEqualTo(2);
        assertThat(err.toString()).contains("cache type 'q3' is not one of [f32, f16, q8_0]");
    }
}
