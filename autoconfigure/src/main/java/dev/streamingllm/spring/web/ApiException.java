package dev.streamingllm.spring.web;

import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import reactor.core.publisher.Mono;
import tools.jackson.databind.json.JsonMapper;

/** A request refused with an OpenAI-style error: the status, a message saying what was wrong, the type and a code. */
public class ApiException extends RuntimeException {

    private final HttpStatus status;
    private final String type;
    private final String code;

    public ApiException(HttpStatus status, String type, String code, String message) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.code = code;
    }

    public static ApiException invalidRequest(String code, String message) {
        return new ApiException(HttpStatus.BAD_REQUEST, "invalid_request_error", code, message);
    }

    public static ApiException notFound(String code, String message) {
        return new ApiException(HttpStatus.NOT_FOUND, "invalid_request_error", code, message);
    }

    public HttpStatus status() {
        return status;
    }

    public ApiError body() {
        return new ApiError(getMessage(), type, code);
    }

    /** Answers with this error, for filters that refuse a request before any handler runs. */
    public Mono<Void> writeTo(ServerHttpResponse response, JsonMapper json) {
        response.setStatusCode(status);
        response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
        return response.writeWith(Mono.just(response.bufferFactory().wrap(json.writeValueAsBytes(body()))));
    }
}
