package dev.streamingllm.spring.web;

/**
 * Names the instance that serves a conversation, for the session API's {@code owner}. A single instance owns
 * all its sessions; session routing replaces this bean with its registry's answer.
 */
@FunctionalInterface
public interface SessionOwner {

    String owner(String conversationId);
}
