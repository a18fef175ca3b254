package dev.streamingllm.spring.routing;

/** How a request for a session owned by another live instance reaches it. */
public enum RoutingMode {
    /** This instance forwards the request and streams the owner's response back (SSE included). */
    PROXY,
    /** This instance answers 307 with the owner's URL; the client repeats the request there. */
    REDIRECT
}
