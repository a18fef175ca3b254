package dev.streamingllm.spring.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.spring.api.ExchangeAttributes;
import dev.streamingllm.spring.session.ChatSessions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A streamed turn refused before it runs is answered as a JSON request is: its HTTP status, {@code Retry-After} and
 * the error as JSON, not a {@code 200} stream that carries the error as an event. Here the only session is busy.
 */
@SpringBootTest(classes = StreamedRefusalTest.App.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "streamingllm.model=${streamingllm.shared}/models/stories260K.gguf",
        "streamingllm.cache.window=60",
        "streamingllm.web.enabled=true",
        "streamingllm.sessions.max=1"})
class StreamedRefusalTest {

    @SpringBootConfiguration
    @EnableAutoConfiguration
    static class App {
    }

    @LocalServerPort
    int port;

    @Autowired
    ChatSessions sessions;

    @Test
    void aStreamedTurnWithNoSessionFreeIs503WithRetryAfterAndAJsonError() throws Exception {
        WebTestClient client = WebTestClient.bindToServer().baseUrl("http://localhost:" + port).responseTimeout(Duration.ofSeconds(60)).build();
        Map<String, Object> request = Map.of("messages", List.of(Map.of("role", "user", "content", "Once upon a time")),
                "temperature", 0, "max_tokens", 4, "stream", true);
        client.post().uri("/v1/chat/completions").header(ExchangeAttributes.CONVERSATION_HEADER, "busy")
                .contentType(MediaType.APPLICATION_JSON).bodyValue(request).exchange().expectStatus().isOk();
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread turn = Thread.ofVirtual().start(() -> sessions.withSession("busy", session -> {
            holding.countDown();
            try {
                return release.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }));
        try {
            assertThat(holding.await(30, TimeUnit.SECONDS)).isTrue();
            byte[] body = client.post().uri("/v1/chat/completions").header(ExchangeAttributes.CONVERSATION_HEADER, "other")
                    .contentType(MediaType.APPLICATION_JSON).bodyValue(request).exchange()
                    .expectStatus().isEqualTo(HttpStatus.SERVICE_UNAVAILABLE)
                    .expectHeader().valueEquals(HttpHeaders.RETRY_AFTER, "1")
                    .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_JSON)
                    .expectBody().returnResult().getResponseBody();
            JsonNode error = new JsonMapper().readTree(body).get("error");
            assertThat(error.get("code").asString()).isEqualTo("sessions_exhausted");
            assertThat(error.get("message").asString()).contains("streamingllm.sessions.max");
        } finally {
            release.countDown();
            turn.join();
        }
        // the refusal left nothing behind: the free session serves a stream again
        client.post().uri("/v1/chat/completions").header(ExchangeAttributes.CONVERSATION_HEADER, "other")
                .contentType(MediaType.APPLICATION_JSON).bodyValue(request).exchange().expectStatus().isOk()
                .expectHeader().contentTypeCompatibleWith(MediaType.TEXT_EVENT_STREAM);
    }
}
