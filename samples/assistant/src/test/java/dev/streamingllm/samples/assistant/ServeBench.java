package dev.streamingllm.samples.assistant;

import static dev.streamingllm.samples.assistant.BenchClient.cpu;
import static dev.streamingllm.samples.assistant.BenchClient.ms;

import dev.streamingllm.backend.cpu.Parallel;
import dev.streamingllm.pull.ModelPuller;
import dev.streamingllm.pull.PullPolicy;
import dev.streamingllm.pull.PullProgress;
import dev.streamingllm.samples.assistant.BenchClient.Reply;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The serving benchmark of BENCHMARKS.md (a program, not a test): the assistant and, when its path is given,
 * llama.cpp's {@code llama-server} on the same GGUF file and thread count, driven in turn by the same clients over
 * {@code /v1/chat/completions}: at each concurrency, that many clients each hold a conversation of {@code turns}
 * streamed turns (the whole history resent each turn, as OpenAI clients do), greedy, {@code max_tokens} per reply.
 * Reports aggregate output tokens/s, time to first token p50/p95 and inter-token time p95 per engine and level.
 *
 * <p>Arguments: {@code [--model NAME|PATH] [--threads N] [--clients 1,4,16,32] [--turns 2] [--max-tokens 64]
 * [--llama-server PATH] [--long-prompt WORDS]}. With {@code --long-prompt} (default 8000 words, 0 for none) the assistant is
 * also measured for a running stream's inter-token time while another client's long prompt is prefilled.
 */
public final class ServeBench {

    private static final String[] NAMES = {"Tim", "Lily", "Ben", "Mia", "Sam", "Anna", "Max", "Sue"};
    private static final String[] THINGS = {"a red ball", "a big tree", "a little dog", "a blue car", "a shiny stone", "a cake"};

    /** One engine at one concurrency. */
    record Level(String engine, int clients, int turns, long tokens, double seconds, double ttftP50, double ttftP95, double gapP95,
            int incomplete, int retried) {

        double tokensPerSecond() {
            return tokens / seconds;
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = options(args);
        String modelSpec = options.getOrDefault("model", "smollm2-135m-instruct");
        int threads = Integer.parseInt(options.getOrDefault("threads", "2"));
        int[] levels = Arrays.stream(options.getOrDefault("clients", "1,4,16,32").split(",")).mapToInt(Integer::parseInt).toArray();
        int turns = Integer.parseInt(options.getOrDefault("turns", "2"));
        int maxTokens = Integer.parseInt(options.getOrDefault("max-tokens", "64"));
        int most = Arrays.stream(levels).max().orElse(1);
        Path model = ModelPuller.standard(PullProgress.QUIET).resolve(modelSpec, PullPolicy.WHEN_MISSING);

        System.out.printf("machine: %s, %d cores; Java %s; model %s; %d threads; %d turns per conversation, max_tokens %d, greedy%n",
                cpu(), Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), model.getFileName(), threads,
                turns, maxTokens);
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
        List<Level> results = new ArrayList<>();

        Parallel.setThreads(threads);
        ConfigurableApplicationContext app = SpringApplication.run(AssistantApplication.class, "--server.port=0",
                "--streamingllm.model=" + model, "--streamingllm.sessions.max=" + (2 * most + 4),
                // the long-prompt measurement runs three requests at once
                "--streamingllm.web.limits.concurrent-generations-per-key=" + Math.max(3, most), "--logging.level.root=WARN",
                "--spring.main.banner-mode=off");
        try {
            String base = "http://localhost:" + app.getEnvironment().getProperty("local.server.port");
            results.addAll(drive("streamingllm", http, base, levels, turns, maxTokens));
            int longPrompt = Integer.parseInt(options.getOrDefault("long-prompt", "8000"));
            if (longPrompt > 0) {
                interference(http, base, longPrompt);
            }
        } finally {
            app.close();
        }

        String llamaServer = options.get("llama-server");
        if (llamaServer != null) {
            int port = freePort();
            Path log = Files.createTempFile("llama-server", ".log");
            // one slot per client, each with room for the longest conversation
            Process server = new ProcessBuilder(llamaServer, "-m", model.toString(), "-t", String.valueOf(threads), "-tb",
                    String.valueOf(threads), "-np", String.valueOf(most), "-cb", "-c", String.valueOf(most * 1024), "--threads-http",
                    String.valueOf(most + 4), "--host",
                    "127.0.0.1", "--port", String.valueOf(port)).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try {
                String base = "http://127.0.0.1:" + port;
                awaitHealthy(http, base, server, log);
                results.addAll(drive("llama-server", http, base, levels, turns, maxTokens));
            } finally {
                server.destroy();
                server.waitFor();
            }
        }
        report(results);
    }

    private static List<Level> drive(String engine, HttpClient http, String base, int[] levels, int turns, int maxTokens) throws Exception {
        String model = BenchClient.modelId(http, base);
        // warm-up: the JIT compiles the kernels (and llama-server's slots start) before anything is timed; four
        // conversations at once, so that the batched kernels of several rows are compiled too (warmed by one
        // conversation, the first timed batches of four ran at half the speed of later ones), then one alone, so that
        // the one-row kernels are too (warmed by four only, the first timed single stream ran at two thirds of its speed)
        int warmUp = Math.min(4, Arrays.stream(levels).max().orElse(1));
        int conversations = 0;
        for (int together : warmUp > 1 ? new int[] {warmUp, 1} : new int[] {1}) {
            try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<List<Reply>>> runs = new ArrayList<>();
                for (int c = 0; c < together; c++) {
                    int client = 1000 + conversations++; // conversations of their own, none of the timed ones
                    runs.add(pool.submit(() -> conversation(http, base, model, client, turns, maxTokens)));
                }
                for (Future<List<Reply>> run : runs) {
                    run.get();
                }
            }
        }
        List<Level> out = new ArrayList<>();
        for (int clients : levels) {
            long start = System.nanoTime();
            List<Reply> replies = new ArrayList<>();
            try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<List<Reply>>> runs = new ArrayList<>();
                for (int c = 0; c < clients; c++) {
                    int client = c;
                    runs.add(pool.submit(() -> conversation(http, base, model, client, turns, maxTokens)));
                }
                for (Future<List<Reply>> run : runs) {
                    replies.addAll(run.get());
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            long tokens = replies.stream().mapToLong(Reply::tokens).sum();
            long[] ttft = replies.stream().mapToLong(Reply::firstTokenNanos).sorted().toArray();
            long[] gaps = replies.stream().flatMap(r -> r.gapsNanos().stream()).mapToLong(Long::longValue).sorted().toArray();
            int incomplete = (int) replies.stream().filter(r -> !r.done()).count();
            int retried = (int) replies.stream().filter(Reply::retried).count();
            Level level = new Level(engine, clients, turns, tokens, seconds, ms(ttft, 50), ms(ttft, 95), ms(gaps, 95), incomplete, retried);
            System.out.printf("%s, %d clients: %d tokens in %.1f s = %.1f tokens/s; first token p50 %.0f ms, p95 %.0f ms; "
                    + "inter-token p95 %.0f ms; incomplete %d; retried %d%n", engine, clients, tokens, seconds, level.tokensPerSecond(),
                    level.ttftP50(), level.ttftP95(), level.gapP95(), incomplete, retried);
            out.add(level);
        }
        return out;
    }

    /**
     * One client streams a long reply; once it runs, another sends a prompt of about {@code words} words, and 40 pieces
     * later a third a short prompt. Prints the streaming client's inter-token p95 before the long prompt arrived and
     * while it was prefilled, and how long the short prompt waited for its first token.
     */
    private static void interference(HttpClient http, String base, int words) throws Exception {
        String model = BenchClient.modelId(http, base);
        List<Long> arrivals = Collections.synchronizedList(new ArrayList<>());
        // the long prompt goes once the stream runs: at its 40th piece, or when it ended sooner
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch prefilling = new CountDownLatch(1);
        long[] longPrompt = new long[2];
        long[] shortPrompt = new long[2];
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            Future<Reply> streaming = pool.submit(() -> {
                try {
                    return turn(http, base, model, List.of(Map.of("role", "user", "content", "Tell me a very long story about a dragon.")),
                            400, at -> {
                                arrivals.add(at);
                                if (arrivals.size() == 40) {
                                    running.countDown();
                                } else if (arrivals.size() == 80) {
                                    prefilling.countDown();
                                }
                            });
                } finally {
                    running.countDown();
                    prefilling.countDown();
                }
            });
            Future<?> brief = pool.submit(() -> {
                prefilling.await();
                shortPrompt[0] = System.nanoTime();
                shortPrompt[1] = shortPrompt[0] + turn(http, base, model, List.of(Map.of("role", "user", "content", "Say hello.")), 1,
                        at -> { }).firstTokenNanos();
                return null;
            });
            running.await();
            String text = "The quick brown fox jumps over the lazy dog while the river runs. ".repeat(Math.max(1, words / 13));
            longPrompt[0] = System.nanoTime();
            Reply prefilled = turn(http, base, model, List.of(Map.of("role", "user", "content", text + "Summarize this.")), 1,
                    at -> { });
            longPrompt[1] = longPrompt[0] + prefilled.firstTokenNanos();
            streaming.get();
            brief.get();
        }
        List<Long> before = new ArrayList<>();
        List<Long> during = new ArrayList<>();
        synchronized (arrivals) {
            for (int i = 1; i < arrivals.size(); i++) {
                long gap = arrivals.get(i) - arrivals.get(i - 1);
                if (arrivals.get(i) <= longPrompt[0]) {
                    before.add(gap);
                } else if (arrivals.get(i - 1) >= longPrompt[0] && arrivals.get(i) <= longPrompt[1]) {
                    during.add(gap);
                }
            }
        }
        System.out.printf("a stream's inter-token p95: %.0f ms alone (%d gaps), %.0f ms while a %d-word prompt is prefilled "
                + "(%d gaps, prefill %.1f s)%n", ms(before.stream().mapToLong(Long::longValue).sorted().toArray(), 95), before.size(),
                ms(during.stream().mapToLong(Long::longValue).sorted().toArray(), 95), words, during.size(),
                (longPrompt[1] - longPrompt[0]) / 1e9);
        if (shortPrompt[1] == shortPrompt[0]) {
            System.out.println("a short prompt sent during that prefill got no text back");
        } else if (shortPrompt[0] < longPrompt[0] || shortPrompt[0] >= longPrompt[1]) {
            System.out.println("a short prompt was not sent during that prefill (the stream ended before its 80th piece)");
        } else {
            System.out.printf("a short prompt sent %.1f s into that prefill got its first token in %.0f ms%n",
                    (shortPrompt[0] - longPrompt[0]) / 1e9, (shortPrompt[1] - shortPrompt[0]) / 1e6);
        }
    }

    /** One client's conversation: its messages depend on {@code client} only, so every engine gets the same ones. */
    private static List<Reply> conversation(HttpClient http, String base, String model, int client, int turns, int maxTokens)
            throws Exception {
        List<Map<String, String>> history = new ArrayList<>();
        List<Reply> replies = new ArrayList<>();
        for (int t = 0; t < turns; t++) {
            String message = t == 0
                    ? NAMES[client % NAMES.length] + " found " + THINGS[client % THINGS.length] + " (story " + client + "). Tell me the story."
                    : "What did " + NAMES[(client + t) % NAMES.length] + " do next?";
            history.add(Map.of("role", "user", "content", message));
            Reply reply = turn(http, base, model, history, maxTokens, at -> { });
            history.add(Map.of("role", "assistant", "content", reply.text()));
            replies.add(reply);
        }
        return replies;
    }

    /** One streamed turn of {@code history}, greedy; {@code arrival} hears the time of every piece of text. */
    private static Reply turn(HttpClient http, String base, String model, List<? extends Map<String, String>> history, int maxTokens,
            LongConsumer arrival) throws Exception {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("model", model);
        body.put("stream", true);
        body.put("temperature", 0);
        body.put("max_tokens", maxTokens);
        body.put("stream_options", Map.of("include_usage", true));
        body.put("messages", history);
        return BenchClient.send(http, base, body, Map.of(), arrival, true);
    }

    private static void report(List<Level> results) {
        System.out.println();
        System.out.println("| engine | clients | output tokens/s | first token p50 / p95 (ms) | inter-token p95 (ms) | incomplete | retried |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- |");
        for (Level l : results) {
            System.out.printf("| %s | %d | %.1f | %.0f / %.0f | %.0f | %d | %d |%n", l.engine(), l.clients(), l.tokensPerSecond(), l.ttftP50(),
                    l.ttftP95(), l.gapP95(), l.incomplete(), l.retried());
        }
        List<Level> ours = results.stream().filter(l -> l.engine().equals("streamingllm")).toList();
        List<Level> peer = results.stream().filter(l -> l.engine().equals("llama-server")).toList();
        if (!peer.isEmpty()) {
            System.out.println();
            System.out.println("| clients | streamingllm tokens/s | llama-server tokens/s | ratio |");
            System.out.println("| --- | --- | --- | --- |");
            for (int i = 0; i < ours.size() && i < peer.size(); i++) {
                System.out.printf("| %d | %.1f | %.1f | %.2f |%n", ours.get(i).clients(), ours.get(i).tokensPerSecond(),
                        peer.get(i).tokensPerSecond(), ours.get(i).tokensPerSecond() / peer.get(i).tokensPerSecond());
            }
        }
    }

    private static void awaitHealthy(HttpClient http, String base, Process server, Path log) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            if (!server.isAlive()) {
                throw new IllegalStateException("llama-server exited with " + server.exitValue() + ":\n" + Files.readString(log));
            }
            try {
                HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                        HttpResponse.BodyHandlers.ofString());
                if (health.statusCode() == 200) {
                    return;
                }
            } catch (IOException notYetListening) {
                // polled again below
            }
            server.waitFor(200, TimeUnit.MILLISECONDS);
        }
        throw new IllegalStateException("llama-server did not become healthy within 2 minutes; its log: " + log);
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> options = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 == args.length) {
                throw new IllegalArgumentException("expected --option value pairs, got " + String.join(" ", args));
            }
            options.put(args[i].substring(2), args[++i]);
        }
        return options;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
