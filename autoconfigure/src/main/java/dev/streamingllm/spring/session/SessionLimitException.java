package dev.streamingllm.spring.session;

/** Every session slot is taken by a session that is running a turn, so no new conversation fits. */
public class SessionLimitException extends IllegalStateException {

    public SessionLimitException(String message) {
        super(message);
    }
}
