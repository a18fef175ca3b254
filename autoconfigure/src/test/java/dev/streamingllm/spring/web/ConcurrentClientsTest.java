package dev.streamingllm.spring.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.spring.api.ExchangeAttributes;
import dev.streamingllm.spring.session.ChatSessions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Many clients at once against the default limits (8 generations per key, a queue of 64): every turn is served, the
 * ones over the limit after a wait in the queue, none refused.
 */
@SpringBootTest(classes = WebApiTest.App.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "streamingllm.model=${streamingllm.shared}/models/stories260K.gguf",
        "streamingllm.web.enabled=true"})
class ConcurrentClientsTest {

    private static final int CLIENTS = 32;
    private static final int TURNS = 5;

    @LocalServerPort
    int port;

    @Autowired
    ChatSessions sessions;

    @Autowired
    GenerationLimiter limiter;

    private final JsonMapper json = new JsonMapper();

    @Test
    void thirtyTwoClientsOfFiveTurnsEachAreAllServed() {
        WebClient client = WebClient.create("http://localhost:" + port);
        List<List<Integer>> statuses = Flux.range(0, CLIENTS)
                .flatMap(c -> Flux.range(0, TURNS).concatMap(t -> turn(client, "client-" + c, t)).collectList(), CLIENTS)
                .collectList().block(Duration.ofMinutes(5));

        assertThat(statuses).hasSize(CLIENTS).allSatisfy(turns -> assertThat(turns).containsOnly(200).hasSize(TURNS));
        for (int c = 0; c < CLIENTS; c++) {
            // each conversation kept its own session through its five turns
            assertThat(sessions.info("client-" + c)).isPresent();
        }
        assertThat(limiter.waiting()).isZero();
    }

    private Mono<Integer> turn(WebClient client, String conversation, int turn) {
        return client.post().uri("/v1/chat/completions").header(ExchangeAttributes.CONVERSATION_HEADER, conversation)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("messages", List.of(Map.of("role", "user", "content", "Turn " + turn + ": tell me more.")),
                        "max_tokens", 24, "temperature", 0))
                .exchangeToMono(response -> response.bodyToMono(String.class).map(body -> {
                    if (response.statusCode().value() == 200) {
                        JsonNode completion = json.readTree(body);
                        assertThat(completion.get("choices").get(0).get("message").get("content").asString()).isNotNull();
                    }
                    return response.statusCode().value();
                }));
    }
}
