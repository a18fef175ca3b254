package dev.streamingllm.spring.routing;

import org.jspecify.annotations.Nullable;

/**
 * This instance may not serve the conversation now: another live instance holds its lease ({@link #ownerId()}),
 * or the session registry cannot tell. Thrown to turns that reach a session only through the {@code ChatSessions}
 * (a {@code ChatClient} without HTTP routing); the message says which case and what to do.
 */
public final class SessionUnavailableException extends RuntimeException {

    private final @Nullable String ownerId;

    SessionUnavailableException(String message, @Nullable String ownerId, @Nullable Throwable cause) {
        super(message, cause);
        this.ownerId = ownerId;
    }

    /** The instance that holds the conversation's lease; null when the registry could not be asked. */
    public @Nullable String ownerId() {
        return ownerId;
    }
}
