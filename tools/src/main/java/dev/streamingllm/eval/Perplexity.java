package dev.streamingllm.eval;

import dev.streamingllm.backend.cpu.decoder.Transformer;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheType;
import dev.streamingllm.session.Session;

/**
 * Per-token negative log-likelihood of a token stream under each attention mode, for the paper's
 * language-modelling experiment (Figure 3). Every mode gets the same cache budget of
 * {@code sinks + window} tokens: window attention spends all of it on recent tokens, re-computation
 * re-runs that many tokens per prediction, dense attention keeps everything.
 */
public final class Perplexity {

    private final Transformer transformer;
    private final CacheType type;

    /** Every mode's cache stores its keys and values as {@code type}. */
    public Perplexity(Transformer transformer, CacheType type) {
        this.transformer = transformer;
        this.type = type;
    }

    /** {@code nll[i]} is -log p(tokens[i + 1] | what the mode lets the model see). */
    public double[] nll(AttentionMode mode, int[] tokens, int sinks, int window) {
        return nll(mode, tokens, sinks, window, 1);
    }

    /**
     * As {@link #nll(AttentionMode, int[], int, int)}; re-computation, which costs a whole window's prefill per
     * prediction, scores only every {@code every}-th prediction and leaves NaN in between (a sample of the same text).
     */
    public double[] nll(AttentionMode mode, int[] tokens, int sinks, int window, int every) {
        if (every != 1 && mode != AttentionMode.RECOMPUTE) {
            throw new IllegalArgumentException("only re-computation scores a sample of the predictions; " + mode.label() + " scores them all");
        }
        int budget = sinks + window;
        return switch (mode) {
            case DENSE -> streamed(CacheConfig.dense(tokens.length).withType(type), tokens);
            case WINDOW -> streamed(CacheConfig.window(budget).withType(type), tokens);
            case STREAMING -> streamed(CacheConfig.streaming(sinks, window).withType(type), tokens);
            case RECOMPUTE -> recomputed(tokens, budget, every);
        };
    }

    private double[] streamed(CacheConfig config, int[] tokens) {
        Session session = new Session(transformer, config);
        int vocab = transformer.config().vocabularySize();
        double[] nll = new double[tokens.length - 1];
        int chunk = Session.DEFAULT_PREFILL_CHUNK;
        for (int start = 0; start < tokens.length - 1; start += chunk) {
            int count = Math.min(chunk, tokens.length - 1 - start);
            int[] piece = java.util.Arrays.copyOfRange(tokens, start, start + count);
            float[] logits = session.prefillAll(piece);
            for (int i = 0; i < count; i++) {
                nll[start + i] = negativeLogLikelihood(logits, i * vocab, vocab, tokens[start + i + 1]);
            }
        }
        return nll;
    }

    /** Each prediction from a fresh cache holding only the last {@code budget} tokens, positions 0..budget-1. */
    private double[] recomputed(int[] tokens, int budget, int every) {
        int vocab = transformer.config().vocabularySize();
        double[] nll = new double[tokens.length - 1];
        java.util.Arrays.fill(nll, Double.NaN);
        for (int i = every - 1; i < tokens.length - 1; i += every) {
            int start = Math.max(0, i + 1 - budget);
            int[] context = java.util.Arrays.copyOfRange(tokens, start, i + 1);
            float[] logits = new Session(transformer, CacheConfig.dense(budget).withType(type)).prefill(context);
            nll[i] = negativeLogLikelihood(logits, 0, vocab, tokens[i + 1]);
        }
        return nll;
    }

    static double negativeLogLikelihood(float[] logits, int offset, int vocab, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < vocab; j++) {
            max = Math.max(max, logits[offset + j]);
        }
        double sum = 0;
        for (int j = 0; j < vocab; j++) {
            sum += Math.exp(logits[offset + j] - max);
        }
        return Math.log(sum) + max - logits[offset + target];
    }
}
