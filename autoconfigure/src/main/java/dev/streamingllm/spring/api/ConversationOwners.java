package dev.streamingllm.spring.api;

import dev.streamingllm.spring.session.SessionInfo;
import dev.streamingllm.spring.session.SessionListener;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Which client (API key) each conversation belongs to: the key that created it. Another key is told the
 * conversation does not exist, so ids cannot be probed across keys. Forgets a conversation when its session ends.
 *
 * <p>Held in this instance's memory; with session routing the binding also travels with the session's record in
 * the registry ({@link #owner} when it is written, {@link #bind} when another instance takes the session over).
 */
public class ConversationOwners implements SessionListener {

    private final ConcurrentMap<String, String> owners = new ConcurrentHashMap<>();

    /** Binds {@code conversationId} to {@code client} unless bound already; true when {@code client} owns it. */
    public boolean claim(String conversationId, String client) {
        return owners.computeIfAbsent(conversationId, id -> client).equals(client);
    }

    /** True when {@code client} may see {@code conversationId}: it owns it, or nobody does. */
    public boolean visible(String conversationId, String client) {
        String owner = owners.get(conversationId);
        return owner == null || owner.equals(client);
    }

    /** The client {@code conversationId} is bound to, if any. */
    public Optional<String> owner(String conversationId) {
        return Optional.ofNullable(owners.get(conversationId));
    }

    /** Binds {@code conversationId} to {@code client}, as stored by the instance that served it before. */
    public void bind(String conversationId, String client) {
        owners.put(conversationId, client);
    }

    public void forget(String conversationId) {
        owners.remove(conversationId);
    }

    @Override
    public void sessionEnded(SessionInfo last, EndReason reason) {
        forget(last.id());
    }
}
