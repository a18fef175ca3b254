package dev.streamingllm.spring;

import java.nio.file.Files;
import java.nio.file.Path;

/** Real model files from the shared data beside the checkout (the build sets {@code streamingllm.shared}). */
public final class TestModels {

    private TestModels() {
    }

    public static Path stories260K() {
        Path root = Path.of(System.getProperty("streamingllm.shared", "../shared")).toAbsolutePath().normalize();
        Path model = root.resolve("models").resolve("stories260K.gguf");
        if (!Files.isRegularFile(model)) {
            throw new IllegalStateException("test model not found at " + model + " (set -Dstreamingllm.shared)");
        }
        return model;
    }
}
