package dev.streamingllm.samples.assistant;

import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A long chat in the spirit of the paper's StreamEval (a program, not a test): one conversation of T turns through
 * {@code /v1/chat/completions}, each turn adding one line of facts and asking about the line given {@code lag} turns
 * earlier (default 0: the line just given; SmolLM2-135M answers questions about earlier turns only by chance), so
 * every answer is inside a small cache while the conversation as a whole runs far past it. The
 * assistant runs twice on the same turns, greedy: StreamingLLM (sinks 4 + window 252) and window attention without
 * sinks (sinks 0 + window 256), both with the system prompt unpinned, so the only difference is the four sinks. A
 * reply is correct when it contains the asked-for number. Writes {@code streameval.csv} and prints the share correct
 * per 50 turns. Arguments: [turns=300] [out=docs/quality/streameval] [model=smollm2-135m-instruct] [lag=0].
 */
public final class StreamEvalRun {

    private static final JsonMapper JSON = new JsonMapper();
    private static final String[] DOORS = {"red", "blue", "green", "yellow", "black", "white", "orange", "purple", "silver",
            "golden", "brown", "pink", "grey", "violet", "copper", "bronze", "ivory", "scarlet", "amber", "teal"};

    record Turn(int index, String question, String expected, String reply, int promptTokens, boolean correct) {
    }

    public static void main(String[] args) throws Exception {
        int turns = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        Path out = Path.of(args.length > 1 ? args[1] : "docs/quality/streameval");
        String model = args.length > 2 ? args[2] : "smollm2-135m-instruct";
        int lag = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        List<String[]> script = script(turns, lag);
        Map<String, List<Turn>> results = new java.util.LinkedHashMap<>();
        results.put("streaming 4+252", run(model, 4, 252, script));
        results.put("window 0+256", run(model, 0, 256, script));
        Files.createDirectories(out);
        try (PrintWriter csv = new PrintWriter(Files.newBufferedWriter(out.resolve("streameval.csv")))) {
            csv.println("mode,turn,expected,correct,prompt_tokens,reply");
            results.forEach((mode, list) -> list.forEach(t -> csv.printf("%s,%d,%s,%s,%d,\"%s\"%n", mode, t.index(), t.expected(),
                    t.correct(), t.promptTokens(), t.reply().replace("\"", "\"\"").replace("\n", " "))));
        }
        System.out.printf("%-12s", "turns");
        results.keySet().forEach(mode -> System.out.printf("%18s", mode));
        System.out.println();
        for (int from = 0; from < turns; from += 50) {
            int to = Math.min(turns, from + 50);
            System.out.printf("%-12s", (from + 1) + "-" + to);
            for (List<Turn> list : results.values()) {
                long correct = list.subList(from, to).stream().filter(Turn::correct).count();
                System.out.printf("%18s", correct + "/" + (to - from));
            }
            System.out.println();
        }
        System.out.printf("%-12s", "all");
        for (List<Turn> list : results.values()) {
            System.out.printf("%18s", list.stream().filter(Turn::correct).count() + "/" + turns);
        }
        System.out.println();
    }

    /**
     * Each turn: {message, expected number}. Turn t gives line t + lag (the first turn lines 1 to lag + 1) and asks
     * about line t. Door colours never repeat within ten lines, so each question has one answer in reach.
     */
    private static List<String[]> script(int turns, int lag) {
        Random random = new Random(2024);
        List<String[]> lines = new ArrayList<>();
        Deque<String> recent = new ArrayDeque<>();
        for (int i = 0; i < turns + lag; i++) {
            String door;
            do {
                door = DOORS[random.nextInt(DOORS.length)];
            } while (recent.contains(door));
            recent.addLast(door);
            if (recent.size() > 10) {
                recent.removeFirst();
            }
            lines.add(new String[] {door, String.valueOf(1000 + random.nextInt(9000))});
        }
        List<String[]> script = new ArrayList<>();
        for (int t = 0; t < turns; t++) {
            StringBuilder message = new StringBuilder();
            for (int i = t == 0 ? 0 : t + lag; i <= t + lag; i++) {
                message.append("Line ").append(i + 1).append(": the code of the ").append(lines.get(i)[0]).append(" door is ")
                        .append(lines.get(i)[1]).append(".\n");
            }
            message.append("What is the code of the ").append(lines.get(t)[0]).append(" door?");
            script.add(new String[] {message.toString(), lines.get(t)[1]});
        }
        return script;
    }

    private static List<Turn> run(String model, int sinks, int window, List<String[]> script) throws Exception {
        ConfigurableApplicationContext app = SpringApplication.run(AssistantApplication.class, "--server.port=0",
                "--streamingllm.model=" + model, "--streamingllm.cache.sinks=" + sinks, "--streamingllm.cache.window=" + window,
                "--streamingllm.cache.pin-system-prompt=false", "--logging.level.root=WARN", "--spring.main.banner-mode=off");
        String base = "http://localhost:" + app.getEnvironment().getProperty("local.server.port");
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        List<Turn> turns = new ArrayList<>();
        String id = "streameval-" + sinks + "-" + window;
        long start = System.nanoTime();
        try {
            for (int t = 0; t < script.size(); t++) {
                String body = JSON.writeValueAsString(Map.of("temperature", 0, "max_tokens", 24,
                        "messages", List.of(Map.of("role", "user", "content", script.get(t)[0]))));
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                        .header("Content-Type", "application/json").header("X-Conversation-Id", id)
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() != 200) {
                    throw new IllegalStateException("turn " + (t + 1) + ": HTTP " + response.statusCode() + " " + response.body());
                }
                JsonNode json = JSON.readTree(response.body());
                String reply = json.get("choices").get(0).get("message").get("content").asString();
                turns.add(new Turn(t + 1, script.get(t)[0], script.get(t)[1], reply, json.get("usage").get("prompt_tokens").asInt(),
                        reply.contains(script.get(t)[1])));
            }
        } finally {
            app.close();
        }
        System.err.printf("sinks %d + window %d: %d turns in %.0f s%n", sinks, window, script.size(), (System.nanoTime() - start) / 1e9);
        return turns;
    }
}
