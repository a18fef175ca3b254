package dev.streamingllm.spring.routing;

/** One application instance: its id and the base URL other instances reach it at. */
public record Instance(String id, String baseUrl) {
}
