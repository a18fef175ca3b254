package dev.streamingllm.spring.routing;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.session.ConversationSnapshot;
import dev.streamingllm.session.Engine;
import dev.streamingllm.spring.api.ConversationOwners;
import dev.streamingllm.spring.session.ChatSession;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.SessionInfo;
import dev.streamingllm.spring.session.SessionListener;
import dev.streamingllm.spring.session.SessionUnavailableException;
import dev.streamingllm.spring.session.SessionLoader;
import dev.streamingllm.spring.session.TurnStore;
import dev.streamingllm.template.ChatMessage;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.json.JsonMapper;

/**
 * This instance's side of session routing: holds the leases of the sessions it serves, renews them with its
 * heartbeat, stores each session's snapshot after every turn before the turn's reply completes ({@link TurnStore}),
 * decides where a request goes, and takes sessions over from owners whose leases expired. With a registry no other
 * instance reads ({@link SessionRegistry#shared()}), a session's snapshot is written only when it leaves memory
 * (evicted or expired), for its conversation to resume from: a turn costs no serialization there.
 *
 * <p>Each session's turns are counted across owners: the stored state carries its count, and the lease's renewal
 * records the count acknowledged to clients, so that a takeover never calls a state older than an acknowledged turn
 * exact.
 *
 * <p>When the registry is unreachable, sessions served here keep working: their turns are answered as not durable,
 * their snapshots wait in memory (the latest per session) and health reports DOWN with the reason. When it answers
 * again, leases are re-acquired and every local session is written anew, so a registry that restarted empty is whole
 * again. Requests for sessions not served here are refused meanwhile (503): without the registry nobody can tell
 * whether another instance owns them, and serving them here could fork a conversation. A registry that lost its data
 * begins a new {@link Epoch}: noticed within a heartbeat, it has every local session re-asserted the same way, and
 * until its grace period ends no conversation the registry does not know is taken here.
 */
public final class SessionOwnership implements SessionLoader, TurnStore, SmartLifecycle, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SessionOwnership.class);
    private static final TypeReference<List<ChatMessage>> MESSAGES = new TypeReference<>() { };

    /** A session's state after a turn, waiting to be written. */
    private record Pending(SessionInfo info, long turns, byte[] snapshot, byte[] transcript) {
    }

    /** The registry's reachability, for health. */
    public record Status(boolean up, String reason, Instant since, int localSessions, int pendingSnapshots, String registry) {
    }

    private final SessionRegistry registry;
    private final ChatSessions sessions;
    private final RoutingSettings settings;
    private final Supplier<@Nullable ConversationOwners> owners;
    private final JsonMapper json = JsonMapper.builder().build();
    /** Sessions served here, with their leases; a session without an entry has no lease yet. */
    private final Map<String, Lease> leases = new ConcurrentHashMap<>();
    private final Set<String> local = ConcurrentHashMap.newKeySet();
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    /** Turns of each session served here, counted across owners: the latest was acknowledged to its client. */
    private final Map<String, Long> turns = new ConcurrentHashMap<>();
    /** Sessions served here whose snapshot waits until they leave memory (a registry that is not shared). */
    private final Map<String, ChatSession> unsaved = new ConcurrentHashMap<>();
    private final ScheduledExecutorService ticker;
    /** The registry's epoch as last seen; null until first asked. */
    private final AtomicReference<@Nullable Epoch> epoch = new AtomicReference<>();
    /** A loss of the registry's data was noticed outside the heartbeat: its next tick re-asserts every local session. */
    private volatile boolean reassert;
    private volatile String downReason;
    private volatile Instant downSince;
    private volatile boolean closed;

    /**
     * @param owners the HTTP API's conversation owners, stored with each session's record and restored on takeover;
     *             supplies null without the HTTP API
     */
    public SessionOwnership(SessionRegistry registry, ChatSessions sessions, RoutingSettings settings,
            Supplier<@Nullable ConversationOwners> owners) {
        this.registry = registry;
        this.sessions = sessions;
        this.settings = settings;
        this.owners = owners;
        sessions.addListener(new Listener());
        this.ticker = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("streamingllm-routing").daemon().factory());
        ticker.scheduleWithFixedDelay(this::tick, 0, settings.heartbeat().toMillis(), TimeUnit.MILLISECONDS);
    }

    public Instance self() {
        return new Instance(settings.instanceId(), settings.baseUrl().get());
    }

    /**
     * The instance that serves {@code sessionId}, as {@code instance-id@base-url}, for the session API's owner.
     * The holder of its lease: the session API answers only where the session is served, and routing sends
     * every request naming a session to its lease holder first, so this is the lease holder's own answer.
     */
    public String owner(String sessionId) {
        Instance self = self();
        return self.id() + "@" + self.baseUrl();
    }

    public RoutingSettings settings() {
        return settings;
    }

    public SessionRegistry registry() {
        return registry;
    }

    public Status status() {
        String reason = downReason;
        return new Status(reason == null, reason, downSince, local.size(), pending.size(), registry.kind());
    }

    /** The lease this instance holds for the session, if any. */
    public Optional<Lease> lease(String sessionId) {
        return Optional.ofNullable(leases.get(sessionId));
    }

    /**
     * Where a request for {@code sessionId} goes. A session nobody else holds is served here. One with stored state
     * is taken over now, by {@link ChatSessions#open} and so by {@link #load}, the one takeover path: the request then
     * finds the conversation and its binding to an API key. A new conversation is taken by its first turn, through
     * the same path, once the request has been validated and admitted: a refused request, or a look at an unknown
     * conversation, takes no lease and creates no session. Should another instance take a new conversation first,
     * the turn fails naming it, and a retry is routed there.
     */
    public Mono<Route> route(String sessionId) {
        if (local.contains(sessionId)) {
            return Mono.just(new Route.Local());
        }
        return registry.lease(sessionId).timeout(settings.redisTimeout())
                .map(Optional::of).defaultIfEmpty(Optional.empty())
                .flatMap(lease -> lease.isPresent() && !lease.get().instanceId().equals(settings.instanceId())
                        ? remote(sessionId, lease.get().instanceId())
                        : takeOverIfStored(sessionId))
                .onErrorResume(e -> {
                    down(e);
                    return Mono.just(unreachable(e));
                });
    }

    private Route.Unavailable unreachable(Throwable e) {
        return new Route.Unavailable("the session registry (" + registry.kind() + ") is unreachable: "
                + message(e) + "; only sessions served by this instance can continue until it is back");
    }

    private Mono<Route> remote(String sessionId, String ownerId) {
        return registry.instance(ownerId).timeout(settings.redisTimeout())
                .<Route>map(Route.Remote::new)
                .defaultIfEmpty(new Route.Unavailable(silent(sessionId, ownerId)));
    }

    private String silent(String sessionId, String ownerId) {
        return "instance " + ownerId + " owns session " + sessionId
                + " but has stopped sending heartbeats; the session is taken over when its lease expires (at most "
                + settings.lease().toSeconds() + " s)";
    }

    private Mono<Route> takeOverIfStored(String sessionId) {
        return registry.find(sessionId).timeout(settings.redisTimeout()).hasElement()
                .flatMap(stored -> stored ? takeOver(sessionId) : Mono.just(new Route.Local()));
    }

    /** Loads the session into {@link ChatSessions} through {@link #load} (blocking work, off the event loop). */
    private Mono<Route> takeOver(String sessionId) {
        return Mono.fromCallable(() -> {
                    sessions.open(sessionId);
                    return (Route) new Route.Local();
                })
                .subscribeOn(Schedulers.boundedElastic())
                .onErrorResume(SessionUnavailableException.class, e -> e.ownerId() == null ? Mono.just(new Route.Unavailable(e.getMessage()))
                        // another instance won the race: go where it is
                        : remote(sessionId, e.ownerId()));
    }

    /**
     * Takes the conversation over for a turn that reached this instance: with the lease this instance holds, else a
     * newly acquired one; then the stored state, exact from the snapshot, else approximate from the transcript, and
     * the binding to the API key that created it. Empty when nothing is stored (a new conversation).
     *
     * @throws SessionUnavailableException another live instance holds the conversation (naming it), or the registry
     *                                     is unreachable
     */
    @Override
    public Optional<Conversation> load(String sessionId) {
        Publication publication;
        long acknowledged;
        try {
            Lease lease = leases.get(sessionId);
            Epoch current = null;
            if (lease == null) {
                current = registry.epoch(settings.lease()).block(settings.redisTimeout());
                if (notice(current)) {
                    requestTick();
                }
                // after a loss, a conversation nobody holds may be another live instance's that has not re-asserted it yet
                if (!current.inGrace(Instant.now())) {
                    lease = registry.acquire(sessionId, settings.instanceId(), settings.lease()).block(settings.redisTimeout());
                }
            }
            if (lease == null) {
                Lease other = registry.lease(sessionId).block(settings.redisTimeout());
                if (other == null && current != null && current.inGrace(Instant.now())) {
                    throw new SessionUnavailableException("the session registry (" + registry.kind() + ") lost its data (epoch "
                            + current.number() + "); conversations it does not know, like " + sessionId + ", are not taken until "
                            + current.graceUntil() + ", so that the instances serving them can re-assert them; retry then", null, null);
                }
                if (other == null) {
                    throw new SessionUnavailableException("session " + sessionId + " changed hands while it was taken over; retry",
                            null, null);
                }
                if (!other.instanceId().equals(settings.instanceId())) {
                    boolean live = registry.instance(other.instanceId()).blockOptional(settings.redisTimeout()).isPresent();
                    throw new SessionUnavailableException(live
                            ? "session " + sessionId + " is served by instance " + other.instanceId() + " (lease fence " + other.fence()
                                    + "); send its turns there"
                            : silent(sessionId, other.instanceId()), other.instanceId(), null);
                }
                lease = other;
            }
            publication = registry.find(sessionId).block(settings.redisTimeout());
            acknowledged = registry.acknowledged(sessionId).blockOptional(settings.redisTimeout()).orElse(0L);
            leases.put(sessionId, lease);
            local.add(sessionId);
            turns.put(sessionId, Math.max(acknowledged, publication == null ? 0 : publication.record().turns()));
        } catch (SessionUnavailableException e) {
            throw e;
        } catch (RuntimeException e) {
            down(e);
            throw new SessionUnavailableException(unreachable(e).reason(), null, e);
        }
        if (publication == null) {
            if (acknowledged > 0) {
                log.warn("Session {}: {} turns were acknowledged but no state is stored; the conversation starts over here",
                        sessionId, acknowledged);
            }
            return Optional.empty();
        }
        if (publication.record().client() != null) {
            bind(sessionId, publication.record().client());
        }
        return conversation(sessionId, publication, acknowledged);
    }

    /**
     * The stored conversation: exact from the snapshot, else approximate from the transcript, else none. A state that
     * holds fewer turns than were acknowledged is used, being all there is, but called stale, never exact.
     */
    private Optional<Conversation> conversation(String sessionId, Publication publication, long acknowledged) {
        Engine engine = sessions.engine();
        Model model = engine.model();
        long stored = publication.record().turns();
        String missing = stored < acknowledged
                ? "stale: it holds " + stored + " turns of " + acknowledged + " acknowledged, the later ones are lost"
                : null;
        try {
            Conversation restored = ConversationSnapshot.read(publication.snapshot(), engine, model.chatTemplate());
            if (missing != null) {
                log.warn("Session {}: restored from its snapshot ({} bytes, {} tokens seen), {}", sessionId,
                        publication.snapshot().length, restored.session().tokensSeen(), missing);
            } else {
                log.info("Session {}: restored from its snapshot ({} bytes, {} tokens seen, {} turns), exact", sessionId,
                        publication.snapshot().length, restored.session().tokensSeen(), stored);
            }
            return Optional.of(restored);
        } catch (IllegalArgumentException e) {
            log.warn("Session {}: snapshot unusable ({}); replaying its transcript instead, approximate", sessionId, e.getMessage());
        }
        try {
            List<ChatMessage> transcript = json.readValue(publication.transcript(), MESSAGES);
            SessionRecord record = publication.record();
            CacheConfig cache = sessions.settings().cache().with(record.sinks(), record.window());
            if (missing != null) {
                log.warn("Session {}: replayed from its transcript, approximate and {}", sessionId, missing);
            }
            return Optional.of(Conversation.replay(engine, model.chatTemplate(), cache, sessions.settings().pinSystemPrompt(), transcript));
        } catch (RuntimeException e) {
            log.warn("Session {}: transcript unusable ({}); the conversation starts over here", sessionId, e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * Counts the turn and writes the session's state under its lease before the turn's reply completes. False when the
     * registry is unreachable (known down, or failing now): the state then waits, the latest per session, for the
     * heartbeat to write it, and the turn's count is recorded with the next lease renewal that reaches the registry.
     * A registry that lives in this process keeps the session in memory instead, until it leaves.
     */
    @Override
    public boolean store(ChatSession session) {
        String id = session.id();
        if (closed) {
            return false;
        }
        local.add(id);
        turns.merge(id, 1L, Long::sum);
        if (!registry.shared()) {
            unsaved.put(id, session);
            return true;
        }
        Pending state = pending(session);
        Lease lease = leases.get(id);
        if (lease != null && downReason == null) {
            try {
                if (Boolean.TRUE.equals(registry.publish(lease, publication(state, lease)).block(settings.redisTimeout()))) {
                    pending.remove(id);
                    return true;
                }
            } catch (RuntimeException e) {
                down(e);
            }
        }
        pending.put(id, state);
        requestTick();
        return false;
    }

    /** Renews the heartbeat and leases, acquires missing leases and writes pending snapshots; notices outages and recoveries. */
    void tick() {
        synchronized (this) {
            if (closed) {
                return;
            }
            try {
                boolean lost = notice(registry.epoch(settings.lease()).block(settings.redisTimeout())) || reassert;
                reassert = false;
                Instance self = self();
                if (self.baseUrl() != null) {
                    registry.heartbeat(self, settings.lease()).block(settings.redisTimeout());
                }
                boolean recovered = downReason != null || lost;
                for (String id : List.copyOf(local)) {
                    Lease lease = leases.get(id);
                    boolean held = lease != null && Boolean.TRUE.equals(registry.renew(lease, turns.getOrDefault(id, 0L), settings.lease())
                            .block(settings.redisTimeout()));
                    if (!held) {
                        reacquire(id);
                    } else if (recovered) {
                        republish(id);
                    }
                }
                for (Map.Entry<String, Pending> entry : List.copyOf(pending.entrySet())) {
                    Lease lease = leases.get(entry.getKey());
                    if (lease != null && Boolean.TRUE.equals(registry.publish(lease, publication(entry.getValue(), lease))
                            .block(settings.redisTimeout()))) {
                        pending.remove(entry.getKey(), entry.getValue());
                    }
                }
                if (downReason != null) {
                    log.info("Session registry ({}) reachable again after {}; leases and snapshots of {} local sessions re-written",
                            registry.kind(), downSince, local.size());
                    downReason = null;
                    downSince = null;
                } else if (lost) {
                    log.info("Session registry ({}): leases and snapshots of {} local sessions re-written in epoch {}", registry.kind(),
                            local.size(), epoch.get().number());
                }
            } catch (RuntimeException e) {
                down(e);
            }
        }
    }

    /**
     * Records the registry's epoch; true when it changed since the last look: the registry lost its data, and the
     * sessions served here must be re-asserted (leases taken again, states written anew).
     */
    private boolean notice(Epoch current) {
        Epoch before = epoch.getAndSet(current);
        if (before == null || before.equals(current)) {
            return false;
        }
        log.warn("Session registry ({}) lost its data: epoch {} follows {}; re-asserting {} local sessions, and conversations it does not"
                + " know are not taken until {}", registry.kind(), current.number(), before.number(), local.size(), current.graceUntil());
        reassert = true;
        return true;
    }

    /** The lease is gone (expired, or the registry lost it): take it again, or give the session up if another instance holds it. */
    private void reacquire(String id) {
        Lease lease = registry.acquire(id, settings.instanceId(), settings.lease()).block(settings.redisTimeout());
        if (lease != null) {
            leases.put(id, lease);
            republish(id);
            return;
        }
        Lease other = registry.lease(id).block(settings.redisTimeout());
        if (other != null && !other.instanceId().equals(settings.instanceId())) {
            log.warn("Session {}: instance {} holds its lease now (fence {}); this instance stops serving it", id, other.instanceId(),
                    other.fence());
            leases.remove(id);
            local.remove(id);
            pending.remove(id);
            turns.remove(id);
            sessions.end(id);
        }
    }

    /** Queues the session's current state, so that the registry holds it even if it lost what was written before. */
    private void republish(String id) {
        sessions.withSession(id, this::pending).ifPresent(p -> pending.putIfAbsent(id, p));
    }

    private Pending pending(ChatSession session) {
        Conversation conversation = session.conversation();
        return new Pending(session.info(), turns.getOrDefault(session.id(), 0L), ConversationSnapshot.write(conversation),
                json.writeValueAsBytes(conversation.transcript()));
    }

    private Publication publication(Pending pending, Lease lease) {
        SessionInfo info = pending.info();
        Instance self = self();
        ConversationOwners clients = owners.get();
        String client = clients == null ? null : clients.owner(info.id()).orElse(null);
        SessionRecord record = new SessionRecord(info.id(), self.id(), self.baseUrl(), sessions.model().fingerprint(), info.sinks(),
                info.window(), info.tokensSeen(), info.lastActive(), lease.fence(), client, pending.turns());
        return new Publication(record, pending.snapshot(), pending.transcript());
    }

    /** Restores the conversation's binding to the client that created it, as its previous owner stored it. */
    private void bind(String sessionId, String client) {
        ConversationOwners clients = owners.get();
        if (clients != null) {
            clients.bind(sessionId, client);
        }
    }

    private void down(Throwable e) {
        if (downReason == null) {
            downSince = Instant.now();
            log.warn("Session registry ({}) unreachable: {}; {} local sessions keep working, their snapshots wait", registry.kind(),
                    message(e), local.size());
        }
        downReason = "session registry (" + registry.kind() + ") unreachable since " + downSince + ": " + message(e) + "; "
                + local.size() + " local sessions keep working, " + pending.size() + " snapshots wait to be written";
    }

    private static String message(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
    }

    private void requestTick() {
        if (!closed) {
            ticker.execute(this::tick);
        }
    }

    /**
     * Stopped after the web server (no more turns arrive) and before the Redis connection factory (phase 0), so
     * that the leases are still given up over a live connection; closing at bean destruction would come too late.
     */
    @Override
    public int getPhase() {
        return SmartLifecycle.DEFAULT_PHASE - 4096;
    }

    @Override
    public void start() {
        // the heartbeat starts with the instance; the lifecycle only matters for an orderly stop
    }

    @Override
    public void stop() {
        close();
    }

    @Override
    public boolean isRunning() {
        return !closed;
    }

    /** Writes what is pending and gives every lease up, so that other instances take the sessions over at once. */
    @Override
    public void close() {
        ticker.shutdownNow();
        synchronized (this) {
            if (closed) {
                return;
            }
            try {
                for (Map.Entry<String, Pending> entry : pending.entrySet()) {
                    Lease lease = leases.get(entry.getKey());
                    if (lease != null) {
                        registry.publish(lease, publication(entry.getValue(), lease)).block(settings.redisTimeout());
                    }
                }
                for (Lease lease : leases.values()) {
                    registry.release(lease).block(settings.redisTimeout());
                }
            } catch (RuntimeException e) {
                log.warn("Session registry ({}) unreachable at shutdown ({}); leases of {} sessions expire on their own", registry.kind(),
                        message(e), leases.size());
            }
            closed = true;
        }
    }

    private final class Listener implements SessionListener {

        @Override
        public void sessionCreated(ChatSession session) {
            if (local.add(session.id())) {
                requestTick();
            }
        }


        @Override
        public void sessionEnded(SessionInfo last, EndReason reason) {
            if (closed) {
                return;
            }
            String id = last.id();
            local.remove(id);
            Lease lease = leases.remove(id);
            Pending state = pending.remove(id);
            ChatSession held = unsaved.remove(id);
            // ended, so no turn runs on it any more
            Pending latest = state == null && held != null && reason != EndReason.SHUTDOWN ? pending(held) : state;
            turns.remove(id);
            if (lease == null) {
                return;
            }
            try {
                if (reason == EndReason.ENDED) {
                    registry.remove(lease).block(settings.redisTimeout());
                    return;
                }
                // evicted or expired here: keep the latest state for whichever instance serves the conversation next
                if (latest != null) {
                    registry.publish(lease, publication(latest, lease)).block(settings.redisTimeout());
                }
                registry.release(lease).block(settings.redisTimeout());
            } catch (RuntimeException e) {
                down(e);
            }
        }
    }
}
