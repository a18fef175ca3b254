package dev.streamingllm.sampling;

import dev.streamingllm.tokenizer.Tokenizer;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Picks tokens from logits in llama.cpp's order: penalties, grammar, top-k, temperature, top-p, min-p, draw.
 * One sampler per generation stream: it remembers recent tokens for the penalties and owns the
 * random stream; its state can be exported so a session continues identically elsewhere.
 *
 * <p>With a {@link SamplingParams#grammar() grammar}, every token that cannot continue the JSON document is masked
 * before the draw, and the document advances when {@link #accept} is given the token {@link #sample} just chose:
 * tokens accepted otherwise (the prompt's, for the penalties) do not belong to the document.
 */
public final class Sampler {

    private final SamplingParams params;
    private final Xoshiro256 random;
    private final ArrayDeque<Integer> recent = new ArrayDeque<>();
    private final Map<Integer, Integer> counts = new HashMap<>();
    private final JsonConstraint constraint;
    private int sampled = -1;

    public Sampler(SamplingParams params) {
        this(params, null);
    }

    /** A sampler whose grammar, if {@code params} has one, is enforced over {@code tokenizer}'s vocabulary. */
    public Sampler(SamplingParams params, Tokenizer tokenizer) {
        this.params = params;
        this.random = new Xoshiro256(params.seed() != null ? params.seed() : System.nanoTime() ^ Thread.currentThread().threadId());
        if (params.grammar() != null && tokenizer == null) {
            throw new IllegalArgumentException("a JSON grammar needs the tokenizer whose tokens it constrains");
        }
        this.constraint = params.grammar() == null ? null : new JsonConstraint(params.grammar(), tokenizer, params.maxTokens());
    }

    /**
     * Remembers a token that is now part of the stream (prompt or generated), for the penalties; the token just
     * sampled also advances the grammar's document.
     */
    public void accept(int token) {
        if (constraint != null && token == sampled) {
            constraint.advance(token);
        }
        sampled = -1;
        if (params.penaltyLastN() == 0) {
            return;
        }
        recent.addLast(token);
        counts.merge(token, 1, Integer::sum);
        if (recent.size() > params.penaltyLastN()) {
            int old = recent.removeFirst();
            counts.computeIfPresent(old, (k, v) -> v == 1 ? null : v - 1);
        }
    }

    /** The next token; {@code logits} is modified in place by the penalties and the grammar's mask. */
    public int sample(float[] logits) {
        applyPenalties(logits);
        if (constraint != null) {
            constraint.mask(logits);
        }
        sampled = draw(logits);
        return sampled;
    }

    /** Whether the grammar's document is whole, so that generation should end; false without a grammar. */
    public boolean documentComplete() {
        return constraint != null && constraint.complete();
    }

    private int draw(float[] logits) {
        if (params.greedy()) {
            return argmax(logits);
        }
        Candidates candidates = Candidates.topK(logits, params.topK() == 0 ? logits.length : params.topK());
        candidates.softmax(params.temperature());
        candidates.topP(params.topP());
        candidates.minP(params.minP());
        return candidates.draw(random.nextDouble());
    }

    private void applyPenalties(float[] logits) {
        boolean repeat = params.repeatPenalty() != 1f;
        boolean openAi = params.frequencyPenalty() != 0f || params.presencePenalty() != 0f;
        if (!repeat && !openAi) {
            return;
        }
        counts.forEach((token, count) -> {
            float logit = logits[token];
            if (repeat) {
                logit = logit > 0 ? logit / params.repeatPenalty() : logit * params.repeatPenalty();
            }
            logits[token] = logit - count * params.frequencyPenalty() - params.presencePenalty();
        });
    }

    /** Highest logit; the lowest index wins ties. */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /** The random stream and recent tokens, as bytes. */
    public byte[] exportState() {
        ByteBuffer out = ByteBuffer.allocate(4 * 8 + 4 + 4 * recent.size());
        for (long word : random.state()) {
            out.putLong(word);
        }
        out.putInt(recent.size());
        recent.forEach(out::putInt);
        return out.array();
    }

    public void importState(byte[] state) {
        ByteBuffer in = ByteBuffer.wrap(state);
        long[] words = new long[4];
        Arrays.setAll(words, i -> in.getLong());
        random.restore(words);
        recent.clear();
        counts.clear();
        int n = in.getInt();
        for (int i = 0; i < n; i++) {
            accept(in.getInt());
        }
    }
}
