package dev.streamingllm.spring.web;

import dev.streamingllm.spring.session.SessionLimitException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.server.ServerWebInputException;

/** Every failure of the API as OpenAI-style JSON with a message that says what was wrong; never a stack trace. */
@RestControllerAdvice(assignableTypes = {ChatCompletionsController.class, SessionsController.class})
public class ApiExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(ApiExceptionHandler.class);

    @ExceptionHandler(Exception.class)
    public ResponseEntity<ApiError> handle(Exception e) {
        ApiException error = toApiError(e);
        return ResponseEntity.status(error.status()).body(error.body());
    }

    static ApiException toApiError(Throwable e) {
        return switch (e) {
            case ApiException api -> api;
            case ServerWebInputException input -> ApiException.invalidRequest("invalid_request_body",
                    "The request body is not a valid chat completion request: " + rootMessage(input) + ".");
            case ResponseStatusException status -> new ApiException(HttpStatus.valueOf(status.getStatusCode().value()),
                    "invalid_request_error", "http_" + status.getStatusCode().value(),
                    status.getReason() != null ? status.getReason() : status.getMessage());
            case SessionLimitException full -> new ApiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error",
                    "sessions_exhausted", full.getMessage());
            case IllegalArgumentException bad -> ApiException.invalidRequest("invalid_request", bad.getMessage());
            default -> {
                log.error("chat request failed", e);
                yield new ApiException(HttpStatus.INTERNAL_SERVER_ERROR, "server_error", "internal_error",
                        "The server failed to complete the request (" + e.getClass().getSimpleName() + "); its log has the details.");
            }
        };
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() != null ? root.getMessage() : e.getMessage();
        // Jackson appends the source location and reference chain: the first line says what was wrong
        int newline = message == null ? -1 : message.indexOf('\n');
        return newline < 0 ? String.valueOf(message) : message.substring(0, newline);
    }
}
