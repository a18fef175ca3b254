package dev.streamingllm.spring.session;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Tells whoever streams a turn when the turn's work has stopped. A cancelled stream ends for its subscriber at once,
 * while the turn runs on until its next step: whatever the work holds (a concurrency slot) is freed by this, not by the
 * cancel. Put one in the subscriber's Reactor context under {@link #KEY}; {@link ChatSessions#stream} reports to it.
 * Its action runs once: when the turn's thread is done, or when the stream ends without a turn having started.
 */
public final class TurnWork {

    /** The Reactor context key. */
    public static final Class<TurnWork> KEY = TurnWork.class;

    private final Runnable stopped;
    private final AtomicBoolean running = new AtomicBoolean();
    private final AtomicBoolean done = new AtomicBoolean();

    /** @param stopped runs once the work has stopped */
    public TurnWork(Runnable stopped) {
        this.stopped = stopped;
    }

    /**
     * The stream ended for its subscriber: completed, failed or cancelled. Stops now unless a turn was started, whose
     * thread reports its own end.
     */
    public void streamEnded() {
        if (!running.get()) {
            stop();
        }
    }

    void started() {
        running.set(true);
    }

    void finished() {
        stop();
    }

    private void stop() {
        if (done.compareAndSet(false, true)) {
            stopped.run();
        }
    }
}
