package dev.streamingllm.spring.routing;

import dev.streamingllm.spring.api.ApiException;
import dev.streamingllm.spring.api.ExchangeAttributes;
import java.net.URI;
import org.springframework.core.Ordered;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.reactive.function.BodyInserters;
import org.springframework.web.reactive.function.client.WebClient;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import tools.jackson.databind.json.JsonMapper;

/**
 * Sends each request that names a conversation to the instance that owns it: served here, proxied with a
 * streaming passthrough (server-sent events included), or redirected with 307 — per {@link RoutingMode}.
 *
 * <p>Runs after the HTTP API's {@code ApiRequestFilter}, so a request is authenticated and size-checked here
 * before it is forwarded, and its conversation id is the one that filter resolved (the {@code user} field
 * included; the body it read is replayed to the owner). Without the HTTP API the id comes from the header or
 * the session path, by the same rule ({@link ExchangeAttributes#resolveConversationId}).
 */
public final class RoutingWebFilter implements WebFilter, Ordered {

    /** Set on proxied requests: the receiver serves them or refuses, it never forwards them again. */
    public static final String FORWARDED_BY = "X-StreamingLLM-Forwarded-By";
    /** Set on every routed response: the instance that served it. */
    public static final String SERVED_BY = "X-StreamingLLM-Instance";

    private final SessionOwnership ownership;
    private final WebClient webClient;
    private final JsonMapper json;

    public RoutingWebFilter(SessionOwnership ownership, WebClient.Builder webClient, JsonMapper json) {
        this.ownership = ownership;
        this.webClient = webClient.build();
        this.json = json;
    }

    @Override
    public int getOrder() {
        // after the API filter (key, size limit, conversation id), before the endpoints
        return ExchangeAttributes.FILTER_ORDER + 1;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        String id;
        try {
            id = ExchangeAttributes.resolveConversationId(exchange);
        } catch (ApiException e) {
            return e.writeTo(exchange.getResponse(), json);
        }
        if (id == null) {
            return chain.filter(exchange);
        }
        boolean forwarded = exchange.getRequest().getHeaders().containsHeader(FORWARDED_BY);
        return ownership.route(id).flatMap(route -> switch (route) {
            case Route.Local local -> {
                exchange.getResponse().getHeaders().set(SERVED_BY, ownership.settings().instanceId());
                yield chain.filter(exchange);
            }
            case Route.Remote remote when forwarded -> refuse(exchange, "session " + id + " moved to instance "
                    + remote.owner().id() + " while this request was forwarded; retry");
            case Route.Remote remote -> ownership.settings().mode() == RoutingMode.REDIRECT
                    ? redirect(exchange, remote.owner())
                    : proxy(exchange, remote.owner());
            case Route.Unavailable unavailable -> refuse(exchange, unavailable.reason());
        });
    }

    private static URI target(ServerHttpRequest request, Instance owner) {
        String query = request.getURI().getRawQuery();
        return URI.create(owner.baseUrl() + request.getURI().getRawPath() + (query != null ? "?" + query : ""));
    }

    private Mono<Void> redirect(ServerWebExchange exchange, Instance owner) {
        ServerHttpResponse response = exchange.getResponse();
        response.setStatusCode(HttpStatus.TEMPORARY_REDIRECT);
        response.getHeaders().setLocation(target(exchange.getRequest(), owner));
        return response.setComplete();
    }

    private Mono<Void> proxy(ServerWebExchange exchange, Instance owner) {
        ServerHttpRequest request = exchange.getRequest();
        ServerHttpResponse response = exchange.getResponse();
        return webClient.method(request.getMethod()).uri(target(request, owner))
                .headers(headers -> {
                    headers.addAll(request.getHeaders());
                    headers.remove(HttpHeaders.HOST);
                    headers.set(FORWARDED_BY, ownership.settings().instanceId());
                })
                .body(BodyInserters.fromDataBuffers(request.getBody()))
                .exchangeToMono(upstream -> {
                    response.setStatusCode(upstream.statusCode());
                    response.getHeaders().addAll(upstream.headers().asHttpHeaders());
                    response.getHeaders().remove(HttpHeaders.TRANSFER_ENCODING);
                    // flush every chunk as it arrives: streamed tokens must not wait in a buffer
                    return response.writeAndFlushWith(upstream.bodyToFlux(DataBuffer.class).map(Flux::just));
                })
                .onErrorResume(e -> response.isCommitted() ? Mono.error(e)
                        : refuse(exchange, "instance " + owner.id() + " at " + owner.baseUrl() + " owns this session but did not answer: "
                                + e.getMessage()));
    }

    private Mono<Void> refuse(ServerWebExchange exchange, String reason) {
        ServerHttpResponse response = exchange.getResponse();
        response.getHeaders().set(HttpHeaders.RETRY_AFTER, Long.toString(Math.max(1, ownership.settings().heartbeat().toSeconds())));
        return new ApiException(HttpStatus.SERVICE_UNAVAILABLE, "server_error", "session_unavailable", reason).writeTo(response, json);
    }
}
