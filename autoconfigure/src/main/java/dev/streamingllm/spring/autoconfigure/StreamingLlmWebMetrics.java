package dev.streamingllm.spring.autoconfigure;

import dev.streamingllm.spring.web.ChatCompletionsController;
import dev.streamingllm.spring.web.GenerationLimiter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

/** The HTTP API's admission as Micrometer meters: generations running, requests waiting, turns abandoned by clients. */
public class StreamingLlmWebMetrics implements MeterBinder {

    private final GenerationLimiter limiter;
    private final ChatCompletionsController controller;

    public StreamingLlmWebMetrics(GenerationLimiter limiter, ChatCompletionsController controller) {
        this.limiter = limiter;
        this.controller = controller;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Gauge.builder("streamingllm.web.generations.running", limiter, GenerationLimiter::running)
                .description("generations running, all API keys together").register(registry);
        Gauge.builder("streamingllm.web.queue.depth", limiter, GenerationLimiter::waiting)
                .description("requests waiting for a generation slot, all API keys together").register(registry);
        FunctionCounter.builder("streamingllm.web.generations.abandoned", controller, ChatCompletionsController::abandoned)
                .description("turns whose client went away before they ended").register(registry);
    }
}
