package dev.streamingllm.spring.session;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.template.ChatMessage;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One turn of a conversation.
 *
 * @param conversationId  the session to continue or create; null to continue the kept session whose history
 *                        {@code messages} extends, else begin one (or run one-shot, see {@link ChatSessions})
 * @param messages        the whole history as the client sends it (only what is new is fed to the cache)
 * @param sampling        how to pick tokens
 * @param cache           the geometry for a session this turn creates; null for the default
 * @param pinSystemPrompt whether a session this turn creates pins its system prompt; null for the default
 * @param client          who sends the turn (the HTTP API's API key): without a conversation id, a history continues
 *                        only sessions begun by the same client; null is one client like any other
 */
public record TurnRequest(
        @Nullable String conversationId,
        List<ChatMessage> messages,
        SamplingParams sampling,
        @Nullable CacheConfig cache,
        @Nullable Boolean pinSystemPrompt,
        @Nullable String client) {

    public TurnRequest {
        if (messages == null || messages.isEmpty()) {
            throw new IllegalArgumentException("a turn needs at least one message");
        }
        if (sampling == null) {
            throw new IllegalArgumentException("a turn needs sampling parameters");
        }
        if (conversationId != null && conversationId.isBlank()) {
            throw new IllegalArgumentException("the conversation id must not be blank (use null for a turn without one)");
        }
        messages = List.copyOf(messages);
    }

    public TurnRequest(@Nullable String conversationId, List<ChatMessage> messages, SamplingParams sampling) {
        this(conversationId, messages, sampling, null, null, null);
    }
}
