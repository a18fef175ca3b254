package dev.streamingllm.spring.session;

import dev.streamingllm.session.FinishReason;

/**
 * What one turn did.
 *
 * @param conversationId   the session's id (a generated one for a one-shot turn)
 * @param promptTokens     tokens prefilled this turn: only the new messages when the history extended the session
 * @param completionTokens tokens generated
 * @param reset            the history did not extend what the session had seen, so it started over
 * @param session          the session's state after the turn
 */
public record TurnResult(
        String conversationId,
        String text,
        int promptTokens,
        int completionTokens,
        FinishReason finishReason,
        boolean reset,
        boolean oneShot,
        SessionInfo session) {
}
