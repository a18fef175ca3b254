package dev.streamingllm.spring.routing;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.springframework.core.Ordered;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
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
 * Sends each request that names a conversation (header {@code X-Conversation-Id}, or the path
 * {@code /v1/sessions/{id}}) to the instance that owns it: served here, proxied with a streaming passthrough
 * (server-sent events included), or redirected with 307 — per {@link RoutingMode}.
 */
public final class RoutingWebFilter implements WebFilter, Ordered {

    public static final String CONVERSATION_ID = "X-Conversation-Id";
    /** Set on proxied requests: the receiver serves them or refuses, it never forwards them again. */
    public static final String FORWARDED_BY = "X-StreamingLLM-Forwarded-By";
    /** Set on every routed response: the instance that served it. */
    public static final String SERVED_BY = "X-StreamingLLM-Instance";

    private static final String SESSIONS_PATH = "/v1/sessions/";

    private final SessionOwnership ownership;
    private final WebClient webClient;
    private final JsonMapper json = JsonMapper.builder().build();

    public RoutingWebFilter(SessionOwnership ownership, WebClient.Builder webClient) {
        this.ownership = ownership;
        this.webClient = webClient.build();
    }

    @Override
    public int getOrder() {
        // before security and the endpoints: a proxied request is the owner's to authenticate and limit
        return Ordered.HIGHEST_PRECEDENCE + 10;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        String id = conversationId(exchange.getRequest());
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

    private static String conversationId(ServerHttpRequest request) {
        String header = request.getHeaders().getFirst(CONVERSATION_ID);
        if (header != null && !header.isBlank()) {
            return header;
        }
        String path = request.getPath().pathWithinApplication().value();
        if (path.startsWith(SESSIONS_PATH) && path.length() > SESSIONS_PATH.length()) {
            String id = path.substring(SESSIONS_PATH.length());
            return id.contains("/") ? id.substring(0, id.indexOf('/')) : id;
        }
        return null;
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
        response.setStatusCode(HttpStatus.SERVICE_UNAVAILABLE);
        response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
        response.getHeaders().set(HttpHeaders.RETRY_AFTER, Long.toString(Math.max(1, ownership.settings().heartbeat().toSeconds())));
        byte[] body = json.writeValueAsString(Map.of("error", Map.of("type", "session_unavailable",
                "message", reason))).getBytes(StandardCharsets.UTF_8);
        return response.writeWith(Mono.just(response.bufferFactory().wrap(body)));
    }
}
