package dev.streamingllm.spring.session;

/** What a streamed turn emits: text as it is decided, then one {@link Done}. */
public sealed interface TurnEvent {

    /** The next piece of the reply. */
    record Text(String text) implements TurnEvent {
    }

    /** The turn's outcome; always the last event. */
    record Done(TurnResult result) implements TurnEvent {
    }
}
