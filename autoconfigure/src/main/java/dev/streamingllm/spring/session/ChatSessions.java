package dev.streamingllm.spring.session;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.session.Engine;
import dev.streamingllm.session.FinishReason;
import dev.streamingllm.session.Session;
import dev.streamingllm.template.ChatMessage;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;

/**
 * Conversation id → session. Each session keeps one sink cache and is fed only what is new each turn;
 * turns of one conversation are serialized, different conversations run concurrently. Idle sessions
 * go after a time-to-live, and the least recently used idle one makes room when the maximum count is reached.
 * Every session's cache grows to the same bytes, so the memory budget is {@code maxSessions × bytesPerSession}.
 *
 * <p>A turn without a conversation id continues the kept session whose history it extends furthest, begun by the same
 * client, else begins one ({@link PrefixIndex}: a busy session is not waited for, a diverged one is not copied). These
 * anonymous sessions count against the maximum and the time-to-live like named ones, but are never found by id nor
 * reported to listeners, so they stay on this instance. When every session is running a turn, such a turn runs on a
 * one-shot session rather than fail. Without {@link Settings#reusePrefix()} every turn without an id is one-shot.
 */
public final class ChatSessions implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ChatSessions.class);

    /**
     * @param cache           geometry of a session unless its first turn asks for another
     * @param pinSystemPrompt keep a session's system prompt next to the sinks unless its first turn says otherwise
     * @param maxSessions     sessions held at once, named and anonymous
     * @param ttl             how long a session may stay idle
     * @param reusePrefix     keep the sessions of turns without a conversation id, for later histories to continue;
     *                        false releases them after their turn
     */
    public record Settings(CacheConfig cache, boolean pinSystemPrompt, int maxSessions, Duration ttl, boolean reusePrefix) {

        public Settings {
            if (maxSessions < 1) {
                throw new IllegalArgumentException("maxSessions must be >= 1, was " + maxSessions);
            }
            if (ttl == null || ttl.isNegative() || ttl.isZero()) {
                throw new IllegalArgumentException("the session time-to-live must be positive, was " + ttl);
            }
        }

        /** Settings that keep the sessions of turns without a conversation id. */
        public Settings(CacheConfig cache, boolean pinSystemPrompt, int maxSessions, Duration ttl) {
            this(cache, pinSystemPrompt, maxSessions, ttl, true);
        }
    }

    /** Totals over every turn since start-up, sessions without an id included (for metrics). */
    public record Totals(long turns, long prefilled, long generated, long evicted, long seen) {
    }

    private final Model model;
    private final Engine engine;
    private final Settings settings;
    private final Clock clock;
    private final Supplier<? extends @Nullable SessionLoader> loader;
    private final Supplier<? extends @Nullable TurnStore> store;
    private final List<SessionListener> listeners = new CopyOnWriteArrayList<>();
    private final Map<String, ChatSession> sessions = new LinkedHashMap<>();
    private final PrefixIndex anonymous = new PrefixIndex();
    private final AtomicInteger oneShots = new AtomicInteger();
    private final AtomicLong turns = new AtomicLong();
    private final AtomicLong prefilled = new AtomicLong();
    private final AtomicLong generated = new AtomicLong();
    private final AtomicLong evicted = new AtomicLong();
    private final AtomicLong seen = new AtomicLong();
    private final ExecutorService turnThreads = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("streamingllm-turn-", 0).factory());
    private final ScheduledExecutorService sweeper;

    public ChatSessions(Model model, Settings settings, List<SessionListener> listeners) {
        this(model, settings, listeners, () -> null, Clock.systemUTC());
    }

    public ChatSessions(Model model, Settings settings, List<SessionListener> listeners, Clock clock) {
        this(model, settings, listeners, () -> null, clock);
    }

    /**
     * @param loader consulted for a conversation id this instance does not hold; supplies null when there is none.
     *               A supplier, so that a loader that itself needs these sessions (routing) can be found late.
     */
    public ChatSessions(Model model, Settings settings, List<SessionListener> listeners,
            Supplier<? extends @Nullable SessionLoader> loader, Clock clock) {
        this(model, settings, listeners, loader, () -> null, clock);
    }

    /**
     * @param loader consulted for a conversation id this instance does not hold; supplies null when there is none
     * @param store  stores each named session's state after a turn, before the turn returns; supplies null when there
     *               is none. Suppliers, so that routing, which needs these sessions itself, can be found late.
     */
    public ChatSessions(Model model, Settings settings, List<SessionListener> listeners,
            Supplier<? extends @Nullable SessionLoader> loader, Supplier<? extends @Nullable TurnStore> store, Clock clock) {
        this.model = model;
        this.engine = new Engine(model);
        this.settings = settings;
        this.clock = clock;
        this.loader = loader;
        this.store = store;
        this.listeners.addAll(listeners);
        this.sweeper = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("streamingllm-session-sweeper").daemon().factory());
        long period = Math.clamp(settings.ttl().toMillis() / 4, 1_000, 60_000);
        sweeper.scheduleWithFixedDelay(this::expireIdle, period, period, TimeUnit.MILLISECONDS);
    }

    public Model model() {
        return model;
    }

    /** The model with the scheduler that batches these sessions' generations; closed with the sessions. */
    public Engine engine() {
        return engine;
    }

    public Settings settings() {
        return settings;
    }

    /** Bytes of keys and values one session with the default geometry holds. */
    public long bytesPerSession() {
        return bytes(settings.cache());
    }

    /** Bytes of keys and values a cache of {@code cache}'s geometry holds for this model (as {@code SinkCache.bytes()}). */
    public long bytes(CacheConfig cache) {
        return cache.bytes(model.config().layers(), model.config().kvDim());
    }

    public void addListener(SessionListener listener) {
        listeners.add(listener);
    }

    public Optional<ChatSession> find(String id) {
        synchronized (this) {
            return Optional.ofNullable(sessions.get(id));
        }
    }

    public Optional<SessionInfo> info(String id) {
        return find(id).map(ChatSession::info);
    }

    /** Named sessions, least recently created first. */
    public List<SessionInfo> list() {
        List<ChatSession> all;
        synchronized (this) {
            all = new ArrayList<>(sessions.values());
        }
        return all.stream().map(ChatSession::info).toList();
    }

    /** Sessions held: named and anonymous. */
    public synchronized int count() {
        return sessions.size() + anonymous.size();
    }

    /** Sessions holding a cache now: those held plus one-shot turns in flight. */
    public int active() {
        return count() + oneShots.get();
    }

    /** Bytes of keys and values all sessions hold once their caches are full: the heap they are counted against. */
    public long cacheBytes() {
        List<ChatSession> all;
        synchronized (this) {
            all = new ArrayList<>(sessions.values());
            all.addAll(anonymous.sessions());
        }
        return all.stream().mapToLong(s -> s.conversation().session().cache().bytes()).sum()
                + (long) oneShots.get() * bytesPerSession();
    }

    public Totals totals() {
        return new Totals(turns.get(), prefilled.get(), generated.get(), evicted.get(), seen.get());
    }

    /** Ends the session; a turn running on it stops at its next step, as if cancelled. False when there was none. */
    public boolean end(String id) {
        ChatSession removed;
        synchronized (this) {
            removed = sessions.remove(id);
            if (removed != null) {
                removed.ended = true;
            }
        }
        if (removed != null) {
            ended(removed, SessionListener.EndReason.ENDED);
        }
        return removed != null;
    }

    /**
     * The session of {@code id}, registered first when there is none: with the conversation the loader has for it
     * (a takeover), else a new one. Fails as the loader does (e.g. another instance serves the conversation).
     */
    public ChatSession open(String id) {
        ChatSession session = hold(id, settings.cache(), settings.pinSystemPrompt());
        release(session);
        return session;
    }

    /** Runs {@code action} on the session of {@code id} while holding it: no turn runs meanwhile. */
    public <T> Optional<T> withSession(String id, Function<ChatSession, T> action) {
        ChatSession session = use(id);
        if (session == null) {
            return Optional.empty();
        }
        session.lock();
        return apply(session, action);
    }

    /**
     * Runs {@code action} on the session of {@code id} unless a turn holds it, without waiting: false when one does
     * (nothing ran), true otherwise, also when there is no such session. For threads that must not wait out a turn,
     * such as the routing heartbeat.
     */
    public boolean ifIdle(String id, Consumer<ChatSession> action) {
        ChatSession session = use(id);
        if (session == null) {
            return true;
        }
        if (!session.tryLock()) {
            release(session);
            return false;
        }
        apply(session, held -> {
            action.accept(held);
            return null;
        });
        return true;
    }

    /** The session of {@code id}, counted as in use until {@link #release}; null when there is none. */
    private synchronized @Nullable ChatSession use(String id) {
        ChatSession session = sessions.get(id);
        if (session != null) {
            session.users++;
        }
        return session;
    }

    /** Runs {@code action} on a session the caller has locked, then unlocks and releases it. */
    private <T> Optional<T> apply(ChatSession session, Function<ChatSession, T> action) {
        try {
            return session.ended ? Optional.empty() : Optional.ofNullable(action.apply(session));
        } finally {
            session.unlock();
            release(session);
        }
    }

    /**
     * Runs one turn on the calling thread, after any turn of the same conversation that came first.
     * {@code onText} receives the reply as it is decided; {@code cancelled} is polled between steps, as is the end of the
     * session ({@link #end}). A turn cancelled while it waited for its session does nothing: the conversation is as it
     * was. One cancelled while it runs keeps what it fed and generated (the runtime's conversation then holds the
     * partial reply, see {@link Conversation}).
     */
    public TurnResult turn(TurnRequest request, Consumer<String> onText, BooleanSupplier cancelled) {
        HistoryDigest[] prefixes = request.conversationId() == null && settings.reusePrefix()
                ? HistoryDigest.prefixes(request.client() == null ? "" : request.client(), request.messages())
                : null;
        ChatSession session = acquire(request, prefixes);
        TurnResult result = null;
        try {
            if (cancelled.getAsBoolean()) {
                // nothing fed: an anonymous session is released without an index (it is dropped), a named one is as it was
                return new TurnResult(session.id(), "", 0, 0, session.conversation().session().tokensSeen(),
                        FinishReason.CANCELLED, false, session.oneShot(), session.info(), true);
            }
            result = run(session, request, onText, () -> session.ended || cancelled.getAsBoolean());
            return result;
        } finally {
            session.unlock();
            // what the session has now seen: the request and the reply, as the runtime's conversation remembers them
            release(session, result == null || prefixes == null ? null
                    : prefixes[prefixes.length - 1].then(ChatMessage.assistant(result.text())));
        }
    }

    /**
     * Runs one turn on its own thread, streaming its text and then its result. Cancelling the subscription
     * stops the turn at its next step; the session stays usable. A {@link TurnWork} in the subscriber's context
     * hears when the turn's thread is done, which after a cancel is later than the cancel.
     */
    public Flux<TurnEvent> stream(TurnRequest request) {
        return Flux.create(sink -> {
            AtomicBoolean cancelled = new AtomicBoolean();
            sink.onDispose(() -> cancelled.set(true));
            TurnWork work = sink.contextView().getOrDefault(TurnWork.KEY, new TurnWork(() -> { }));
            work.started();
            try {
                turnThreads.execute(() -> {
                    try {
                        TurnResult result = turn(request, text -> sink.next(new TurnEvent.Text(text)), cancelled::get);
                        sink.next(new TurnEvent.Done(result));
                        sink.complete();
                    } catch (VirtualMachineError e) {
                        // Reactor rethrows these from onError instead of passing them on, which left the request
                        // unanswered: the subscriber hears an ordinary failure instead
                        sink.error(new IllegalStateException("the turn failed: " + e, e));
                    } catch (Throwable e) {
                        sink.error(e);
                    } finally {
                        work.finished();
                    }
                });
            } catch (RejectedExecutionException e) {
                work.finished();
                sink.error(e);
            }
        }, FluxSink.OverflowStrategy.BUFFER);
    }

    private TurnResult run(ChatSession session, TurnRequest request, Consumer<String> onText, BooleanSupplier cancelled) {
        Session runtime = session.conversation().session();
        long evictedBefore = runtime.cache().evicted();
        long seenBefore = runtime.tokensSeen();
        Conversation.Turn turn = session.conversation().reply(request.messages(), request.sampling(), onText, cancelled);
        // a reset replaces the runtime session: count from zero then
        Session after = session.conversation().session();
        long evictedNow = after.cache().evicted() - (after == runtime ? evictedBefore : 0);
        long seenNow = after.tokensSeen() - (after == runtime ? seenBefore : 0);
        session.touch(clock.instant());
        turns.incrementAndGet();
        prefilled.addAndGet(turn.promptTokens());
        generated.addAndGet(turn.completionTokens());
        evicted.addAndGet(evictedNow);
        seen.addAndGet(seenNow);
        long cached = turn.reset() ? 0 : seenBefore;
        // stored before the turn returns: its reply is acknowledged only once its state survives this instance
        boolean durable = session.anonymous() || stored(session);
        TurnResult result = new TurnResult(session.id(), turn.text(), turn.promptTokens(), turn.completionTokens(), cached,
                turn.finishReason(), turn.reset(), session.oneShot(), session.info(), durable);
        if (!session.anonymous()) {
            listeners.forEach(l -> l.turnCompleted(session, result));
        }
        return result;
    }

    private boolean stored(ChatSession session) {
        TurnStore turnStore = store.get();
        if (turnStore == null) {
            return true;
        }
        try {
            return turnStore.store(session);
        } catch (RuntimeException e) {
            log.warn("turn store {} failed on session {}; the turn is not durable", turnStore, session.id(), e);
            return false;
        }
    }

    /**
     * The session for the request, held (locked) by the caller.
     *
     * @param prefixes the digests of the request's history when it has no id and sessions are kept for it, else null
     */
    private ChatSession acquire(TurnRequest request, HistoryDigest @Nullable [] prefixes) {
        CacheConfig cache = request.cache() != null ? request.cache() : settings.cache();
        boolean pin = request.pinSystemPrompt() != null ? request.pinSystemPrompt() : settings.pinSystemPrompt();
        if (request.conversationId() == null) {
            ChatSession session = prefixes == null ? null : holdAnonymous(prefixes, cache, pin);
            if (session == null) {
                List<SessionInfo> evicted = new ArrayList<>();
                try {
                    session = new ChatSession("one-shot-" + UUID.randomUUID(), ChatSession.Kind.ONE_SHOT,
                            newConversation(cache, pin, evicted), clock.instant());
                } finally {
                    evicted.forEach(info -> ended(info, SessionListener.EndReason.EVICTED));
                }
                oneShots.incrementAndGet();
                session.users++;
            }
            session.lock();
            return session;
        }
        while (true) {
            ChatSession session = hold(request.conversationId(), cache, pin);
            session.lock();
            if (!session.ended) {
                return session;
            }
            // ended while this turn waited: continue on a fresh session
            session.unlock();
            release(session);
        }
    }

    /** Heap kept beside the sessions' caches for everything else: Spring, the model's tables, the decoder's arrays. */
    static final long HEAP_RESERVE = 128L << 20;

    /**
     * A new conversation. Its cache grows with it ({@code SinkCache.stride}), so the heap's room for it is counted
     * rather than tried: every session held may yet fill its cache, and while their full caches and this one would not
     * fit the heap less {@link #HEAP_RESERVE}, the least recently used idle session is evicted, as at the session
     * maximum. With none left, or for a cache larger than the whole heap, the request is refused as a full table is,
     * naming the sizes, and the sessions held go on. (An {@link OutOfMemoryError} left to travel ended the turn's thread
     * with its request unanswered; one while the cache grew would fail every turn of that step.) The named sessions
     * evicted go to {@code evicted}, to be announced outside the monitor.
     */
    private Conversation newConversation(CacheConfig cache, boolean pin, List<SessionInfo> evicted) {
        long bytes = bytes(cache);
        long heap = Runtime.getRuntime().maxMemory();
        if (bytes > heap) {
            // no eviction can make room for it
            throw new SessionLimitException("a session's cache of " + bytes / (1024 * 1024) + " MiB is larger than the JVM's whole heap of "
                    + heap / (1024 * 1024) + " MiB; raise -Xmx or lower the cache's window");
        }
        synchronized (this) {
            while (cacheBytes() + bytes > heap - HEAP_RESERVE) {
                makeHeapRoom(bytes, evicted);
            }
        }
        while (true) {
            try {
                return new Conversation(engine, cache, pin);
            } catch (OutOfMemoryError e) {
                synchronized (this) {
                    makeHeapRoom(bytes, evicted);
                }
            }
        }
    }

    private void makeHeapRoom(long bytes, List<SessionInfo> evicted) {
        if (!evictIdle(evicted)) {
            throw new SessionLimitException("no heap for another session's cache of " + bytes / (1024 * 1024) + " MiB beside the "
                    + active() + " held, none of them idle; raise the JVM's -Xmx, or lower"
                    + " streamingllm.sessions.max or the cache's window");
        }
    }

    /**
     * The idle anonymous session whose history {@code prefixes} extends furthest, else a new one, counted as in use
     * (not locked); null when every session is running a turn.
     */
    private @Nullable ChatSession holdAnonymous(HistoryDigest[] prefixes, CacheConfig cache, boolean pin) {
        ChatSession session;
        List<SessionInfo> evictedSessions = new ArrayList<>();
        try {
            synchronized (this) {
                session = anonymous.take(prefixes);
                if (session == null && makeRoom(evictedSessions)) {
                    session = new ChatSession("anonymous-" + UUID.randomUUID(), ChatSession.Kind.ANONYMOUS,
                            newConversation(cache, pin, evictedSessions), clock.instant());
                    anonymous.add(session);
                }
                if (session != null) {
                    session.users++;
                }
            }
        } finally {
            // evicted even when the new session's cache did not fit
            evictedSessions.forEach(info -> ended(info, SessionListener.EndReason.EVICTED));
        }
        return session;
    }

    /**
     * The session of {@code id}, counted as in use (not locked). An unknown id is loaded outside the monitor, so
     * other conversations go on meanwhile; when two turns load the same id at once, the first to register wins.
     */
    private ChatSession hold(String id, CacheConfig cache, boolean pin) {
        boolean looked = false;
        Optional<Conversation> loaded = Optional.empty();
        while (true) {
            ChatSession session;
            ChatSession created = null;
            List<SessionInfo> evictedSessions = new ArrayList<>();
            try {
                synchronized (this) {
                    session = sessions.get(id);
                    if (session == null && looked) {
                        if (!makeRoom(evictedSessions)) {
                            throw new SessionLimitException("all " + settings.maxSessions() + " sessions are running turns;"
                                    + " no room for a new conversation (raise streamingllm.sessions.max)");
                        }
                        session = new ChatSession(id, ChatSession.Kind.NAMED, loaded.orElseGet(() -> newConversation(cache, pin, evictedSessions)),
                                clock.instant());
                        sessions.put(id, session);
                        created = session;
                    }
                    if (session != null) {
                        session.users++;
                    }
                }
            } finally {
                // evicted even when the new session's cache did not fit
                evictedSessions.forEach(info -> ended(info, SessionListener.EndReason.EVICTED));
            }
            if (session == null) {
                SessionLoader sessionLoader = loader.get();
                loaded = sessionLoader != null ? sessionLoader.load(id) : Optional.empty();
                looked = true;
                continue;
            }
            if (created != null) {
                ChatSession announced = created;
                listeners.forEach(l -> l.sessionCreated(announced));
            }
            return session;
        }
    }

    private void release(ChatSession session) {
        release(session, null);
    }

    /**
     * Ends a hold on {@code session}. An anonymous session goes back on the index under {@code seen}, the history it
     * has now seen; without one (its turn failed, so what it holds is unknown) it is dropped.
     */
    private void release(ChatSession session, @Nullable HistoryDigest seen) {
        if (session.oneShot()) {
            oneShots.decrementAndGet();
            return;
        }
        synchronized (this) {
            session.users--;
            if (session.anonymous() && !session.ended) {
                if (seen != null) {
                    anonymous.index(session, seen);
                } else {
                    anonymous.remove(session);
                    session.ended = true;
                }
            }
        }
    }

    /**
     * Under the monitor: removes least recently used idle sessions, named or anonymous, while the table is full. Adds
     * the named ones removed to {@code removed}, for the caller to report once it has left the monitor. False when
     * every session is running a turn.
     */
    private boolean makeRoom(List<SessionInfo> removed) {
        while (sessions.size() + anonymous.size() >= settings.maxSessions()) {
            if (!evictIdle(removed)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Ends the least recently used session that no turn holds, named or anonymous; false when every session is held.
     * A named one's last state goes to {@code removed} (kept as info, so that its cache is garbage at once).
     */
    private boolean evictIdle(List<SessionInfo> removed) {
        ChatSession lru = Stream.concat(sessions.values().stream(), anonymous.sessions().stream()).filter(s -> s.users == 0)
                .min(Comparator.comparing(ChatSession::lastActive)).orElse(null);
        if (lru == null) {
            return false;
        }
        lru.ended = true;
        if (lru.anonymous()) {
            anonymous.remove(lru);
        } else {
            sessions.remove(lru.id());
            removed.add(lru.info());
        }
        return true;
    }

    /** Ends sessions idle for longer than the time-to-live. */
    public void expireIdle() {
        Instant cutoff = clock.instant().minus(settings.ttl());
        List<ChatSession> expired = new ArrayList<>();
        synchronized (this) {
            sessions.values().removeIf(s -> {
                boolean old = s.users == 0 && s.lastActive().isBefore(cutoff);
                if (old) {
                    s.ended = true;
                    expired.add(s);
                }
                return old;
            });
            for (ChatSession s : anonymous.sessions()) {
                if (s.users == 0 && s.lastActive().isBefore(cutoff)) {
                    s.ended = true;
                    anonymous.remove(s);
                }
            }
        }
        expired.forEach(s -> ended(s, SessionListener.EndReason.EXPIRED));
    }

    private void ended(ChatSession session, SessionListener.EndReason reason) {
        ended(session.info(), reason);
    }

    private void ended(SessionInfo last, SessionListener.EndReason reason) {
        for (SessionListener listener : listeners) {
            try {
                listener.sessionEnded(last, reason);
            } catch (RuntimeException e) {
                log.warn("session listener {} failed on the end of {}", listener, last.id(), e);
            }
        }
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
        turnThreads.shutdown();
        List<ChatSession> all;
        synchronized (this) {
            all = new ArrayList<>(sessions.values());
            // turns still running stop at their next step
            all.forEach(s -> s.ended = true);
            sessions.clear();
            for (ChatSession s : anonymous.sessions()) {
                s.ended = true;
                anonymous.remove(s);
            }
        }
        all.forEach(s -> ended(s, SessionListener.EndReason.SHUTDOWN));
        engine.close();
    }

    @Override
    public String toString() {
        return "ChatSessions[" + count() + "/" + settings.maxSessions() + " sessions of " + settings.cache() + "]";
    }
}
