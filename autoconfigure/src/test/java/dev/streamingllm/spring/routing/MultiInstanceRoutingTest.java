package dev.streamingllm.spring.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.model.Model;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.template.ChatMessage;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.health.contributor.Status;
import org.springframework.context.ConfigurableApplicationContext;
import reactor.core.publisher.Mono;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.json.JsonMapper;

/** Two or three application instances sharing one real Redis. */
class MultiInstanceRoutingTest {

    private static final Path MODEL = Path.of(System.getProperty("streamingllm.shared", "../../shared"), "models", "stories260K.gguf")
            .toAbsolutePath().normalize();
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final HttpClient HTTP = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
    private static final String[] USERS = {"Once upon a time", "The cat", "The dog", "A bird"};

    private static RealRedis redis;
    private static Model model;

    record Reply(int status, String text, boolean reset, String servedBy, String location, String body) {
    }

    @BeforeAll
    static void startRedis() {
        redis = RealRedis.start();
        System.out.println("Redis for the routing tests: " + redis.kind() + " on port " + redis.port());
        model = Model.load(MODEL);
    }

    @AfterAll
    static void stopRedis() throws Exception {
        model.close();
        redis.close();
    }

    private static String[] args(String instance, int port, String... extra) {
        List<String> args = new ArrayList<>(List.of(
                "--server.port=" + port,
                "--streamingllm.model=" + MODEL,
                "--streamingllm.cache.window=60",
                "--spring.data.redis.host=localhost",
                "--spring.data.redis.port=" + redis.port(),
                "--streamingllm.routing.instance-id=" + instance,
                "--streamingllm.routing.base-url=http://localhost:${local.server.port}",
                "--streamingllm.routing.lease=3s",
                "--streamingllm.routing.heartbeat=500ms",
                "--streamingllm.routing.redis-timeout=1s",
                "--management.endpoint.health.show-details=always"));
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }

    private static ConfigurableApplicationContext start(String instance, String... extra) {
        return new SpringApplicationBuilder(RoutingTestApplication.class).run(args(instance, 0, extra));
    }

    private static String url(ConfigurableApplicationContext context) {
        return "http://localhost:" + context.getEnvironment().getProperty("local.server.port");
    }

    private static Reply turn(String baseUrl, String id, List<ChatMessage> history) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + "/turn"))
                .header("Content-Type", "application/json").header(RoutingWebFilter.CONVERSATION_ID, id)
                .timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(history))).build();
        HttpResponse<String> response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        String servedBy = response.headers().firstValue(RoutingWebFilter.SERVED_BY).orElse(null);
        String location = response.headers().firstValue("Location").orElse(null);
        if (response.statusCode() != 200) {
            return new Reply(response.statusCode(), null, false, servedBy, location, response.body());
        }
        Map<String, Object> body = JSON.readValue(response.body(), new TypeReference<>() { });
        return new Reply(200, (String) body.get("text"), (Boolean) body.get("reset"), servedBy, location, response.body());
    }

    /** Sends the next user message and records the reply in {@code history}. */
    private static Reply say(String baseUrl, String id, List<ChatMessage> history, String user) throws Exception {
        history.add(ChatMessage.user(user));
        Reply reply = turn(baseUrl, id, history);
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        history.add(ChatMessage.assistant(reply.text()));
        return reply;
    }

    /** The same conversation run without interruption in this process, greedy: the reference texts. */
    private static List<String> uninterrupted(ChatSessions settingsFrom, int turns) {
        Conversation conversation = new Conversation(model, settingsFrom.settings().cache(), settingsFrom.settings().pinSystemPrompt());
        List<ChatMessage> history = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < turns; i++) {
            history.add(ChatMessage.user(USERS[i]));
            String text = conversation.reply(history, RoutingTestApplication.GREEDY, piece -> { }, () -> false).text();
            history.add(ChatMessage.assistant(text));
            texts.add(text);
        }
        return texts;
    }

    private static void awaitPublished(SessionRegistry registry, String id, long tokensSeen) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline) {
            Publication publication = registry.find(id).block(Duration.ofSeconds(2));
            if (publication != null && publication.record().tokensSeen() == tokensSeen) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("session " + id + " was not published with " + tokensSeen + " tokens seen");
    }

    @Test
    void aSessionCreatedOnAIsServedByAWhenItContinuesThroughB() throws Exception {
        try (ConfigurableApplicationContext a = start("A"); ConfigurableApplicationContext b = start("B");
             ConfigurableApplicationContext c = start("C", "--streamingllm.routing.mode=redirect")) {
            String id = "conv-" + UUID.randomUUID();
            List<ChatMessage> history = new ArrayList<>();
            assertThat(say(url(a), id, history, USERS[0]).servedBy()).isEqualTo("A");
            Reply throughB = say(url(b), id, history, USERS[1]);
            assertThat(throughB.servedBy()).isEqualTo("A");
            assertThat(throughB.reset()).isFalse();
            assertThat(b.getBean(ChatSessions.class).find(id)).isEmpty();

            history.add(ChatMessage.user(USERS[2]));
            Reply redirected = turn(url(c), id, history);
            assertThat(redirected.status()).isEqualTo(307);
            assertThat(redirected.location()).isEqualTo(url(a) + "/turn");
            assertThat(c.getBean(ChatSessions.class).find(id)).isEmpty();

            List<String> reference = uninterrupted(a.getBean(ChatSessions.class), 2);
            assertThat(List.of(history.get(1).content(), history.get(3).content())).isEqualTo(reference);
        }
    }

    @Test
    void whenAIsKilledBTakesOverFromTheSnapshotAndContinuesTokenForToken() throws Exception {
        int portA = RealRedis.freePort();
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                RoutingTestApplication.class.getName()));
        command.addAll(List.of(args("A", portA)));
        Process a = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(new File("target/instance-A-" + portA + ".log")).start();
        try (ConfigurableApplicationContext b = start("B")) {
            String urlA = "http://localhost:" + portA;
            awaitUp(urlA);
            String id = "conv-" + UUID.randomUUID();
            List<ChatMessage> history = new ArrayList<>();
            say(urlA, id, history, USERS[0]);
            Reply second = say(urlA, id, history, USERS[1]);
            assertThat(second.servedBy()).isEqualTo("A");
            SessionOwnership ownershipB = b.getBean(SessionOwnership.class);
            long seen = ((Number) JSON.readValue(second.body(), Map.class).get("tokensSeen")).longValue();
            awaitPublished(ownershipB.registry(), id, seen);

            a.destroyForcibly().waitFor();

            // B refuses until A's lease expires, then takes the session over
            history.add(ChatMessage.user(USERS[2]));
            Reply third = turn(url(b), id, history);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (third.status() == 503 && System.nanoTime() < deadline) {
                Thread.sleep(250);
                third = turn(url(b), id, history);
            }
            assertThat(third.status()).as(third.body()).isEqualTo(200);
            assertThat(third.servedBy()).isEqualTo("B");
            assertThat(third.reset()).isFalse();
            history.add(ChatMessage.assistant(third.text()));
            Reply fourth = say(url(b), id, history, USERS[3]);

            List<String> reference = uninterrupted(b.getBean(ChatSessions.class), 4);
            assertThat(List.of(history.get(1).content(), history.get(3).content(), third.text(), fourth.text())).isEqualTo(reference);
            assertThat(ownershipB.lease(id)).get().extracting(Lease::fence).isEqualTo(2L);
        } finally {
            a.destroyForcibly();
        }
    }

    @Test
    void twoInstancesRacingForAnExpiredLeaseExactlyOneWins() throws Exception {
        try (ConfigurableApplicationContext a = start("A"); ConfigurableApplicationContext b = start("B")) {
            SessionOwnership ownershipA = a.getBean(SessionOwnership.class);
            SessionOwnership ownershipB = b.getBean(SessionOwnership.class);
            SessionRegistry registry = ownershipA.registry();
            awaitRegistered(registry, "A", url(a));
            awaitRegistered(registry, "B", url(b));
            for (int i = 0; i < 10; i++) {
                String id = "race-" + UUID.randomUUID();
                // a dead owner's lease, already expired
                assertThat(registry.acquire(id, "dead", Duration.ofMillis(50)).block()).isNotNull();
                Thread.sleep(80);
                List<Route> routes = Mono.zip(ownershipA.route(id), ownershipB.route(id), List::<Route>of).block(Duration.ofSeconds(30));
                assertThat(routes).filteredOn(r -> r instanceof Route.Local).hasSize(1);
                Lease lease = registry.lease(id).block();
                assertThat(lease.instanceId()).isIn("A", "B");
                Route loser = routes.get(lease.instanceId().equals("A") ? 1 : 0);
                assertThat(loser).isEqualTo(new Route.Remote(new Instance(lease.instanceId(),
                        url(lease.instanceId().equals("A") ? a : b))));
                assertThat(lease.fence()).isGreaterThan(1L);
            }
        }
    }

    @Test
    void aConversationContinuesWhenRedisRestarts() throws Exception {
        try (ConfigurableApplicationContext a = start("A"); ConfigurableApplicationContext b = start("B")) {
            String id = "conv-" + UUID.randomUUID();
            List<ChatMessage> history = new ArrayList<>();
            say(url(a), id, history, USERS[0]);
            assertThat(say(url(b), id, history, USERS[1]).servedBy()).isEqualTo("A");

            redis.stop();
            RoutingHealthIndicator healthA = a.getBean(RoutingHealthIndicator.class);
            awaitStatus(healthA, Status.DOWN);
            assertThat((String) healthA.health().getDetails().get("reason")).contains("unreachable");
            // served locally meanwhile
            Reply third = say(url(a), id, history, USERS[2]);
            assertThat(third.reset()).isFalse();

            redis.restart();
            awaitStatus(healthA, Status.UP);
            Reply fourth = say(url(b), id, history, USERS[3]);
            assertThat(fourth.servedBy()).isEqualTo("A");
            assertThat(fourth.reset()).isFalse();
            List<String> reference = uninterrupted(a.getBean(ChatSessions.class), 4);
            assertThat(List.of(history.get(1).content(), history.get(3).content(), history.get(5).content(), history.get(7).content()))
                    .isEqualTo(reference);
        }
    }

    private static void awaitRegistered(SessionRegistry registry, String id, String url) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!new Instance(id, url).equals(registry.instance(id).block(Duration.ofSeconds(2)))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("instance " + id + " did not announce itself at " + url);
            }
            Thread.sleep(50);
        }
    }

    private static void awaitStatus(RoutingHealthIndicator health, Status status) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!health.health().getStatus().equals(status)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("routing health stayed " + health.health());
            }
            Thread.sleep(100);
        }
    }

    private static void awaitUp(String baseUrl) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl + "/actuator/health")).build(),
                        HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() == 200) {
                    return;
                }
            } catch (java.io.IOException e) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        throw new AssertionError("instance at " + baseUrl + " did not start");
    }
}
