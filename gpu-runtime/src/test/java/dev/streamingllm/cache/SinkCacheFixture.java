package dev.streamingllm.cache;

import dev.streamingllm.model.Model;
import dev.streamingllm.testing.Shared;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The model the snapshot and delta tests fill caches with, and reproducible prompts for it. */
abstract class SinkCacheFixture {

    static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(Shared.model("stories260K.gguf"));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** {@code n} ordinary token ids (past the vocabulary's three special ones), the same for the same seed. */
    static int[] tokens(int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] tokens = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = 3 + random.nextInt(500);
        }
        return tokens;
    }
}
