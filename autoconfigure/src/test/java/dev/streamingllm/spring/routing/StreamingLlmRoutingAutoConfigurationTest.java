package dev.streamingllm.spring.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.spring.api.ExchangeAttributes;
import dev.streamingllm.spring.autoconfigure.StreamingLlmAutoConfiguration;
import dev.streamingllm.spring.autoconfigure.StreamingLlmRoutingAutoConfiguration;
import dev.streamingllm.spring.autoconfigure.StreamingLlmWebAutoConfiguration;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.web.SessionOwner;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.spring.session.TurnRequest;
import dev.streamingllm.template.ChatMessage;
import io.lettuce.core.resource.ClientResources;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.data.redis.autoconfigure.DataRedisAutoConfiguration;
import org.springframework.boot.data.redis.autoconfigure.DataRedisReactiveAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.ReactiveWebApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.data.redis.core.ReactiveRedisTemplate;
import org.springframework.http.HttpStatus;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.web.server.MockServerWebExchange;
import reactor.core.publisher.Mono;

/** The routing auto-configuration: which registry, the switch, back-off to user beans, and the owner it gives the session API. */
class StreamingLlmRoutingAutoConfigurationTest {

    private static RealRedis redis;

    private final ReactiveWebApplicationContextRunner runner = new ReactiveWebApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(StreamingLlmAutoConfiguration.class, DataRedisAutoConfiguration.class,
                    DataRedisReactiveAutoConfiguration.class, StreamingLlmRoutingAutoConfiguration.class,
                    StreamingLlmWebAutoConfiguration.class))
            .withPropertyValues("streamingllm.model=" + System.getProperty("streamingllm.shared") + "/models/stories260K.gguf",
                    "streamingllm.routing.instance-id=here", "streamingllm.routing.base-url=http://here.example:8080");

    @BeforeAll
    static void startRedis() {
        redis = RealRedis.start();
    }

    @AfterAll
    static void stopRedis() throws Exception {
        redis.close();
    }

    @Test
    void withoutRedisPropertiesTheRegistryIsInMemory() {
        runner.withPropertyValues("streamingllm.web.enabled=true").run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(SessionOwnership.class).hasSingleBean(RoutingWebFilter.class)
                    .hasSingleBean(RoutingHealthIndicator.class);
            assertThat(context.getBean(SessionRegistry.class)).isInstanceOf(InMemorySessionRegistry.class);
            // the session API names the lease holder, not the single-instance default
            assertThat(context.getBean(SessionOwner.class).owner("any")).isEqualTo("here@http://here.example:8080");
            // routing is the sessions' loader: a conversation they do not hold is taken over, with a lease
            context.getBean(ChatSessions.class).open("loaded");
            assertThat(context.getBean(SessionOwnership.class).lease("loaded")).get().extracting(Lease::instanceId).isEqualTo("here");
        });
    }

    /**
     * A registry in this process is read by nobody else: turns write no snapshot there, and a session that leaves
     * memory is written once as it goes, so its conversation resumes exactly (greedy, past the window's first eviction).
     */
    @Test
    void withTheInMemoryRegistryOnlyASessionLeavingMemoryIsWritten() {
        runner.withPropertyValues("streamingllm.sessions.max=1", "streamingllm.cache.window=40").run(context -> {
            ChatSessions sessions = context.getBean(ChatSessions.class);
            SessionRegistry registry = context.getBean(SessionRegistry.class);
            SamplingParams greedy = SamplingParams.builder().temperature(0).maxTokens(20).build();
            List<ChatMessage> history = new ArrayList<>();
            for (String user : new String[] {"Once upon a time", "The cat"}) {
                history.add(ChatMessage.user(user));
                history.add(ChatMessage.assistant(sessions.turn(new TurnRequest("kept", history, greedy), text -> { }, () -> false).text()));
            }
            assertThat(registry.find("kept").block(Duration.ofSeconds(5))).as("snapshot after turns").isNull();
            long seen = sessions.info("kept").orElseThrow().tokensSeen();
            assertThat(sessions.info("kept").orElseThrow().evicted()).isPositive();

            // a control conversation that is never evicted gives the expected third reply
            history.add(ChatMessage.user("The dog"));
            List<ChatMessage> control = new ArrayList<>(history);
            sessions.turn(new TurnRequest("other", List.of(ChatMessage.user("Hello")), greedy), text -> { }, () -> false);
            Publication written = registry.find("kept").block(Duration.ofSeconds(5));
            assertThat(written).as("snapshot of the evicted session").isNotNull();
            assertThat(written.record().tokensSeen()).isEqualTo(seen);
            assertThat(written.snapshot()).isNotEmpty();

            String resumed = sessions.turn(new TurnRequest("kept", history, greedy), text -> { }, () -> false).text();
            Conversation uninterrupted = new Conversation(sessions.engine(), sessions.settings().cache(), sessions.settings().pinSystemPrompt());
            List<ChatMessage> replay = new ArrayList<>();
            String expected = null;
            for (int i = 0; i < control.size(); i += 2) {
                replay.add(control.get(i));
                expected = uninterrupted.reply(replay, greedy, text -> { }, () -> false).text();
                replay.add(ChatMessage.assistant(expected));
            }
            assertThat(resumed).isEqualTo(expected);
        });
    }

    /** Instances that each ran alone would answer a conversation's turns as new conversations: start-up fails instead. */
    @Test
    void redisConfiguredWithoutAClientFailsStartUpNamingWhatIsMissing() {
        runner.withClassLoader(new FilteredClassLoader(ReactiveRedisTemplate.class)).withPropertyValues("spring.data.redis.host=localhost")
                .run(context -> {
                    assertThat(context).hasFailed();
                    assertThat(context.getStartupFailure()).rootCause().hasMessageContaining("spring.data.redis.host is set")
                            .hasMessageContaining("add spring-boot-starter-data-redis-reactive")
                            .hasMessageContaining("streamingllm.routing.enabled=false");
                });
        runner.withClassLoader(new FilteredClassLoader(ReactiveRedisTemplate.class))
                .run(context -> assertThat(context.getBean(SessionRegistry.class)).isInstanceOf(InMemorySessionRegistry.class));
    }

    @Test
    void snapshotCompactionIsBoundAndAnImpossibleSettingFailsStartUpNamingTheProperty() {
        runner.withPropertyValues("streamingllm.routing.snapshots.whole-every=4", "streamingllm.routing.snapshots.max-delta-share=0.25")
                .run(context -> assertThat(context.getBean(SessionOwnership.class).settings())
                        .extracting(RoutingSettings::wholeEvery, RoutingSettings::maxDeltaShare).containsExactly(4, 0.25));
        runner.withPropertyValues("streamingllm.routing.snapshots.whole-every=0").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).rootCause().hasMessageContaining("streamingllm.routing.snapshots.whole-every")
                    .hasMessageContaining("was 0");
        });
        runner.withPropertyValues("streamingllm.routing.snapshots.max-delta-share=0").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).rootCause().hasMessageContaining("streamingllm.routing.snapshots.max-delta-share");
        });
    }

    @Test
    void withRedisPropertiesTheRegistryIsInRedis() {
        runner.withPropertyValues("spring.data.redis.host=localhost", "spring.data.redis.port=" + redis.port(),
                "streamingllm.routing.key-prefix=acr-test").run(context -> {
            assertThat(context).hasNotFailed();
            SessionRegistry registry = context.getBean(SessionRegistry.class);
            assertThat(registry).isInstanceOf(RedisSessionRegistry.class);
            // it talks to the real server: a lease taken through it is read back
            Lease lease = registry.acquire("acr-session", "here", Duration.ofSeconds(5)).block(Duration.ofSeconds(5));
            assertThat(lease).isNotNull();
            assertThat(registry.lease("acr-session").block(Duration.ofSeconds(5))).isEqualTo(lease);
            // Lettuce reconnects within a heartbeat (3 s by default), however long Redis was gone
            assertThat(context.getBean(ClientResources.class).reconnectDelay().createDelay(50)).isLessThanOrEqualTo(Duration.ofSeconds(3));
        });
    }

    /** Boot's cluster properties select the Redis registry too, and its scripts run on a real three-master cluster. */
    @Test
    void withClusterNodesTheRegistryIsInTheCluster() throws Exception {
        try (RealRedisCluster cluster = RealRedisCluster.start()) {
            runner.withPropertyValues("spring.data.redis.cluster.nodes=" + String.join(",", cluster.nodes())).run(context -> {
                assertThat(context).hasNotFailed();
                SessionRegistry registry = context.getBean(SessionRegistry.class);
                assertThat(registry).isInstanceOf(RedisSessionRegistry.class);
                Lease lease = registry.acquire("cluster-session", "here", Duration.ofSeconds(5)).block(Duration.ofSeconds(5));
                assertThat(registry.renew(lease, 1, Duration.ofSeconds(5)).block(Duration.ofSeconds(5))).isTrue();
            });
        }
        runner.withClassLoader(new FilteredClassLoader(ReactiveRedisTemplate.class))
                .withPropertyValues("spring.data.redis.cluster.nodes=127.0.0.1:7000")
                .run(context -> assertThat(context.getStartupFailure()).rootCause()
                        .hasMessageContaining("spring.data.redis.cluster.nodes is set"));
    }

    @Test
    void offWhenDisabled() {
        runner.withPropertyValues("streamingllm.routing.enabled=false", "streamingllm.web.enabled=true").run(context -> {
            assertThat(context).hasNotFailed().doesNotHaveBean(SessionOwnership.class).doesNotHaveBean(SessionRegistry.class)
                    .doesNotHaveBean(RoutingWebFilter.class).doesNotHaveBean(RoutingHealthIndicator.class);
            // the web layer's single-instance owner instead
            assertThat(context.getBean(SessionOwner.class).owner("any")).startsWith("streamingllm@");
            // no loader: an unknown conversation simply starts here
            assertThat(context.getBean(ChatSessions.class).open("fresh").info().tokensSeen()).isZero();
        });
    }

    @Test
    void backsOffToUserBeans() {
        runner.withUserConfiguration(UserBeans.class).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(SessionRegistry.class)).isSameAs(context.getBean(UserBeans.class).registry);
            assertThat(context.getBean(SessionOwnership.class).registry()).isSameAs(context.getBean(UserBeans.class).registry);
            assertThat(context.getBean(SessionOwner.class).owner("x")).isEqualTo("mine");
        });
    }

    @Test
    void noFilterOutsideAReactiveWebApplication() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(StreamingLlmAutoConfiguration.class, StreamingLlmRoutingAutoConfiguration.class))
                .withPropertyValues("streamingllm.model=" + System.getProperty("streamingllm.shared") + "/models/stories260K.gguf")
                .run(context -> assertThat(context).hasNotFailed().hasSingleBean(SessionOwnership.class)
                        .doesNotHaveBean(RoutingWebFilter.class));
    }

    @Test
    void withoutTheHttpApiTheFilterRoutesByTheHeader() {
        runner.run(context -> {
            assertThat(context).doesNotHaveBean(StreamingLlmWebAutoConfiguration.class);
            RoutingWebFilter filter = context.getBean(RoutingWebFilter.class);

            MockServerWebExchange named = MockServerWebExchange.from(MockServerHttpRequest.post("/ask")
                    .header(ExchangeAttributes.CONVERSATION_HEADER, "plain-app-1"));
            AtomicBoolean served = new AtomicBoolean();
            filter.filter(named, exchange -> Mono.fromRunnable(() -> served.set(true))).block(Duration.ofSeconds(10));
            assertThat(served).isTrue();
            assertThat(named.getResponse().getHeaders().getFirst(RoutingWebFilter.SERVED_BY)).isEqualTo("here");
            assertThat(ExchangeAttributes.conversationId(named)).isEqualTo("plain-app-1");
            // a new conversation: its first turn takes the lease, not the routing
            assertThat(context.getBean(SessionOwnership.class).lease("plain-app-1")).isEmpty();

            MockServerWebExchange invalid = MockServerWebExchange.from(MockServerHttpRequest.post("/ask")
                    .header(ExchangeAttributes.CONVERSATION_HEADER, "has spaces"));
            filter.filter(invalid, exchange -> Mono.error(new AssertionError("an invalid id must not be served"))).block(Duration.ofSeconds(10));
            assertThat(invalid.getResponse().getStatusCode()).isEqualTo(HttpStatus.BAD_REQUEST);
            assertThat(invalid.getResponse().getBodyAsString().block()).contains("invalid_conversation_id");
        });
    }

    @Configuration(proxyBeanMethods = false)
    static class UserBeans {

        final SessionRegistry registry = new InMemorySessionRegistry(Duration.ofHours(1), 1 << 20);

        @Bean
        SessionRegistry mySessionRegistry() {
            return registry;
        }

        @Bean
        SessionOwner mySessionOwner() {
            return conversationId -> "mine";
        }
    }
}
