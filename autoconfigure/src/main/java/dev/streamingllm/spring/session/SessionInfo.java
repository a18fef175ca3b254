package dev.streamingllm.spring.session;

import java.time.Instant;

/**
 * A session's state at one moment: its cache geometry and what has passed through it.
 *
 * @param capacity   tokens the cache holds ({@code sinks + window})
 * @param tokensSeen tokens the session has processed in all (prompts and replies)
 * @param evicted    tokens evicted from the window
 * @param prefilled  tokens fed as prompts (the rest were decoded one by one)
 * @param cacheBytes bytes of keys and values the session holds once its cache is full (it grows to that with the conversation)
 */
public record SessionInfo(
        String id,
        int sinks,
        int window,
        int capacity,
        long tokensSeen,
        long evicted,
        long prefilled,
        long cacheBytes,
        Instant createdAt,
        Instant lastActive) {
}
