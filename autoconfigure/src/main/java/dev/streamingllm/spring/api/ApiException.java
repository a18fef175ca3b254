package dev.streamingllm.spring.api;

import java.time.Duration;
import org.jspecify.annotations.Nullable;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import reactor.core.publisher.Mono;
import tools.jackson.databind.json.JsonMapper;

/**
 * A request refused with an OpenAI-style error: the status, a message saying what was wrong, the type, the request
 * field it concerns (if any), a code, and when to retry (if it is worth it).
 */
public class ApiException extends RuntimeException {

    private final HttpStatus status;
    private final String type;
    private final String code;
    private final @Nullable String param;
    private final @Nullable Duration retryAfter;

    public ApiException(HttpStatus status, String type, String code, String message) {
        this(status, type, code, null, message, null);
    }

    private ApiException(HttpStatus status, String type, String code, @Nullable String param, String message,
            @Nullable Duration retryAfter) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.code = code;
        this.param = param;
        this.retryAfter = retryAfter;
    }

    public static ApiException invalidRequest(String code, String message) {
        return new ApiException(HttpStatus.BAD_REQUEST, "invalid_request_error", code, message);
    }

    /** A 400 about the request field {@code param} (as OpenAI names it, e.g. {@code messages[0].content}). */
    public static ApiException invalidParam(String param, String code, String message) {
        return new ApiException(HttpStatus.BAD_REQUEST, "invalid_request_error", code, param, message, null);
    }

    public static ApiException notFound(String code, String message) {
        return new ApiException(HttpStatus.NOT_FOUND, "invalid_request_error", code, message);
    }

    /** This error with a {@code Retry-After} header: the client may try again after {@code delay}. */
    public ApiException retryAfter(Duration delay) {
        return new ApiException(status, type, code, param, getMessage(), delay);
    }

    /** This error about the request field {@code param}. */
    public ApiException param(String param) {
        return new ApiException(status, type, code, param, getMessage(), retryAfter);
    }

    public HttpStatus status() {
        return status;
    }

    public ApiError body() {
        return new ApiError(getMessage(), type, param, code);
    }

    /** The headers that go with the error: {@code Retry-After} in whole seconds, at least one. */
    public HttpHeaders headers() {
        HttpHeaders headers = new HttpHeaders();
        if (retryAfter != null) {
            headers.set(HttpHeaders.RETRY_AFTER, Long.toString(Math.max(1, retryAfter.toSeconds())));
        }
        return headers;
    }

    /** Answers with this error, for filters and handlers that refuse a request outside any controller. */
    public Mono<Void> writeTo(ServerHttpResponse response, JsonMapper json) {
        response.setStatusCode(status);
        response.getHeaders().addAll(headers());
        response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
        return response.writeWith(Mono.just(response.bufferFactory().wrap(json.writeValueAsBytes(body()))));
    }
}
