package dev.streamingllm.spring.web;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import tools.jackson.databind.JsonNode;

/**
 * The body of OpenAI's {@code POST /v1/chat/completions}: the fields this server honours. Unknown fields are
 * ignored, as OpenAI clients send many optional ones; fields it cannot honour ({@code n > 1}, tools) are refused.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ChatCompletionRequest(
        @Nullable String model,
        @Nullable List<Message> messages,
        @Nullable Boolean stream,
        @JsonProperty("stream_options") @Nullable StreamOptions streamOptions,
        @JsonProperty("max_tokens") @Nullable Integer maxTokens,
        @JsonProperty("max_completion_tokens") @Nullable Integer maxCompletionTokens,
        @Nullable Double temperature,
        @JsonProperty("top_p") @Nullable Double topP,
        @JsonProperty("frequency_penalty") @Nullable Double frequencyPenalty,
        @JsonProperty("presence_penalty") @Nullable Double presencePenalty,
        @Nullable Long seed,
        /* a string or an array of strings */
        @Nullable JsonNode stop,
        @Nullable Integer n,
        @Nullable JsonNode tools,
        @JsonProperty("response_format") @Nullable ResponseFormat responseFormat,
        /* OpenAI's end-user id; here also the conversation id when no X-Conversation-Id header is sent */
        @Nullable String user,
        @Nullable Map<String, String> metadata) {

    /** One message; {@code content} is a string or an array of content parts (only text parts are accepted). */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Message(@Nullable String role, @Nullable JsonNode content) {
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record StreamOptions(@JsonProperty("include_usage") @Nullable Boolean includeUsage) {
    }

    public boolean streaming() {
        return Boolean.TRUE.equals(stream);
    }

    public boolean includeUsage() {
        return streamOptions != null && Boolean.TRUE.equals(streamOptions.includeUsage());
    }

    /** {@code max_completion_tokens} (the current name) or else {@code max_tokens} (the deprecated one). */
    public @Nullable Integer tokenBudget() {
        return maxCompletionTokens != null ? maxCompletionTokens : maxTokens;
    }
}
