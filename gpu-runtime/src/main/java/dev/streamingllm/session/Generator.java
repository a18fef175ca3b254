package dev.streamingllm.session;

import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.tokenizer.Tokenizer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/** Generates replies: each call becomes a {@link Generation} that the model's {@link Scheduler} runs with all others. */
public final class Generator {

    /**
     * @param unfed the last sampled token when the budget ran out: its text was emitted but the cache
     *              has not seen it yet (feed it before the next prompt), else -1
     */
    public record Result(String text, int promptTokens, int completionTokens, FinishReason finishReason, int unfed) {
    }

    private final Tokenizer tokenizer;
    private final Scheduler scheduler;

    public Generator(Tokenizer tokenizer, Scheduler scheduler) {
        this.tokenizer = tokenizer;
        this.scheduler = scheduler;
    }

    /**
     * Feeds {@code prompt} to {@code session} and generates until an end-of-generation token, a stop
     * string, the end of the grammar's JSON document, {@code maxTokens} or cancellation, waiting for the result. {@code onText} receives the text as
     * it is decided, on the calling thread; {@code cancelled} is polled before every step. An interrupt or a
     * failing {@code onText} stops the generation at the next step.
     */
    public Result generate(Session session, int[] prompt, SamplingParams params, Consumer<String> onText, BooleanSupplier cancelled) {
        Generation generation = new Generation(session, prompt, params, cancelled, tokenizer);
        scheduler.submit(generation);
        boolean interrupted = false;
        try {
            while (true) {
                String piece;
                try {
                    piece = generation.nextPiece();
                } catch (InterruptedException e) {
                    interrupted = true;
                    generation.abandon();
                    continue;
                }
                if (piece == null) {
                    break;
                }
                if (!generation.abandoned()) {
                    try {
                        onText.accept(piece);
                    } catch (RuntimeException | Error e) {
                        generation.abandon();
                        drain(generation);
                        throw e;
                    }
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        return join(generation.result());
    }

    /** {@code future}'s value, or what it failed with thrown as it was rather than wrapped. */
    static <T> T join(CompletableFuture<T> future) {
        try {
            return future.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException cause) {
                throw cause;
            }
            if (e.getCause() instanceof Error cause) {
                throw cause;
            }
            throw e;
        }
    }

    /** Waits for an abandoned generation to leave the scheduler, so its session is free again. */
    private static void drain(Generation generation) {
        generation.result().handle((result, error) -> null).join();
    }
}
