package dev.streamingllm.samples.assistant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.streamingllm.spring.routing.RedisSessionRegistry;
import dev.streamingllm.spring.routing.SessionOwnership;
import dev.streamingllm.spring.routing.SessionRegistry;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The assistant as an operator deploys it behind a load balancer: with {@code spring.data.redis.host} set it routes
 * conversations through Redis (its own client, not a silent single-instance fallback), and Actuator's health reports
 * the registry: here a Redis that does not answer, so the instance is DOWN with the routing component saying why.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
    "streamingllm.model=${streamingllm.shared}/models/stories260K.gguf",
    "spring.data.redis.host=127.0.0.1", "spring.data.redis.port=1",
    "streamingllm.routing.redis-timeout=300ms", "streamingllm.routing.heartbeat=200ms",
    "management.endpoint.health.show-components=always"})
class RedisRoutingSetupTest {

    @LocalServerPort
    int port;

    @Autowired
    SessionRegistry registry;

    @Autowired
    SessionOwnership ownership;

    @Test
    void withARedisHostTheRegistryIsRedisAndHealthReportsIt() {
        assertThat(registry).isInstanceOf(RedisSessionRegistry.class);
        // the first heartbeat finds Redis unreachable
        await("routing status DOWN once a heartbeat failed").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50))
                .until(() -> !ownership.status().up());
        WebTestClient client = WebTestClient.bindToServer().baseUrl("http://localhost:" + port).build();
        client.get().uri("/actuator/health").exchange()
                .expectStatus().isEqualTo(503)
                .expectBody()
                .jsonPath("$.components.streamingLlmRouting.status").isEqualTo("DOWN")
                .jsonPath("$.components.redis").doesNotExist();
    }
}
