package dev.streamingllm.spring.api;

import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.web.server.ServerWebExchange;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * What a request names, resolved once and kept as exchange attributes: the client (API key) and the
 * conversation id. The HTTP API's request filter resolves both for requests under {@code /v1}; session routing
 * reads them from here, and resolves the conversation id itself, with the same rule, where that filter is
 * not installed (routing in an application without the HTTP API).
 *
 * <p>The conversation id is the path's {@code /v1/sessions/{id}}, else the header {@code X-Conversation-Id},
 * else (for a chat request, whose body the API filter reads) OpenAI's {@code user} field.
 */
public final class ExchangeAttributes {

    /** The request header naming the conversation; OpenAI's {@code user} field is the fallback. */
    public static final String CONVERSATION_HEADER = "X-Conversation-Id";

    /** Attribute: the conversation id (String), absent for a request without one. */
    public static final String CONVERSATION_ID = ExchangeAttributes.class.getName() + ".conversationId";

    /** Attribute: who is calling (String): a fingerprint of the API key, or {@link #ANONYMOUS}. */
    public static final String CLIENT = ExchangeAttributes.class.getName() + ".client";

    /** The client when the server requires no API key. */
    public static final String ANONYMOUS = "anonymous";

    /**
     * The API filter's order; filters that need the attributes (session routing) order themselves after it.
     * Spring Security's WebFlux filter chain runs at -100 ({@code WebFluxSecurityConfiguration.WEB_FILTER_CHAIN_FILTER_ORDER}):
     * this comes after it, so that an application's security decides first and no body is read or request routed
     * for a caller it refuses (an equal order would leave the two in no defined order).
     */
    public static final int FILTER_ORDER = -100 + 10;

    /** The session API's path prefix; the conversation id follows it. */
    public static final String SESSIONS_PATH = "/v1/sessions/";

    private static final Pattern VALID_ID = Pattern.compile("[A-Za-z0-9._:@+=-]{1,128}");

    private ExchangeAttributes() {
    }

    public static @Nullable String conversationId(ServerWebExchange exchange) {
        return exchange.getAttribute(CONVERSATION_ID);
    }

    public static String client(ServerWebExchange exchange) {
        String client = exchange.getAttribute(CLIENT);
        return client == null ? ANONYMOUS : client;
    }

    /**
     * The request's conversation id: the one already resolved, else from its session path or header (the body is
     * not read here), kept as the attribute.
     *
     * @throws ApiException (400) when the id is not valid
     */
    public static @Nullable String resolveConversationId(ServerWebExchange exchange) {
        String resolved = conversationId(exchange);
        return resolved != null ? resolved : resolveConversationId(exchange, null, null);
    }

    /** As {@link #resolveConversationId(ServerWebExchange)}, with the chat request's body for its {@code user} field. */
    public static @Nullable String resolveConversationId(ServerWebExchange exchange, byte @Nullable [] body, @Nullable JsonMapper json) {
        ServerHttpRequest request = exchange.getRequest();
        String path = request.getPath().pathWithinApplication().value();
        String id = path.startsWith(SESSIONS_PATH) ? path.substring(SESSIONS_PATH.length())
                : request.getHeaders().getFirst(CONVERSATION_HEADER);
        if (id == null && body != null && json != null) {
            id = userField(body, json);
        }
        if (id == null) {
            return null;
        }
        if (!VALID_ID.matcher(id).matches()) {
            throw ApiException.invalidRequest("invalid_conversation_id", "The conversation id '" + abbreviate(id)
                    + "' is not valid: use 1 to 128 characters from letters, digits and . _ : @ + = -");
        }
        exchange.getAttributes().put(CONVERSATION_ID, id);
        return id;
    }

    /** The request's {@code user} field, if the body is a JSON object with one; bad JSON is reported by the handler. */
    private static @Nullable String userField(byte[] body, JsonMapper json) {
        try {
            JsonNode user = json.readTree(body).get("user");
            return user != null && user.isString() && !user.asString().isEmpty() ? user.asString() : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String abbreviate(String id) {
        return id.length() <= 40 ? id : id.substring(0, 40) + "…";
    }
}
