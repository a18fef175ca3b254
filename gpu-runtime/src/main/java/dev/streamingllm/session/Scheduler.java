package dev.streamingllm.session;

import dev.streamingllm.backend.Decoder;
import dev.streamingllm.backend.Segment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching: one thread owns the decoder and runs every generation of a model together. Each step
 * takes the next token of every generation that is decoding plus prompt chunks of those still prefilling,
 * runs them through the decoder in ONE forward pass (each weight matrix read once for all rows, each row
 * attending over its own session's cache), then samples per generation. Generations join and leave between
 * steps; a cancelled one leaves at the next step, during prefill too.
 *
 * <p>A long prompt is fed in chunks interleaved with the decode steps of the others, so running streams keep
 * flowing: while any generation decodes, a step carries the prompt tokens a {@link PrefillBudget} allows, at most
 * {@link Settings#prefillWhileDecoding()} times {@code max(1, waiting prompts / decoding rows)}; alone, prompts go
 * {@link Settings#prefillChunk()} tokens a step. The prompts waiting share a step's tokens evenly
 * ({@link PrefillBudget#split}), so a short one does not queue behind a long one.
 */
public final class Scheduler implements AutoCloseable {

    /**
     * @param prefillChunk         prompt tokens per step when no generation is decoding
     * @param prefillWhileDecoding the most prompt tokens per step while some generation decodes, times
     *                             {@code max(1, waiting prompts / decoding rows)}; fewer are taken when the measured
     *                             costs say more would slow the decoding streams more than {@link PrefillBudget#STALL}
     *                             times, scaled the same way (see {@link PrefillBudget#tokens})
     */
    public record Settings(int prefillChunk, int prefillWhileDecoding) {

        /** Prompt tokens per step while others decode, before {@link PrefillBudget}'s measured limit. */
        public static final int DEFAULT_PREFILL_WHILE_DECODING = 64;
        public static final Settings DEFAULT = new Settings(Session.DEFAULT_PREFILL_CHUNK, DEFAULT_PREFILL_WHILE_DECODING);

        public Settings {
            if (prefillChunk < 1 || prefillWhileDecoding < 1) {
                throw new IllegalArgumentException("prompt tokens per step must be >= 1, were " + prefillChunk + " and " + prefillWhileDecoding);
            }
        }
    }

    private final Decoder decoder;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final Deque<Generation> arrived = new ArrayDeque<>();
    /** The generations being run, in arrival order; only the scheduler's thread touches it. */
    private final List<Generation> running = new ArrayList<>();
    /** Only the scheduler's thread touches it. */
    private final PrefillBudget budget = new PrefillBudget();
    private volatile Settings settings;
    private Thread thread;
    private boolean closed;
    private long steps;

    public Scheduler(Decoder decoder, Settings settings) {
        this.decoder = decoder;
        this.settings = settings;
    }

    public Settings settings() {
        return settings;
    }

    /** Applies from the next step on. */
    public void settings(Settings settings) {
        this.settings = settings;
    }

    /** Forward passes run so far. */
    public long steps() {
        lock.lock();
        try {
            return steps;
        } finally {
            lock.unlock();
        }
    }

    /** Queues {@code generation} for the next step; its result completes when it ends. */
    CompletableFuture<Generator.Result> submit(Generation generation) {
        if (generation.session().decoder() != decoder) {
            throw new IllegalArgumentException("the session runs on another decoder than this scheduler's");
        }
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the scheduler is closed");
            }
            if (thread == null) {
                thread = Thread.ofPlatform().name("streamingllm-scheduler").daemon().start(this::loop);
            }
            arrived.add(generation);
            work.signal();
        } finally {
            lock.unlock();
        }
        return generation.result();
    }

    private void loop() {
        while (true) {
            lock.lock();
            try {
                while (running.isEmpty() && arrived.isEmpty() && !closed) {
                    work.awaitUninterruptibly();
                }
                if (closed) {
                    IllegalStateException error = new IllegalStateException("the scheduler was closed");
                    running.forEach(g -> g.fail(error));
                    arrived.forEach(g -> g.fail(error));
                    return;
                }
                running.addAll(arrived);
                arrived.clear();
                steps++;
            } finally {
                lock.unlock();
            }
            try {
                step();
            } catch (RuntimeException | Error e) {
                // a step that breaks outside the forward pass still must not take the scheduler down with it:
                // every generation would then wait forever
                running.forEach(g -> g.fail(e));
                running.clear();
            }
        }
    }

    /** One forward pass over every running generation. */
    private void step() {
        running.removeIf(Generation::stopIfCancelled);
        List<Generation> planned = new ArrayList<>(running.size());
        List<Segment> segments = new ArrayList<>(running.size());
        List<Generation> prompts = new ArrayList<>();
        for (Generation generation : running) {
            if (generation.prefilling()) {
                prompts.add(generation);
            } else {
                planned.add(generation);
                segments.add(generation.next(1));
            }
        }
        Settings current = settings;
        int rows = planned.size();
        boolean decoding = rows > 0;
        int promptBudget = decoding ? budget.tokens(current.prefillWhileDecoding(), rows, prompts.size()) : current.prefillChunk();
        int[] shares = PrefillBudget.split(promptBudget, prompts.stream().mapToInt(Generation::promptLeft).toArray());
        int promptTokens = 0;
        for (int i = 0; i < shares.length; i++) {
            if (shares[i] > 0) {
                planned.add(prompts.get(i));
                segments.add(prompts.get(i).next(shares[i]));
                promptTokens += shares[i];
            }
        }
        if (segments.isEmpty()) {
            return;
        }
        float[][] logits;
        try {
            long start = System.nanoTime();
            logits = decoder.forward(segments);
            if (decoding) {
                budget.record(promptTokens, rows, System.nanoTime() - start);
            }
        } catch (RuntimeException | Error e) {
            planned.forEach(g -> g.fail(e));
            running.removeAll(planned);
            return;
        }
        for (int i = 0; i < planned.size(); i++) {
            try {
                planned.get(i).advance(segments.get(i), logits[i]);
            } catch (RuntimeException e) {
                planned.get(i).fail(e);
            }
        }
        running.removeIf(Generation::done);
    }

    /** Stops the thread after its current step; generations still running fail. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            work.signal();
        } finally {
            lock.unlock();
        }
    }
}
