package dev.streamingllm.cache;

import dev.streamingllm.llama.ModelConfig;
import dev.streamingllm.llama.Weights;
import java.util.ArrayList;
import java.util.List;

/**
 * The StreamingLLM reference algorithm, written plainly for tests: keys cached before RoPE in a list
 * and re-rotated by their place in the cache at every step; eviction removes list entries. Slow and
 * obviously right, it checks the production cache's O(1) position bookkeeping.
 */
final class NaiveStreamingDecoder {

    private final ModelConfig c;
    private final Weights w;
    private final int protectedTokens;
    private final int capacity;
    private final int evictBatch;
    private final List<List<float[]>> keys = new ArrayList<>();
    private final List<List<float[]>> values = new ArrayList<>();

    NaiveStreamingDecoder(ModelConfig config, Weights weights, int protectedTokens, int capacity, int evictBatch) {
        this.c = config;
        this.w = weights;
        this.protectedTokens = protectedTokens;
        this.capacity = capacity;
        this.evictBatch = evictBatch;
        for (int l = 0; l < config.layers(); l++) {
            keys.add(new ArrayList<>());
            values.add(new ArrayList<>());
        }
    }

    /** Drops the oldest unprotected entries so that {@code tokens} more fit. */
    void reserve(int tokens) {
        int overflow = keys.get(0).size() + tokens - capacity;
        evict(Math.min(Math.max(0, overflow), keys.get(0).size() - Math.min(protectedTokens, keys.get(0).size())));
    }

    float[] step(int token) {
        float[] x = new float[c.dim()];
        w.tokenEmbedding().dequantizeRow(token, x, 0);
        for (int l = 0; l < c.layers(); l++) {
            Weights.Layer layer = w.layers()[l];
            float[] xb = rmsnorm(x, layer.attnNorm());
            float[] q = matvec(layer.attnQ(), xb);
            float[] k = matvec(layer.attnK(), xb);
            float[] v = matvec(layer.attnV(), xb);
            keys.get(l).add(k);
            values.get(l).add(v);
            int n = keys.get(l).size();
            int place = n - 1;
            float[] attention = new float[c.qDim()];
            int group = c.heads() / c.kvHeads();
            for (int h = 0; h < c.heads(); h++) {
                float[] qh = rotate(slice(q, h * c.headDim()), place);
                int kvh = h / group;
                double[] scores = new double[n];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < n; j++) {
                    float[] kh = rotate(slice(keys.get(l).get(j), kvh * c.headDim()), j);
                    double s = 0;
                    for (int d = 0; d < c.headDim(); d++) {
                        s += qh[d] * kh[d];
                    }
                    scores[j] = s / Math.sqrt(c.headDim());
                    max = Math.max(max, scores[j]);
                }
                double sum = 0;
                for (int j = 0; j < n; j++) {
                    scores[j] = Math.exp(scores[j] - max);
                    sum += scores[j];
                }
                for (int j = 0; j < n; j++) {
                    float[] vj = values.get(l).get(j);
                    for (int d = 0; d < c.headDim(); d++) {
                        attention[h * c.headDim() + d] += (float) (scores[j] / sum * vj[kvh * c.headDim() + d]);
                    }
                }
            }
            add(x, matvec(layer.attnOutput(), attention));
            float[] xb2 = rmsnorm(x, layer.ffnNorm());
            float[] gate = matvec(layer.ffnGate(), xb2);
            float[] up = matvec(layer.ffnUp(), xb2);
            for (int i = 0; i < gate.length; i++) {
                gate[i] = (float) (gate[i] / (1 + Math.exp(-gate[i])) * up[i]);
            }
            add(x, matvec(layer.ffnDown(), gate));
        }
        if (keys.get(0).size() > capacity) {
            evict(Math.min(evictBatch, keys.get(0).size() - protectedTokens));
        }
        return matvec(w.output(), rmsnorm(x, w.outputNorm()));
    }

    private void evict(int count) {
        for (int l = 0; l < c.layers(); l++) {
            for (int i = 0; i < count; i++) {
                keys.get(l).remove(protectedTokens);
                values.get(l).remove(protectedTokens);
            }
        }
    }

    private float[] slice(float[] v, int offset) {
        float[] out = new float[c.headDim()];
        System.arraycopy(v, offset, out, 0, c.headDim());
        return out;
    }

    private float[] rotate(float[] head, int position) {
        float[] out = head.clone();
        for (int i = 0; i < c.ropeDim() / 2; i++) {
            double angle = position * Math.pow(c.ropeBase(), -2.0 * i / c.ropeDim());
            int a = c.ropeNeox() ? i : 2 * i;
            int b = c.ropeNeox() ? i + c.ropeDim() / 2 : 2 * i + 1;
            out[a] = (float) (head[a] * Math.cos(angle) - head[b] * Math.sin(angle));
            out[b] = (float) (head[a] * Math.sin(angle) + head[b] * Math.cos(angle));
        }
        return out;
    }

    private float[] rmsnorm(float[] x, float[] weight) {
        double ss = 0;
        for (float v : x) {
            ss += v * v;
        }
        double inv = 1 / Math.sqrt(ss / x.length + c.rmsEps());
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (float) (weight[i] * x[i] * inv);
        }
        return out;
    }

    private static float[] matvec(dev.streamingllm.backend.cpu.WeightMatrix m, float[] x) {
        float[] out = new float[m.rows()];
        for (int r = 0; r < m.rows(); r++) {
            out[r] = m.dot(r, x, 0);
        }
        return out;
    }

    private static void add(float[] x, float[] delta) {
        for (int i = 0; i < x.length; i++) {
            x[i] += delta[i];
        }
    }
}
