package dev.streamingllm.spring.session;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.session.Session;
import java.time.Instant;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * One conversation's session: a runtime {@link Conversation} over one sink cache, plus the bookkeeping
 * {@link ChatSessions} needs. Turns of one session run one at a time, in arrival order.
 */
public final class ChatSession {

    /** How a session is found again. */
    enum Kind {
        /** By its conversation id. */
        NAMED,
        /** Begun without an id and kept: found by its history ({@link PrefixIndex}), never by id. */
        ANONYMOUS,
        /** Begun without an id and released after its turn. */
        ONE_SHOT
    }

    private final String id;
    private final Kind kind;
    private final Instant createdAt;
    private final Conversation conversation;
    private final ReentrantLock lock = new ReentrantLock(true);
    private volatile Instant lastActive;
    // guarded by the owning ChatSessions
    int users;
    /** Written under the owning ChatSessions' lock; read without it by the turn running on the session, to stop. */
    volatile boolean ended;
    /** The history an idle anonymous session is indexed under; null while a turn runs on it. */
    @Nullable HistoryDigest history;

    ChatSession(String id, Kind kind, Conversation conversation, Instant now) {
        this.id = id;
        this.kind = kind;
        this.conversation = conversation;
        this.createdAt = now;
        this.lastActive = now;
    }

    public String id() {
        return id;
    }

    /** A session for one prompt without a conversation id, released after its turn. */
    public boolean oneShot() {
        return kind == Kind.ONE_SHOT;
    }

    /**
     * Begun without a conversation id: it cannot be found by its id, and {@link SessionListener}s do not hear of it,
     * so session routing never publishes it (it is local to this instance).
     */
    public boolean anonymous() {
        return kind != Kind.NAMED;
    }

    public Instant createdAt() {
        return createdAt;
    }

    public Instant lastActive() {
        return lastActive;
    }

    /** A turn is running (or waiting) on this session. */
    public boolean busy() {
        return lock.isLocked() || lock.hasQueuedThreads();
    }

    /**
     * The runtime conversation: its session, cache and matching state, e.g. to export them. Only touch it
     * from {@link SessionListener#turnCompleted} or {@link ChatSessions#withSession}, which hold the session.
     */
    public Conversation conversation() {
        return conversation;
    }

    public SessionInfo info() {
        Session session = conversation.session();
        SinkCache cache = session.cache();
        CacheConfig config = cache.config();
        return new SessionInfo(id, config.sinks(), config.window(), config.capacity(), cache.tokensSeen(),
                cache.evicted(), session.prefilled(), cache.bytes(), createdAt, lastActive);
    }

    void lock() {
        lock.lock();
    }

    /** Holds the session if no turn does; false, at once, when one does. */
    boolean tryLock() {
        return lock.tryLock();
    }

    void unlock() {
        lock.unlock();
    }

    void touch(Instant now) {
        lastActive = now;
    }

    @Override
    public String toString() {
        return "ChatSession[" + id + (kind == Kind.NAMED ? "" : ", " + kind.name().toLowerCase().replace('_', '-')) + ", " + conversation.session() + "]";
    }
}
