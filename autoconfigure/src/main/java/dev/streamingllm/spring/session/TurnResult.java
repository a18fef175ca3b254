package dev.streamingllm.spring.session;

import dev.streamingllm.session.FinishReason;

/**
 * What one turn did.
 *
 * @param conversationId   the session's id (a generated one for a turn without a conversation id)
 * @param promptTokens     tokens prefilled this turn: only the new messages when the history extended the session
 * @param completionTokens tokens generated
 * @param cachedTokens     tokens of the history the session had processed in earlier turns and this turn did not
 *                         prefill again; 0 for a new session or a reset
 * @param reset            the history did not extend what the session had seen, so it started over
 * @param session          the session's state after the turn
 * @param durable          the turn's state is where the conversation's next instance finds it ({@link TurnStore}); false
 *                         when the store could not be reached, so that the reply does not claim what was not done
 */
public record TurnResult(
        String conversationId,
        String text,
        int promptTokens,
        int completionTokens,
        long cachedTokens,
        FinishReason finishReason,
        boolean reset,
        boolean oneShot,
        SessionInfo session,
        boolean durable) {
}
