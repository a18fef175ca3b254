package dev.streamingllm.spring.web;

import dev.streamingllm.spring.api.ApiException;
import dev.streamingllm.spring.api.ExchangeAttributes;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.springframework.core.Ordered;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.core.io.buffer.DefaultDataBufferFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import tools.jackson.databind.json.JsonMapper;

/**
 * The one place a request under {@code /v1} is resolved, before any handler (or routing filter) sees it: the
 * API key is checked (401), a chat request's body is read under the size limit (413) and kept for replay (a
 * proxying filter after this one forwards it), and the conversation id is resolved and validated (400). The
 * results are exchange attributes, see {@link ExchangeAttributes}.
 */
public class ApiRequestFilter implements WebFilter, Ordered {

    private static final String PREFIX = "/v1/";
    private static final String COMPLETIONS = "/v1/chat/completions";

    private final Set<String> keyFingerprints;
    private final int maxRequestBytes;
    private final JsonMapper json;

    public ApiRequestFilter(List<String> apiKeys, int maxRequestBytes, JsonMapper json) {
        this.keyFingerprints = apiKeys.stream().filter(k -> !k.isBlank()).map(ApiRequestFilter::fingerprint)
                .collect(Collectors.toUnmodifiableSet());
        this.maxRequestBytes = maxRequestBytes;
        this.json = json;
    }

    @Override
    public int getOrder() {
        return ExchangeAttributes.FILTER_ORDER;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        ServerHttpRequest request = exchange.getRequest();
        String path = request.getPath().pathWithinApplication().value();
        if (!path.startsWith(PREFIX) || request.getMethod() == HttpMethod.OPTIONS) {
            return chain.filter(exchange);
        }
        try {
            exchange.getAttributes().put(ExchangeAttributes.CLIENT, authenticate(request.getHeaders()));
            if (path.startsWith(ExchangeAttributes.SESSIONS_PATH)) {
                ExchangeAttributes.resolveConversationId(exchange);
                return chain.filter(exchange);
            }
            if (!path.equals(COMPLETIONS) || request.getMethod() != HttpMethod.POST) {
                return chain.filter(exchange);
            }
            if (request.getHeaders().getContentLength() > maxRequestBytes) {
                throw tooLarge();
            }
        } catch (ApiException e) {
            return e.writeTo(exchange.getResponse(), json);
        }
        return DataBufferUtils.join(request.getBody(), maxRequestBytes)
                .map(ApiRequestFilter::bytes)
                .defaultIfEmpty(new byte[0])
                .map(Optional::of)
                .onErrorResume(DataBufferLimitException.class, e -> Mono.just(Optional.empty()))
                .flatMap(body -> {
                    try {
                        byte[] bytes = body.orElseThrow(this::tooLarge);
                        ExchangeAttributes.resolveConversationId(exchange, bytes, json);
                        return chain.filter(exchange.mutate().request(replaying(request, bytes)).build());
                    } catch (ApiException e) {
                        return e.writeTo(exchange.getResponse(), json);
                    }
                });
    }

    private String authenticate(HttpHeaders headers) {
        if (keyFingerprints.isEmpty()) {
            return ExchangeAttributes.ANONYMOUS;
        }
        String authorization = headers.getFirst(HttpHeaders.AUTHORIZATION);
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new ApiException(HttpStatus.UNAUTHORIZED, "invalid_request_error", "missing_api_key",
                    "This server requires an API key: send the header 'Authorization: Bearer YOUR_KEY'.");
        }
        String key = fingerprint(authorization.substring(7).strip());
        if (!keyFingerprints.contains(key)) {
            throw new ApiException(HttpStatus.UNAUTHORIZED, "invalid_request_error", "invalid_api_key",
                    "The API key in the Authorization header is not one this server accepts.");
        }
        return "key:" + key;
    }

    private ApiException tooLarge() {
        return new ApiException(HttpStatus.CONTENT_TOO_LARGE, "invalid_request_error", "request_too_large",
                "The request body is larger than this server's limit of " + maxRequestBytes
                        + " bytes (streamingllm.web.limits.max-request-size). The server keeps the conversation:"
                        + " send only the new message.");
    }

    private static ServerHttpRequest replaying(ServerHttpRequest request, byte[] body) {
        return new ServerHttpRequestDecorator(request) {
            @Override
            public Flux<DataBuffer> getBody() {
                return Flux.defer(() -> Flux.just(DefaultDataBufferFactory.sharedInstance.wrap(body)));
            }
        };
    }

    private static byte[] bytes(DataBuffer buffer) {
        try {
            byte[] bytes = new byte[buffer.readableByteCount()];
            buffer.read(bytes);
            return bytes;
        } finally {
            DataBufferUtils.release(buffer);
        }
    }

    static String fingerprint(String key) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            // the whole digest: it is what a conversation's binding stores in the session registry
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
