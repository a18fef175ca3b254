package dev.streamingllm.spring.web;

import dev.streamingllm.spring.api.ApiError;
import dev.streamingllm.spring.api.ApiException;
import dev.streamingllm.spring.session.SessionLimitException;
import dev.streamingllm.spring.session.SessionUnavailableException;
import java.time.Duration;
import java.util.Set;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.server.MethodNotAllowedException;
import org.springframework.web.server.NotAcceptableStatusException;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.ServerWebInputException;
import org.springframework.web.server.UnsupportedMediaTypeStatusException;
import org.springframework.web.util.DisconnectedClientHelper;

/**
 * Every failure of the API as OpenAI-style JSON with a message that says what was wrong; never a stack trace nor a
 * Java type. The one home of the mapping from failures to errors: the controllers' failures arrive here, those raised
 * around them (an unknown URL, a wrong method, a failed upload) through {@link ApiErrorWebExceptionHandler}.
 */
@RestControllerAdvice(assignableTypes = {ChatCompletionsController.class, SessionsController.class})
public class ApiExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(ApiExceptionHandler.class);

    /** What a client refused for want of a session here is told to wait. */
    private static final Duration SESSIONS_RETRY_AFTER = Duration.ofSeconds(1);

    @ExceptionHandler(Exception.class)
    public ResponseEntity<ApiError> handle(Exception e, ServerWebExchange exchange) {
        ApiException error = toApiError(e, exchange.getRequest());
        return ResponseEntity.status(error.status()).headers(error.headers()).body(error.body());
    }

    /** The error to answer {@code e} with; {@code request}, when known, names the method and URL in messages. */
    static ApiException toApiError(Throwable e, @Nullable ServerHttpRequest request) {
        return switch (e) {
            case ApiException api -> api;
            case MethodNotAllowedException method -> new ApiException(HttpStatus.METHOD_NOT_ALLOWED, "invalid_request_error",
                    "method_not_allowed", "The method " + method.getHttpMethod() + " is not allowed for " + path(request)
                            + "; use " + names(method.getSupportedMethods()) + ".");
            case UnsupportedMediaTypeStatusException media -> new ApiException(HttpStatus.UNSUPPORTED_MEDIA_TYPE,
                    "invalid_request_error", "unsupported_media_type", (media.getContentType() == null
                            ? "The request has no Content-Type" : "The Content-Type '" + media.getContentType() + "' is not supported")
                            + ": send the body as JSON with the header 'Content-Type: application/json'.");
            case NotAcceptableStatusException _ -> new ApiException(HttpStatus.NOT_ACCEPTABLE, "invalid_request_error",
                    "not_acceptable", "This endpoint answers with application/json (or text/event-stream when streaming),"
                            + " which the request's Accept header does not allow.");
            case ServerWebInputException _ -> ApiException.invalidRequest("invalid_request_body",
                    "The request could not be read: send a chat completion request as a JSON object.");
            case ResponseStatusException status when status.getStatusCode().value() == 404 -> ApiException.notFound("unknown_url",
                    "Invalid URL (" + call(request) + "): this server answers /v1/chat/completions, /v1/models and /v1/sessions/{id}.");
            case ResponseStatusException status -> {
                HttpStatus code = HttpStatus.valueOf(status.getStatusCode().value());
                yield new ApiException(code, code.is5xxServerError() ? "server_error" : "invalid_request_error",
                        "http_" + code.value(), code.getReasonPhrase() + " (" + call(request) + ").");
            }
            case SessionLimitException full -> new ApiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error",
                    "sessions_exhausted", full.getMessage()).retryAfter(SESSIONS_RETRY_AFTER);
            // session routing: another instance took the conversation first; a retry is routed there
            case SessionUnavailableException elsewhere -> new ApiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error",
                    "session_unavailable", elsewhere.getMessage()).retryAfter(SESSIONS_RETRY_AFTER);
            case IllegalArgumentException bad -> ApiException.invalidRequest("invalid_request", bad.getMessage());
            default -> {
                if (DisconnectedClientHelper.isClientDisconnectedException(e)) {
                    log.debug("client went away during {}: {}", call(request), e.toString());
                } else {
                    log.error("{} failed", call(request), e);
                }
                yield new ApiException(HttpStatus.INTERNAL_SERVER_ERROR, "server_error", "internal_error",
                        "The server failed to complete the request; its log has the details.");
            }
        };
    }

    private static String path(@Nullable ServerHttpRequest request) {
        return request == null ? "this URL" : request.getPath().pathWithinApplication().value();
    }

    /** The request's method and path, as in {@code GET /v1/models}. */
    static String call(@Nullable ServerHttpRequest request) {
        return request == null ? "the request" : request.getMethod() + " " + path(request);
    }

    private static String names(Set<HttpMethod> methods) {
        return methods.stream().map(HttpMethod::name).sorted().collect(Collectors.joining(" or "));
    }
}
