package dev.streamingllm.spring.chat;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.DefaultChatOptionsBuilder;
import org.springframework.ai.model.tool.StructuredOutputChatOptions;
import org.springframework.boot.context.properties.bind.ConstructorBinding;

/**
 * Options of {@link StreamingLlmChatModel}: the portable {@link ChatOptions} plus the sink cache's geometry,
 * the sampler's extras, the conversation the prompt belongs to and the JSON Schema the reply must follow. Null
 * means "use the default".
 *
 * <p>{@code sinks}, {@code window} and {@code pinSystemPrompt} shape a conversation's cache when it is created;
 * later turns of the same conversation keep the geometry it was created with.
 */
public final class StreamingLlmChatOptions implements StructuredOutputChatOptions {

    private final @Nullable String model;
    /** OpenAI's frequency penalty (0 = off). */
    private final @Nullable Double frequencyPenalty;
    /** Most tokens generated per reply. */
    private final @Nullable Integer maxTokens;
    /** OpenAI's presence penalty (0 = off). */
    private final @Nullable Double presencePenalty;
    /** Strings that end a reply. */
    private final @Nullable List<String> stop;
    /** Sampling temperature; 0 picks the most likely token (greedy). */
    private final @Nullable Double temperature;
    /** Keep only the k most likely tokens (0 = off). */
    private final @Nullable Integer topK;
    /** Nucleus sampling: keep the most likely tokens up to this probability mass. */
    private final @Nullable Double topP;
    /** Drop tokens less likely than min-p times the most likely one (0 = off). */
    private final @Nullable Double minP;
    /** llama.cpp's repetition penalty (1 = off). */
    private final @Nullable Double repeatPenalty;
    /** Seed of the sampler's random stream, for repeatable replies. */
    private final @Nullable Long seed;
    private final @Nullable Integer sinks;
    private final @Nullable Integer window;
    private final @Nullable Boolean pinSystemPrompt;
    private final @Nullable String conversationId;
    private final @Nullable String client;
    private final @Nullable String outputSchema;

    private StreamingLlmChatOptions(@Nullable String model, @Nullable Double frequencyPenalty, @Nullable Integer maxTokens,
            @Nullable Double presencePenalty, @Nullable List<String> stopSequences, @Nullable Double temperature,
            @Nullable Integer topK, @Nullable Double topP, Builder b) {
        this.model = model;
        this.frequencyPenalty = frequencyPenalty;
        this.maxTokens = maxTokens;
        this.presencePenalty = presencePenalty;
        this.stop = stopSequences == null ? null : stopSequences.stream().distinct().toList();
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.minP = b.minP;
        this.repeatPenalty = b.repeatPenalty;
        this.seed = b.seed;
        this.sinks = b.sinks;
        this.window = b.window;
        this.pinSystemPrompt = b.pinSystemPrompt;
        this.conversationId = b.conversationId;
        this.client = b.client;
        this.outputSchema = b.outputSchema;
    }

    /**
     * The options a configuration sets as every prompt's defaults ({@code streamingllm.chat.*}), bound by Spring Boot;
     * unset ones keep the runtime's defaults. The others concern the model or one prompt.
     */
    @ConstructorBinding
    StreamingLlmChatOptions(@Nullable Double temperature, @Nullable Integer topK, @Nullable Double topP, @Nullable Double minP,
            @Nullable Double repeatPenalty, @Nullable Double frequencyPenalty, @Nullable Double presencePenalty,
            @Nullable Integer maxTokens, @Nullable Long seed, @Nullable List<String> stop) {
        this(null, frequencyPenalty, maxTokens, presencePenalty, stop, temperature, topK, topP,
                builder().minP(minP).repeatPenalty(repeatPenalty).seed(seed));
    }

    public static Builder builder() {
        return new Builder();
    }

    /** These options as a builder, to derive changed copies. */
    @Override
    public Builder mutate() {
        Builder b = builder().model(model).frequencyPenalty(frequencyPenalty).maxTokens(maxTokens)
                .presencePenalty(presencePenalty).stopSequences(stop).temperature(temperature).topK(topK)
                .topP(topP);
        return b.minP(minP).repeatPenalty(repeatPenalty).seed(seed).sinks(sinks).window(window)
                .pinSystemPrompt(pinSystemPrompt).conversationId(conversationId).client(client).outputSchema(outputSchema);
    }

    /** Any {@link ChatOptions} as these options: the portable fields and an output schema, plus ours when it is ours. */
    public static StreamingLlmChatOptions from(ChatOptions options) {
        if (options instanceof StreamingLlmChatOptions ours) {
            return ours;
        }
        Builder b = builder().combineWith(options.mutate());
        return options instanceof StructuredOutputChatOptions structured ? b.outputSchema(structured.getOutputSchema()).build() : b.build();
    }

    @Override
    public @Nullable String getModel() {
        return model;
    }

    @Override
    public @Nullable Double getFrequencyPenalty() {
        return frequencyPenalty;
    }

    @Override
    public @Nullable Integer getMaxTokens() {
        return maxTokens;
    }

    @Override
    public @Nullable Double getPresencePenalty() {
        return presencePenalty;
    }

    @Override
    public @Nullable List<String> getStopSequences() {
        return stop;
    }

    @Override
    public @Nullable Double getTemperature() {
        return temperature;
    }

    @Override
    public @Nullable Integer getTopK() {
        return topK;
    }

    @Override
    public @Nullable Double getTopP() {
        return topP;
    }

    /** Drops tokens less likely than {@code minP} times the most likely one (0 = off). */
    public @Nullable Double getMinP() {
        return minP;
    }

    /** llama.cpp's repetition penalty (1 = off). */
    public @Nullable Double getRepeatPenalty() {
        return repeatPenalty;
    }

    /** The sampler's random stream: the same seed over the same conversation gives the same reply. */
    public @Nullable Long getSeed() {
        return seed;
    }

    /** Attention sinks of a new conversation's cache. */
    public @Nullable Integer getSinks() {
        return sinks;
    }

    /** Rolling window of a new conversation's cache. */
    public @Nullable Integer getWindow() {
        return window;
    }

    /** Keep a new conversation's system prompt next to the sinks, never evicted. */
    public @Nullable Boolean getPinSystemPrompt() {
        return pinSystemPrompt;
    }

    /**
     * The conversation (session) the prompt continues. Spring AI's chat-memory advisors keep theirs under
     * {@code ChatMemory.CONVERSATION_ID}, which the auto-configured {@link ConversationIdAdvisor} copies here. Null:
     * the prompt continues the session whose history it extends, if any.
     */
    public @Nullable String getConversationId() {
        return conversationId;
    }

    /**
     * Who sends the prompt; the HTTP API sets the caller's API key (a fingerprint). A prompt without a conversation
     * id continues only sessions begun by prompts of the same client; null is one client like any other.
     */
    public @Nullable String getClient() {
        return client;
    }

    /**
     * The JSON Schema the reply must follow, enforced while decoding (see the runtime's {@code JsonGrammar} for the
     * supported subset); Spring AI's {@code ChatClient} sets it for {@code entity(...)} under
     * {@code AdvisorParams.ENABLE_NATIVE_STRUCTURED_OUTPUT}.
     */
    @Override
    public @Nullable String getOutputSchema() {
        return outputSchema;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StreamingLlmChatOptions that && Objects.equals(model, that.model)
                && Objects.equals(frequencyPenalty, that.frequencyPenalty) && Objects.equals(maxTokens, that.maxTokens)
                && Objects.equals(presencePenalty, that.presencePenalty)
                && Objects.equals(stop, that.stop) && Objects.equals(temperature, that.temperature)
                && Objects.equals(topK, that.topK) && Objects.equals(topP, that.topP) && Objects.equals(minP, that.minP)
                && Objects.equals(repeatPenalty, that.repeatPenalty) && Objects.equals(seed, that.seed)
                && Objects.equals(sinks, that.sinks) && Objects.equals(window, that.window)
                && Objects.equals(pinSystemPrompt, that.pinSystemPrompt)
                && Objects.equals(conversationId, that.conversationId) && Objects.equals(client, that.client)
                && Objects.equals(outputSchema, that.outputSchema);
    }

    @Override
    public int hashCode() {
        return Objects.hash(model, frequencyPenalty, maxTokens, presencePenalty, stop, temperature, topK, topP,
                minP, repeatPenalty, seed, sinks, window, pinSystemPrompt, conversationId, client, outputSchema);
    }

    @Override
    public String toString() {
        return "StreamingLlmChatOptions[model=" + model + ", temperature=" + temperature + ", topK=" + topK + ", topP="
                + topP + ", minP=" + minP + ", maxTokens=" + maxTokens + ", seed=" + seed + ", sinks=" + sinks
                + ", window=" + window + ", conversationId=" + conversationId + ", client=" + client
                + ", outputSchema=" + outputSchema + "]";
    }

    public static final class Builder extends DefaultChatOptionsBuilder<Builder>
            implements StructuredOutputChatOptions.Builder<Builder> {

        private @Nullable Double minP;
        private @Nullable Double repeatPenalty;
        private @Nullable Long seed;
        private @Nullable Integer sinks;
        private @Nullable Integer window;
        private @Nullable Boolean pinSystemPrompt;
        private @Nullable String conversationId;
        private @Nullable String client;
        private @Nullable String outputSchema;

        public Builder minP(@Nullable Double minP) {
            this.minP = minP;
            return this;
        }

        public Builder repeatPenalty(@Nullable Double repeatPenalty) {
            this.repeatPenalty = repeatPenalty;
            return this;
        }

        public Builder seed(@Nullable Long seed) {
            this.seed = seed;
            return this;
        }

        public Builder sinks(@Nullable Integer sinks) {
            this.sinks = sinks;
            return this;
        }

        public Builder window(@Nullable Integer window) {
            this.window = window;
            return this;
        }

        public Builder pinSystemPrompt(@Nullable Boolean pinSystemPrompt) {
            this.pinSystemPrompt = pinSystemPrompt;
            return this;
        }

        public Builder conversationId(@Nullable String conversationId) {
            this.conversationId = conversationId;
            return this;
        }

        public Builder client(@Nullable String client) {
            this.client = client;
            return this;
        }

        @Override
        public Builder outputSchema(@Nullable String outputSchema) {
            this.outputSchema = outputSchema;
            return this;
        }

        /** Takes every field {@code other} sets; stop sequences are added to ours. */
        @Override
        public Builder combineWith(ChatOptions.Builder<?> other) {
            super.combineWith(other);
            if (other instanceof Builder that) {
                minP = that.minP != null ? that.minP : minP;
                repeatPenalty = that.repeatPenalty != null ? that.repeatPenalty : repeatPenalty;
                seed = that.seed != null ? that.seed : seed;
                sinks = that.sinks != null ? that.sinks : sinks;
                window = that.window != null ? that.window : window;
                pinSystemPrompt = that.pinSystemPrompt != null ? that.pinSystemPrompt : pinSystemPrompt;
                conversationId = that.conversationId != null ? that.conversationId : conversationId;
                client = that.client != null ? that.client : client;
                outputSchema = that.outputSchema != null ? that.outputSchema : outputSchema;
            }
            return this;
        }

        @Override
        public StreamingLlmChatOptions build() {
            return new StreamingLlmChatOptions(model, frequencyPenalty, maxTokens, presencePenalty, stopSequences,
                    temperature, topK, topP, this);
        }
    }
}
