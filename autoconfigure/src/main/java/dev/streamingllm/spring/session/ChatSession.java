package dev.streamingllm.spring.session;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.session.Session;
import java.time.Instant;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One conversation's session: a runtime {@link Conversation} over one sink cache, plus the bookkeeping
 * {@link ChatSessions} needs. Turns of one session run one at a time, in arrival order.
 */
public final class ChatSession {

    private final String id;
    private final boolean oneShot;
    private final Instant createdAt;
    private final Conversation conversation;
    private final ReentrantLock lock = new ReentrantLock(true);
    private volatile Instant lastActive;
    // guarded by the owning ChatSessions
    int users;
    boolean ended;

    ChatSession(String id, boolean oneShot, Conversation conversation, Instant now) {
        this.id = id;
        this.oneShot = oneShot;
        this.conversation = conversation;
        this.createdAt = now;
        this.lastActive = now;
    }

    public String id() {
        return id;
    }

    /** A session for one prompt without a conversation id, released after its turn. */
    public boolean oneShot() {
        return oneShot;
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

    void unlock() {
        lock.unlock();
    }

    void touch(Instant now) {
        lastActive = now;
    }

    @Override
    public String toString() {
        return "ChatSession[" + id + (oneShot ? ", one-shot" : "") + ", " + conversation.session() + "]";
    }
}
