package dev.streamingllm.samples.assistant;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** What the load and serving benchmarks share: one streamed chat completion as a client sees it, and their report's pieces. */
final class BenchClient {

    private static final JsonMapper JSON = new JsonMapper();

    private BenchClient() {
    }

    /**
     * One streamed reply.
     *
     * @param status   the HTTP status; 0 when the server closed the connection before answering
     * @param usage    {@code completion_tokens} of the usage chunk, -1 without one
     * @param pieces   chunks that carried text
     * @param finished a chunk carried a {@code finish_reason}
     * @param done     the stream ended with {@code [DONE]}
     * @param retried  the first attempt's connection closed before any byte came back, and the request was sent again
     */
    record Reply(int status, String text, int usage, int pieces, long firstTokenNanos, long totalNanos, List<Long> gapsNanos,
            boolean finished, boolean done, boolean retried) {

        /** The completion tokens: the usage chunk's count, else one per piece of text. */
        int tokens() {
            return usage >= 0 ? usage : pieces;
        }
    }

    /**
     * Posts {@code body} (with {@code "stream": true}) to {@code /v1/chat/completions}; {@code arrival} hears the time of
     * every piece. With {@code retryOnce}, a request that got no response (its connection closed or refused before any
     * byte came back) is sent again once ({@link Reply#retried}); without, it counts as incomplete, as a refusal does.
     */
    static Reply send(HttpClient http, String base, Map<String, ?> body, Map<String, String> headers, LongConsumer arrival,
            boolean retryOnce) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
        headers.forEach(request::header);
        long start = System.nanoTime();
        HttpResponse<InputStream> response;
        boolean retried = false;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException first) {
            // No response at all: most often a kept-alive connection the server closed as the request went out
            // (llama-server does, now and then, after a streamed reply). OpenAI's clients retry connection errors on a
            // new connection; the reply's times then count from the first attempt.
            if (!retryOnce) {
                System.err.println("request failed: " + first.getMessage());
                return new Reply(0, "", -1, 0, 0, System.nanoTime() - start, List.of(), false, false, false);
            }
            retried = true;
            try {
                response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (IOException e) {
                System.err.println("request failed twice: " + first.getMessage() + "; " + e.getMessage());
                return new Reply(0, "", -1, 0, 0, System.nanoTime() - start, List.of(), false, false, true);
            }
        }
        if (response.statusCode() != 200) {
            System.err.println("HTTP " + response.statusCode() + ": " + new String(response.body().readAllBytes(), StandardCharsets.UTF_8));
            return new Reply(response.statusCode(), "", -1, 0, 0, System.nanoTime() - start, List.of(), false, false, retried);
        }
        StringBuilder text = new StringBuilder();
        List<Long> gaps = new ArrayList<>();
        long first = 0;
        long last = 0;
        int pieces = 0;
        int usage = -1;
        boolean finished = false;
        boolean done = false;
        try (var in = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.startsWith("data:")) {
                    continue;
                }
                String data = line.substring(5).strip();
                if (data.equals("[DONE]")) {
                    done = true;
                    continue;
                }
                JsonNode chunk = JSON.readTree(data);
                if (chunk.hasNonNull("usage")) {
                    usage = chunk.get("usage").get("completion_tokens").asInt();
                }
                JsonNode choices = chunk.get("choices");
                if (choices == null || choices.isEmpty()) {
                    continue;
                }
                JsonNode content = choices.get(0).path("delta").get("content");
                if (content != null && content.isString() && !content.asString().isEmpty()) {
                    long nanos = System.nanoTime();
                    arrival.accept(nanos);
                    long now = nanos - start;
                    if (first == 0) {
                        first = now;
                    } else {
                        gaps.add(now - last);
                    }
                    last = now;
                    pieces++;
                    text.append(content.asString());
                }
                finished |= choices.get(0).hasNonNull("finish_reason");
            }
        }
        return new Reply(200, text.toString(), usage, pieces, first, System.nanoTime() - start, gaps, finished, done, retried);
    }

    /** The id the server gives its model in {@code /v1/models}, which requests must name. */
    static String modelId(HttpClient http, String base) throws IOException, InterruptedException {
        HttpResponse<String> models = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/models")).build(),
                HttpResponse.BodyHandlers.ofString());
        return JSON.readTree(models.body()).get("data").get(0).get("id").asString();
    }

    /** The {@code percentile} of {@code sorted} nanoseconds, in milliseconds; 0 for none. */
    static double ms(long[] sorted, int percentile) {
        if (sorted.length == 0) {
            return 0;
        }
        int index = (int) Math.ceil(percentile / 100.0 * sorted.length) - 1;
        return sorted[Math.clamp(index, 0, sorted.length - 1)] / 1e6;
    }

    /** The CPU's model name, for a report's machine line. */
    static String cpu() throws IOException {
        Path info = Path.of("/proc/cpuinfo");
        if (!Files.exists(info)) {
            return System.getProperty("os.arch");
        }
        return Arrays.stream(Files.readString(info).split("\n")).filter(l -> l.startsWith("model name")).findFirst()
                .map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse(System.getProperty("os.arch"));
    }
}
