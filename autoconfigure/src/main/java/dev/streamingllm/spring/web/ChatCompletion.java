package dev.streamingllm.spring.web;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** OpenAI's non-streamed chat completion. Nulls are written out: OpenAI clients expect the keys present. */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record ChatCompletion(
        String id,
        String object,
        long created,
        String model,
        List<Choice> choices,
        Usage usage,
        @JsonProperty("system_fingerprint") @Nullable String systemFingerprint) {

    public ChatCompletion(String id, long created, String model, String content, String finishReason, Usage usage) {
        this(id, "chat.completion", created, model,
                List.of(new Choice(0, new Message("assistant", content, null), null, finishReason)), usage, null);
    }

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record Choice(int index, Message message, @Nullable Object logprobs,
            @JsonProperty("finish_reason") String finishReason) {
    }

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record Message(String role, String content, @Nullable String refusal) {
    }

    /** Token counts; {@code prompt_tokens} counts what was prefilled, i.e. only the new messages of a continued session. */
    public record Usage(
            @JsonProperty("prompt_tokens") int promptTokens,
            @JsonProperty("completion_tokens") int completionTokens,
            @JsonProperty("total_tokens") int totalTokens) {

        public Usage(int promptTokens, int completionTokens) {
            this(promptTokens, completionTokens, promptTokens + completionTokens);
        }
    }
}
