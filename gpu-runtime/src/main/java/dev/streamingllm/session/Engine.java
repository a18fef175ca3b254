package dev.streamingllm.session;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;

/**
 * A loaded {@link Model} with the {@link Scheduler} that batches the generations of its sessions: what
 * conversations run on. The model stays its loader's: closing the engine stops the scheduler only.
 */
public final class Engine implements AutoCloseable {

    private final Model model;
    private final Scheduler scheduler;

    public Engine(Model model) {
        this(model, Scheduler.Settings.DEFAULT);
    }

    public Engine(Model model, Scheduler.Settings settings) {
        this.model = model;
        this.scheduler = new Scheduler(model.decoder(), settings);
    }

    public Model model() {
        return model;
    }

    /** Runs the generations of all sessions of this engine together (continuous batching). */
    public Scheduler scheduler() {
        return scheduler;
    }

    /** A new session on the model's decoder (on a GPU backend its cache lives on the device). */
    public Session newSession(CacheConfig cache) {
        return new Session(model.decoder(), cache);
    }

    @Override
    public void close() {
        scheduler.close();
    }
}
