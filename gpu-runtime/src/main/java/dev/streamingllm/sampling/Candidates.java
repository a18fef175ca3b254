package dev.streamingllm.sampling;

import java.util.Arrays;

/** The tokens still in the running while sampling, sorted by logit, highest first. */
final class Candidates {

    private final int[] ids;
    private final float[] values;
    private int size;

    private Candidates(int[] ids, float[] values) {
        this.ids = ids;
        this.values = values;
        this.size = ids.length;
    }

    /** The {@code k} highest logits, without sorting the whole vocabulary when k is small. */
    static Candidates topK(float[] logits, int k) {
        k = Math.min(k, logits.length);
        float threshold = Float.NEGATIVE_INFINITY;
        if (k < logits.length) {
            float[] copy = logits.clone();
            threshold = select(copy, logits.length - k);
        }
        int[] ids = new int[k];
        int n = 0;
        // ties at the threshold: keep the lowest indices, so the result is deterministic
        for (int i = 0; i < logits.length && n < k; i++) {
            if (logits[i] > threshold) {
                ids[n++] = i;
            }
        }
        for (int i = 0; i < logits.length && n < k; i++) {
            if (logits[i] == threshold) {
                ids[n++] = i;
            }
        }
        Integer[] order = new Integer[k];
        Arrays.setAll(order, i -> ids[i]);
        Arrays.sort(order, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        int[] sortedIds = new int[k];
        float[] values = new float[k];
        for (int i = 0; i < k; i++) {
            sortedIds[i] = order[i];
            values[i] = logits[order[i]];
        }
        return new Candidates(sortedIds, values);
    }

    /** Turns logits into probabilities at {@code temperature}. */
    void softmax(float temperature) {
        double max = values[0];
        double sum = 0;
        for (int i = 0; i < size; i++) {
            double p = Math.exp((values[i] - max) / temperature);
            values[i] = (float) p;
            sum += p;
        }
        for (int i = 0; i < size; i++) {
            values[i] /= (float) sum;
        }
    }

    /** Keeps the smallest prefix whose probability reaches {@code p}. */
    void topP(float p) {
        if (p >= 1f) {
            return;
        }
        double cumulative = 0;
        for (int i = 0; i < size; i++) {
            cumulative += values[i];
            if (cumulative >= p) {
                size = i + 1;
                return;
            }
        }
    }

    /** Drops tokens less likely than {@code minP} times the most likely one. */
    void minP(float minP) {
        if (minP <= 0f) {
            return;
        }
        float floor = values[0] * minP;
        int keep = 1;
        while (keep < size && values[keep] >= floor) {
            keep++;
        }
        size = keep;
    }

    /** Draws with {@code u} uniform in [0, 1) from the remaining (renormalized) probabilities. */
    int draw(double u) {
        double total = 0;
        for (int i = 0; i < size; i++) {
            total += values[i];
        }
        double target = u * total;
        double cumulative = 0;
        for (int i = 0; i < size; i++) {
            cumulative += values[i];
            if (target < cumulative) {
                return ids[i];
            }
        }
        return ids[size - 1];
    }

    /** Quickselect: the value that would sit at {@code rank} in ascending order. */
    private static float select(float[] a, int rank) {
        int lo = 0;
        int hi = a.length - 1;
        while (lo < hi) {
            float pivot = a[(lo + hi) >>> 1];
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (a[i] < pivot) {
                    i++;
                }
                while (a[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    float t = a[i];
                    a[i++] = a[j];
                    a[j--] = t;
                }
            }
            if (rank <= j) {
                hi = j;
            } else if (rank >= i) {
                lo = i;
            } else {
                return a[rank];
            }
        }
        return a[rank];
    }
}
