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
}
