package dev.streamingllm.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** One file of ../shared/reference: float64 logits of a model over fixed tokens, dense or with a sink cache. */
public record ReferenceLogits(String name, String model, int[] tokens, Integer sinks, Integer window, double[][] logits) {

    /**
     * Reads a file of ../shared/reference, or what {@code ref_forward.py --full} writes: the same fields
     * with the rows under {@code positions[i].logits} instead of {@code logits}.
     */
    public static ReferenceLogits read(Path file) {
        JsonNode json = JsonMapper.builder().build().readTree(file.toFile());
        int[] tokens = stream(json.get("tokens")).mapToInt(JsonNode::asInt).toArray();
        Stream<JsonNode> rows = json.has("logits") ? stream(json.get("logits")) : stream(json.get("positions")).map(p -> p.get("logits"));
        double[][] logits = rows
                .map(row -> stream(row).mapToDouble(JsonNode::asDouble).toArray())
                .toArray(double[][]::new);
        return new ReferenceLogits(file.getFileName().toString(), json.get("model").asText(), tokens,
                json.get("sinks").isNull() ? null : json.get("sinks").asInt(),
                json.get("window").isNull() ? null : json.get("window").asInt(),
                logits);
    }

    public static List<Path> all() throws IOException {
        try (Stream<Path> files = Files.list(Shared.root().resolve("reference"))) {
            return files.filter(f -> f.toString().endsWith(".json")).sorted().toList();
        }
    }

    public boolean dense() {
        return sinks == null;
    }

    /** max |actual - expected| over the largest |expected|, over every row. */
    public double relativeError(float[] actual) {
        int vocab = logits[0].length;
        double maxDelta = 0;
        double maxMagnitude = 0;
        for (int i = 0; i < logits.length; i++) {
            for (int j = 0; j < vocab; j++) {
                maxDelta = Math.max(maxDelta, Math.abs(actual[i * vocab + j] - logits[i][j]));
                maxMagnitude = Math.max(maxMagnitude, Math.abs(logits[i][j]));
            }
        }
        return maxDelta / maxMagnitude;
    }

    /** The largest, over rows, of max |actual - expected| over that row's largest |expected|. */
    public double worstRowError(float[] actual) {
        int vocab = logits[0].length;
        double worst = 0;
        for (int i = 0; i < logits.length; i++) {
            double delta = 0;
            double magnitude = 0;
            for (int j = 0; j < vocab; j++) {
                delta = Math.max(delta, Math.abs(actual[i * vocab + j] - logits[i][j]));
                magnitude = Math.max(magnitude, Math.abs(logits[i][j]));
            }
            worst = Math.max(worst, delta / magnitude);
        }
        return worst;
    }

    /**
     * {@link #worstRowError} between two runs' logits, {@code vocab} per row: the largest distance of a logit from
     * {@code expected}'s, relative to the largest magnitude in that row of {@code expected}.
     */
    public static double worstRowError(float[] expected, float[] actual, int vocab) {
        return Arrays.stream(rowErrors(expected, actual, vocab)).max().orElse(0);
    }

    /** Each row's largest error, relative to that row's largest expected logit. */
    public static double[] rowErrors(float[] expected, float[] actual, int vocab) {
        double[] errors = new double[expected.length / vocab];
        for (int row = 0; row < errors.length; row++) {
            double delta = 0;
            double magnitude = 0;
            for (int j = row * vocab; j < (row + 1) * vocab; j++) {
                delta = Math.max(delta, Math.abs(actual[j] - expected[j]));
                magnitude = Math.max(magnitude, Math.abs(expected[j]));
            }
            errors[row] = delta / magnitude;
        }
        return errors;
    }

    private static Stream<JsonNode> stream(JsonNode array) {
        return array.valueStream();
    }

    @Override
    public String toString() {
        return name;
    }
}
