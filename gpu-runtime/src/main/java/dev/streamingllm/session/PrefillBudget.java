package dev.streamingllm.session;

import java.util.Arrays;

/**
 * How many prompt tokens a step may carry while other generations decode: as many as keep the step within
 * {@link #STALL} times the cost of a step that only decodes the same rows, by the costs of recent steps, and never
 * more than the configured most. A prompt token costs more as its cache fills (it attends over more keys) and more on
 * a busy machine, so a fixed count either stalls the running streams or starves the prompt; measured costs follow both.
 *
 * <p>A decode-only step costs more the more rows it decodes. Its cost is kept per row, measured at about the number
 * of rows decoding now: once that number has moved past {@link #DRIFT} times the one measured at, the next step
 * decodes only, to measure it again. Otherwise the cost of rows that joined would be taken for the prompt's, and the
 * prompts of many new conversations would be starved.
 *
 * <p>The decode cost is also measured again after every {@link #REMEASURE} steps with prompt tokens. Both costs are
 * the medians of their last few measurements. A long prompt's arrival (its template and tokenizer run beside
 * the decoder) can triple the decode-only step before it; kept for the whole prefill, that cost let every step carry
 * about twice the prompt tokens the stall allows.
 */
final class PrefillBudget {

    /** A step with prompt tokens may take this many times a decode-only step: running streams slow by at most this. */
    static final double STALL = 3.0;
    /** How far the decoding rows may move from those the decode cost was measured at before it is measured again. */
    static final double DRIFT = 1.5;
    /** Steps with prompt tokens between two decode-only steps that measure the decode cost. */
    static final int REMEASURE = 8;

    /** Decode-only steps' costs per decoding row, measured at {@link #measuredRows} rows. */
    private final Recent rowNanos = new Recent(3);
    private int measuredRows;
    /** Steps with prompt tokens since the last decode-only one. */
    private int sinceMeasured;
    /** Prompt tokens' costs, each a mixed step's cost beyond its decode rows' over its prompt tokens. */
    private final Recent tokenNanos = new Recent(5);

    /**
     * Prompt tokens for the next step, which decodes {@code rows} rows, at most {@code most}: none while a decode-only
     * step at about this many rows has yet to be measured, then {@code most} until a prompt token's cost is known.
     */
    int tokens(int most, int rows) {
        if (rowNanos.isEmpty() || drifted(rows) || sinceMeasured >= REMEASURE) {
            return 0;
        }
        if (tokenNanos.isEmpty()) {
            return most;
        }
        double tokens = rowNanos.median() * rows * (STALL - 1) / tokenNanos.median();
        return (int) Math.max(1, Math.min(most, tokens));
    }

    /** A step that decoded {@code rows} rows and carried {@code promptTokens} prompt tokens (0 for none) took {@code nanos}. */
    void record(int promptTokens, int rows, long nanos) {
        if (promptTokens == 0) {
            if (drifted(rows)) {
                rowNanos.clear();
            }
            rowNanos.add((double) nanos / rows);
            measuredRows = rows;
            sinceMeasured = 0;
        } else if (!rowNanos.isEmpty() && !drifted(rows)) {
            sinceMeasured++;
            // The decode rows' share of a mixed step is taken as a decode-only step's; the rest is the prompt's.
            tokenNanos.add(Math.max(1, nanos - rowNanos.median() * rows) / promptTokens);
        }
    }

    private boolean drifted(int rows) {
        return rows > measuredRows * DRIFT || rows * DRIFT < measuredRows;
    }

    /**
     * The last few measurements of a cost and their median, the lower of two. A median follows a lasting change within
     * a few samples and ignores a single step slowed by the machine or by a compilation, which an average kept for
     * many steps after.
     */
    private static final class Recent {

        private final double[] samples;
        private int count;
        private int next;

        Recent(int size) {
            this.samples = new double[size];
        }

        void add(double sample) {
            samples[next] = sample;
            next = (next + 1) % samples.length;
            count = Math.min(samples.length, count + 1);
        }

        void clear() {
            count = 0;
        }

        boolean isEmpty() {
            return count == 0;
        }

        double median() {
            double[] sorted = new double[count];
            for (int i = 0; i < count; i++) {
                sorted[i] = samples[Math.floorMod(next - 1 - i, samples.length)];
            }
            Arrays.sort(sorted);
            return sorted[(count - 1) / 2];
        }
    }
}
