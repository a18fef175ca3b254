package dev.streamingllm.spring.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.spring.api.ConversationOwners;
import dev.streamingllm.spring.autoconfigure.StreamingLlmAutoConfiguration;
import dev.streamingllm.spring.autoconfigure.StreamingLlmWebAutoConfiguration;
import dev.streamingllm.spring.autoconfigure.StreamingLlmWebMetrics;
import dev.streamingllm.spring.routing.RoutingWebFilter;
import java.net.InetAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.ReactiveWebApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.web.cors.reactive.CorsWebFilter;
import org.springframework.web.reactive.function.client.WebClient;

/** The web auto-configuration's switch, its condition on a reactive application, and back-off to user beans. */
class StreamingLlmWebAutoConfigurationTest {

    private final ReactiveWebApplicationContextRunner runner = new ReactiveWebApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(StreamingLlmAutoConfiguration.class, StreamingLlmWebAutoConfiguration.class))
            .withPropertyValues("streamingllm.model=" + System.getProperty("streamingllm.shared") + "/models/stories260K.gguf");

    @Test
    void offUnlessEnabled() {
        runner.run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(ChatCompletionsController.class)
                .doesNotHaveBean(ApiRequestFilter.class));
    }

    @Test
    void enabledServesTheApi() {
        runner.withPropertyValues("streamingllm.web.enabled=true", "streamingllm.web.limits.concurrent-generations-per-key=3")
                .run(context -> {
                    assertThat(context).hasSingleBean(ChatCompletionsController.class).hasSingleBean(SessionsController.class)
                            .hasSingleBean(ApiRequestFilter.class).hasSingleBean(ApiExceptionHandler.class)
                            .hasSingleBean(ApiErrorWebExceptionHandler.class).hasSingleBean(ConversationOwners.class)
                            .hasSingleBean(StreamingLlmWebMetrics.class).hasBean("streamingLlmOversizedRequestErrors")
                            .doesNotHaveBean(CorsWebFilter.class);
                    assertThat(context.getBean(GenerationLimiter.class).limit()).isEqualTo(3);
                    // the same host address routing announces in its default base URL
                    assertThat(context.getBean(SessionOwner.class).owner("x"))
                            .isEqualTo("streamingllm@" + InetAddress.getLocalHost().getHostAddress());
                });
    }

    @Test
    void theApiFilterRunsAfterSpringSecurityAndBeforeRouting() {
        // WebFluxSecurityConfiguration.WEB_FILTER_CHAIN_FILTER_ORDER (Spring Security is not on this module's classpath)
        int securityWebFilterChainOrder = -100;
        runner.withPropertyValues("streamingllm.web.enabled=true").run(context -> {
            int order = context.getBean(ApiRequestFilter.class).getOrder();
            assertThat(order).isGreaterThan(securityWebFilterChainOrder).isLessThan(0);
            assertThat(new RoutingWebFilter(null, WebClient.builder(), null).getOrder()).isGreaterThan(order);
        });
    }

    @Test
    void corsFollowsSpringsConfigurationOnceOriginsAreSet() {
        // a list as YAML writes it
        runner.withPropertyValues("streamingllm.web.enabled=true", "streamingllm.web.cors.allowed-origin-patterns[0]=https://*.example.com",
                "streamingllm.web.cors.exposed-headers=Retry-After", "streamingllm.web.cors.max-age=10m").run(context -> {
                    CorsWebFilter cors = context.getBean(CorsWebFilter.class);
                    // before the API filter, so that its refusals (401, 413) carry the CORS headers
                    assertThat(((Ordered) cors).getOrder()).isLessThan(context.getBean(ApiRequestFilter.class).getOrder());
                });
    }

    @Test
    void notInAServletOrPlainApplication() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(StreamingLlmAutoConfiguration.class, StreamingLlmWebAutoConfiguration.class))
                .withPropertyValues("streamingllm.model=" + System.getProperty("streamingllm.shared") + "/models/stories260K.gguf",
                        "streamingllm.web.enabled=true")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(ChatCompletionsController.class));
    }

    @Test
    void backsOffToUserBeans() {
        runner.withPropertyValues("streamingllm.web.enabled=true").withUserConfiguration(UserBeans.class).run(context -> {
            assertThat(context.getBean(SessionOwner.class).owner("x")).isEqualTo("routing-says-b");
            assertThat(context.getBean(GenerationLimiter.class).limit()).isEqualTo(99);
        });
    }

    @Test
    void badLimitsFailWithAClearMessage() {
        runner.withPropertyValues("streamingllm.web.enabled=true", "streamingllm.web.limits.max-tokens=0")
                .run(context -> assertThat(context).getFailure().rootCause()
                        .hasMessageContaining("streamingllm.web.limits.max-tokens must be >= 1, was 0"));
    }

    @Configuration(proxyBeanMethods = false)
    static class UserBeans {

        @Bean
        SessionOwner owner() {
            return id -> "routing-says-b";
        }

        @Bean
        GenerationLimiter limiter() {
            return new GenerationLimiter(99, 0, Duration.ofSeconds(1));
        }
    }
}
