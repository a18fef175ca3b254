package dev.streamingllm.spring.routing;

/**
 * A session's state after a turn as a delta on the state stored after {@code baseTurns} turns: the record, the
 * {@code ConversationDelta} since that state, and the messages added since, as a JSON array, for the transcript.
 */
public record DeltaPublication(SessionRecord record, long baseTurns, byte[] delta, byte[] addedMessages) {
}
