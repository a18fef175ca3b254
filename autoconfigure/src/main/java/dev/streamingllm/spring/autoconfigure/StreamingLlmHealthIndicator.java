package dev.streamingllm.spring.autoconfigure;

import dev.streamingllm.spring.session.ChatSessions;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/** The model, the backend and the sessions: UP while the model is loaded and serving. */
public class StreamingLlmHealthIndicator extends AbstractHealthIndicator {

    private final ChatSessions sessions;
    private final StreamingLlmProperties.Backend backend;

    public StreamingLlmHealthIndicator(ChatSessions sessions, StreamingLlmProperties.Backend backend) {
        super("StreamingLLM health check failed");
        this.sessions = sessions;
        this.backend = backend;
    }

    @Override
    protected void doHealthCheck(Health.Builder builder) {
        ChatSessions.Settings settings = sessions.settings();
        builder.up()
                .withDetail("model", sessions.model().path().getFileName().toString())
                .withDetail("architecture", sessions.model().config().architecture())
                // the configured choice; the coordinator wires the CUDA backend later, so the CPU backend runs now
                .withDetail("backend", backend.name().toLowerCase())
                .withDetail("activeBackend", "cpu")
                .withDetail("sessions", sessions.count())
                .withDetail("maxSessions", settings.maxSessions())
                .withDetail("cache", settings.cache().sinks() + " sinks + " + settings.cache().window() + " window")
                .withDetail("bytesPerSession", sessions.bytesPerSession())
                .withDetail("cacheBytes", sessions.cacheBytes());
    }
}
