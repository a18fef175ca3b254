package dev.streamingllm.spring.web;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.streamingllm.spring.session.SessionInfo;

/** {@code GET /v1/sessions/{id}}: a session's cache geometry, what has passed through it, and its owner. */
public record SessionView(
        String id,
        String object,
        String owner,
        int sinks,
        int window,
        int capacity,
        @JsonProperty("tokens_seen") long tokensSeen,
        long evicted,
        long prefilled,
        @JsonProperty("cache_bytes") long cacheBytes,
        @JsonProperty("created_at") long createdAt,
        @JsonProperty("last_active") long lastActive) {

    static SessionView of(SessionInfo info, String owner) {
        return new SessionView(info.id(), "session", owner, info.sinks(), info.window(), info.capacity(), info.tokensSeen(),
                info.evicted(), info.prefilled(), info.cacheBytes(), info.createdAt().getEpochSecond(),
                info.lastActive().getEpochSecond());
    }

    /** The answer to {@code DELETE /v1/sessions/{id}}, shaped like OpenAI's deletion responses. */
    public record Deleted(String id, String object, boolean deleted) {

        Deleted(String id) {
            this(id, "session.deleted", true);
        }
    }
}
