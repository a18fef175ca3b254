package dev.streamingllm.template;

/** A chat template that cannot be parsed or that refused the conversation (raise_exception). */
public class ChatTemplateException extends RuntimeException {

    public ChatTemplateException(String message) {
        super(message);
    }

    public ChatTemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
