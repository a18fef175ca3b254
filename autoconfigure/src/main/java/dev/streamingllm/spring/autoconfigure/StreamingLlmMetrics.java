package dev.streamingllm.spring.autoconfigure;

import dev.streamingllm.spring.session.ChatSessions;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.function.ToDoubleFunction;

/** The sessions' cache as Micrometer meters: tokens through it, sessions held and the bytes they take. */
public class StreamingLlmMetrics implements MeterBinder {

    private final ChatSessions sessions;

    public StreamingLlmMetrics(ChatSessions sessions) {
        this.sessions = sessions;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        counter(registry, "streamingllm.tokens.seen", "tokens", "tokens processed by all sessions (prompts and replies)", s -> s.totals().seen());
        counter(registry, "streamingllm.tokens.prefilled", "tokens", "prompt tokens fed to the caches", s -> s.totals().prefilled());
        counter(registry, "streamingllm.tokens.generated", "tokens", "tokens generated", s -> s.totals().generated());
        counter(registry, "streamingllm.tokens.evicted", "tokens", "tokens evicted from the caches' windows", s -> s.totals().evicted());
        counter(registry, "streamingllm.turns", "turns", "turns run", s -> s.totals().turns());
        Gauge.builder("streamingllm.sessions.active", sessions, ChatSessions::active)
                .description("sessions holding a cache (named, anonymous and one-shot)").register(registry);
        Gauge.builder("streamingllm.sessions.max", sessions, s -> s.settings().maxSessions())
                .description("sessions held at most").register(registry);
        Gauge.builder("streamingllm.cache.bytes", sessions, ChatSessions::cacheBytes).baseUnit("bytes")
                .description("bytes of keys and values the sessions hold once their caches are full (the heap they are counted against)").register(registry);
    }

    private void counter(MeterRegistry registry, String name, String unit, String description, ToDoubleFunction<ChatSessions> value) {
        FunctionCounter.builder(name, sessions, value).baseUnit(unit).description(description).register(registry);
    }
}
