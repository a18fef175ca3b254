package dev.streamingllm.spring.routing;

import java.time.Instant;

/**
 * What the registry knows about a session besides its lease: who served it last, on which model and cache
 * geometry, how far it has come, and under which fencing token that was written.
 */
public record SessionRecord(
        String sessionId,
        String ownerId,
        String ownerUrl,
        String modelFingerprint,
        int sinks,
        int window,
        long tokensSeen,
        Instant lastActive,
        long fence) {
}
