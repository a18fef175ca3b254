package dev.streamingllm.spring.routing;

import dev.streamingllm.spring.session.ChatSession;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.SessionInfo;
import dev.streamingllm.spring.session.SessionListener;
import dev.streamingllm.spring.session.SessionUnavailableException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sessions this instance serves, their leases and turn counts, and the heartbeat that keeps them: each beat
 * announces the instance, renews every lease with the session's turns acknowledged to clients, takes a lost lease
 * again (or gives the session up when another instance holds it now) and writes the queued states. A registry that
 * answers again, or lost its data (a new {@link Epoch}), gets every local session's lease and state written anew.
 *
 * <p>A session that ends here gives its lease up: with its record and state when its conversation ended, else after
 * writing its latest state, for whichever instance serves the conversation next.
 */
final class SessionLeases implements SessionListener {

    private static final Logger log = LoggerFactory.getLogger(SessionLeases.class);

    private final SessionRegistry registry;
    private final ChatSessions sessions;
    private final RoutingSettings settings;
    private final SnapshotQueue snapshots;
    private final RegistryHealth health;
    /** Sessions served here, with their leases; a session without an entry has no lease yet. */
    private final Map<String, Lease> leases = new ConcurrentHashMap<>();
    private final Set<String> local = ConcurrentHashMap.newKeySet();
    /** Turns of each session served here, counted across owners: the latest was acknowledged to its client. */
    private final Map<String, Long> turns = new ConcurrentHashMap<>();
    private final ScheduledExecutorService ticker;
    /** The registry's epoch as last seen; null until first asked. */
    private final AtomicReference<@Nullable Epoch> epoch = new AtomicReference<>();
    /** Sessions whose state is to be written anew once no turn holds them: the heartbeat never waits out a turn. */
    private final Set<String> stale = ConcurrentHashMap.newKeySet();
    /** A loss of the registry's data was noticed outside the heartbeat: its next tick re-asserts every local session. */
    private volatile boolean reassert;
    private volatile boolean closed;
    /** When this instance last announced itself to the registry; null before its first heartbeat got through. */
    private volatile @Nullable Instant lastHeartbeat;

    SessionLeases(SessionRegistry registry, ChatSessions sessions, RoutingSettings settings, SnapshotQueue snapshots) {
        this.registry = registry;
        this.sessions = sessions;
        this.settings = settings;
        this.snapshots = snapshots;
        this.health = new RegistryHealth(registry.kind(), local::size, snapshots::size);
        this.ticker = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("streamingllm-routing").daemon().factory());
    }

    /** Starts the heartbeat: its first beat runs now. */
    void start() {
        ticker.scheduleWithFixedDelay(this::tick, 0, settings.heartbeat().toMillis(), TimeUnit.MILLISECONDS);
    }

    RegistryHealth health() {
        return health;
    }

    @Nullable Instant lastHeartbeat() {
        return lastHeartbeat;
    }

    boolean closed() {
        return closed;
    }

    /** The lease this instance holds for the session; null when it holds none. */
    @Nullable Lease lease(String sessionId) {
        return leases.get(sessionId);
    }

    boolean isLocal(String sessionId) {
        return local.contains(sessionId);
    }

    int localSessions() {
        return local.size();
    }

    /** Counts a turn of a session served here. */
    void countTurn(String sessionId) {
        local.add(sessionId);
        turns.merge(sessionId, 1L, Long::sum);
    }

    /** The session's turns counted across owners; 0 for a session not served here. */
    long turns(String sessionId) {
        return turns.getOrDefault(sessionId, 0L);
    }

    /**
     * A lease for taking the session over: the one this instance holds, else a newly acquired one, unless the
     * registry lost its data and is still in its grace period.
     *
     * @throws SessionUnavailableException another live instance holds the session (naming it), one that stopped
     *                                     sending heartbeats does, or none may be taken during the grace period
     */
    Lease acquire(String sessionId) {
        if (lastHeartbeat == null) {
            // Before its first heartbeat an instance is unknown to the others, which would refuse its sessions as held
            // by an instance that stopped sending heartbeats: announce it before it holds any.
            announce();
        }
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
        return lease;
    }

    /** Serves the session here under {@code lease}, its turns counted from {@code turns}. */
    void hold(String sessionId, Lease lease, long turns) {
        leases.put(sessionId, lease);
        local.add(sessionId);
        this.turns.put(sessionId, turns);
    }

    /** Why a session held by an instance that stopped sending heartbeats cannot be served yet. */
    String silent(String sessionId, String ownerId) {
        return "instance " + ownerId + " owns session " + sessionId
                + " but has stopped sending heartbeats; the session is taken over when its lease expires (at most "
                + settings.lease().toSeconds() + " s)";
    }

    /** Renews the heartbeat and leases, acquires missing leases and writes pending snapshots; notices outages and recoveries. */
    void tick() {
        synchronized (this) {
            if (closed) {
                return;
            }
            try {
                // first, so that nothing else this beat does can make the instance look gone
                announce();
                boolean lost = notice(registry.epoch(settings.lease()).block(settings.redisTimeout())) || reassert;
                reassert = false;
                boolean recovered = !health.isUp() || lost;
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
                for (String id : List.copyOf(stale)) {
                    republish(id);
                }
                snapshots.flush(leases::get);
                if (!health.isUp()) {
                    log.info("Session registry ({}) reachable again after {}; leases and snapshots of {} local sessions re-written",
                            registry.kind(), health.since(), local.size());
                    health.up();
                } else if (lost) {
                    log.info("Session registry ({}): leases and snapshots of {} local sessions re-written in epoch {}", registry.kind(),
                            local.size(), epoch.get().number());
                }
            } catch (RuntimeException e) {
                health.down(e);
            }
        }
    }

    /** Writes this instance's heartbeat, once it can be reached (its base URL is known). */
    private void announce() {
        Instance self = settings.self();
        if (self.baseUrl() != null) {
            registry.heartbeat(self, settings.lease()).block(settings.redisTimeout());
            lastHeartbeat = Instant.now();
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
            snapshots.remove(id);
            snapshots.forget(id);
            turns.remove(id);
            sessions.end(id);
        }
    }

    /**
     * Queues the session's current state, so that the registry holds it even if it lost what was written before; a
     * session a turn holds is tried again next beat rather than waited for.
     */
    private void republish(String id) {
        if (sessions.ifIdle(id, session -> snapshots.queueIfAbsent(id, snapshots.capture(session, turns(id))))) {
            stale.remove(id);
        } else {
            stale.add(id);
        }
    }

    /** Has the heartbeat run soon, off the caller's thread. */
    void requestTick() {
        if (!closed) {
            ticker.execute(this::tick);
        }
    }

    /** Stops the heartbeat, writes what is pending and gives every lease up, so that other instances take the sessions over at once. */
    void close() {
        ticker.shutdownNow();
        synchronized (this) {
            if (closed) {
                return;
            }
            try {
                snapshots.writeAll(leases::get);
                for (Lease lease : leases.values()) {
                    registry.release(lease).block(settings.redisTimeout());
                }
            } catch (RuntimeException e) {
                log.warn("Session registry ({}) unreachable at shutdown ({}); leases of {} sessions expire on their own", registry.kind(),
                        RegistryHealth.message(e), leases.size());
            }
            closed = true;
        }
    }

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
        SnapshotQueue.Pending state = snapshots.remove(id);
        ChatSession held = snapshots.release(id);
        snapshots.forget(id);
        // ended, so no turn runs on it any more
        SnapshotQueue.Pending latest = state == null && held != null && reason != EndReason.SHUTDOWN
                ? snapshots.capture(held, turns(held.id())) : state;
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
                snapshots.publish(lease, latest);
            }
            registry.release(lease).block(settings.redisTimeout());
        } catch (RuntimeException e) {
            health.down(e);
        }
    }
}
