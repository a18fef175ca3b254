package dev.streamingllm.spring.chat;

import org.springframework.ai.chat.client.ChatClientRequest;
import org.springframework.ai.chat.client.ChatClientResponse;
import org.springframework.ai.chat.client.advisor.api.CallAdvisor;
import org.springframework.ai.chat.client.advisor.api.CallAdvisorChain;
import org.springframework.ai.chat.client.advisor.api.StreamAdvisor;
import org.springframework.ai.chat.client.advisor.api.StreamAdvisorChain;
import org.springframework.ai.chat.memory.ChatMemory;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.core.Ordered;
import reactor.core.publisher.Flux;

/**
 * Hands the conversation id of Spring AI's chat-memory advisors ({@link ChatMemory#CONVERSATION_ID} in the
 * advisor context, which never reaches a {@code ChatModel}) to {@link StreamingLlmChatModel} as
 * {@link StreamingLlmChatOptions#getConversationId()}, so each conversation keeps its own cache. An id already set
 * in the options wins. The auto-configuration adds this advisor to every {@code ChatClient.Builder}.
 */
public final class ConversationIdAdvisor implements CallAdvisor, StreamAdvisor {

    /** Late, next to the model call: after advisors that may still set up the context. */
    public static final int ORDER = Ordered.LOWEST_PRECEDENCE - 1000;

    @Override
    public ChatClientResponse adviseCall(ChatClientRequest request, CallAdvisorChain chain) {
        return chain.nextCall(withConversationId(request));
    }

    @Override
    public Flux<ChatClientResponse> adviseStream(ChatClientRequest request, StreamAdvisorChain chain) {
        return chain.nextStream(withConversationId(request));
    }

    static ChatClientRequest withConversationId(ChatClientRequest request) {
        Object id = request.context().get(ChatMemory.CONVERSATION_ID);
        if (id == null) {
            return request;
        }
        ChatOptions options = request.prompt().getOptions();
        StreamingLlmChatOptions ours = options == null ? StreamingLlmChatOptions.builder().build() : StreamingLlmChatOptions.from(options);
        if (ours.getConversationId() != null) {
            return request;
        }
        ChatOptions withId = ours.mutate().conversationId(id.toString()).build();
        return request.mutate().prompt(request.prompt().mutate().chatOptions(withId).build()).build();
    }

    @Override
    public String getName() {
        return "streamingllm-conversation-id";
    }

    @Override
    public int getOrder() {
        return ORDER;
    }
}
