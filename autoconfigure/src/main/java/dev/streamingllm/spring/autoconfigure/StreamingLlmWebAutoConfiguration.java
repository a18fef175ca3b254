package dev.streamingllm.spring.autoconfigure;

import dev.streamingllm.spring.api.ConversationOwners;
import dev.streamingllm.spring.api.ExchangeAttributes;
import dev.streamingllm.spring.chat.StreamingLlmChatModel;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.web.ApiErrorWebExceptionHandler;
import dev.streamingllm.spring.web.ApiExceptionHandler;
import dev.streamingllm.spring.web.ApiRequestFilter;
import dev.streamingllm.spring.web.ChatCompletionsController;
import dev.streamingllm.spring.web.GenerationLimiter;
import dev.streamingllm.spring.web.OversizedRequestErrors;
import dev.streamingllm.spring.web.SessionOwner;
import dev.streamingllm.spring.web.SessionsController;
import java.util.List;
import java.util.stream.Stream;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.reactor.netty.NettyServerCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.core.type.AnnotatedTypeMetadata;
import org.springframework.web.cors.CorsConfiguration;
import org.springframework.web.cors.reactive.UrlBasedCorsConfigurationSource;
import org.springframework.web.reactive.DispatcherHandler;
import reactor.netty.NettyPipeline;
import reactor.netty.http.server.HttpServer;
import tools.jackson.databind.json.JsonMapper;

/**
 * The HTTP API under {@code /v1}: OpenAI's Chat Completions and Models, and the session API. Off unless
 * {@code streamingllm.web.enabled=true}, and only in a reactive web application.
 */
@AutoConfiguration(after = StreamingLlmAutoConfiguration.class)
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
@ConditionalOnClass(DispatcherHandler.class)
@ConditionalOnBooleanProperty(prefix = StreamingLlmWebProperties.PREFIX, name = "enabled")
@ConditionalOnBean(StreamingLlmChatModel.class)
@EnableConfigurationProperties(StreamingLlmWebProperties.class)
public class StreamingLlmWebAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    GenerationLimiter streamingLlmGenerationLimiter(StreamingLlmWebProperties properties) {
        StreamingLlmWebProperties.Limits limits = properties.getLimits();
        return new GenerationLimiter(limits.getConcurrentGenerationsPerKey(), limits.getQueue(), limits.getQueueTimeout());
    }

    @Bean
    @ConditionalOnMissingBean
    ConversationOwners streamingLlmConversationOwners() {
        return new ConversationOwners();
    }

    @Bean
    @ConditionalOnMissingBean
    SessionOwner streamingLlmSessionOwner(Environment environment) {
        String owner = environment.getProperty("spring.application.name", "streamingllm") + "@" + LocalHost.address();
        return conversationId -> owner;
    }

    @Bean
    @ConditionalOnMissingBean
    ApiRequestFilter streamingLlmApiRequestFilter(StreamingLlmWebProperties properties, ObjectProvider<JsonMapper> json) {
        long max = properties.getLimits().getMaxRequestSize().toBytes();
        if (max < 1 || max > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("streamingllm.web.limits.max-request-size must be between 1 byte and 2 GB, was "
                    + properties.getLimits().getMaxRequestSize());
        }
        return new ApiRequestFilter(properties.getApiKeys(), (int) max, json.getIfAvailable(JsonMapper::new));
    }

    @Bean
    @ConditionalOnMissingBean
    ChatCompletionsController streamingLlmChatCompletionsController(StreamingLlmChatModel chatModel, ConversationOwners owners,
            GenerationLimiter limiter, ObjectProvider<JsonMapper> json,
            StreamingLlmWebProperties properties) {
        int maxTokens = properties.getLimits().getMaxTokens();
        if (maxTokens < 1) {
            throw new IllegalArgumentException("streamingllm.web.limits.max-tokens must be >= 1, was " + maxTokens);
        }
        return new ChatCompletionsController(chatModel, owners, limiter, json.getIfAvailable(JsonMapper::new), maxTokens);
    }

    @Bean
    @ConditionalOnMissingBean
    SessionsController streamingLlmSessionsController(ChatSessions sessions, ConversationOwners owners, SessionOwner owner) {
        return new SessionsController(sessions, owners, owner);
    }

    @Bean
    @ConditionalOnMissingBean
    ApiExceptionHandler streamingLlmApiExceptionHandler() {
        return new ApiExceptionHandler();
    }

    @Bean
    @ConditionalOnMissingBean
    ApiErrorWebExceptionHandler streamingLlmApiErrorWebExceptionHandler(ObjectProvider<JsonMapper> json) {
        return new ApiErrorWebExceptionHandler(json.getIfAvailable(JsonMapper::new));
    }

    @Bean
    @ConditionalOnMissingBean
    StreamingLlmWebMetrics streamingLlmWebMetrics(GenerationLimiter limiter, ChatCompletionsController controller) {
        return new StreamingLlmWebMetrics(limiter, controller);
    }

    // nested, so that applications on another server never load Netty's classes
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass({NettyServerCustomizer.class, HttpServer.class})
    static class NettyConfiguration {

        /** Error bodies for the requests Reactor Netty refuses before any handler runs (431, 414). */
        @Bean
        @ConditionalOnMissingBean(name = "streamingLlmOversizedRequestErrors")
        NettyServerCustomizer streamingLlmOversizedRequestErrors(ObjectProvider<JsonMapper> json) {
            OversizedRequestErrors errors = new OversizedRequestErrors(json.getIfAvailable(JsonMapper::new));
            return server -> server.doOnChannelInit((observer, channel, address) -> {
                if (channel.pipeline().get(NettyPipeline.HttpCodec) != null) {
                    channel.pipeline().addAfter(NettyPipeline.HttpCodec, "streamingllm.oversizedRequestErrors", errors);
                }
            });
        }
    }

    /** CORS for {@code /v1}, ordered before the API filter so that its refusals carry the CORS headers too. */
    @Bean
    @ConditionalOnMissingBean(name = "streamingLlmCorsFilter")
    @Conditional(CorsConfigured.class)
    OrderedCorsWebFilter streamingLlmCorsFilter(StreamingLlmWebProperties properties) {
        StreamingLlmWebProperties.Cors cors = properties.getCors();
        CorsConfiguration config = new CorsConfiguration();
        config.setAllowedOrigins(cors.getAllowedOrigins());
        config.setAllowedOriginPatterns(cors.getAllowedOriginPatterns());
        config.setAllowedMethods(cors.getAllowedMethods());
        config.setAllowedHeaders(cors.getAllowedHeaders());
        config.setExposedHeaders(cors.getExposedHeaders());
        config.setAllowCredentials(cors.isAllowCredentials());
        config.setMaxAge(cors.getMaxAge());
        UrlBasedCorsConfigurationSource source = new UrlBasedCorsConfigurationSource();
        source.registerCorsConfiguration("/v1/**", config);
        return new OrderedCorsWebFilter(source, ExchangeAttributes.FILTER_ORDER - 1);
    }

    /** Origins or origin patterns are set for CORS, in any form the binder reads (a list in YAML included). */
    static class CorsConfigured extends SpringBootCondition {

        @Override
        public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
            Binder binder = Binder.get(context.getEnvironment());
            boolean set = Stream.of("allowed-origins", "allowed-origin-patterns").anyMatch(name -> !binder
                    .bind(StreamingLlmWebProperties.PREFIX + ".cors." + name, Bindable.listOf(String.class))
                    .orElse(List.of()).isEmpty());
            return set ? ConditionOutcome.match("CORS origins are set") : ConditionOutcome.noMatch("no CORS origins are set");
        }
    }
}
