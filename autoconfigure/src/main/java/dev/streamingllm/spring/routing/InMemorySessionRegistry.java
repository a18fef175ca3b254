package dev.streamingllm.spring.routing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import reactor.core.publisher.Mono;

/**
 * The registry of a single instance, when no Redis is configured (the embedded default): the same leases and
 * fencing in this process's memory, so the routing code runs one way whether or not Redis is there.
 */
public final class InMemorySessionRegistry implements SessionRegistry {

    private record Expiring<T>(T value, Instant expires) {
    }

    private final Clock clock;
    private final Map<String, Expiring<String>> instances = new HashMap<>();
    private final Map<String, Expiring<Lease>> leases = new HashMap<>();
    private final Map<String, Long> fences = new HashMap<>();
    private final Map<String, Publication> publications = new HashMap<>();
    private final Map<String, Long> acknowledged = new HashMap<>();

    public InMemorySessionRegistry() {
        this(Clock.systemUTC());
    }

    public InMemorySessionRegistry(Clock clock) {
        this.clock = clock;
    }

    @Override
    public Mono<Void> heartbeat(Instance self, Duration ttl) {
        return Mono.fromRunnable(() -> {
            synchronized (this) {
                instances.put(self.id(), new Expiring<>(self.baseUrl(), clock.instant().plus(ttl)));
            }
        });
    }

    @Override
    public Mono<Instance> instance(String instanceId) {
        return Mono.fromSupplier(() -> {
            synchronized (this) {
                Expiring<String> url = live(instances, instanceId);
                return url == null ? null : new Instance(instanceId, url.value());
            }
        });
    }

    @Override
    public Mono<Lease> acquire(String sessionId, String instanceId, Duration ttl) {
        return Mono.fromSupplier(() -> {
            synchronized (this) {
                long fence = fences.merge(sessionId, 1L, Long::sum);
                if (live(leases, sessionId) != null) {
                    return null;
                }
                Lease lease = new Lease(sessionId, instanceId, fence);
                leases.put(sessionId, new Expiring<>(lease, clock.instant().plus(ttl)));
                return lease;
            }
        });
    }

    @Override
    public Mono<Lease> lease(String sessionId) {
        return Mono.fromSupplier(() -> {
            synchronized (this) {
                Expiring<Lease> lease = live(leases, sessionId);
                return lease == null ? null : lease.value();
            }
        });
    }

    @Override
    public Mono<Boolean> renew(Lease lease, long turns, Duration ttl) {
        return fenced(lease, () -> {
            leases.put(lease.sessionId(), new Expiring<>(lease, clock.instant().plus(ttl)));
            acknowledged.merge(lease.sessionId(), turns, Math::max);
        });
    }

    @Override
    public Mono<Boolean> release(Lease lease) {
        return fenced(lease, () -> leases.remove(lease.sessionId()));
    }

    @Override
    public Mono<Boolean> publish(Lease lease, Publication publication) {
        return fenced(lease, () -> {
            Publication stored = publications.get(lease.sessionId());
            if (stored == null || stored.record().turns() <= publication.record().turns()) {
                publications.put(lease.sessionId(), publication);
            }
            acknowledged.merge(lease.sessionId(), publication.record().turns(), Math::max);
        });
    }

    @Override
    public Mono<Publication> find(String sessionId) {
        return Mono.fromSupplier(() -> {
            synchronized (this) {
                return publications.get(sessionId);
            }
        });
    }

    @Override
    public Mono<Long> acknowledged(String sessionId) {
        return Mono.fromSupplier(() -> {
            synchronized (this) {
                return acknowledged.getOrDefault(sessionId, 0L);
            }
        });
    }

    @Override
    public Mono<Boolean> remove(Lease lease) {
        return fenced(lease, () -> {
            leases.remove(lease.sessionId());
            publications.remove(lease.sessionId());
            acknowledged.remove(lease.sessionId());
        });
    }

    @Override
    public boolean shared() {
        return false;
    }

    @Override
    public String kind() {
        return "in-memory";
    }

    private Mono<Boolean> fenced(Lease lease, Runnable write) {
        return Mono.fromSupplier(() -> {
            synchronized (this) {
                Expiring<Lease> current = live(leases, lease.sessionId());
                if (current == null || !current.value().equals(lease)) {
                    return false;
                }
                write.run();
                return true;
            }
        });
    }

    private <T> Expiring<T> live(Map<String, Expiring<T>> map, String key) {
        Expiring<T> entry = map.get(key);
        if (entry != null && !entry.expires().isAfter(clock.instant())) {
            map.remove(key);
            return null;
        }
        return entry;
    }
}
