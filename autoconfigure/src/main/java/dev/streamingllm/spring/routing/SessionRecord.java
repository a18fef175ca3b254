package dev.streamingllm.spring.routing;

import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * What the registry knows about a session besides its lease: who served it last, on which model and cache
 * geometry, how far it has come, under which fencing token that was written, and which client the conversation
 * belongs to ({@code client}: the HTTP API's {@code "key:" + SHA-256 hex of the API key}, never the key; null when
 * not bound), so that a new owner after a takeover keeps the binding.
 *
 * @param turns the conversation's turns this state holds, counted across owners: a newer owner continues the count,
 *              and the registry keeps no state older than what it stores
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
        long fence,
        @Nullable String client,
        long turns) {
}
