package dev.streamingllm.spring.routing;

/**
 * A session's state after a turn, as the registry stores it: the record, the exact snapshot
 * ({@code ConversationSnapshot}) and the transcript for the approximate fallback (JSON messages).
 */
public record Publication(SessionRecord record, byte[] snapshot, byte[] transcript) {
}
