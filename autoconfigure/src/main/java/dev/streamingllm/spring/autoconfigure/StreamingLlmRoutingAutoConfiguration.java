package dev.streamingllm.spring.autoconfigure;

import dev.streamingllm.spring.api.ConversationOwners;
import dev.streamingllm.spring.routing.InMemorySessionRegistry;
import dev.streamingllm.spring.routing.RedisSessionRegistry;
import dev.streamingllm.spring.routing.RoutingHealthIndicator;
import dev.streamingllm.spring.routing.RoutingSettings;
import dev.streamingllm.spring.routing.RoutingWebFilter;
import dev.streamingllm.spring.routing.SessionOwnership;
import dev.streamingllm.spring.routing.SessionRegistry;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.web.SessionOwner;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.AnyNestedCondition;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.data.redis.autoconfigure.ClientResourcesBuilderCustomizer;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.ApplicationContext;
import org.springframework.core.env.Environment;
import org.springframework.util.ClassUtils;
import org.springframework.data.redis.connection.ReactiveRedisConnectionFactory;
import org.springframework.data.redis.core.ReactiveRedisTemplate;
import org.springframework.data.redis.serializer.RedisSerializationContext;
import org.springframework.data.redis.serializer.RedisSerializer;
import org.springframework.web.reactive.function.client.WebClient;
import tools.jackson.databind.json.JsonMapper;

/**
 * Session routing: a registry in Redis when Redis is configured ({@code spring.data.redis.host} or {@code .url}),
 * else in memory; this instance's ownership of sessions; the routing filter in reactive web applications; the session
 * API's owner (before the web auto-configuration, whose single-instance owner backs off); and a routing health
 * indicator when Actuator is present.
 */
@AutoConfiguration(after = StreamingLlmAutoConfiguration.class, before = StreamingLlmWebAutoConfiguration.class,
        afterName = "org.springframework.boot.data.redis.autoconfigure.DataRedisReactiveAutoConfiguration")
@ConditionalOnBean(ChatSessions.class)
@ConditionalOnProperty(prefix = "streamingllm.routing", name = "enabled", havingValue = "true", matchIfMissing = true)
@EnableConfigurationProperties(StreamingLlmRoutingProperties.class)
public class StreamingLlmRoutingAutoConfiguration {

    /** Any of these set means the application meant to use Redis: a standalone server, a cluster, or Sentinel. */
    static final List<String> REDIS_PROPERTIES = List.of("spring.data.redis.url", "spring.data.redis.host",
            "spring.data.redis.cluster.nodes", "spring.data.redis.sentinel.master");

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(ReactiveRedisTemplate.class)
    @Conditional(RedisConfigured.class)
    static class RedisRegistryConfiguration {

        @Bean
        @ConditionalOnMissingBean
        @ConditionalOnBean(ReactiveRedisConnectionFactory.class)
        SessionRegistry streamingLlmSessionRegistry(ReactiveRedisConnectionFactory connections, StreamingLlmRoutingProperties properties) {
            RedisSerializationContext<String, byte[]> serialization = RedisSerializationContext
                    .<String, byte[]>newSerializationContext(RedisSerializer.byteArray())
                    .key(RedisSerializer.string()).hashKey(RedisSerializer.string())
                    .build();
            return new RedisSessionRegistry(new ReactiveRedisTemplate<>(connections, serialization), properties.getKeyPrefix(),
                    properties.getRetention());
        }
    }

    /**
     * Lettuce reconnects within a heartbeat, not after its default backoff of up to 30 s: an owner must re-assert its
     * sessions within the grace period that follows a Redis restart ({@code Epoch}).
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass({ClientResourcesBuilderCustomizer.class, Delay.class})
    @Conditional(RedisConfigured.class)
    static class RedisReconnectConfiguration {

        @Bean
        ClientResourcesBuilderCustomizer streamingLlmRedisReconnectDelay(StreamingLlmRoutingProperties properties) {
            Duration heartbeat = properties.getHeartbeat();
            return builder -> builder.reconnectDelay(Delay.exponential(Duration.ofMillis(Math.min(100, heartbeat.toMillis())), heartbeat, 2,
                    TimeUnit.MILLISECONDS));
        }
    }

    /**
     * The single-instance registry, unless Redis is configured: then instances that each ran alone would answer a
     * conversation's turns as new conversations, so start-up fails instead, naming what is missing.
     */
    @Bean
    @ConditionalOnMissingBean
    SessionRegistry streamingLlmInMemorySessionRegistry(ApplicationContext context, StreamingLlmRoutingProperties properties) {
        Environment environment = context.getEnvironment();
        String property = REDIS_PROPERTIES.stream().filter(environment::containsProperty).findFirst().orElse(null);
        if (property != null) {
            String missing = ClassUtils.isPresent("org.springframework.data.redis.core.ReactiveRedisTemplate", context.getClassLoader())
                    ? "no reactive Redis connection factory was created (is Lettuce on the class path, and Boot's Redis auto-configuration enabled?)"
                    : "no reactive Redis client is on the class path: add spring-boot-starter-data-redis-reactive";
            throw new IllegalStateException(property + " is set, so conversations should be routed through Redis, but "
                    + missing + ". To run this instance alone with in-memory routing, remove " + property
                    + " or set streamingllm.routing.enabled=false.");
        }
        return new InMemorySessionRegistry(properties.getRetention(), properties.getInMemoryLimit().toBytes());
    }

    @Bean
    @ConditionalOnMissingBean
    SessionOwnership streamingLlmSessionOwnership(SessionRegistry registry, ChatSessions sessions, StreamingLlmRoutingProperties properties,
            Environment environment, ObjectProvider<ConversationOwners> owners) {
        String instanceId = properties.getInstanceId() != null ? properties.getInstanceId()
                : "instance-" + UUID.randomUUID().toString().substring(0, 8);
        String configuredUrl = properties.getBaseUrl();
        String host = LocalHost.address();
        RoutingSettings settings = new RoutingSettings(instanceId,
                () -> baseUrl(environment, configuredUrl, host),
                properties.getMode(), properties.getLease(), properties.getHeartbeat(), properties.getRedisTimeout(),
                properties.getSnapshots().getWholeEvery(), properties.getSnapshots().getMaxDeltaShare());
        return new SessionOwnership(registry, sessions, settings, owners::getIfAvailable);
    }

    // nested, so that applications without WebFlux never load the filter's classes
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
    @ConditionalOnClass(WebClient.class)
    static class RoutingWebConfiguration {

        @Bean
        @ConditionalOnMissingBean
        RoutingWebFilter streamingLlmRoutingWebFilter(SessionOwnership ownership, ObjectProvider<WebClient.Builder> builder,
                ObjectProvider<JsonMapper> json) {
            return new RoutingWebFilter(ownership, builder.getIfAvailable(WebClient::builder), json.getIfAvailable(JsonMapper::new));
        }
    }

    @Bean
    @ConditionalOnMissingBean
    SessionOwner streamingLlmRoutingSessionOwner(SessionOwnership ownership) {
        return ownership::owner;
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(HealthIndicator.class)
    static class RoutingHealthConfiguration {

        @Bean
        @ConditionalOnMissingBean(name = "streamingLlmRoutingHealthIndicator")
        RoutingHealthIndicator streamingLlmRoutingHealthIndicator(SessionOwnership ownership) {
            return new RoutingHealthIndicator(ownership);
        }
    }

    /**
     * Resolved late, so that {@code ${local.server.port}} works: the port is known once the server runs. Null until
     * then, and the instance announces itself only once it can be reached.
     */
    private static @Nullable String baseUrl(Environment environment, @Nullable String configured, String host) {
        String port = environment.getProperty("local.server.port");
        if (configured == null) {
            return port == null ? null : "http://" + host + ":" + port;
        }
        String resolved = environment.resolvePlaceholders(configured);
        return resolved.contains("${") ? null : resolved;
    }

    /**
     * Redis counts as configured when a host, URL, cluster nodes or a Sentinel master is set: Boot would otherwise
     * connect to localhost:6379 by default.
     */
    static class RedisConfigured extends AnyNestedCondition {

        RedisConfigured() {
            super(ConfigurationPhase.REGISTER_BEAN);
        }

        @ConditionalOnProperty(prefix = "spring.data.redis", name = "host")
        static class Host {
        }

        @ConditionalOnProperty(prefix = "spring.data.redis", name = "url")
        static class Url {
        }

        @ConditionalOnProperty(prefix = "spring.data.redis.cluster", name = "nodes")
        static class Cluster {
        }

        @ConditionalOnProperty(prefix = "spring.data.redis.sentinel", name = "master")
        static class Sentinel {
        }
    }
}
