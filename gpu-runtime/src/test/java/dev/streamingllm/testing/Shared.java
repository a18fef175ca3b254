package dev.streamingllm.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** The shared test data beside the checkout (models, reference logits, tokenizer vectors, texts). */
public final class Shared {

    private Shared() {
    }

    public static Path root() {
        Path root = Path.of(System.getProperty("streamingllm.shared", "../shared")).toAbsolutePath().normalize();
        if (!Files.isDirectory(root.resolve("models"))) {
            throw new IllegalStateException("shared test data not found at " + root + " (set -Dstreamingllm.shared)");
        }
        return root;
    }

    public static Path model(String name) {
        return root().resolve("models").resolve(name);
    }

    public static Path reference(String name) {
        return root().resolve("reference").resolve(name);
    }
}
