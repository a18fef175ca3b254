package dev.streamingllm.spring.session;

import dev.streamingllm.session.Conversation;
import java.util.Optional;

/**
 * Where {@link ChatSessions} looks for a conversation it does not hold before starting it empty: session routing
 * takes the conversation over from a registry (restored from its snapshot, else replayed from its transcript).
 * Without a loader (a single instance) an unknown conversation id starts a new conversation.
 */
@FunctionalInterface
public interface SessionLoader {

    /**
     * The stored state of {@code conversationId}, or empty when there is none and the conversation starts here.
     * Called outside {@link ChatSessions}' lock and may block; when two turns load the same id at once, one result
     * is kept and the other dropped.
     *
     * @throws SessionUnavailableException when the conversation must not be served here (e.g. another live instance
     *                                     holds it); the turn fails with it
     */
    Optional<Conversation> load(String conversationId);
}
