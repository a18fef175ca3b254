package dev.streamingllm.spring.session;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.template.ChatMessage;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One turn of a conversation.
 *
 * @param conversationId  the session to continue or create; null for a one-shot session released afterwards
 * @param messages        the whole history as the client sends it (only what is new is fed to the cache)
 * @param sampling        how to pick tokens
 * @param cache           the geometry for a session this turn creates; null for the default
 * @param pinSystemPrompt whether a session this turn creates pins its system prompt; null for the default
 */
public record TurnRequest(
        @Nullable String conversationId,
        List<ChatMessage> messages,
        SamplingParams sampling,
        @Nullable CacheConfig cache,
        @Nullable Boolean pinSystemPrompt) {

    public TurnRequest {
        if (messages == null || messages.isEmpty()) {
            throw new IllegalArgumentException("a turn needs at least one message");
        }
        if (sampling == null) {
            throw new IllegalArgumentException("a turn needs sampling parameters");
        }
        if (conversationId != null && conversationId.isBlank()) {
            throw new IllegalArgumentException("the conversation id must not be blank (use null for a one-shot turn)");
        }
        messages = List.copyOf(messages);
    }

    public TurnRequest(@Nullable String conversationId, List<ChatMessage> messages, SamplingParams sampling) {
        this(conversationId, messages, sampling, null, null);
    }
}
