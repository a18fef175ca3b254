package dev.streamingllm.spring.routing;

import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/** UP while the session registry answers; DOWN with the reason while it does not (local sessions keep working then). */
public final class RoutingHealthIndicator implements HealthIndicator {

    private final SessionOwnership ownership;

    public RoutingHealthIndicator(SessionOwnership ownership) {
        this.ownership = ownership;
    }

    @Override
    public Health health() {
        SessionOwnership.Status status = ownership.status();
        Health.Builder health = status.up() ? Health.up() : Health.down().withDetail("reason", status.reason());
        return health.withDetail("registry", status.registry())
                .withDetail("instance", ownership.settings().instanceId())
                .withDetail("mode", ownership.settings().mode().name().toLowerCase())
                .withDetail("localSessions", status.localSessions())
                .withDetail("pendingSnapshots", status.pendingSnapshots())
                .withDetail("lastHeartbeat", status.lastHeartbeat() != null ? status.lastHeartbeat().toString() : "none yet")
                .build();
    }
}
