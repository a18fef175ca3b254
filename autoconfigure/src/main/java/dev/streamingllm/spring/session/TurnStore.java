package dev.streamingllm.spring.session;

/**
 * Where a named session's state goes after each turn, before the turn's reply completes: session routing writes it to
 * the registry, so that an acknowledged turn survives its instance. Without a store a turn is kept in this process
 * only, which is all a single instance has.
 */
@FunctionalInterface
public interface TurnStore {

    /**
     * Stores the state {@code session} holds after a turn. Called on the turn's thread while it still holds the session.
     *
     * @return false when the state could not be stored (the registry is unreachable): the reply then says it is not durable
     */
    boolean store(ChatSession session);
}
