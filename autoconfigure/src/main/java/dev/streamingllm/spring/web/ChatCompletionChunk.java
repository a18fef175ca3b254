package dev.streamingllm.spring.web;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One server-sent event of a streamed chat completion: a piece of the reply, then one chunk with the finish
 * reason (and {@code "durable": false} when the turn's state could not be stored in the session registry), then (when the
 * client asked for {@code stream_options.include_usage}) one with the usage and no choices.
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record ChatCompletionChunk(
        String id,
        String object,
        long created,
        String model,
        List<Choice> choices,
        @JsonInclude(JsonInclude.Include.NON_NULL) ChatCompletion.@Nullable Usage usage,
        @JsonProperty("system_fingerprint") @Nullable String systemFingerprint,
        @JsonInclude(JsonInclude.Include.NON_NULL) @Nullable Boolean durable) {

    static ChatCompletionChunk delta(String id, long created, String model, Delta delta, @Nullable String finishReason) {
        return new ChatCompletionChunk(id, "chat.completion.chunk", created, model,
                List.of(new Choice(0, delta, null, finishReason)), null, null, null);
    }

    /** The finishing chunk; {@code "durable": false} (an extension) when the turn's state could not be stored. */
    static ChatCompletionChunk finish(String id, long created, String model, String finishReason, boolean durable) {
        return new ChatCompletionChunk(id, "chat.completion.chunk", created, model,
                List.of(new Choice(0, new Delta(null, null), null, finishReason)), null, null, durable ? null : Boolean.FALSE);
    }

    static ChatCompletionChunk usage(String id, long created, String model, ChatCompletion.Usage usage) {
        return new ChatCompletionChunk(id, "chat.completion.chunk", created, model, List.of(), usage, null, null);
    }

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record Choice(int index, Delta delta, @Nullable Object logprobs,
            @JsonProperty("finish_reason") @Nullable String finishReason) {
    }

    /** The role comes in the first chunk only; the finishing chunk has an empty delta. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Delta(@Nullable String role, @Nullable String content) {
    }
}
