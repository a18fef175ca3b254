package dev.streamingllm.pull;

/** A model could not be pulled; the message names every source tried and why it failed. */
public class PullException extends RuntimeException {

    public PullException(String message) {
        super(message);
    }

    public PullException(String message, Throwable cause) {
        super(message, cause);
    }
}
