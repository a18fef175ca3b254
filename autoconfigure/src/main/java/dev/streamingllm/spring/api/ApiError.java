package dev.streamingllm.spring.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import org.jspecify.annotations.Nullable;

/**
 * The error body OpenAI clients parse: {@code {"error": {"message", "type", "param", "code"}}}; {@code param} names the
 * request field that was wrong, when one was.
 */
public record ApiError(Body error) {

    public ApiError(String message, String type, @Nullable String param, @Nullable String code) {
        this(new Body(message, type, param, code));
    }

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record Body(String message, String type, @Nullable String param, @Nullable String code) {
    }
}
