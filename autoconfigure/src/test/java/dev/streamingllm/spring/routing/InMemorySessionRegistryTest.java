package dev.streamingllm.spring.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** The single-instance registry keeps stored states within its retention and its byte bound, least recently used first. */
class InMemorySessionRegistryTest {

    private static final Duration LEASE = Duration.ofSeconds(10);
    private static final int STATE = 10_000;

    /** A clock the test moves. */
    private static final class TestClock extends Clock {

        private Instant now = Instant.parse("2026-01-01T00:00:00Z");

        void advance(Duration by) {
            now = now.plus(by);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    }

    private static Publication state(String id, long turns) {
        SessionRecord record = new SessionRecord(id, "self", "http://localhost:1", "model", 4, 60, 100, Instant.EPOCH, 1, null, turns);
        return new Publication(record, new byte[STATE], new byte[100]);
    }

    /** Stores a state as an owner whose session leaves memory would: lease, publish, release. */
    private static void store(InMemorySessionRegistry registry, String id, long turns) {
        Lease lease = registry.acquire(id, "self", LEASE).block();
        assertThat(registry.publish(lease, state(id, turns)).block()).isTrue();
        assertThat(registry.release(lease).block()).isTrue();
    }

    @Test
    void beyondItsByteBoundTheLeastRecentlyUsedStatesGoFirst() {
        // room for three states of about STATE bytes each
        InMemorySessionRegistry registry = new InMemorySessionRegistry(Duration.ofHours(1), 3 * STATE + 3 * 1_000);
        store(registry, "one", 1);
        store(registry, "two", 1);
        store(registry, "three", 1);
        // read: "one" is now the most recently used
        assertThat(registry.find("one").block()).isNotNull();

        store(registry, "four", 1);

        assertThat(registry.find("two").block()).as("least recently used").isNull();
        assertThat(registry.acknowledged("two").block()).isZero();
        assertThat(registry.find("one").block()).isNotNull();
        assertThat(registry.find("three").block()).isNotNull();
        assertThat(registry.find("four").block()).isNotNull();
        assertThat(registry.bytes()).isLessThanOrEqualTo(3 * STATE + 3 * 1_000);

        // 200 conversations keep the bound: the case of one snapshot per conversation ever served
        for (int i = 0; i < 200; i++) {
            store(registry, "conversation-" + i, 1);
        }
        assertThat(registry.bytes()).isLessThanOrEqualTo(3 * STATE + 3 * 1_000);
        assertThat(registry.find("conversation-199").block()).isNotNull();
        assertThat(registry.find("conversation-196").block()).isNull();
    }

    @Test
    void aStateExpiresAfterTheRetentionUnlessWrittenAgain() {
        TestClock clock = new TestClock();
        InMemorySessionRegistry registry = new InMemorySessionRegistry(Duration.ofMinutes(30), 1 << 20, clock);
        store(registry, "kept", 1);
        store(registry, "left", 1);
        clock.advance(Duration.ofMinutes(20));
        store(registry, "kept", 2);
        clock.advance(Duration.ofMinutes(20));

        assertThat(registry.find("left").block()).isNull();
        assertThat(registry.find("kept").block()).extracting(p -> p.record().turns()).isEqualTo(2L);
        assertThat(registry.bytes()).isLessThan(2 * STATE);
    }

    @Test
    void anOlderStateNeverReplacesANewerOne() {
        InMemorySessionRegistry registry = new InMemorySessionRegistry(Duration.ofHours(1), 1 << 20);
        Lease lease = registry.acquire("late", "self", LEASE).block();
        assertThat(registry.publish(lease, state("late", 3)).block()).isTrue();
        // a late retry of turn 2's state: accepted, as a newer state is stored, but not written
        assertThat(registry.publish(lease, state("late", 2)).block()).isTrue();
        assertThat(registry.find("late").block().record().turns()).isEqualTo(3);
        assertThat(registry.acknowledged("late").block()).isEqualTo(3);
    }

    @Test
    void nonsenseBoundsAreRefusedNamingTheProperty() {
        assertThatThrownBy(() -> new InMemorySessionRegistry(Duration.ZERO, 1))
                .hasMessageContaining("streamingllm.routing.retention");
        assertThatThrownBy(() -> new InMemorySessionRegistry(Duration.ofHours(1), 0))
                .hasMessageContaining("streamingllm.routing.in-memory-limit");
    }
}
