package dev.streamingllm.spring.routing;

import java.time.Duration;
import reactor.core.publisher.Mono;

/**
 * Session id → owner, model, geometry and progress, with ownership as expiring leases and the latest
 * snapshot of each session. Every write that concerns a session is fenced by its lease: it only happens while
 * the writer still holds that exact lease.
 */
public interface SessionRegistry {

    /**
     * The registry's current epoch; a new one, with a grace period of {@code grace}, when the registry is found to have
     * lost its data since this client last asked (the epoch is gone, or older than one this client saw). Every grant
     * ({@link #acquire}) looks at the epoch first, with its lease period as the grace, and gets a fencing token above
     * every token of earlier epochs.
     */
    Mono<Epoch> epoch(Duration grace);

    /** Announces {@code self} as live for {@code ttl}; repeated before it expires. */
    Mono<Void> heartbeat(Instance self, Duration ttl);

    /** The live instance of that id; empty when its heartbeat has expired. */
    Mono<Instance> instance(String instanceId);

    /** Grants the session's lease to {@code instanceId} for {@code ttl} with a new fencing token; empty when someone holds it. */
    Mono<Lease> acquire(String sessionId, String instanceId, Duration ttl);

    /** The session's current lease; empty when nobody holds it. */
    Mono<Lease> lease(String sessionId);

    /**
     * Extends the lease if it is still exactly this one, and records beside it that the holder has acknowledged
     * {@code acknowledged} turns of the session (a count never lowered), so that a later owner can tell a stored state
     * older than what clients were answered.
     */
    Mono<Boolean> renew(Lease lease, long acknowledged, Duration ttl);

    /** Gives the lease up if it is still exactly this one; record and snapshot stay for the next owner. */
    Mono<Boolean> release(Lease lease);

    /**
     * Stores the session's full state after a turn (no deltas, its transcript in one part), in place of the stored one
     * and its deltas, if {@code lease} is still its lease, and counts its turns as acknowledged. A state with fewer
     * turns than the stored one is not written (a late retry), yet succeeds: a newer one is there.
     */
    Mono<Boolean> publish(Lease lease, Publication publication);

    /**
     * Appends a delta to the session's stored state if {@code lease} is still its lease and the stored state is the one
     * the delta was written on (of {@link DeltaPublication#baseTurns} turns), and counts its turns as acknowledged. False
     * when either is not so, and nothing is written: the writer then writes a full state.
     */
    Mono<Boolean> append(Lease lease, DeltaPublication delta);

    /** The latest publication of the session (a snapshot and the deltas on it); empty when there is none. */
    Mono<Publication> find(String sessionId);

    /** The turns of the session its owners have acknowledged (see {@link #renew}); 0 when none. */
    Mono<Long> acknowledged(String sessionId);

    /** Deletes the session's lease, record and snapshot if {@code lease} is still its lease (the conversation ended). */
    Mono<Boolean> remove(Lease lease);

    /**
     * Whether other instances read it. A registry that lives in this process is read only by this process, so a
     * session's snapshot is needed only once the session has left memory, not after every turn.
     */
    default boolean shared() {
        return true;
    }

    /** What it is, for health details: "redis" or "in-memory". */
    String kind();
}
