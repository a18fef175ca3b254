package dev.streamingllm.backend.cpu.decoder;

import dev.streamingllm.llama.ModelConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * The arrays a forward pass computes in, kept from one pass to the next and grown to the largest pass seen (the
 * scheduler's token budget bounds it). Allocated anew per pass, a decode step's activations and score rows churned a
 * server's young generation by hundreds of kilobytes a token, and a prefill tile's gathered keys by megabytes a layer.
 * Arrays may be longer than a pass needs: every loop over them is bounded by the pass's own sizes, and every element
 * a pass reads it has written first.
 */
final class Workspace {

    private final ModelConfig config;
    private int rows;

    /** Per row of the pass: the residual stream, its normed copy, projections and feed-forward activations. */
    float[] x;
    float[] xb;
    float[] q;
    float[] k;
    float[] v;
    float[] attention;
    float[] projected;
    float[] gate;
    float[] up;
    /** Per row that takes logits: its residual and its normed copy. */
    float[] last;
    float[] normed;

    /** Per segment: a row of attention scores for each head. */
    private final List<float[][]> scores = new ArrayList<>();

    /**
     * Prefill tiles: keys transposed and values per KV head, a tile's scores per query head, its queries rotated for
     * the window and for the sinks, and a row's softmax weights per query head.
     */
    private float[][] keysT;
    private float[][] values;
    private float[][] tileScores;
    private final float[][] tileQueries = new float[2][0];
    private float[][] rowWeights;

    Workspace(ModelConfig config) {
        this.config = config;
        grow(1);
        keysT = new float[config.kvHeads()][0];
        values = new float[config.kvHeads()][0];
        tileScores = new float[config.heads()][0];
        rowWeights = new float[config.heads()][0];
    }

    /** Makes the row arrays hold {@code count} rows. */
    void fit(int count) {
        if (count > rows) {
            grow(count);
        }
    }

    private void grow(int count) {
        rows = count;
        x = new float[count * config.dim()];
        xb = new float[count * config.dim()];
        q = new float[count * config.qDim()];
        k = new float[count * config.kvDim()];
        v = new float[count * config.kvDim()];
        attention = new float[count * config.qDim()];
        projected = new float[count * config.dim()];
        gate = new float[count * config.ffnDim()];
        up = new float[count * config.ffnDim()];
        last = new float[count * config.dim()];
        normed = new float[count * config.dim()];
    }

    /** Score rows of at least {@code slots} floats per head for the pass's segment {@code segment}. */
    float[][] scores(int segment, int slots) {
        while (scores.size() <= segment) {
            scores.add(new float[config.heads()][0]);
        }
        return atLeast(scores.get(segment), slots);
    }

    /** Transposed keys of a prefill tile, at least {@code size} floats per KV head. */
    float[][] keysT(int size) {
        return atLeast(keysT, size);
    }

    /** Values of a prefill tile, at least {@code size} floats per KV head. */
    float[][] values(int size) {
        return atLeast(values, size);
    }

    /** A prefill tile's scores, at least {@code size} floats per query head. */
    float[][] tileScores(int size) {
        return atLeast(tileScores, size);
    }

    /** A prefill tile's queries, at least {@code size} floats each: rotated for the window, then for the sinks. */
    float[][] tileQueries(int size) {
        return atLeast(tileQueries, size);
    }

    /** A row's softmax weights in a prefill tile, at least {@code size} floats per query head. */
    float[][] rowWeights(int size) {
        return atLeast(rowWeights, size);
    }

    private static float[][] atLeast(float[][] arrays, int size) {
        for (int i = 0; i < arrays.length; i++) {
            arrays[i] = atLeast(arrays[i], size);
        }
        return arrays;
    }

    private static float[] atLeast(float[] array, int size) {
        return array.length >= size ? array : new float[size];
    }
}
