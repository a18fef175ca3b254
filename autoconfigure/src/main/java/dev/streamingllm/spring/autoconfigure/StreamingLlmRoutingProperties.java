package dev.streamingllm.spring.autoconfigure;

import dev.streamingllm.spring.routing.RoutingMode;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.util.unit.DataSize;

/**
 * Session routing between instances, under {@code streamingllm.routing}. With {@code spring.data.redis.host} (or
 * {@code .url}) set, the registry lives in Redis and instances share sessions; otherwise it is in memory (one instance).
 */
@ConfigurationProperties(prefix = "streamingllm.routing")
public class StreamingLlmRoutingProperties {

    /** Whether requests are routed to the instance that owns their conversation. */
    private boolean enabled = true;

    /** Proxy requests for sessions owned elsewhere, or redirect them (307). */
    private RoutingMode mode = RoutingMode.PROXY;

    /** This instance's id in the registry; a random one when unset. */
    private @Nullable String instanceId;

    /** The URL other instances reach this one at; http://<this host's address>:<server port> when unset. */
    private @Nullable String baseUrl;

    /** How long a session lease and an instance heartbeat live without renewal. */
    private Duration lease = Duration.ofSeconds(10);

    /** How often heartbeat and leases are renewed and pending snapshots written. */
    private Duration heartbeat = Duration.ofSeconds(3);

    /** How long one registry call may take before Redis counts as unreachable. */
    private Duration redisTimeout = Duration.ofSeconds(2);

    /** Prefix of every Redis key the registry writes. */
    private String keyPrefix = "streamingllm";

    /** How long a conversation's stored state outlives its last turn or lease renewal, in Redis and in memory. */
    private Duration retention = Duration.ofHours(24);

    /** The most bytes of stored states (snapshots and transcripts) the in-memory registry keeps; least recently used go first. */
    private DataSize inMemoryLimit = DataSize.ofMegabytes(256);

    /** How a conversation's state is written after each turn: whole, or as a delta on the last whole one. */
    private final Snapshots snapshots = new Snapshots();

    public boolean isEnabled() {
        return enabled;
    }

    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    public RoutingMode getMode() {
        return mode;
    }

    public void setMode(RoutingMode mode) {
        this.mode = mode;
    }

    public @Nullable String getInstanceId() {
        return instanceId;
    }

    public void setInstanceId(@Nullable String instanceId) {
        this.instanceId = instanceId;
    }

    public @Nullable String getBaseUrl() {
        return baseUrl;
    }

    public void setBaseUrl(@Nullable String baseUrl) {
        this.baseUrl = baseUrl;
    }

    public Duration getLease() {
        return lease;
    }

    public void setLease(Duration lease) {
        this.lease = lease;
    }

    public Duration getHeartbeat() {
        return heartbeat;
    }

    public void setHeartbeat(Duration heartbeat) {
        this.heartbeat = heartbeat;
    }

    public Duration getRedisTimeout() {
        return redisTimeout;
    }

    public void setRedisTimeout(Duration redisTimeout) {
        this.redisTimeout = redisTimeout;
    }

    public Duration getRetention() {
        return retention;
    }

    public void setRetention(Duration retention) {
        this.retention = retention;
    }

    public DataSize getInMemoryLimit() {
        return inMemoryLimit;
    }

    public void setInMemoryLimit(DataSize inMemoryLimit) {
        this.inMemoryLimit = inMemoryLimit;
    }

    public String getKeyPrefix() {
        return keyPrefix;
    }

    public void setKeyPrefix(String keyPrefix) {
        this.keyPrefix = keyPrefix;
    }

    public Snapshots getSnapshots() {
        return snapshots;
    }

    /** Compaction of the states written after turns, under {@code streamingllm.routing.snapshots}. */
    public static class Snapshots {

        /** Every this many states written of a conversation, one is whole and the rest are deltas on it; 1 writes every state whole. */
        private int wholeEvery = 16;

        /** A delta that would take the deltas since the last whole state past this share of its size is written whole instead. */
        private double maxDeltaShare = 0.5;

        public int getWholeEvery() {
            return wholeEvery;
        }

        public void setWholeEvery(int wholeEvery) {
            this.wholeEvery = wholeEvery;
        }

        public double getMaxDeltaShare() {
            return maxDeltaShare;
        }

        public void setMaxDeltaShare(double maxDeltaShare) {
            this.maxDeltaShare = maxDeltaShare;
        }
    }
}
