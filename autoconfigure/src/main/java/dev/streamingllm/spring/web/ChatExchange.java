package dev.streamingllm.spring.web;

import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.springframework.web.server.ServerWebExchange;

/**
 * What {@link ApiRequestFilter} resolves once per request under {@code /v1}, as exchange attributes: the
 * client (API key) and the conversation id. Later filters, such as session routing, read them from here
 * instead of resolving them again.
 */
public final class ChatExchange {

    /** The request header naming the conversation; OpenAI's {@code user} field is the fallback. */
    public static final String CONVERSATION_HEADER = "X-Conversation-Id";

    /** Attribute: the conversation id (String), absent for a one-shot request. */
    public static final String CONVERSATION_ID = ChatExchange.class.getName() + ".conversationId";

    /** Attribute: who is calling (String): a fingerprint of the API key, or {@link #ANONYMOUS}. */
    public static final String CLIENT = ChatExchange.class.getName() + ".client";

    /** The client when the server requires no API key. */
    public static final String ANONYMOUS = "anonymous";

    /** The filter's order; filters that need the attributes order themselves after it. */
    public static final int FILTER_ORDER = -100;

    static final Pattern VALID_ID = Pattern.compile("[A-Za-z0-9._:@+=-]{1,128}");

    private ChatExchange() {
    }

    public static @Nullable String conversationId(ServerWebExchange exchange) {
        return exchange.getAttribute(CONVERSATION_ID);
    }

    public static String client(ServerWebExchange exchange) {
        String client = exchange.getAttribute(CLIENT);
        return client == null ? ANONYMOUS : client;
    }
}
