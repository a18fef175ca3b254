package dev.streamingllm.spring.routing;

import dev.streamingllm.session.Conversation;
import dev.streamingllm.spring.api.ConversationOwners;
import dev.streamingllm.spring.session.ChatSession;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.SessionLoader;
import dev.streamingllm.spring.session.SessionUnavailableException;
import dev.streamingllm.spring.session.TurnStore;
import java.time.Instant;
import java.util.Optional;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * This instance's side of session routing: decides where a request goes, takes sessions over from owners whose leases
 * expired, and stores each session's state after every turn before the turn's reply completes ({@link TurnStore}).
 * The leases and their heartbeat are {@link SessionLeases}', the states waiting to be written {@link SnapshotQueue}'s,
 * and a takeover's conversation comes back through {@link ConversationRestorer}. With a registry no other instance
 * reads ({@link SessionRegistry#shared()}), a session's snapshot is written only when it leaves memory (evicted or
 * expired), for its conversation to resume from: a turn costs no serialization there.
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

    /** The registry's reachability, for health. */
    public record Status(boolean up, String reason, Instant since, int localSessions, int pendingSnapshots, String registry,
            @Nullable Instant lastHeartbeat) {
    }

    private final SessionRegistry registry;
    private final ChatSessions sessions;
    private final RoutingSettings settings;
    private final Supplier<@Nullable ConversationOwners> owners;
    private final SnapshotQueue snapshots;
    private final SessionLeases leases;
    private final RegistryHealth health;
    private final ConversationRestorer restorer;

    /**
     * @param owners the HTTP API's conversation owners, stored with each session's record and restored on takeover;
     *               supplies null without the HTTP API
     */
    public SessionOwnership(SessionRegistry registry, ChatSessions sessions, RoutingSettings settings,
            Supplier<@Nullable ConversationOwners> owners) {
        this.registry = registry;
        this.sessions = sessions;
        this.settings = settings;
        this.owners = owners;
        this.snapshots = new SnapshotQueue(registry, sessions, settings, owners);
        this.leases = new SessionLeases(registry, sessions, settings, snapshots);
        this.health = leases.health();
        this.restorer = new ConversationRestorer(sessions);
        sessions.addListener(leases);
        leases.start();
    }

    public Instance self() {
        return settings.self();
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
        String reason = health.reason();
        return new Status(reason == null, reason, health.since(), leases.localSessions(), snapshots.size(), registry.kind(),
                leases.lastHeartbeat());
    }

    /** The lease this instance holds for the session, if any. */
    public Optional<Lease> lease(String sessionId) {
        return Optional.ofNullable(leases.lease(sessionId));
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
        if (leases.isLocal(sessionId)) {
            return Mono.just(new Route.Local());
        }
        return registry.lease(sessionId).timeout(settings.redisTimeout())
                .map(Optional::of).defaultIfEmpty(Optional.empty())
                .flatMap(lease -> lease.isPresent() && !lease.get().instanceId().equals(settings.instanceId())
                        ? remote(sessionId, lease.get().instanceId())
                        : takeOverIfStored(sessionId))
                .onErrorResume(e -> {
                    health.down(e);
                    return Mono.just(unreachable(e));
                });
    }

    private Route.Unavailable unreachable(Throwable e) {
        return new Route.Unavailable("the session registry (" + registry.kind() + ") is unreachable: "
                + RegistryHealth.message(e) + "; only sessions served by this instance can continue until it is back");
    }

    private Mono<Route> remote(String sessionId, String ownerId) {
        return registry.instance(ownerId).timeout(settings.redisTimeout())
                .<Route>map(Route.Remote::new)
                .defaultIfEmpty(new Route.Unavailable(leases.silent(sessionId, ownerId)));
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
            Lease lease = leases.acquire(sessionId);
            publication = registry.find(sessionId).block(settings.redisTimeout());
            acknowledged = registry.acknowledged(sessionId).blockOptional(settings.redisTimeout()).orElse(0L);
            leases.hold(sessionId, lease, Math.max(acknowledged, publication == null ? 0 : publication.record().turns()));
        } catch (SessionUnavailableException e) {
            throw e;
        } catch (RuntimeException e) {
            health.down(e);
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
        return restorer.restore(sessionId, publication, acknowledged);
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
        if (leases.closed()) {
            return false;
        }
        leases.countTurn(id);
        if (!registry.shared()) {
            snapshots.holdUntilItLeaves(session);
            return true;
        }
        long turns = leases.turns(id);
        Lease lease = leases.lease(id);
        if (lease != null && health.isUp()) {
            try {
                if (snapshots.publishTurn(lease, session, turns)) {
                    snapshots.remove(id);
                    return true;
                }
            } catch (RuntimeException e) {
                health.down(e);
            }
        }
        snapshots.queue(id, snapshots.capture(session, turns));
        leases.requestTick();
        return false;
    }

    /** Restores the conversation's binding to the client that created it, as its previous owner stored it. */
    private void bind(String sessionId, String client) {
        ConversationOwners clients = owners.get();
        if (clients != null) {
            clients.bind(sessionId, client);
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
        return !leases.closed();
    }

    /** Writes what is pending and gives every lease up, so that other instances take the sessions over at once. */
    @Override
    public void close() {
        leases.close();
    }
}
