package dev.streamingllm.spring.web;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/** Counts the generations each client (API key) runs at once, refusing one over the limit. */
public final class GenerationLimiter {

    private final int limit;
    private final ConcurrentMap<String, Integer> running = new ConcurrentHashMap<>();

    public GenerationLimiter(int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("the limit of concurrent generations per key must be >= 1, was " + limit);
        }
        this.limit = limit;
    }

    /** Takes a slot for {@code client}; false when it already runs {@link #limit()} generations. */
    public boolean tryAcquire(String client) {
        boolean[] acquired = {false};
        running.compute(client, (k, n) -> {
            int count = n == null ? 0 : n;
            if (count >= limit) {
                return n;
            }
            acquired[0] = true;
            return count + 1;
        });
        return acquired[0];
    }

    public void release(String client) {
        running.computeIfPresent(client, (k, n) -> n <= 1 ? null : n - 1);
    }

    public int running(String client) {
        return running.getOrDefault(client, 0);
    }

    public int limit() {
        return limit;
    }
}
