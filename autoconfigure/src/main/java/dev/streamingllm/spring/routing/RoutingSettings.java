package dev.streamingllm.spring.routing;

import java.time.Duration;
import java.util.function.Supplier;

/**
 * How this instance takes part in routing.
 *
 * @param instanceId    this instance's id in the registry
 * @param baseUrl       how other instances reach this one: resolved late (the port is known once the server runs), null until then
 * @param mode          proxy or redirect requests for sessions owned elsewhere
 * @param lease         how long a lease or heartbeat lives without renewal
 * @param heartbeat     how often heartbeats and leases are renewed and pending snapshots written
 * @param redisTimeout  how long one registry call may take before the registry counts as unreachable
 * @param wholeEvery    every this many states written of a session, one is whole and the rest deltas on it
 * @param maxDeltaShare the share of the whole state's size the deltas on it may reach; a delta past it is written whole
 */
public record RoutingSettings(String instanceId, Supplier<String> baseUrl, RoutingMode mode, Duration lease, Duration heartbeat,
        Duration redisTimeout, int wholeEvery, double maxDeltaShare) {

    public RoutingSettings {
        if (instanceId == null || instanceId.isBlank() || instanceId.contains(" ")) {
            throw new IllegalArgumentException("streamingllm.routing.instance-id must be non-blank without spaces, was '" + instanceId + "'");
        }
        if (heartbeat.isZero() || heartbeat.isNegative() || lease.compareTo(heartbeat.multipliedBy(2)) < 0) {
            throw new IllegalArgumentException("streamingllm.routing.lease (" + lease + ") must be at least twice the heartbeat ("
                    + heartbeat + "), so that a live owner renews before its lease expires");
        }
        if (wholeEvery < 1) {
            throw new IllegalArgumentException("streamingllm.routing.snapshots.whole-every must be at least 1 (every state whole), was "
                    + wholeEvery);
        }
        if (!(maxDeltaShare > 0)) {
            throw new IllegalArgumentException("streamingllm.routing.snapshots.max-delta-share must be positive, was " + maxDeltaShare);
        }
    }

    /** This instance as the registry announces it; its base URL is null until the server runs. */
    public Instance self() {
        return new Instance(instanceId, baseUrl.get());
    }
}
