package dev.streamingllm.sampling;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Picks tokens from logits in llama.cpp's order: penalties, top-k, temperature, top-p, min-p, draw.
 * One sampler per generation stream: it remembers recent tokens for the penalties and owns the
 * random stream; its state can be exported so a session continues identically elsewhere.
 */
public final class Sampler {

    private final SamplingParams params;
    private final Xoshiro256 random;
    private final ArrayDeque<Integer> recent = new ArrayDeque<>();
    private final Map<Integer, Integer> counts = new HashMap<>();

    public Sampler(SamplingParams params) {
        this.params = params;
        this.random = new Xoshiro256(params.seed() != null ? params.seed() : System.nanoTime() ^ Thread.currentThread().threadId());
    }

    /** Remembers a token that is now part of the stream (prompt or generated), for the penalties. */
    public void accept(int token) {
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

    /** The next token; {@code logits} is modified in place by the penalties. */
    public int sample(float[] logits) {
        applyPenalties(logits);
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
