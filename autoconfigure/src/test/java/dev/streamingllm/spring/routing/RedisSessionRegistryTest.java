package dev.streamingllm.spring.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.data.redis.connection.ReactiveRedisConnectionFactory;
import org.springframework.data.redis.connection.RedisClusterConfiguration;
import org.springframework.data.redis.connection.RedisStandaloneConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveRedisTemplate;
import org.springframework.data.redis.serializer.RedisSerializationContext;
import org.springframework.data.redis.serializer.RedisSerializer;

/** The Redis registry against real redis-server processes: one server, and a three-master cluster. */
class RedisSessionRegistryTest {

    private static final Duration LEASE = Duration.ofSeconds(10);
    private static final Duration CALL = Duration.ofSeconds(5);
    /** Every key of a conversation but its lease, which has a lifetime of its own. */
    private static final List<String> STATE_KEYS = List.of("session", "snapshot", "deltas", "transcript", "turns", "acked",
            "fence");

    private static ReactiveRedisTemplate<String, byte[]> template(LettuceConnectionFactory connections) {
        connections.afterPropertiesSet();
        connections.start();
        return new ReactiveRedisTemplate<>(connections, RedisSerializationContext.<String, byte[]>newSerializationContext(RedisSerializer.byteArray())
                .key(RedisSerializer.string()).hashKey(RedisSerializer.string()).build());
    }

    private static Publication state(String id, Lease lease, long turns) {
        SessionRecord record = new SessionRecord(id, lease.instanceId(), "http://localhost:1", "model", 4, 60, 10 * turns, Instant.EPOCH,
                lease.fence(), null, turns);
        return new Publication(record, ("snapshot of " + id + " at " + turns).getBytes(), ("[" + turns + "]").getBytes());
    }

    private static DeltaPublication delta(String id, Lease lease, long baseTurns, long turns) {
        SessionRecord record = new SessionRecord(id, lease.instanceId(), "http://localhost:1", "model", 4, 60, 10 * turns, Instant.EPOCH,
                lease.fence(), null, turns);
        return new DeltaPublication(record, baseTurns, ("delta of " + id + " to " + turns).getBytes(), ("[" + turns + "]").getBytes());
    }

    private static List<String> strings(List<byte[]> values) {
        return values.stream().map(String::new).toList();
    }

    /** Milliseconds until each of the conversation's state keys expires (-1: none, -2: no key). */
    private static List<Long> ttls(ReactiveRedisTemplate<String, byte[]> redis, String id) {
        return STATE_KEYS.stream().map(kind -> redis.getExpire("streamingllm:" + kind + ":{" + id + "}").block(CALL))
                .map(Duration::toMillis).toList();
    }

    @Test
    void everyKeyOfAConversationExpiresAfterTheRetentionRefreshedByEachTurnAndRenewal() throws Exception {
        try (RealRedis redis = RealRedis.start()) {
            LettuceConnectionFactory connections = new LettuceConnectionFactory(new RedisStandaloneConfiguration("localhost", redis.port()));
            try {
                ReactiveRedisTemplate<String, byte[]> template = template(connections);
                RedisSessionRegistry hour = new RedisSessionRegistry(template, "streamingllm", Duration.ofHours(1));
                RedisSessionRegistry day = new RedisSessionRegistry(template, "streamingllm", Duration.ofDays(1));
                String id = "retained-" + UUID.randomUUID();

                Lease lease = hour.acquire(id, "a", LEASE).block(CALL);
                assertThat(hour.publish(lease, state(id, lease, 1)).block(CALL)).isTrue();
                assertThat(hour.append(lease, delta(id, lease, 1, 2)).block(CALL)).isTrue();
                assertThat(ttls(template, id)).allSatisfy(ttl -> assertThat(ttl).isBetween(1L, Duration.ofHours(1).toMillis()));

                // the next turn, written with a longer retention, moves every key's expiry
                assertThat(day.append(lease, delta(id, lease, 2, 3)).block(CALL)).isTrue();
                assertThat(ttls(template, id)).allSatisfy(ttl -> assertThat(ttl).isGreaterThan(Duration.ofHours(1).toMillis()));
                // so does a lease renewal, as long as an owner holds the conversation
                assertThat(hour.renew(lease, 3, LEASE).block(CALL)).isTrue();
                assertThat(ttls(template, id)).allSatisfy(ttl -> assertThat(ttl).isBetween(1L, Duration.ofHours(1).toMillis()));
                assertThat(template.getExpire("streamingllm:lease:{" + id + "}").block(CALL)).isLessThanOrEqualTo(LEASE);
            } finally {
                connections.destroy();
            }
        }
    }

    @Test
    void aStateIsFoundAsItsWholeSnapshotAndTheDeltasOnItInOrderUntilAWholeOneReplacesThem() throws Exception {
        try (RealRedis redis = RealRedis.start()) {
            LettuceConnectionFactory connections = new LettuceConnectionFactory(new RedisStandaloneConfiguration("localhost", redis.port()));
            try {
                ReactiveRedisTemplate<String, byte[]> template = template(connections);
                SessionRegistry registry = new RedisSessionRegistry(template, "streamingllm", Duration.ofHours(1));
                String id = "deltas-" + UUID.randomUUID();
                Lease lease = registry.acquire(id, "a", LEASE).block(CALL);
                assertThat(registry.append(lease, delta(id, lease, 0, 1)).block(CALL)).as("a delta on nothing").isFalse();
                assertThat(registry.publish(lease, state(id, lease, 1)).block(CALL)).isTrue();
                assertThat(registry.append(lease, delta(id, lease, 1, 2)).block(CALL)).isTrue();
                assertThat(registry.append(lease, delta(id, lease, 2, 3)).block(CALL)).isTrue();
                assertThat(registry.append(lease, delta(id, lease, 2, 4)).block(CALL)).as("a delta on a state no longer stored").isFalse();

                Publication found = registry.find(id).block(CALL);
                assertThat(new String(found.snapshot())).isEqualTo("snapshot of " + id + " at 1");
                assertThat(strings(found.deltas())).containsExactly("delta of " + id + " to 2", "delta of " + id + " to 3");
                assertThat(found.record().turns()).isEqualTo(3);
                assertThat(strings(found.transcript())).as("the transcript, written whole, then as it grew").containsExactly("[1]", "[2]", "[3]");
                assertThat(registry.acknowledged(id).block(CALL)).isEqualTo(3);

                // a whole state replaces the snapshot and its deltas
                assertThat(registry.publish(lease, state(id, lease, 4)).block(CALL)).isTrue();
                found = registry.find(id).block(CALL);
                assertThat(new String(found.snapshot())).isEqualTo("snapshot of " + id + " at 4");
                assertThat(found.deltas()).isEmpty();
                assertThat(strings(found.transcript())).containsExactly("[4]");
                // a transcript stored as one string, as earlier versions wrote it, is read as one part
                template.opsForValue().set("streamingllm:transcript:{" + id + "}", "[\"whole\"]".getBytes()).block(CALL);
                assertThat(strings(registry.find(id).block(CALL).transcript())).containsExactly("[\"whole\"]");
                assertThat(registry.publish(lease, state(id, lease, 4)).block(CALL)).isTrue();
                assertThat(registry.append(lease, delta(id, lease, 4, 5)).block(CALL)).isTrue();

                // fenced like every write: the old lease appends nothing once another instance holds the conversation
                assertThat(registry.release(lease).block(CALL)).isTrue();
                Lease next = registry.acquire(id, "b", LEASE).block(CALL);
                assertThat(registry.append(lease, delta(id, lease, 5, 6)).block(CALL)).isFalse();
                assertThat(strings(registry.find(id).block(CALL).deltas())).containsExactly("delta of " + id + " to 5");
                assertThat(registry.remove(next).block(CALL)).isTrue();
                assertThat(template.hasKey("streamingllm:deltas:{" + id + "}").block(CALL)).isFalse();
                assertThat(template.hasKey("streamingllm:transcript:{" + id + "}").block(CALL)).isFalse();
            } finally {
                connections.destroy();
            }
        }
    }

    @Test
    void aRegistryThatLostItsDataBeginsANewEpochWithAGracePeriodAndLargerFences() throws Exception {
        try (RealRedis redis = RealRedis.start()) {
            LettuceConnectionFactory connections = new LettuceConnectionFactory(new RedisStandaloneConfiguration("localhost", redis.port()));
            try {
                ReactiveRedisTemplate<String, byte[]> template = template(connections);
                RedisSessionRegistry owner = new RedisSessionRegistry(template, "streamingllm", Duration.ofHours(1));
                RedisSessionRegistry fresh = new RedisSessionRegistry(template, "streamingllm", Duration.ofHours(1));
                Duration grace = Duration.ofSeconds(30);
                Epoch first = owner.epoch(grace).block(CALL);
                assertThat(first.number()).isEqualTo(1);
                assertThat(first.inGrace(Instant.now())).isFalse();
                assertThat(owner.epoch(grace).block(CALL)).as("asked again").isEqualTo(first);
                String id = "lost-" + UUID.randomUUID();
                Lease before = owner.acquire(id, "a", LEASE).block(CALL);
                assertThat(owner.release(before).block(CALL)).isTrue();
                before = owner.acquire(id, "a", LEASE).block(CALL);
                assertThat(before.fence()).isEqualTo(2);

                ((ReactiveRedisConnectionFactory) connections).getReactiveConnection().serverCommands().flushAll().block(CALL);

                // a client that never saw the lost epoch cannot tell: it begins one as on a first start
                Epoch begun = fresh.epoch(grace).block(CALL);
                assertThat(begun.number()).isEqualTo(1);
                assertThat(begun).isNotEqualTo(first);
                // the client that saw it begins the next, with a grace period, and every client then agrees
                Instant asked = Instant.now();
                Epoch after = owner.epoch(grace).block(CALL);
                assertThat(after.number()).isEqualTo(2);
                assertThat(after.inGrace(asked)).isTrue();
                assertThat(after.graceUntil()).isBefore(Instant.now().plus(grace).plusSeconds(1));
                assertThat(fresh.epoch(grace).block(CALL)).isEqualTo(after);

                // fencing tokens go on growing past the loss, through either client
                Lease again = owner.acquire(id, "a", LEASE).block(CALL);
                assertThat(again.fence()).isGreaterThan(before.fence());
                assertThat(owner.publish(before, state(id, before, 9)).block(CALL)).as("a write under the lost lease").isFalse();
                assertThat(fresh.acquire("other-" + id, "b", LEASE).block(CALL).fence()).isGreaterThan(before.fence());
            } finally {
                connections.destroy();
            }
        }
    }

    @Test
    void theFencedScriptsRunOnAThreeMasterCluster() throws Exception {
        try (RealRedisCluster cluster = RealRedisCluster.start()) {
            LettuceConnectionFactory connections = new LettuceConnectionFactory(new RedisClusterConfiguration(cluster.nodes()));
            try {
                SessionRegistry registry = new RedisSessionRegistry(template(connections), "streamingllm", Duration.ofHours(1));
                registry.heartbeat(new Instance("a", "http://localhost:1"), LEASE).block(CALL);
                assertThat(registry.epoch(LEASE).block(CALL).number()).isEqualTo(1);
                assertThat(registry.instance("a").block(CALL)).isEqualTo(new Instance("a", "http://localhost:1"));
                // enough conversations that their slots spread over all three masters
                for (int i = 0; i < 12; i++) {
                    String id = "cluster-" + i + "-" + UUID.randomUUID();
                    Lease lease = registry.acquire(id, "a", LEASE).block(CALL);
                    assertThat(lease).isNotNull();
                    assertThat(registry.acquire(id, "b", LEASE).blockOptional(CALL)).as("held by a").isEmpty();
                    assertThat(registry.publish(lease, state(id, lease, 1)).block(CALL)).isTrue();
                    assertThat(registry.append(lease, delta(id, lease, 1, 2)).block(CALL)).isTrue();
                    assertThat(registry.renew(lease, 2, LEASE).block(CALL)).isTrue();
                    assertThat(registry.find(id).block(CALL).record().turns()).isEqualTo(2);
                    assertThat(strings(registry.find(id).block(CALL).deltas())).containsExactly("delta of " + id + " to 2");
                    assertThat(registry.acknowledged(id).block(CALL)).isEqualTo(2);
                    assertThat(registry.release(lease).block(CALL)).isTrue();

                    Lease next = registry.acquire(id, "b", LEASE).block(CALL);
                    assertThat(next.fence()).isGreaterThan(lease.fence());
                    assertThat(registry.publish(lease, state(id, lease, 5)).block(CALL)).as("the old lease is fenced off").isFalse();
                    assertThat(registry.remove(next).block(CALL)).isTrue();
                    assertThat(registry.find(id).blockOptional(CALL)).isEmpty();
                }
            } finally {
                connections.destroy();
            }
        }
    }

    @Test
    void aPrefixWithBracesIsRefusedAsItWouldBreakTheHashTags() {
        assertThatThrownBy(() -> new RedisSessionRegistry(null, "app{1}", Duration.ofHours(1)))
                .hasMessageContaining("streamingllm.routing.key-prefix");
    }
}
