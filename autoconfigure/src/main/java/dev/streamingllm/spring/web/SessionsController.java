package dev.streamingllm.spring.web;

import dev.streamingllm.spring.api.ApiException;
import dev.streamingllm.spring.api.ConversationOwners;
import dev.streamingllm.spring.api.ExchangeAttributes;
import dev.streamingllm.spring.session.ChatSessions;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;

/** The session API: a conversation's cache and where it lives, and ending it. Another key's sessions are not found. */
@RestController
public class SessionsController {

    private final ChatSessions sessions;
    private final ConversationOwners owners;
    private final SessionOwner owner;

    public SessionsController(ChatSessions sessions, ConversationOwners owners, SessionOwner owner) {
        this.sessions = sessions;
        this.owners = owners;
        this.owner = owner;
    }

    @GetMapping("/v1/sessions/{id}")
    public SessionView session(@PathVariable String id, ServerWebExchange exchange) {
        visible(id, exchange);
        return sessions.info(id).map(info -> SessionView.of(info, owner.owner(id))).orElseThrow(() -> notFound(id));
    }

    @DeleteMapping("/v1/sessions/{id}")
    public SessionView.Deleted end(@PathVariable String id, ServerWebExchange exchange) {
        visible(id, exchange);
        if (!sessions.end(id)) {
            throw notFound(id);
        }
        return new SessionView.Deleted(id);
    }

    private void visible(String id, ServerWebExchange exchange) {
        if (!owners.visible(id, ExchangeAttributes.client(exchange))) {
            throw notFound(id);
        }
    }

    private static ApiException notFound(String id) {
        return ApiException.notFound("session_not_found", "No session for conversation '" + id + "' here.");
    }
}
