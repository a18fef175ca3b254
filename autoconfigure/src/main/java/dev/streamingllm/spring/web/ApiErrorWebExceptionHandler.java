package dev.streamingllm.spring.web;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.Ordered;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebExceptionHandler;
import org.springframework.web.util.DisconnectedClientHelper;
import reactor.core.publisher.Mono;
import tools.jackson.databind.json.JsonMapper;

/**
 * Failures under {@code /v1} that no controller handled (an unknown URL, a method not allowed, an upload that broke
 * off) as the API's errors rather than Spring Boot's error page. A client that went away is logged in one line at
 * DEBUG: there is nobody left to answer.
 */
public class ApiErrorWebExceptionHandler implements WebExceptionHandler, Ordered {

    private static final Logger log = LoggerFactory.getLogger(ApiErrorWebExceptionHandler.class);

    private final JsonMapper json;

    public ApiErrorWebExceptionHandler(JsonMapper json) {
        this.json = json;
    }

    @Override
    public int getOrder() {
        // before Spring Boot's error handler (-1)
        return -2;
    }

    @Override
    public Mono<Void> handle(ServerWebExchange exchange, Throwable e) {
        if (!exchange.getRequest().getPath().pathWithinApplication().value().startsWith("/v1/")) {
            return Mono.error(e);
        }
        if (DisconnectedClientHelper.isClientDisconnectedException(e)) {
            log.debug("client went away during {}: {}", ApiExceptionHandler.call(exchange.getRequest()), e.toString());
            return Mono.empty();
        }
        if (exchange.getResponse().isCommitted()) {
            log.warn("{} failed after its response began: {}", ApiExceptionHandler.call(exchange.getRequest()), e.toString());
            return Mono.empty();
        }
        return ApiExceptionHandler.toApiError(e, exchange.getRequest()).writeTo(exchange.getResponse(), json);
    }
}
