package dev.streamingllm.gguf;

import java.nio.file.Path;

/** A GGUF file that cannot be used: malformed, truncated, or asking for something this runtime lacks. */
public class GGUFException extends RuntimeException {

    public GGUFException(Path file, String message) {
        super(file + ": " + message);
    }

    public GGUFException(Path file, String message, Throwable cause) {
        super(file + ": " + message, cause);
    }
}
