package dev.streamingllm.session;

import dev.streamingllm.sampling.Sampler;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.sampling.StopStrings;
import dev.streamingllm.tokenizer.TokenDecoder;
import dev.streamingllm.tokenizer.Tokenizer;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/** The decode loop: prefill a prompt, then sample, stream text and feed tokens back until a stop. */
public final class Generator {

    /**
     * @param unfed the last sampled token when the budget ran out: its text was emitted but the cache
     *              has not seen it yet (feed it before the next prompt), else -1
     */
    public record Result(String text, int promptTokens, int completionTokens, FinishReason finishReason, int unfed) {
    }

    private final Tokenizer tokenizer;

    public Generator(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /**
     * Feeds {@code prompt} to {@code session} and generates until an end-of-generation token, a stop
     * string, the end of the grammar's JSON document, {@code maxTokens} or cancellation. {@code onText}
     * receives the text as it is decided (multi-byte characters and possible stop-string prefixes are
     * held back until complete).
     */
    public Result generate(Session session, int[] prompt, SamplingParams params, Consumer<String> onText, BooleanSupplier cancelled) {
        Sampler sampler = new Sampler(params, tokenizer);
        for (int token : prompt) {
            sampler.accept(token);
        }
        TokenDecoder decoder = tokenizer.newDecoder();
        StopStrings stops = new StopStrings(params.stop());
        StringBuilder text = new StringBuilder();
        Consumer<String> emit = piece -> {
            if (!piece.isEmpty()) {
                text.append(piece);
                onText.accept(piece);
            }
        };

        float[] logits = session.prefill(prompt);
        int completion = 0;
        int unfed = -1;
        FinishReason reason;
        while (true) {
            if (cancelled.getAsBoolean()) {
                reason = FinishReason.CANCELLED;
                break;
            }
            int token = sampler.sample(logits);
            if (tokenizer.isEndOfGeneration(token)) {
                reason = FinishReason.STOP;
                break;
            }
            completion++;
            sampler.accept(token);
            emit.accept(stops.feed(decoder.append(token)));
            if (stops.stopped() || sampler.documentComplete()) {
                reason = FinishReason.STOP;
                break;
            }
            if (completion == params.maxTokens()) {
                reason = FinishReason.LENGTH;
                unfed = token;
                break;
            }
            logits = session.decode(token);
        }
        if (!stops.stopped()) {
            emit.accept(stops.feed(decoder.flush()));
            emit.accept(stops.flush());
        }
        return new Result(text.toString(), prompt.length, completion, reason, unfed);
    }
}
