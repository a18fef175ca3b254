package dev.streamingllm.eval;

import dev.streamingllm.backend.cpu.decoder.AttentionObserver;
import dev.streamingllm.backend.cpu.decoder.Transformer;
import dev.streamingllm.cache.CacheConfig;

/**
 * The attention sink itself (the paper's Figure 2): per layer, the share of attention that queries pay
 * to each of the first {@code keys} key positions, averaged over heads and over queries, from one dense
 * pass over a text.
 *
 * <p>Only queries at positions {@code q >= keys} are counted: every one of them sees all the keys shown,
 * so each key position is averaged over the same queries, and early queries, which spread their
 * attention over a handful of keys whatever the model, do not dominate.
 */
public final class AttentionSinks implements AttentionObserver {

    private final int keys;
    private final int heads;
    private final int queries;
    /** Per layer, summed over counted rows (one per head and query). */
    private final double[][] shares;
    private final double[] recent;
    private final double[] total;

    private AttentionSinks(int layers, int heads, int keys, int queries) {
        this.keys = keys;
        this.heads = heads;
        this.queries = queries;
        this.shares = new double[layers][keys];
        this.recent = new double[layers];
        this.total = new double[layers];
    }

    /** Runs {@code tokens} through a dense cache and averages the attention of queries {@code keys..tokens.length-1}. */
    public static AttentionSinks measure(Transformer transformer, int[] tokens, int keys) {
        if (keys < 1 || tokens.length <= keys) {
            throw new IllegalArgumentException("need more tokens (" + tokens.length + ") than key positions (" + keys + ") and at least one key");
        }
        var config = transformer.config();
        AttentionSinks sinks = new AttentionSinks(config.layers(), config.heads(), keys, tokens.length - keys);
        transformer.forward(transformer.newCache(CacheConfig.dense(tokens.length)), tokens, 0, tokens.length, false, sinks);
        return sinks;
    }

    @Override
    public void scores(int layer, int head, long position, float[] probabilities, int visible) {
        if (position < keys) {
            return;
        }
        double[] row = shares[layer];
        for (int k = 0; k < keys; k++) {
            row[k] += probabilities[k];
        }
        recent[layer] += probabilities[visible - 1];
        for (int j = 0; j < visible; j++) {
            total[layer] += probabilities[j];
        }
    }

    public int layers() {
        return shares.length;
    }

    public int keys() {
        return keys;
    }

    /** Queries counted: positions {@code keys..tokens-1}. */
    public int queries() {
        return queries;
    }

    /** The average share of attention on key position {@code key}. */
    public double share(int layer, int key) {
        return shares[layer][key] / rows();
    }

    /** The average share of attention a query pays to itself, the most recent key. */
    public double recent(int layer) {
        return recent[layer] / rows();
    }

    /** The average share over every visible key: 1 up to float rounding. */
    public double total(int layer) {
        return total[layer] / rows();
    }

    private double rows() {
        return (double) heads * queries;
    }
}
