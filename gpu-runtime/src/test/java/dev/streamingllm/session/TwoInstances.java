package dev.streamingllm.session;

import dev.streamingllm.model.Model;
import dev.streamingllm.testing.Shared;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Two loads of the same model, each with its engine: the instance a conversation starts on and one it moves to. */
abstract class TwoInstances {

    static Engine engine;
    /** A second load of the same file: what another instance would run. */
    static Engine elsewhere;

    @BeforeAll
    static void load() {
        engine = new Engine(Model.load(Shared.model("stories260K.gguf")));
        elsewhere = new Engine(Model.load(Shared.model("stories260K.gguf")));
    }

    @AfterAll
    static void close() {
        for (Engine e : new Engine[] {engine, elsewhere}) {
            e.close();
            e.model().close();
        }
    }
}
