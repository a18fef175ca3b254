package dev.streamingllm.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamingllm.spring.chat.StreamingLlmChatOptions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Configuration;

/** {@code streamingllm.chat.*} binds to the chat model's own options, the one place they are defined. */
class StreamingLlmPropertiesTest {

    private final ApplicationContextRunner runner = new ApplicationContextRunner().withUserConfiguration(Properties.class);

    @Test
    void everyChatPropertyBindsToItsOption() {
        runner.withPropertyValues("streamingllm.chat.temperature=0.2", "streamingllm.chat.top-k=5", "streamingllm.chat.top-p=0.9",
                "streamingllm.chat.min-p=0.1", "streamingllm.chat.repeat-penalty=1.1", "streamingllm.chat.frequency-penalty=0.3",
                "streamingllm.chat.presence-penalty=0.4", "streamingllm.chat.max-tokens=7", "streamingllm.chat.seed=42",
                "streamingllm.chat.stop=x,y").run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context.getBean(StreamingLlmProperties.class).getChat()).isEqualTo(StreamingLlmChatOptions.builder()
                            .temperature(0.2).topK(5).topP(0.9).minP(0.1).repeatPenalty(1.1).frequencyPenalty(0.3).presencePenalty(0.4)
                            .maxTokens(7).seed(42L).stopSequences(List.of("x", "y")).build());
                });
    }

    @Test
    void unsetChatPropertiesLeaveEveryOptionToTheRuntime() {
        runner.withPropertyValues("streamingllm.chat.max-tokens=7").run(context -> {
            StreamingLlmChatOptions options = context.getBean(StreamingLlmProperties.class).getChat();
            assertThat(options.getMaxTokens()).isEqualTo(7);
            assertThat(options.mutate().maxTokens(null).build()).isEqualTo(StreamingLlmChatOptions.builder().build());
        });
        runner.run(context -> assertThat(context.getBean(StreamingLlmProperties.class).getChat())
                .isEqualTo(StreamingLlmChatOptions.builder().build()));
    }

    @Configuration(proxyBeanMethods = false)
    @EnableConfigurationProperties(StreamingLlmProperties.class)
    static class Properties {
    }
}
