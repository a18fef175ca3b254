package dev.streamingllm.spring.routing;

import dev.streamingllm.session.Conversation;
import dev.streamingllm.session.ConversationDelta;
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
 *
 * <p>After a turn, the state is written as a delta on the state this instance wrote last, when that was written under
 * the same lease and so is known to be the registry's; otherwise it is written whole. Whole too, so that a restore never
 * applies many deltas or reads much more than one snapshot (compaction): every {@link RoutingSettings#wholeEvery()}th
 * state of a chain, and the state whose delta would take the deltas since the last whole one past
 * {@link RoutingSettings#maxDeltaShare()} of its size. States that wait are
 * always whole: the registry may hold anything by the time they are written.
 */
final class SnapshotQueue {

    /** A session's state after a turn, waiting to be written; {@code base} is what it holds, for deltas on it once written. */
    record Pending(SessionInfo info, long turns, byte[] snapshot, byte[] transcript, ConversationDelta.Base base) {
    }

    /**
     * The state this instance wrote last of a session, under {@code lease}, of {@code turns} turns, holding {@code base}:
     * a whole snapshot of {@code fullBytes} and {@code deltas} deltas of {@code deltaBytes} in all on it since.
     */
    private record Written(Lease lease, long turns, ConversationDelta.Base base, long fullBytes, long deltaBytes, int deltas) {
    }

    private final SessionRegistry registry;
    private final ChatSessions sessions;
    private final RoutingSettings settings;
    private final Supplier<@Nullable ConversationOwners> owners;
    private final JsonMapper json = JsonMapper.builder().build();
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    /** The state written last of each session, while deltas may follow it. */
    private final Map<String, Written> written = new ConcurrentHashMap<>();
    /** Sessions served here whose state waits until they leave memory (a registry that is not shared). */
    private final Map<String, ChatSession> unsaved = new ConcurrentHashMap<>();

    /** @param owners the HTTP API's conversation owners, written with each session's record; supplies null without the HTTP API */
    SnapshotQueue(SessionRegistry registry, ChatSessions sessions, RoutingSettings settings, Supplier<@Nullable ConversationOwners> owners) {
        this.registry = registry;
        this.sessions = sessions;
        this.settings = settings;
        this.owners = owners;
    }

    /** The session's whole state now, after {@code turns} turns counted across owners. */
    Pending capture(ChatSession session, long turns) {
        Conversation conversation = session.conversation();
        return new Pending(session.info(), turns, ConversationSnapshot.write(conversation),
                json.writeValueAsBytes(conversation.transcript()), ConversationDelta.base(conversation));
    }

    /**
     * Writes the session's state after a turn under {@code lease}: a delta on the state written last, or whole (see the
     * class comment). True when the lease still held and the registry took it.
     */
    boolean publishTurn(Lease lease, ChatSession session, long turns) {
        Written last = written.get(session.id());
        if (last != null && last.lease().equals(lease) && last.deltas() + 1 < settings.wholeEvery()) {
            Conversation conversation = session.conversation();
            byte[] delta = ConversationDelta.write(conversation, last.base()).orElse(null);
            if (delta != null && last.deltaBytes() + delta.length <= last.fullBytes() * settings.maxDeltaShare()) {
                DeltaPublication publication = new DeltaPublication(record(session.info(), turns, lease), last.turns(), delta,
                        json.writeValueAsBytes(ConversationDelta.added(conversation, last.base())));
                if (Boolean.TRUE.equals(registry.append(lease, publication).block(settings.redisTimeout()))) {
                    written.replace(session.id(), last, new Written(lease, turns, ConversationDelta.base(conversation), last.fullBytes(),
                            last.deltaBytes() + delta.length, last.deltas() + 1));
                    return true;
                }
            }
        }
        Pending whole = capture(session, turns);
        if (publish(lease, whole)) {
            remember(lease, whole);
            return true;
        }
        return false;
    }

    /** Writes {@code state} whole under {@code lease}; true when the lease still held and the registry took it. */
    boolean publish(Lease lease, Pending state) {
        return Boolean.TRUE.equals(registry.publish(lease, publication(state, lease)).block(settings.redisTimeout()));
    }

    /** {@code state}, written whole under {@code lease}, is the base of the deltas that follow. */
    private void remember(Lease lease, Pending state) {
        // a late retry the registry skipped is no base: keep the newer state written before it
        written.merge(state.info().id(), new Written(lease, state.turns(), state.base(), state.snapshot().length, 0, 0),
                (before, now) -> now.turns() >= before.turns() ? now : before);
    }

    /** Queues {@code state} as the session's latest, in place of any state queued before. */
    void queue(String sessionId, Pending state) {
        written.remove(sessionId);
        pending.put(sessionId, state);
    }

    /** Queues {@code state} unless a state of the session waits already. */
    void queueIfAbsent(String sessionId, Pending state) {
        written.remove(sessionId);
        pending.putIfAbsent(sessionId, state);
    }

    /** The session is no longer served here: nothing is written on what was written of it. */
    void forget(String sessionId) {
        written.remove(sessionId);
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
            String id = entry.getKey();
            Lease lease = leases.apply(id);
            if (lease != null && publish(lease, entry.getValue())) {
                pending.remove(id, entry.getValue());
                remember(lease, entry.getValue());
                // the session left meanwhile (its lease goes before it is forgotten): keep nothing of it
                if (!lease.equals(leases.apply(id))) {
                    forget(id);
                }
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
        return new Publication(record(pending.info(), pending.turns(), lease), pending.snapshot(), pending.transcript());
    }

    private SessionRecord record(SessionInfo info, long turns, Lease lease) {
        Instance self = settings.self();
        ConversationOwners clients = owners.get();
        String client = clients == null ? null : clients.owner(info.id()).orElse(null);
        return new SessionRecord(info.id(), self.id(), self.baseUrl(), sessions.model().fingerprint(), info.sinks(),
                info.window(), info.tokensSeen(), info.lastActive(), lease.fence(), client, turns);
    }
}
