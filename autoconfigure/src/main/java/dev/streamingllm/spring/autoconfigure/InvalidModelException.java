package dev.streamingllm.spring.autoconfigure;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/** {@code streamingllm.model} is missing or names a file that is not a usable GGUF model. */
public class InvalidModelException extends RuntimeException {

    private final @Nullable Path path;
    private final String reason;

    public InvalidModelException(@Nullable Path path, String reason) {
        super((path == null ? "streamingllm.model is not set" : "streamingllm.model=" + path + " is not usable") + ": " + reason);
        this.path = path;
        this.reason = reason;
    }

    public @Nullable Path path() {
        return path;
    }

    public String reason() {
        return reason;
    }
}
