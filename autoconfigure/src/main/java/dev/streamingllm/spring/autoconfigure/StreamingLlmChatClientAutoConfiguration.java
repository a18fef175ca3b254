package dev.streamingllm.spring.autoconfigure;

import dev.streamingllm.spring.chat.ConversationIdAdvisor;
import dev.streamingllm.spring.chat.StreamingLlmChatModel;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.client.ChatClientBuilderCustomizer;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * Adds the {@link ConversationIdAdvisor} to every {@code ChatClient.Builder}, so that {@code ChatClient} with a
 * chat-memory advisor continues one session per conversation id without further code.
 */
@AutoConfiguration(after = StreamingLlmAutoConfiguration.class)
@ConditionalOnClass(ChatClient.class)
@ConditionalOnBean(StreamingLlmChatModel.class)
public class StreamingLlmChatClientAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    ConversationIdAdvisor conversationIdAdvisor() {
        return new ConversationIdAdvisor();
    }

    @Bean
    @ConditionalOnMissingBean(name = "streamingLlmChatClientCustomizer")
    ChatClientBuilderCustomizer streamingLlmChatClientCustomizer(ConversationIdAdvisor advisor) {
        return builder -> builder.defaultAdvisors(advisor);
    }
}
