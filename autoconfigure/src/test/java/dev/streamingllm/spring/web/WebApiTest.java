package dev.streamingllm.spring.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.streamingllm.spring.api.ConversationOwners;
import dev.streamingllm.spring.api.ExchangeAttributes;
import dev.streamingllm.spring.routing.SessionOwnership;
import dev.streamingllm.spring.session.ChatSessions;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DefaultDataBufferFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.test.web.reactive.server.WebTestClient;
import org.springframework.web.reactive.function.BodyInserters;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.publisher.Flux;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** Every endpoint, error and limit of the HTTP API, over a real server on stories260K. */
@SpringBootTest(classes = WebApiTest.App.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "streamingllm.model=${streamingllm.shared}/models/stories260K.gguf",
        "streamingllm.cache.window=60",
        "streamingllm.web.enabled=true",
        "streamingllm.web.api-keys=key-a,key-b",
        "streamingllm.web.limits.max-request-size=4KB",
        "streamingllm.web.limits.max-tokens=48",
        "streamingllm.web.limits.concurrent-generations-per-key=2",
        "streamingllm.web.limits.queue=1",
        "streamingllm.web.limits.queue-timeout=1s",
        "streamingllm.web.cors.allowed-origins=https://app.example",
        "logging.level.dev.streamingllm.spring.web.ApiErrorWebExceptionHandler=DEBUG",
        "spring.application.name=web-api-test",
        "streamingllm.routing.instance-id=web-a",
        "streamingllm.routing.base-url=http://localhost:${local.server.port}"})
class WebApiTest {

    @SpringBootConfiguration
    @EnableAutoConfiguration
    static class App {
    }

    private static final ParameterizedTypeReference<ServerSentEvent<String>> SSE = new ParameterizedTypeReference<>() {
    };

    @LocalServerPort
    int port;

    @Autowired
    GenerationLimiter limiter;

    @Autowired
    ChatSessions sessions;

    @Autowired
    SessionOwnership ownership;

    @Autowired
    ConversationOwners owners;

    @Autowired
    MeterRegistry meters;

    private final JsonMapper json = new JsonMapper();
    private WebTestClient a;
    private WebTestClient b;
    private WebTestClient anonymous;

    @BeforeEach
    void clients() {
        anonymous = WebTestClient.bindToServer().baseUrl("http://localhost:" + port).responseTimeout(Duration.ofSeconds(60)).build();
        a = anonymous.mutate().defaultHeader("Authorization", "Bearer key-a").build();
        b = anonymous.mutate().defaultHeader("Authorization", "Bearer key-b").build();
    }

    // ---- models

    @Test
    void listsTheModel() {
        JsonNode models = json(a.get().uri("/v1/models").exchange().expectStatus().isOk());
        assertThat(models.get("object").asString()).isEqualTo("list");
        assertThat(models.get("data")).hasSize(1);
        assertThat(models.get("data").get(0).get("id").asString()).isEqualTo("stories260K");
        assertThat(models.get("data").get(0).get("object").asString()).isEqualTo("model");
    }

    @Test
    void retrievesTheModelByIdAsTheSdksDo() {
        JsonNode model = json(a.get().uri("/v1/models/stories260K").exchange().expectStatus().isOk());
        assertThat(model.get("id").asString()).isEqualTo("stories260K");
        assertThat(model.get("object").asString()).isEqualTo("model");
        assertThat(model.get("owned_by").asString()).isNotBlank();
        assertBad(a.get().uri("/v1/models/gpt-4o").exchange(), HttpStatus.NOT_FOUND, "model_not_found", "'gpt-4o' does not exist");
    }

    // ---- chat completions

    @Test
    void completesWithUsageAndFinishReason() {
        JsonNode completion = complete(a, null, request(List.of(user("Tell me a story about a cat.")), false));
        assertThat(completion.get("object").asString()).isEqualTo("chat.completion");
        assertThat(completion.get("id").asString()).startsWith("chatcmpl-");
        assertThat(completion.get("model").asString()).isEqualTo("stories260K");
        JsonNode choice = completion.get("choices").get(0);
        assertThat(choice.get("message").get("role").asString()).isEqualTo("assistant");
        assertThat(choice.get("message").get("content").asString()).isNotBlank();
        assertThat(choice.get("finish_reason").asString()).isIn("stop", "length");
        JsonNode usage = completion.get("usage");
        assertThat(usage.get("prompt_tokens").asInt()).isPositive();
        assertThat(usage.get("completion_tokens").asInt()).isPositive();
        assertThat(usage.get("total_tokens").asInt())
                .isEqualTo(usage.get("prompt_tokens").asInt() + usage.get("completion_tokens").asInt());
    }

    @Test
    void maxTokensEndsTheReplyWithLength() {
        Map<String, Object> request = request(List.of(user("Once upon a time")), false);
        request.put("max_tokens", 3);
        JsonNode completion = complete(a, null, request);
        assertThat(completion.get("choices").get(0).get("finish_reason").asString()).isEqualTo("length");
        assertThat(completion.get("usage").get("completion_tokens").asInt()).isEqualTo(3);
    }

    @Test
    void streamsChunksEndingInDoneWithTheSameTextAsOneResponse() {
        List<Map<String, String>> messages = List.of(user("Tell me about a dog and a ball."));
        String whole = complete(a, null, request(messages, false)).get("choices").get(0).get("message").get("content").asString();

        Map<String, Object> request = request(messages, true);
        request.put("stream_options", Map.of("include_usage", true));
        List<String> data = stream(a, null, request);

        assertThat(data.getLast()).isEqualTo("[DONE]");
        List<JsonNode> chunks = data.subList(0, data.size() - 1).stream().map(json::readTree).toList();
        assertThat(chunks).allSatisfy(c -> assertThat(c.get("object").asString()).isEqualTo("chat.completion.chunk"));
        assertThat(chunks.stream().map(c -> c.get("id").asString()).distinct()).hasSize(1);
        assertThat(chunks.getFirst().get("choices").get(0).get("delta").get("role").asString()).isEqualTo("assistant");
        StringBuilder text = new StringBuilder();
        int finishes = 0;
        for (JsonNode chunk : chunks.subList(0, chunks.size() - 1)) {
            JsonNode choice = chunk.get("choices").get(0);
            JsonNode content = choice.get("delta").get("content");
            if (content != null) {
                text.append(content.asString());
            }
            if (!choice.get("finish_reason").isNull()) {
                finishes++;
                assertThat(choice.get("finish_reason").asString()).isIn("stop", "length");
            }
        }
        assertThat(finishes).isEqualTo(1);
        assertThat(chunks.size()).as("role, several pieces, finish, usage").isGreaterThan(4);
        assertThat(text.toString()).isEqualTo(whole);
        JsonNode usageChunk = chunks.getLast();
        assertThat(usageChunk.get("choices")).isEmpty();
        assertThat(usageChunk.get("usage").get("completion_tokens").asInt()).isPositive();
    }

    @Test
    void streamWithoutIncludeUsageHasNoUsageChunk() {
        List<String> data = stream(a, null, request(List.of(user("Hi")), true));
        assertThat(data.getLast()).isEqualTo("[DONE]");
        assertThat(data.subList(0, data.size() - 1)).allSatisfy(d -> assertThat(json.readTree(d).has("usage")).isFalse());
    }

    @Test
    void aClientMaySendOnlyItsNewMessageOrTheWholeHistory() {
        String question1 = "Lily had a red ball.";
        String question2 = "What did Lily do next?";
        String question3 = "And then?";

        // only the new message each turn, conversation named by the header
        JsonNode t1 = complete(a, "only-new", request(List.of(user(question1)), false));
        JsonNode t2 = complete(a, "only-new", request(List.of(user(question2)), false));
        JsonNode t3 = complete(a, "only-new", request(List.of(user(question3)), false));

        // the whole history each turn, conversation named by the user field
        List<Map<String, String>> history = new ArrayList<>(List.of(user(question1)));
        JsonNode h1 = complete(a, null, withUser(request(history, false), "whole-history"));
        history.add(assistant(content(h1)));
        history.add(user(question2));
        JsonNode h2 = complete(a, null, withUser(request(history, false), "whole-history"));
        history.add(assistant(content(h2)));
        history.add(user(question3));
        JsonNode h3 = complete(a, null, withUser(request(history, false), "whole-history"));

        assertThat(List.of(content(h1), content(h2), content(h3))).isEqualTo(List.of(content(t1), content(t2), content(t3)));
        // later turns prefill only the new message, however the client sends it
        for (JsonNode[] pair : new JsonNode[][] {{t2, h2}, {t3, h3}}) {
            int prompt = pair[0].get("usage").get("prompt_tokens").asInt();
            assertThat(prompt).isEqualTo(pair[1].get("usage").get("prompt_tokens").asInt());
            assertThat(prompt).isLessThan(t1.get("usage").get("prompt_tokens").asInt()
                    + t1.get("usage").get("completion_tokens").asInt() + prompt / 2);
        }
        // the session has seen every prompt and reply token exactly once
        long fed = 0;
        for (JsonNode t : List.of(t1, t2, t3)) {
            fed += t.get("usage").get("prompt_tokens").asLong() + t.get("usage").get("completion_tokens").asLong();
        }
        JsonNode session = json(a.get().uri("/v1/sessions/only-new").exchange().expectStatus().isOk());
        assertThat(session.get("tokens_seen").asLong()).isBetween(fed - 3, fed);
        JsonNode other = json(a.get().uri("/v1/sessions/whole-history").exchange().expectStatus().isOk());
        assertThat(other.get("tokens_seen").asLong()).isEqualTo(session.get("tokens_seen").asLong());
    }

    @Test
    void aClientResendingItsHistoryWithoutAnIdContinuesItsSession() {
        List<String> questions = List.of("Sam found a shiny shell.", "Where did Sam take it?", "What happened then?");
        List<JsonNode> resent = threeTurns(questions, null);
        List<JsonNode> named = threeTurns(questions, "resent-named");

        int first = promptTokens(resent.get(0));
        int third = promptTokens(resent.get(2));
        assertThat(third).isLessThanOrEqualTo(first + tokens(questions.get(2)));
        // exactly what a named conversation resending its history prefills and answers
        assertThat(resent.stream().map(WebApiTest::promptTokens).toList()).isEqualTo(named.stream().map(WebApiTest::promptTokens).toList());
        assertThat(resent.stream().map(WebApiTest::content).toList()).isEqualTo(named.stream().map(WebApiTest::content).toList());
    }

    /** Three turns resending the whole history, named by the user field or (null) by nothing. */
    private List<JsonNode> threeTurns(List<String> questions, String user) {
        List<Map<String, String>> history = new ArrayList<>();
        List<JsonNode> turns = new ArrayList<>();
        for (String question : questions) {
            history.add(user(question));
            Map<String, Object> request = request(history, false);
            JsonNode turn = complete(a, null, user == null ? request : withUser(request, user));
            turns.add(turn);
            history.add(assistant(content(turn)));
        }
        return turns;
    }

    @Test
    void twoClientsWithTheSameOpeningNeverSeeEachOthersLaterTurns() {
        List<Map<String, String>> opening = List.of(user("A frog sat on a log."));
        JsonNode first = complete(a, null, request(opening, false));
        complete(a, null, request(opening, false));
        List<Map<String, String>> one = List.of(opening.getFirst(), assistant(content(first)), user("The frog jumped."));
        List<Map<String, String>> two = List.of(opening.getFirst(), assistant(content(first)), user("A bird sang."));
        JsonNode ofOne = complete(a, null, request(one, false));
        List<String> ofTwo = stream(a, null, withUsage(request(two, true)));

        // each went on with a session of its own, as a named conversation of the same turns: only the new message prefilled
        complete(a, "reference-two", request(opening, false));
        List<String> alone = stream(a, "reference-two", withUsage(request(two, true)));
        assertThat(text(ofTwo)).isEqualTo(text(alone)).isNotEqualTo(content(ofOne));
        int history = promptTokens(first) + first.get("usage").get("completion_tokens").asInt();
        assertThat(streamedPromptTokens(ofTwo)).isEqualTo(streamedPromptTokens(alone)).isLessThan(history);
        assertThat(promptTokens(ofOne)).isLessThan(history);
    }

    @Test
    void aResentHistoryContinuesOnlySessionsCreatedUnderTheSameKey() {
        List<Map<String, String>> opening = List.of(user("Tim had a blue kite."));
        JsonNode first = complete(a, null, request(opening, false));
        List<Map<String, String>> next = List.of(opening.getFirst(), assistant(content(first)), user("Did it fly?"));

        // another key sending a's history does not reach a's session: it prefills the whole history
        JsonNode ofB = complete(b, null, request(next, false));
        JsonNode reference = complete(b, "fresh-for-b", request(next, false));
        assertThat(content(ofB)).isEqualTo(content(reference));
        assertThat(promptTokens(ofB)).isEqualTo(promptTokens(reference));
        // while a goes on with its session
        JsonNode ofA = complete(a, null, request(next, false));
        assertThat(promptTokens(ofA)).isLessThan(promptTokens(ofB));
    }

    // ---- sessions

    @Test
    void sessionShowsGeometryCountersAndOwnerThenEnds() {
        for (String q : List.of("Tom went to the park.", "He saw a big tree.", "Then it rained.")) {
            complete(a, "geometry", request(List.of(user(q)), false));
        }
        JsonNode session = json(a.get().uri("/v1/sessions/geometry").exchange().expectStatus().isOk());
        assertThat(session.get("id").asString()).isEqualTo("geometry");
        assertThat(session.get("object").asString()).isEqualTo("session");
        assertThat(session.get("sinks").asInt()).isEqualTo(4);
        assertThat(session.get("window").asInt()).isEqualTo(60);
        assertThat(session.get("capacity").asInt()).isEqualTo(64);
        assertThat(session.get("tokens_seen").asLong()).isGreaterThan(64);
        assertThat(session.get("evicted").asLong()).isEqualTo(session.get("tokens_seen").asLong() - 64);
        assertThat(session.get("prefilled").asLong()).isPositive();
        assertThat(session.get("cache_bytes").asLong()).isPositive();
        // session routing (in memory here) names the lease holder: this instance
        assertThat(session.get("owner").asString()).isEqualTo("web-a@http://localhost:" + port);

        JsonNode deleted = json(a.delete().uri("/v1/sessions/geometry").exchange().expectStatus().isOk());
        assertThat(deleted.get("deleted").asBoolean()).isTrue();
        assertThat(sessions.info("geometry")).isEmpty();
        error(a.get().uri("/v1/sessions/geometry").exchange(), HttpStatus.NOT_FOUND, "session_not_found");
        error(a.delete().uri("/v1/sessions/geometry").exchange(), HttpStatus.NOT_FOUND, "session_not_found");
    }

    @Test
    void unknownSessionIsNotFound() {
        error(a.get().uri("/v1/sessions/never-seen").exchange(), HttpStatus.NOT_FOUND, "session_not_found");
    }

    // ---- keys

    @Test
    void requestsWithoutAValidKeyAreRefused() {
        JsonNode missing = error(anonymous.get().uri("/v1/models").exchange(), HttpStatus.UNAUTHORIZED, "missing_api_key");
        assertThat(missing.get("error").get("message").asString()).contains("Authorization: Bearer");
        error(anonymous.mutate().defaultHeader("Authorization", "Bearer nope").build().get().uri("/v1/models").exchange(),
                HttpStatus.UNAUTHORIZED, "invalid_api_key");
        error(anonymous.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(request(List.of(user("hi")), false)).exchange(), HttpStatus.UNAUTHORIZED, "missing_api_key");
    }

    @Test
    void aSessionBelongsToTheKeyThatCreatedIt() {
        complete(a, "secret-of-a", request(List.of(user("A secret story.")), false));
        error(b.get().uri("/v1/sessions/secret-of-a").exchange(), HttpStatus.NOT_FOUND, "session_not_found");
        error(b.delete().uri("/v1/sessions/secret-of-a").exchange(), HttpStatus.NOT_FOUND, "session_not_found");
        error(b.post().uri("/v1/chat/completions").header(ExchangeAttributes.CONVERSATION_HEADER, "secret-of-a")
                .contentType(MediaType.APPLICATION_JSON).bodyValue(request(List.of(user("Tell me.")), false)).exchange(),
                HttpStatus.NOT_FOUND, "conversation_not_found");
        // and it is untouched: a still sees it
        json(a.get().uri("/v1/sessions/secret-of-a").exchange().expectStatus().isOk());
    }

    // ---- limits

    @Test
    void aBodyOverTheSizeLimitIs413() {
        String big = "word ".repeat(1000);
        JsonNode error = error(a.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(request(List.of(user(big)), false)).exchange(), HttpStatus.CONTENT_TOO_LARGE, "request_too_large");
        assertThat(error.get("error").get("message").asString()).contains("4096 bytes");
        // a chunked body, without Content-Length, is cut off while it is read
        Flux<DataBuffer> chunks = Flux.range(0, 10).map(i -> DefaultDataBufferFactory.sharedInstance
                .wrap(("{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(1000) + "\"}],").getBytes()));
        error(a.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON)
                .body(BodyInserters.fromDataBuffers(chunks)).exchange(), HttpStatus.CONTENT_TOO_LARGE, "request_too_large");
    }

    @Test
    void maxTokensOverTheLimitIs400() {
        Map<String, Object> request = request(List.of(user("hi")), false);
        request.put("max_tokens", 49);
        JsonNode error = error(post(a, request), HttpStatus.BAD_REQUEST, "invalid_max_tokens");
        assertThat(error.get("error").get("message").asString()).contains("between 1 and 48", "was 49");
        request.remove("max_tokens");
        request.put("max_completion_tokens", 0);
        error(post(a, request), HttpStatus.BAD_REQUEST, "invalid_max_tokens");
    }

    @Test
    void requestsOverTheKeysLimitWaitInItsQueueAndOnlyAFullQueueIs429() throws Exception {
        String keyA = "key:" + ApiRequestFilter.fingerprint("key-a");
        GenerationLimiter.Slot one = limiter.admit(keyA).block(Duration.ofSeconds(1));
        GenerationLimiter.Slot two = limiter.admit(keyA).block(Duration.ofSeconds(1));
        assertThat(one).isNotNull();
        assertThat(two).isNotNull();
        CompletableFuture<String> queued;
        try {
            // the key's two slots are taken: the next request waits in its queue (of one), as the metric shows
            queued = WebClient.create("http://localhost:" + port).post().uri("/v1/chat/completions")
                    .header("Authorization", "Bearer key-a").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(request(List.of(user("hi")), false)).retrieve().bodyToMono(String.class).toFuture();
            await().atMost(Duration.ofSeconds(10)).until(() -> meters.get("streamingllm.web.queue.depth").gauge().value() == 1);
            // the queue is full: refused at once, told when to retry
            var refused = post(a, request(List.of(user("hi")), false)).expectHeader().valueEquals(HttpHeaders.RETRY_AFTER, "1");
            JsonNode error = error(refused, HttpStatus.TOO_MANY_REQUESTS, "too_many_concurrent_generations");
            assertThat(error.get("error").get("type").asString()).isEqualTo("rate_limit_error");
            // another key has its own slots
            complete(b, null, request(List.of(user("hi")), false));
        } finally {
            one.release();
            two.release();
        }
        // the waiting request is served once a slot comes free
        JsonNode served = json.readTree(queued.get(60, TimeUnit.SECONDS));
        assertThat(content(served)).isNotBlank();
        stream(a, null, request(List.of(user("hi")), true));
        // the slot is released when the turn's work has stopped, which may follow the last event the client read
        await().atMost(Duration.ofSeconds(10)).until(() -> limiter.running(keyA) == 0);
        assertThat(meters.get("streamingllm.web.queue.depth").gauge().value()).isZero();
    }

    @Test
    void aRequestThatWaitsLongerThanTheQueueTimeoutIs503() {
        String keyA = "key:" + ApiRequestFilter.fingerprint("key-a");
        GenerationLimiter.Slot one = limiter.admit(keyA).block(Duration.ofSeconds(1));
        GenerationLimiter.Slot two = limiter.admit(keyA).block(Duration.ofSeconds(1));
        try {
            var waited = post(a, request(List.of(user("hi")), false)).expectHeader().valueEquals(HttpHeaders.RETRY_AFTER, "1");
            JsonNode error = error(waited, HttpStatus.SERVICE_UNAVAILABLE, "queue_timeout");
            assertThat(error.get("error").get("message").asString()).contains("queue-timeout");
        } finally {
            one.release();
            two.release();
        }
        assertThat(limiter.waiting()).isZero();
        assertThat(limiter.running(keyA)).isZero();
    }

    @Test
    void refusedRequestsCreateNoSessionLeaseOrBinding() {
        String keyA = "key:" + ApiRequestFilter.fingerprint("key-a");
        Map<String, Object> bad = request(List.of(user("hi")), false);
        bad.put("temperature", 3);
        error(named(a, "refused-400", bad), HttpStatus.BAD_REQUEST, "invalid_temperature");
        error(named(a, "refused-404", Map.of("model", "gpt-4o", "messages", List.of(user("hi")))), HttpStatus.NOT_FOUND, "model_not_found");
        error(a.post().uri("/v1/chat/completions").header(ExchangeAttributes.CONVERSATION_HEADER, "refused-415")
                .contentType(MediaType.APPLICATION_FORM_URLENCODED).bodyValue("messages=hi").exchange(),
                HttpStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        error(a.post().uri("/v1/chat/completions").header(ExchangeAttributes.CONVERSATION_HEADER, "refused-413")
                .contentType(MediaType.APPLICATION_JSON).bodyValue(request(List.of(user("word ".repeat(1000))), false)).exchange(),
                HttpStatus.CONTENT_TOO_LARGE, "request_too_large");
        GenerationLimiter.Slot one = limiter.admit(keyA).block(Duration.ofSeconds(1));
        GenerationLimiter.Slot two = limiter.admit(keyA).block(Duration.ofSeconds(1));
        try {
            error(named(a, "refused-503", request(List.of(user("hi")), false)), HttpStatus.SERVICE_UNAVAILABLE, "queue_timeout");
        } finally {
            one.release();
            two.release();
        }
        for (String id : List.of("refused-400", "refused-404", "refused-415", "refused-413", "refused-503")) {
            assertThat(sessions.info(id)).as(id).isEmpty();
            assertThat(ownership.lease(id)).as(id).isEmpty();
            assertThat(owners.owner(id)).as(id).isEmpty();
        }
        // an admitted request creates its session
        complete(a, "admitted", request(List.of(user("hi")), false));
        assertThat(sessions.info("admitted")).isPresent();
        assertThat(ownership.lease("admitted")).isPresent();
    }

    // ---- cancellation

    /**
     * A client that goes away cancels its turn. Here the turn waits for its session (held by the test), so it is
     * cancelled before it starts: its slot stays taken until the turn has stopped, and it then feeds nothing.
     */
    @Test
    void aClientThatGoesAwayCancelsItsTurnWhoseSlotIsHeldUntilItsWorkStops() throws Exception {
        String keyA = "key:" + ApiRequestFilter.fingerprint("key-a");
        complete(a, "left", request(List.of(user("Once upon a time")), false));
        long seen = sessions.info("left").orElseThrow().tokensSeen();
        double abandonedBefore = meters.get("streamingllm.web.generations.abandoned").functionCounter().count();
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread holder = Thread.ofVirtual().start(() -> sessions.withSession("left", s -> {
            holding.countDown();
            awaitLatch(release);
            return null;
        }));
        try {
            assertThat(holding.await(30, TimeUnit.SECONDS)).isTrue();
            // the client sends a streamed turn, which waits for its session (so nothing is sent back yet), then hangs up
            byte[] body = json.writeValueAsBytes(request(List.of(user("And then?")), true));
            try (Socket socket = new Socket("localhost", port)) {
                socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer key-a\r\n"
                        + ExchangeAttributes.CONVERSATION_HEADER + ": left\r\nContent-Type: application/json\r\n"
                        + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
                socket.getOutputStream().write(body);
                socket.getOutputStream().flush();
                await().atMost(Duration.ofSeconds(30)).until(() -> limiter.running(keyA) == 1);
            }
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> meters.get("streamingllm.web.generations.abandoned").functionCounter().count() == abandonedBefore + 1);
            assertThat(limiter.running(keyA)).as("the turn has not stopped: it waits for its session").isEqualTo(1);
        } finally {
            release.countDown();
        }
        holder.join();
        await().atMost(Duration.ofSeconds(30)).until(() -> limiter.running(keyA) == 0);
        assertThat(sessions.info("left").orElseThrow().tokensSeen()).as("the cancelled turn fed nothing").isEqualTo(seen);
    }

    // ---- framing, CORS, logs

    @Test
    void streamsAreFramedAsOpenAiFramesThem() {
        Map<String, Object> request = request(List.of(user("Hi")), true);
        var response = a.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON).bodyValue(request).exchange()
                .expectStatus().isOk()
                .expectHeader().contentTypeCompatibleWith(MediaType.TEXT_EVENT_STREAM)
                .expectHeader().valueEquals(HttpHeaders.CACHE_CONTROL, "no-cache");
        String body = new String(response.expectBody().returnResult().getResponseBodyContent(), StandardCharsets.UTF_8);
        assertThat(body).startsWith("data: {\"id\":\"chatcmpl-").endsWith("\n\ndata: [DONE]\n\n").doesNotContain("data:{");
        for (String event : body.split("\n\n")) {
            assertThat(event).startsWith("data: ").doesNotContain("\n");
        }
    }

    @Test
    void browsersOnAnAllowedOriginMayCallTheApi() {
        anonymous.options().uri("/v1/chat/completions").header(HttpHeaders.ORIGIN, "https://app.example")
                .header(HttpHeaders.ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .header(HttpHeaders.ACCESS_CONTROL_REQUEST_HEADERS, "authorization,content-type").exchange()
                .expectStatus().isOk()
                .expectHeader().valueEquals(HttpHeaders.ACCESS_CONTROL_ALLOW_ORIGIN, "https://app.example")
                .expectHeader().value(HttpHeaders.ACCESS_CONTROL_ALLOW_METHODS, methods -> assertThat(methods).contains("POST"));
        // refusals carry the headers too, so that the page can read them
        anonymous.get().uri("/v1/models").header(HttpHeaders.ORIGIN, "https://app.example").exchange()
                .expectStatus().isUnauthorized()
                .expectHeader().valueEquals(HttpHeaders.ACCESS_CONTROL_ALLOW_ORIGIN, "https://app.example");
        anonymous.options().uri("/v1/chat/completions").header(HttpHeaders.ORIGIN, "https://elsewhere.example")
                .header(HttpHeaders.ACCESS_CONTROL_REQUEST_METHOD, "POST").exchange()
                .expectStatus().isForbidden();
    }

    @Test
    @ExtendWith(OutputCaptureExtension.class)
    void aClientThatDropsDuringTheUploadIsLoggedInOneQuietLine(CapturedOutput output) throws Exception {
        int from = output.getAll().length();
        try (Socket socket = new Socket("localhost", port)) {
            socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
                    + "Authorization: Bearer key-a\r\nContent-Type: application/json\r\nContent-Length: 3000\r\n\r\n"
                    + "{\"messages\": [{\"role\": \"user\", \"content\": \"Once").getBytes(StandardCharsets.UTF_8));
            socket.getOutputStream().flush();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> output.getAll().substring(from).contains("client went away during POST /v1/chat/completions"));
        String logged = output.getAll().substring(from);
        assertThat(logged).doesNotContain("ERROR", "\tat ");
    }

    // ---- bad requests

    @Test
    void badRequestsGetClearJsonErrorsWithoutStackTraces() {
        assertBad(a.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON).bodyValue("{\"messages\": [")
                .exchange(), HttpStatus.BAD_REQUEST, "invalid_request_body", "not valid JSON");
        assertBad(post(a, Map.of("messages", List.of())), HttpStatus.BAD_REQUEST, "missing_messages", "at least one message");
        assertBad(post(a, Map.of("messages", List.of(Map.of("role", "system", "content", "Be kind.")))),
                HttpStatus.BAD_REQUEST, "missing_user_message", "user message");
        assertBad(post(a, Map.of("messages", List.of(Map.of("role", "tool", "content", "42")))),
                HttpStatus.BAD_REQUEST, "unsupported_message", "messages[0] is a tool message");
        assertBad(post(a, Map.of("messages", List.of(Map.of("role", "robot", "content", "hi")))),
                HttpStatus.BAD_REQUEST, "invalid_message", "unknown role 'robot'");
        assertBad(post(a, Map.of("messages", List.of(Map.of("role", "user", "content",
                List.of(Map.of("type", "image_url", "image_url", Map.of("url", "x"))))))),
                HttpStatus.BAD_REQUEST, "unsupported_content", "only text parts");
        assertBad(post(a, Map.of("model", "gpt-4o", "messages", List.of(user("hi")))),
                HttpStatus.NOT_FOUND, "model_not_found", "'gpt-4o' is not served here");
        assertBad(post(a, Map.of("n", 2, "messages", List.of(user("hi")))), HttpStatus.BAD_REQUEST, "unsupported_parameter", "n=2");
        assertBad(post(a, Map.of("temperature", 3, "messages", List.of(user("hi")))),
                HttpStatus.BAD_REQUEST, "invalid_temperature", "between 0 and 2");
        assertBad(post(a, Map.of("stop", List.of("a", "b", "c", "d", "e"), "messages", List.of(user("hi")))),
                HttpStatus.BAD_REQUEST, "invalid_stop", "up to 4");
        assertBad(a.post().uri("/v1/chat/completions").header(ExchangeAttributes.CONVERSATION_HEADER, "has spaces")
                .contentType(MediaType.APPLICATION_JSON).bodyValue(request(List.of(user("hi")), false)).exchange(),
                HttpStatus.BAD_REQUEST, "invalid_conversation_id", "'has spaces' is not valid");
        assertBad(a.get().uri("/v1/sessions/a%20b").exchange(), HttpStatus.BAD_REQUEST, "invalid_conversation_id", "not valid");
    }

    @Test
    void fieldsAreValidatedAsOpenAiDoesNamingTheFieldAndNeverAJavaType() {
        Map<String, Object> stringTokens = request(List.of(user("hi")), false);
        stringTokens.put("max_tokens", "10");
        assertParam(post(a, stringTokens), "invalid_type", "max_tokens", "expected an integer, but got a string");
        Map<String, Object> decimalTokens = request(List.of(user("hi")), false);
        decimalTokens.put("max_tokens", 1.5);
        assertParam(post(a, decimalTokens), "invalid_type", "max_tokens", "expected an integer, but got a decimal number");
        for (String temperature : List.of("0.5", "NaN")) {
            Map<String, Object> stringTemperature = request(List.of(user("hi")), false);
            stringTemperature.put("temperature", temperature);
            assertParam(post(a, stringTemperature), "invalid_type", "temperature", "expected a number, but got a string");
        }
        Map<String, Object> stringStream = request(List.of(user("hi")), false);
        stringStream.put("stream", "true");
        assertParam(post(a, stringStream), "invalid_type", "stream", "expected a boolean");
        assertParam(post(a, Map.of("messages", "hi")), "invalid_type", "messages", "expected an array, but got a string");
        Map<String, Object> nullContent = new java.util.HashMap<>();
        nullContent.put("role", "user");
        nullContent.put("content", null);
        assertParam(post(a, Map.of("messages", List.of(nullContent))), "invalid_type", "messages[0].content", "was null");
        assertParam(post(a, Map.of("messages", List.of(Map.of("role", "user", "content", List.of(Map.of("type", "text")))))),
                "invalid_type", "messages[0].content[0].text", "must be a string");
        assertParam(post(a, Map.of("messages", List.of(user("hi")), "logprobs", true)), "unsupported_parameter", "logprobs", "not supported");
        assertParam(post(a, Map.of("messages", List.of(user("hi")), "top_logprobs", 2)), "unsupported_parameter", "top_logprobs", "not supported");
        // what asks for nothing is accepted
        complete(a, null, Map.of("messages", List.of(user("hi")), "logprobs", false, "max_tokens", 4));

        assertBad(a.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_FORM_URLENCODED).bodyValue("messages=hi").exchange(),
                HttpStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Content-Type: application/json");
        assertBad(a.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON).exchange(),
                HttpStatus.BAD_REQUEST, "invalid_request_body", "empty");
        assertBad(a.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON).bodyValue("null").exchange(),
                HttpStatus.BAD_REQUEST, "invalid_request_body", "not a JSON object");
        assertBad(a.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON).bodyValue("[1]").exchange(),
                HttpStatus.BAD_REQUEST, "invalid_request_body", "not a JSON object");
    }

    @Test
    void everyErrorUnderV1HasTheOpenAiShape() {
        assertBad(a.get().uri("/v1/nothing-here").exchange(), HttpStatus.NOT_FOUND, "unknown_url", "GET /v1/nothing-here");
        assertBad(a.get().uri("/v1/chat/completions").exchange(), HttpStatus.METHOD_NOT_ALLOWED, "method_not_allowed", "use POST");
        assertBad(a.put().uri("/v1/models").exchange(), HttpStatus.METHOD_NOT_ALLOWED, "method_not_allowed", "use GET");
        assertBad(a.delete().uri("/v1/models/stories260K").exchange(), HttpStatus.METHOD_NOT_ALLOWED, "method_not_allowed", "use GET");
        assertBad(a.post().uri("/v1/chat/completions").contentType(MediaType.TEXT_PLAIN).bodyValue("hi").exchange(),
                HttpStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "'text/plain");
        // refused by the HTTP server before any handler runs
        assertBad(a.get().uri("/v1/models").header("X-Padding", "x".repeat(20_000)).exchange(),
                HttpStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request_headers_too_large", "server.max-http-request-header-size");
    }

    @Test
    void contentPartsAreAcceptedAsText() {
        JsonNode completion = complete(a, null, Map.of("messages", List.of(Map.of("role", "user", "content",
                List.of(Map.of("type", "text", "text", "Once upon "), Map.of("type", "text", "text", "a time"))))));
        assertThat(content(completion)).isNotBlank();
    }

    // ---- helpers

    private JsonNode assertBad(WebTestClient.ResponseSpec response, HttpStatus status, String code, String message) {
        JsonNode error = error(response, status, code);
        assertThat(error.get("error").get("message").asString()).contains(message);
        assertThat(error.get("error").get("type").asString()).isNotBlank();
        assertThat(error.get("error").has("param")).isTrue();
        assertThat(error.toString()).doesNotContain("Exception", "\tat ", ".java:", "java.", "dev.streamingllm", "jackson", "`",
                "Mono", "public ", "UNSUPPORTED_MEDIA_TYPE");
        return error;
    }

    private void assertParam(WebTestClient.ResponseSpec response, String code, String param, String message) {
        JsonNode error = assertBad(response, HttpStatus.BAD_REQUEST, code, message);
        assertThat(error.get("error").get("param").asString()).isEqualTo(param);
        assertThat(error.get("error").get("message").asString()).contains(param);
    }

    private static WebTestClient.ResponseSpec named(WebTestClient client, String conversationId, Map<String, ?> request) {
        return client.post().uri("/v1/chat/completions").header(ExchangeAttributes.CONVERSATION_HEADER, conversationId)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(request).exchange();
    }

    private static void awaitLatch(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private JsonNode error(WebTestClient.ResponseSpec response, HttpStatus status, String code) {
        JsonNode body = json(response.expectStatus().isEqualTo(status).expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_JSON));
        assertThat(body.get("error").get("code").asString()).isEqualTo(code);
        return body;
    }

    private JsonNode json(WebTestClient.ResponseSpec response) {
        byte[] body = response.expectBody().returnResult().getResponseBodyContent();
        assertThat(body).isNotNull();
        return json.readTree(body);
    }

    private static WebTestClient.ResponseSpec post(WebTestClient client, Map<String, ?> request) {
        return client.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON).bodyValue(request).exchange();
    }

    private JsonNode complete(WebTestClient client, String conversationId, Map<String, ?> request) {
        var spec = client.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON);
        if (conversationId != null) {
            spec = spec.header(ExchangeAttributes.CONVERSATION_HEADER, conversationId);
        }
        return json(spec.bodyValue(request).exchange().expectStatus().isOk());
    }

    private List<String> stream(WebTestClient client, String conversationId, Map<String, ?> request) {
        var spec = client.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON).accept(MediaType.TEXT_EVENT_STREAM);
        if (conversationId != null) {
            spec = spec.header(ExchangeAttributes.CONVERSATION_HEADER, conversationId);
        }
        return spec.bodyValue(request).exchange().expectStatus().isOk()
                .expectHeader().contentTypeCompatibleWith(MediaType.TEXT_EVENT_STREAM)
                .returnResult(SSE).getResponseBody().map(ServerSentEvent::data).collectList().block(Duration.ofSeconds(60));
    }

    private static Map<String, Object> request(List<Map<String, String>> messages, boolean stream) {
        Map<String, Object> request = new java.util.HashMap<>();
        request.put("model", "stories260K");
        request.put("messages", messages);
        request.put("temperature", 0);
        request.put("stream", stream);
        return request;
    }

    private static Map<String, Object> withUser(Map<String, Object> request, String user) {
        request.put("user", user);
        return request;
    }

    private static Map<String, String> user(String text) {
        return Map.of("role", "user", "content", text);
    }

    private static Map<String, String> assistant(String text) {
        return Map.of("role", "assistant", "content", text);
    }

    private static int promptTokens(JsonNode completion) {
        return completion.get("usage").get("prompt_tokens").asInt();
    }

    private int streamedPromptTokens(List<String> data) {
        return json.readTree(data.get(data.size() - 2)).get("usage").get("prompt_tokens").asInt();
    }

    private static Map<String, Object> withUsage(Map<String, Object> request) {
        request.put("stream_options", Map.of("include_usage", true));
        return request;
    }

    private int tokens(String text) {
        return sessions.model().tokenizer().encode(text, false, true).length;
    }

    /** The text of a streamed reply. */
    private String text(List<String> data) {
        StringBuilder text = new StringBuilder();
        for (String d : data.subList(0, data.size() - 1)) {
            JsonNode choices = json.readTree(d).get("choices");
            JsonNode content = choices.isEmpty() ? null : choices.get(0).get("delta").get("content");
            if (content != null) {
                text.append(content.asString());
            }
        }
        return text.toString();
    }

    private static String content(JsonNode completion) {
        return completion.get("choices").get(0).get("message").get("content").asString();
    }
}
