package dev.streamingllm.spring.session;

/**
 * No new conversation fits: every session slot is taken by a session that is running a turn, or the heap has no room
 * for another session's cache.
 */
public class SessionLimitException extends IllegalStateException {

    public SessionLimitException(String message) {
        super(message);
    }
}
