package dev.streamingllm.spring.routing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * The registry of a single instance, when no Redis is configured (the embedded default): the same leases and
 * fencing in this process's memory, so the routing code runs one way whether or not Redis is there. The stored states
 * are bounded: each expires after the retention unless written again, and when their bytes (snapshots and
 * transcripts) pass {@code maxBytes} the least recently used go first.
 */
public final class InMemorySessionRegistry implements SessionRegistry {

    private static final Logger log = LoggerFactory.getLogger(InMemorySessionRegistry.class);
    /** Bytes counted for a record besides the snapshot and transcript: a generous bound on its fields. */
    private static final int RECORD_BYTES = 512;

    private record Expiring<T>(T value, Instant expires) {
    }

    private final Clock clock;
    private final Duration retention;
    private final long maxBytes;
    private final Map<String, Expiring<String>> instances = new HashMap<>();
    private final Map<String, Expiring<Lease>> leases = new HashMap<>();
    private final Map<String, Long> fences = new HashMap<>();
    /** In access order: the least recently used first. */
    private final LinkedHashMap<String, Expiring<Publication>> publications = new LinkedHashMap<>(16, 0.75f, true);
    private final Map<String, Long> acknowledged = new HashMap<>();
    private long bytes;

    /**
     * @param retention how long a stored state outlives its last write
     * @param maxBytes  the most bytes of stored states kept
     */
    public InMemorySessionRegistry(Duration retention, long maxBytes) {
        this(retention, maxBytes, Clock.systemUTC());
    }

    public InMemorySessionRegistry(Duration retention, long maxBytes, Clock clock) {
        if (retention.isNegative() || retention.isZero()) {
            throw new IllegalArgumentException("streamingllm.routing.retention must be positive, was " + retention);
        }
        if (maxBytes < 1) {
            throw new IllegalArgumentException("streamingllm.routing.in-memory-limit must be positive, was " + maxBytes + " bytes");
        }
        this.clock = clock;
        this.retention = retention;
        this.maxBytes = maxBytes;
    }

    /** Memory of this process is lost only with the process, and every session with it: one epoch. */
    @Override
    public Mono<Epoch> epoch(Duration grace) {
        return Mono.just(Epoch.FIRST);
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
            String id = lease.sessionId();
            Expiring<Publication> stored = live(publications, id);
            acknowledged.merge(id, publication.record().turns(), Math::max);
            if (stored != null && stored.value().record().turns() > publication.record().turns()) {
                return;
            }
            long size = bytes(publication);
            if (size > maxBytes) {
                log.warn("Session {}: its state ({} bytes) exceeds streamingllm.routing.in-memory-limit ({} bytes) and is not kept",
                        id, size, maxBytes);
                drop(id);
                return;
            }
            drop(id);
            publications.put(id, new Expiring<>(publication, clock.instant().plus(retention)));
            bytes += size;
            evict();
        });
    }

    /** Never takes a delta: it keeps full states only, and is written only when a session leaves memory. */
    @Override
    public Mono<Boolean> append(Lease lease, DeltaPublication delta) {
        return Mono.just(false);
    }

    /** Bytes of stored states now held. */
    public synchronized long bytes() {
        return bytes;
    }

    private static long bytes(Publication publication) {
        return RECORD_BYTES + publication.snapshot().length + publication.transcript().stream().mapToLong(part -> part.length).sum();
    }

    /** Removes the least recently used states while the bound is passed. */
    private void evict() {
        Iterator<Map.Entry<String, Expiring<Publication>>> oldest = publications.entrySet().iterator();
        while (bytes > maxBytes && oldest.hasNext()) {
            Map.Entry<String, Expiring<Publication>> entry = oldest.next();
            bytes -= bytes(entry.getValue().value());
            oldest.remove();
            forget(entry.getKey());
        }
    }

    /** A stored state is gone: so is what the registry kept beside it, the fence too unless a lease is held. */
    private void forget(String id) {
        drop(id);
        acknowledged.remove(id);
        if (live(leases, id) == null) {
            fences.remove(id);
        }
    }

    private void drop(String id) {
        Expiring<Publication> removed = publications.remove(id);
        if (removed != null) {
            bytes -= bytes(removed.value());
        }
    }

    @Override
    public Mono<Publication> find(String sessionId) {
        return Mono.fromSupplier(() -> {
            synchronized (this) {
                Expiring<Publication> stored = live(publications, sessionId);
                return stored == null ? null : stored.value();
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
            drop(lease.sessionId());
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
            if ((Object) map == publications) {
                forget(key);
            } else {
                map.remove(key);
            }
            return null;
        }
        return entry;
    }
}
