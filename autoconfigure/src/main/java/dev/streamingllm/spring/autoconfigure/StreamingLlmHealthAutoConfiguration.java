package dev.streamingllm.spring.autoconfigure;

import dev.streamingllm.spring.session.ChatSessions;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;

/** The StreamingLLM health indicator, when Actuator's health support is present. */
@AutoConfiguration(after = StreamingLlmAutoConfiguration.class)
@ConditionalOnClass(HealthIndicator.class)
@ConditionalOnBean(ChatSessions.class)
@ConditionalOnEnabledHealthIndicator("streamingllm")
public class StreamingLlmHealthAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean(name = "streamingllmHealthIndicator")
    StreamingLlmHealthIndicator streamingllmHealthIndicator(ChatSessions sessions, StreamingLlmProperties properties) {
        return new StreamingLlmHealthIndicator(sessions, properties.getBackend());
    }
}
