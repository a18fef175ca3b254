package dev.streamingllm.spring.session;

/**
 * Hooks into the life of named sessions (sessions begun without a conversation id are not reported). Calls come on the thread that
 * ran the turn or ended the session; keep them short or hand work off.
 */
public interface SessionListener {

    /** Why a session ended. */
    enum EndReason {
        /** {@link ChatSessions#end(String)} was called. */
        ENDED,
        /** Idle for longer than the time-to-live. */
        EXPIRED,
        /** The least recently used idle session, making room under the maximum count. */
        EVICTED,
        /** The application is shutting down. */
        SHUTDOWN
    }

    /** A session was created for a new conversation id (or loaded by the {@link SessionLoader}). */
    default void sessionCreated(ChatSession session) {
    }

    /**
     * A turn finished. Runs while the turn still holds the session, so the session's state is exactly the state
     * after {@code result} (e.g. to snapshot it) and no other turn of the conversation runs meanwhile.
     */
    default void turnCompleted(ChatSession session, TurnResult result) {
    }

    /** A session was removed; {@code last} is its final state. */
    default void sessionEnded(SessionInfo last, EndReason reason) {
    }
}
