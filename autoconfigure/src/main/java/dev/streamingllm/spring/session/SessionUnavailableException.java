package dev.streamingllm.spring.session;

import org.jspecify.annotations.Nullable;

/**
 * This instance may not serve the conversation now: another live instance holds it ({@link #ownerId()}), or the
 * session registry cannot tell. Thrown by a {@link SessionLoader} (session routing) to the turn that would take the
 * conversation over; the message says which case and what to do.
 */
public final class SessionUnavailableException extends RuntimeException {

    private final @Nullable String ownerId;

    public SessionUnavailableException(String message, @Nullable String ownerId, @Nullable Throwable cause) {
        super(message, cause);
        this.ownerId = ownerId;
    }

    /** The instance that holds the conversation's lease; null when the registry could not be asked. */
    public @Nullable String ownerId() {
        return ownerId;
    }
}
