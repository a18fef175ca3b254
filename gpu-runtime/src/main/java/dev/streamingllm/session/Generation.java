package dev.streamingllm.session;

import dev.streamingllm.backend.Segment;
import dev.streamingllm.sampling.Sampler;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.sampling.StopStrings;
import dev.streamingllm.tokenizer.TokenDecoder;
import dev.streamingllm.tokenizer.Tokenizer;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.BooleanSupplier;

/**
 * One request's generation as a {@link Scheduler} runs it, a step at a time: the prompt in chunks, then one
 * sampled token per step fed back, until an end-of-generation token, a stop string, the end of the grammar's JSON
 * document, the token budget or cancellation. The text is queued as it is decided (multi-byte characters and possible stop-string prefixes are
 * held back until complete) for the requesting thread to deliver, so a slow consumer never holds up the scheduler.
 * Touched by the scheduler's thread, except {@link #nextPiece()} and {@link #abandon()}.
 */
final class Generation {

    private final Session session;
    private final int[] prompt;
    private final SamplingParams params;
    private final BooleanSupplier cancelled;
    private final Tokenizer tokenizer;
    private final Sampler sampler;
    private final TokenDecoder decoder;
    private final StopStrings stops;
    private final StringBuilder text = new StringBuilder();
    private final CompletableFuture<Generator.Result> result = new CompletableFuture<>();
    /** Text pieces for the requesting thread, then {@link #END}. */
    private final BlockingQueue<String> pieces = new LinkedBlockingQueue<>();
    private volatile boolean abandoned;
    private int fed;
    private int completion;
    /** The token sampled last, to be fed in the next step; -1 before the first. */
    private int next = -1;

    /** Marks the end of the pieces; compared by identity. */
    @SuppressWarnings("StringOperationCanBeSimplified")
    private static final String END = new String("end");

    Generation(Session session, int[] prompt, SamplingParams params, BooleanSupplier cancelled, Tokenizer tokenizer) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("nothing to prefill: the token list is empty");
        }
        this.session = session;
        this.prompt = prompt;
        this.params = params;
        this.cancelled = cancelled;
        this.tokenizer = tokenizer;
        this.sampler = new Sampler(params, tokenizer);
        for (int token : prompt) {
            sampler.accept(token);
        }
        this.decoder = tokenizer.newDecoder();
        this.stops = new StopStrings(params.stop());
    }

    Session session() {
        return session;
    }

    CompletableFuture<Generator.Result> result() {
        return result;
    }

    boolean done() {
        return result.isDone();
    }

    /** Still feeding its prompt. */
    boolean prefilling() {
        return fed < prompt.length;
    }

    /** Prompt tokens not yet fed. */
    int promptLeft() {
        return prompt.length - fed;
    }

    /** The next piece of text, waiting for it; null once the generation has ended and every piece was taken. */
    String nextPiece() throws InterruptedException {
        String piece = pieces.take();
        if (piece == END) {
            pieces.add(END);
            return null;
        }
        return piece;
    }

    /** The requester is gone (interrupted, or its consumer failed): stop at the next step. */
    void abandon() {
        abandoned = true;
    }

    boolean abandoned() {
        return abandoned;
    }

    /** Ends the generation when its client asked to stop; true if it did. */
    boolean stopIfCancelled() {
        if (!done() && (abandoned || cancelled.getAsBoolean())) {
            finish(FinishReason.CANCELLED, -1);
        }
        return done();
    }

    /** What to feed in the next step: up to {@code budget} prompt tokens while prefilling, else the token sampled last. */
    Segment next(int budget) {
        if (prefilling()) {
            if (fed == 0) {
                session.cache().prepare(prompt.length);
            }
            return new Segment(session.cache(), prompt, fed, Math.min(budget, prompt.length - fed), false);
        }
        return new Segment(session.cache(), new int[] {next}, 0, 1, false);
    }

    /** Takes the logits after {@code segment}: samples the next token once the prompt is in. */
    void advance(Segment segment, float[] logits) {
        if (prefilling()) {
            fed += segment.count();
            session.countPrefilled(segment.count());
            if (prefilling()) {
                return;
            }
        } else {
            session.countDecoded();
        }
        int token = sampler.sample(logits);
        if (tokenizer.isEndOfGeneration(token)) {
            finish(FinishReason.STOP, -1);
            return;
        }
        completion++;
        sampler.accept(token);
        emit(stops.feed(decoder.append(token)));
        if (stops.stopped() || sampler.documentComplete()) {
            finish(FinishReason.STOP, -1);
        } else if (completion == params.maxTokens()) {
            finish(FinishReason.LENGTH, token);
        } else {
            next = token;
        }
    }

    /** Ends the generation with {@code error}; its session's cache holds part of the step that failed. */
    void fail(Throwable error) {
        result.completeExceptionally(error);
        pieces.add(END);
    }

    /** @param unfed the last sampled token when the budget ran out (emitted, not fed), else -1 */
    private void finish(FinishReason reason, int unfed) {
        if (!stops.stopped()) {
            emit(stops.feed(decoder.flush()));
            emit(stops.flush());
        }
        result.complete(new Generator.Result(text.toString(), prompt.length, completion, reason, unfed));
        pieces.add(END);
    }

    private void emit(String piece) {
        if (!piece.isEmpty()) {
            text.append(piece);
            pieces.add(piece);
        }
    }
}
