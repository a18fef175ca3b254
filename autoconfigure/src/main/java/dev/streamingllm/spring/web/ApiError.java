package dev.streamingllm.spring.web;

import com.fasterxml.jackson.annotation.JsonInclude;
import org.jspecify.annotations.Nullable;

/** The error body OpenAI clients parse: {@code {"error": {"message", "type", "code"}}}. */
public record ApiError(Body error) {

    public ApiError(String message, String type, @Nullable String code) {
        this(new Body(message, type, code));
    }

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record Body(String message, String type, @Nullable String code) {
    }
}
