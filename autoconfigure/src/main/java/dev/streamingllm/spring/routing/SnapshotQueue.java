package dev.streamingllm.spring.routing;

import dev.streamingllm.session.Conversation;
import dev.streamingllm.session.ConversationSnapshot;
import dev.streamingllm.spring.api.ConversationOwners;
import dev.streamingllm.spring.session.ChatSession;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.SessionInfo;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import tools.jackson.databind.json.JsonMapper;

/**
 * The session states this instance writes to the registry, and those that wait: the latest per session while the
 * registry is unreachable or the session's lease is being taken again, and, with a registry no other instance reads,
 * the sessions whose state is written only once they leave memory. What is written is the session's record (with the
 * client that owns its conversation), its snapshot and its transcript, under its lease.
 */
final class SnapshotQueue {

    /** A session's state after a turn, waiting to be written. */
    record Pending(SessionInfo info, long turns, byte[] snapshot, byte[] transcript) {
    }

    private final SessionRegistry registry;
    private final ChatSessions sessions;
    private final RoutingSettings settings;
    private final Supplier<@Nullable ConversationOwners> owners;
    private final JsonMapper json = JsonMapper.builder().build();
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    /** Sessions served here whose state waits until they leave memory (a registry that is not shared). */
    private final Map<String, ChatSession> unsaved = new ConcurrentHashMap<>();

    /** @param owners the HTTP API's conversation owners, written with each session's record; supplies null without the HTTP API */
    SnapshotQueue(SessionRegistry registry, ChatSessions sessions, RoutingSettings settings, Supplier<@Nullable ConversationOwners> owners) {
        this.registry = registry;
        this.sessions = sessions;
        this.settings = settings;
        this.owners = owners;
    }

    /** The session's state now, after {@code turns} turns counted across owners. */
    Pending capture(ChatSession session, long turns) {
        Conversation conversation = session.conversation();
        return new Pending(session.info(), turns, ConversationSnapshot.write(conversation),
                json.writeValueAsBytes(conversation.transcript()));
    }

    /** Writes {@code state} under {@code lease}; true when the lease still held and the registry took it. */
    boolean publish(Lease lease, Pending state) {
        return Boolean.TRUE.equals(registry.publish(lease, publication(state, lease)).block(settings.redisTimeout()));
    }

    /** Queues {@code state} as the session's latest, in place of any state queued before. */
    void queue(String sessionId, Pending state) {
        pending.put(sessionId, state);
    }

    /** Queues {@code state} unless a state of the session waits already. */
    void queueIfAbsent(String sessionId, Pending state) {
        pending.putIfAbsent(sessionId, state);
    }

    /** Takes the session's waiting state out of the queue; null when none waits. */
    @Nullable Pending remove(String sessionId) {
        return pending.remove(sessionId);
    }

    int size() {
        return pending.size();
    }

    /** Writes each waiting state whose session has a lease here; those the registry took leave the queue. */
    void flush(Function<String, @Nullable Lease> leases) {
        for (Map.Entry<String, Pending> entry : List.copyOf(pending.entrySet())) {
            Lease lease = leases.apply(entry.getKey());
            if (lease != null && publish(lease, entry.getValue())) {
                pending.remove(entry.getKey(), entry.getValue());
            }
        }
    }

    /** Writes each waiting state whose session has a lease here, once, at shutdown: what is not taken is lost. */
    void writeAll(Function<String, @Nullable Lease> leases) {
        for (Map.Entry<String, Pending> entry : pending.entrySet()) {
            Lease lease = leases.apply(entry.getKey());
            if (lease != null) {
                publish(lease, entry.getValue());
            }
        }
    }

    /** Keeps the session until it leaves memory: a registry no other instance reads needs its state only then. */
    void holdUntilItLeaves(ChatSession session) {
        unsaved.put(session.id(), session);
    }

    /** The session held until it left memory, no longer held; null when it was not. */
    @Nullable ChatSession release(String sessionId) {
        return unsaved.remove(sessionId);
    }

    private Publication publication(Pending pending, Lease lease) {
        SessionInfo info = pending.info();
        Instance self = settings.self();
        ConversationOwners clients = owners.get();
        String client = clients == null ? null : clients.owner(info.id()).orElse(null);
        SessionRecord record = new SessionRecord(info.id(), self.id(), self.baseUrl(), sessions.model().fingerprint(), info.sinks(),
                info.window(), info.tokensSeen(), info.lastActive(), lease.fence(), client, pending.turns());
        return new Publication(record, pending.snapshot(), pending.transcript());
    }
}
