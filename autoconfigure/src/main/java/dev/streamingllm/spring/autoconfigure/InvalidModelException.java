package dev.streamingllm.spring.autoconfigure;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/** {@code streamingllm.model} is not set, cannot be pulled, or names a file that is not a usable GGUF model. */
public class InvalidModelException extends RuntimeException {

    private final @Nullable String model;
    private final @Nullable Path path;
    private final String reason;

    /**
     * @param model the configured value (a path, catalog name or URL), null when not set
     * @param path the file it resolved to, null when it names none yet
     */
    public InvalidModelException(@Nullable String model, @Nullable Path path, String reason) {
        super((model == null ? "streamingllm.model is not set" : "streamingllm.model=" + model + " is not usable") + ": " + reason);
        this.model = model;
        this.path = path;
        this.reason = reason;
    }

    public @Nullable String model() {
        return model;
    }

    public @Nullable Path path() {
        return path;
    }

    public String reason() {
        return reason;
    }
}
