package dev.streamingllm.spring.autoconfigure;

import dev.streamingllm.backend.Backend;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.session.Warmup;
import dev.streamingllm.spring.session.ChatSessions;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.core.Ordered;

/**
 * Warms the model's CPU kernels up ({@link Warmup}) once the application has started: Spring Boot reports the
 * application ready for traffic ({@code ReadinessState.ACCEPTING_TRAFFIC}) only after its runners, so a load balancer
 * that follows readiness sends the first conversations to a warm instance. A request that arrives earlier is answered
 * beside the warm-up. It runs before the application's own runners (an application's first prompt, read by a runner,
 * then comes at full speed). A model on the CUDA backend is left alone: its kernels are compiled when it loads, and its
 * device caches, which a round leases several of, go back only when collected.
 */
public class StreamingLlmWarmup implements ApplicationRunner, Ordered {

    private static final Logger log = LoggerFactory.getLogger(StreamingLlmWarmup.class);

    private final ChatSessions sessions;
    private final SamplingParams sampling;
    private final Duration timeout;
    private volatile Warmup.@Nullable Report report;

    /** Warms the engine of {@code sessions} up on caches shaped like theirs, sampling as {@code sampling} says. */
    public StreamingLlmWarmup(ChatSessions sessions, SamplingParams sampling, Duration timeout) {
        this.sessions = sessions;
        this.sampling = sampling;
        this.timeout = Objects.requireNonNull(timeout, "streamingllm.warmup.timeout must be a duration, e.g. 30s");
    }

    @Override
    public int getOrder() {
        return Ordered.HIGHEST_PRECEDENCE;
    }

    /**
     * A warm-up that fails is logged and the application starts cold: the conversations that would have failed with it
     * fail on their own, with their error.
     */
    @Override
    public void run(ApplicationArguments args) {
        if (sessions.model().backend().backend() != Backend.CPU) {
            return;
        }
        try {
            ChatSessions.Settings settings = sessions.settings();
            Warmup.Report done = Warmup.run(sessions.engine(), settings.cache(), settings.pinSystemPrompt(), sampling, timeout);
            report = done;
            log.info("warm-up: {} rounds in {} ms, the last {} ms{}", done.rounds(), done.elapsed().toMillis(), done.lastRound().toMillis(),
                    done.settled() ? "" : " (stopped by streamingllm.warmup.timeout before two rounds took the same time)");
        } catch (RuntimeException e) {
            log.warn("warm-up failed, the first conversations run before the JIT has compiled the kernels", e);
        }
    }

    /** What the warm-up did, or null before it has run, when it failed, or on the CUDA backend. */
    public Warmup.@Nullable Report report() {
        return report;
    }
}
