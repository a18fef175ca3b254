package dev.streamingllm.spring.web;

import dev.streamingllm.spring.api.ApiException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.springframework.http.HttpStatus;
import reactor.core.publisher.Mono;

/**
 * Admission to generation, per client (API key): up to {@link #limit()} generations run at once, and up to
 * {@code queue} more wait for a slot, in arrival order, for at most {@code queueTimeout}. A request finding the
 * queue full is refused at once (429, with {@code Retry-After}); one that waited too long is refused then (503).
 */
public final class GenerationLimiter {

    /** What a refused request is told to wait before it retries. */
    private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

    /** One generation's slot, held until {@link #release()}: once, however often it is called. */
    public final class Slot {

        private final String client;
        private final AtomicBoolean released = new AtomicBoolean();

        private Slot(String client) {
            this.client = client;
        }

        public void release() {
            if (released.compareAndSet(false, true)) {
                handOn(client);
            }
        }
    }

    /** A client's generations: running, and waiting in arrival order. */
    private static final class Client {
        int running;
        final ArrayDeque<CompletableFuture<Slot>> waiting = new ArrayDeque<>();
    }

    private final int limit;
    private final int queue;
    private final Duration queueTimeout;
    // guarded by this
    private final Map<String, Client> clients = new HashMap<>();
    private int waiting;

    public GenerationLimiter(int limit, int queue, Duration queueTimeout) {
        if (limit < 1) {
            throw new IllegalArgumentException("the limit of concurrent generations per key must be >= 1, was " + limit);
        }
        if (queue < 0) {
            throw new IllegalArgumentException("the queue of generations per key must be >= 0, was " + queue);
        }
        if (queueTimeout.isNegative() || queueTimeout.isZero()) {
            throw new IllegalArgumentException("the queue timeout must be positive, was " + queueTimeout);
        }
        this.limit = limit;
        this.queue = queue;
        this.queueTimeout = queueTimeout;
    }

    /**
     * A slot for {@code client}: at once when one is free, else when one is handed on to it from the queue. Fails with
     * a 429 {@link ApiException} when the queue is full, a 503 one when the wait exceeds the queue timeout. Cancelling
     * the wait leaves the queue.
     */
    public Mono<Slot> admit(String client) {
        return Mono.defer(() -> {
            CompletableFuture<Slot> turn = new CompletableFuture<>();
            synchronized (this) {
                Client c = clients.computeIfAbsent(client, k -> new Client());
                if (c.running < limit) {
                    c.running++;
                    return Mono.just(new Slot(client));
                }
                if (c.waiting.size() >= queue) {
                    return Mono.error(queueFull());
                }
                c.waiting.add(turn);
                waiting++;
            }
            AtomicBoolean delivered = new AtomicBoolean();
            Runnable giveUp = () -> {
                if (!delivered.get()) {
                    leave(client, turn);
                }
            };
            // leaves the queue before the error or cancel travels on, so that the caller sees the queue as it is
            return Mono.fromFuture(turn, true)
                    .timeout(queueTimeout)
                    .doOnNext(slot -> delivered.set(true))
                    .onErrorMap(TimeoutException.class, e -> timedOut())
                    .doOnError(e -> giveUp.run())
                    .doOnCancel(giveUp);
        });
    }

    /** Generations {@code client} runs now. */
    public synchronized int running(String client) {
        Client c = clients.get(client);
        return c == null ? 0 : c.running;
    }

    /** Requests waiting for a slot, all clients together. */
    public synchronized int waiting() {
        return waiting;
    }

    /** Generations running, all clients together. */
    public synchronized int running() {
        return clients.values().stream().mapToInt(c -> c.running).sum();
    }

    public int limit() {
        return limit;
    }

    /** A slot of {@code client} came free: to the first waiter, else back to the pool. */
    private void handOn(String client) {
        CompletableFuture<Slot> next;
        synchronized (this) {
            Client c = clients.get(client);
            next = c.waiting.poll();
            if (next != null) {
                waiting--;
            } else if (--c.running == 0) {
                clients.remove(client);
            }
        }
        if (next != null) {
            // outside the lock: the waiter's request goes on in this thread
            next.complete(new Slot(client));
        }
    }

    /** A waiter gave up (timed out or cancelled); a slot handed to it meanwhile goes on to the next. */
    private void leave(String client, CompletableFuture<Slot> turn) {
        boolean queued;
        synchronized (this) {
            Client c = clients.get(client);
            queued = c != null && c.waiting.remove(turn);
            if (queued) {
                waiting--;
            }
        }
        if (!queued) {
            // handOn took it off the queue: the slot it hands over (now or in a moment) is not wanted
            turn.thenAccept(Slot::release);
        }
    }

    private ApiException queueFull() {
        return new ApiException(HttpStatus.TOO_MANY_REQUESTS, "rate_limit_error", "too_many_concurrent_generations",
                "This API key already runs " + limit + " generations and has " + queue + " more waiting, the server's limits"
                        + " (streamingllm.web.limits.concurrent-generations-per-key and streamingllm.web.limits.queue);"
                        + " retry after a moment.").retryAfter(RETRY_AFTER);
    }

    private ApiException timedOut() {
        return new ApiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error", "queue_timeout",
                "The request waited " + queueTimeout.toMillis() + " ms for one of this API key's " + limit
                        + " generation slots (streamingllm.web.limits.queue-timeout); the server is busy, retry later.")
                .retryAfter(RETRY_AFTER);
    }
}
