package dev.streamingllm.samples.assistant;

import static dev.streamingllm.samples.assistant.BenchClient.cpu;
import static dev.streamingllm.samples.assistant.BenchClient.ms;

import java.net.http.HttpClient;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The load run of BENCHMARKS.md (a program, not a test): the assistant on a random port, N concurrent streaming
 * clients holding T-turn conversations (each sends only its new message), then every conversation again alone.
 * Greedy decoding makes each reply a function of its own conversation only, so equal texts show that no token of
 * one session reached another. Prints latency percentiles and throughput; exits 1 on any incomplete or differing
 * reply. Arguments: [clients=32] [turns=5] [maxTokens=64] [model=../shared/models/stories260K.gguf].
 */
public final class LoadRun {

    private static final String[] NAMES = {"Tim", "Lily", "Ben", "Mia", "Sam", "Anna", "Max", "Sue"};
    private static final String[] THINGS = {"a red ball", "a big tree", "a little dog", "a blue car", "a shiny stone", "a cake"};

    /** The id the server gives its model in {@code /v1/models}, which requests must name. */
    private static String modelId;

    record TurnStats(String text, long firstTokenNanos, long totalNanos, int completionTokens, boolean complete) {
    }

    public static void main(String[] args) throws Exception {
        int clients = args.length > 0 ? Integer.parseInt(args[0]) : 32;
        int turns = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int maxTokens = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        String model = args.length > 3 ? args[3] : "../shared/models/stories260K.gguf";
        ConfigurableApplicationContext app = SpringApplication.run(AssistantApplication.class, "--server.port=0",
                "--streamingllm.model=" + model, "--streamingllm.sessions.max=" + (2 * clients + 4),
                "--streamingllm.web.limits.concurrent-generations-per-key=" + clients, "--logging.level.root=WARN",
                "--spring.main.banner-mode=off");
        String base = "http://localhost:" + app.getEnvironment().getProperty("local.server.port");
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        modelId = BenchClient.modelId(http, base);
        try {
            // warm-up: the JIT compiles the kernels before anything is timed
            conversation(http, base, "warm-up", 2, maxTokens);

            long start = System.nanoTime();
            List<List<TurnStats>> concurrent = new ArrayList<>();
            try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<List<TurnStats>>> runs = new ArrayList<>();
                for (int c = 0; c < clients; c++) {
                    int client = c;
                    runs.add(threads.submit(() -> conversation(http, base, "load-" + client, turns, maxTokens)));
                }
                for (Future<List<TurnStats>> run : runs) {
                    concurrent.add(run.get());
                }
            }
            long wall = System.nanoTime() - start;

            long aloneStart = System.nanoTime();
            List<List<TurnStats>> alone = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                alone.add(conversationAs(http, base, "alone-" + c, c, turns, maxTokens));
            }
            long aloneWall = System.nanoTime() - aloneStart;

            report(clients, turns, maxTokens, model, concurrent, alone, wall, aloneWall);
        } finally {
            app.close();
        }
    }

    private static List<TurnStats> conversation(HttpClient http, String base, String id, int turns, int maxTokens) throws Exception {
        int client = id.startsWith("load-") ? Integer.parseInt(id.substring(5)) : 0;
        return conversationAs(http, base, id, client, turns, maxTokens);
    }

    /** One conversation; its messages depend on {@code client} only, so a run alone sends the very same ones. */
    private static List<TurnStats> conversationAs(HttpClient http, String base, String id, int client, int turns, int maxTokens)
            throws Exception {
        List<TurnStats> out = new ArrayList<>();
        for (int t = 0; t < turns; t++) {
            String message = t == 0
                    ? NAMES[client % NAMES.length] + " found " + THINGS[client % THINGS.length] + " (story " + client + ")."
                    : "What did " + NAMES[(client + t) % NAMES.length] + " do next?";
            out.add(turn(http, base, id, message, maxTokens));
        }
        return out;
    }

    private static TurnStats turn(HttpClient http, String base, String id, String message, int maxTokens) throws Exception {
        BenchClient.Reply reply = BenchClient.send(http, base, Map.of("model", modelId, "stream", true, "temperature", 0,
                "max_tokens", maxTokens, "stream_options", Map.of("include_usage", true),
                "messages", List.of(Map.of("role", "user", "content", message))), Map.of("X-Conversation-Id", id), at -> { }, false);
        if (reply.status() != 200) {
            return new TurnStats("HTTP " + reply.status(), 0, reply.totalNanos(), 0, false);
        }
        return new TurnStats(reply.text(), reply.firstTokenNanos(), reply.totalNanos(), reply.usage(),
                reply.finished() && reply.done() && reply.usage() > 0);
    }

    private static void report(int clients, int turns, int maxTokens, String model, List<List<TurnStats>> concurrent,
            List<List<TurnStats>> alone, long wall, long aloneWall) throws Exception {
        List<TurnStats> all = concurrent.stream().flatMap(List::stream).toList();
        long incomplete = all.stream().filter(s -> !s.complete()).count();
        int differing = 0;
        for (int c = 0; c < clients; c++) {
            for (int t = 0; t < turns; t++) {
                if (!concurrent.get(c).get(t).text().equals(alone.get(c).get(t).text())) {
                    differing++;
                }
            }
        }
        long tokens = all.stream().mapToLong(TurnStats::completionTokens).sum();
        long aloneTokens = alone.stream().flatMap(List::stream).mapToLong(TurnStats::completionTokens).sum();
        long[] latency = all.stream().mapToLong(TurnStats::totalNanos).sorted().toArray();
        long[] ttft = all.stream().mapToLong(TurnStats::firstTokenNanos).sorted().toArray();
        System.out.printf("machine: %s, %d cores visible to the JVM, Java %s%n", cpu(), Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"));
        System.out.printf("model %s, %d clients x %d turns, max %d tokens per reply, greedy, each client sends only its new message%n",
                Path.of(model).getFileName(), clients, turns, maxTokens);
        System.out.printf("turns: %d, complete: %d, incomplete: %d; replies equal to the same conversation run alone: %d of %d%n",
                all.size(), all.size() - incomplete, incomplete, all.size() - differing, all.size());
        System.out.printf("turn latency ms: p50 %.0f, p90 %.0f, p99 %.0f, max %.0f%n", ms(latency, 50), ms(latency, 90),
                ms(latency, 99), latency[latency.length - 1] / 1e6);
        System.out.printf("time to first token ms: p50 %.0f, p90 %.0f, p99 %.0f, max %.0f%n", ms(ttft, 50), ms(ttft, 90),
                ms(ttft, 99), ttft[ttft.length - 1] / 1e6);
        System.out.printf("concurrent: %d tokens in %.2f s = %.0f tokens/s, %.1f turns/s%n", tokens, wall / 1e9,
                tokens / (wall / 1e9), all.size() / (wall / 1e9));
        System.out.printf("one at a time: %d tokens in %.2f s = %.0f tokens/s%n", aloneTokens, aloneWall / 1e9,
                aloneTokens / (aloneWall / 1e9));
        if (incomplete > 0 || differing > 0) {
            System.exit(1);
        }
    }
}
