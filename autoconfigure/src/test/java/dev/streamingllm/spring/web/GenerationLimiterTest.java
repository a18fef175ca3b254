package dev.streamingllm.spring.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamingllm.spring.api.ApiException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;
import reactor.core.Disposable;

/** Admission: slots per client, a bounded queue served in arrival order, waiters that give up. */
class GenerationLimiterTest {

    private static final Duration NOW = Duration.ofSeconds(1);

    @Test
    void waitersGetFreedSlotsInArrivalOrderAndAFullQueueIsRefusedAtOnce() throws Exception {
        GenerationLimiter limiter = new GenerationLimiter(1, 2, Duration.ofMinutes(1));
        GenerationLimiter.Slot running = limiter.admit("k").block(NOW);
        CompletableFuture<GenerationLimiter.Slot> first = limiter.admit("k").toFuture();
        CompletableFuture<GenerationLimiter.Slot> second = limiter.admit("k").toFuture();
        assertThat(limiter.waiting()).isEqualTo(2);

        assertThatThrownBy(() -> limiter.admit("k").block(NOW)).isInstanceOfSatisfying(ApiException.class, e -> {
            assertThat(e.status()).isEqualTo(HttpStatus.TOO_MANY_REQUESTS);
            assertThat(e.headers().getFirst("Retry-After")).isEqualTo("1");
        });
        // another client is not held up
        assertThat(limiter.admit("other").block(NOW)).isNotNull();

        running.release();
        running.release();
        GenerationLimiter.Slot next = first.get();
        assertThat(second).isNotDone();
        assertThat(limiter.running("k")).isEqualTo(1);
        next.release();
        second.get().release();
        assertThat(limiter.running("k")).isZero();
        assertThat(limiter.waiting()).isZero();
    }

    @Test
    void aWaiterThatGivesUpLeavesTheQueueAndOneThatTimesOutIs503() {
        GenerationLimiter limiter = new GenerationLimiter(1, 1, Duration.ofMillis(200));
        GenerationLimiter.Slot running = limiter.admit("k").block(NOW);
        Disposable cancelled = limiter.admit("k").subscribe();
        assertThat(limiter.waiting()).isEqualTo(1);
        cancelled.dispose();
        assertThat(limiter.waiting()).isZero();

        assertThatThrownBy(() -> limiter.admit("k").block(NOW)).isInstanceOfSatisfying(ApiException.class,
                e -> assertThat(e.status()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE));
        assertThat(limiter.waiting()).isZero();
        // the slot freed later goes back to the pool, not to a waiter that left
        running.release();
        assertThat(limiter.running("k")).isZero();
    }
}
