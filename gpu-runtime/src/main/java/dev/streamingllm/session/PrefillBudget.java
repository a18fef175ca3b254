package dev.streamingllm.session;

import java.util.Arrays;

/**
 * How many prompt tokens a step may carry while other generations decode: as many as keep the step within
 * {@link #STALL} times the cost of a step that only decodes the same rows, by the costs of recent steps, and never
 * more than the configured most; both scaled by {@code waiting / rows} when more prompts wait than rows decode
 * ({@link #tokens}). A prompt token costs more as its cache fills (it attends over more keys) and more on a busy
 * machine, so a fixed count either stalls the running streams or starves the prompt; measured costs follow both.
 *
 * <p>A decode-only step costs more the more rows it decodes. Its cost is kept per row, measured at about the number
 * of rows decoding now: once that number has moved past {@link #DRIFT} times the one measured at, the next step
 * decodes only, to measure it again. Otherwise the cost of rows that joined would be taken for the prompt's, and the
 * prompts of many new conversations would be starved.
 *
 * <p>The decode cost is also measured again after every {@link #REMEASURE} steps with prompt tokens, and taken as the
 * least of its last three measurements: other work on the machine only ever slows a step. A long prompt's arrival
 * (its template and tokenizer run beside the decoder) can triple the decode-only steps before it; kept for the whole
 * prefill, such a cost let prompt steps run at six times a decode step instead of three. A prompt token's cost is the
 * median over the last few mixed steps, each read against the decode cost of now, so that one slow step (a compilation)
 * does not starve the prompt for the steps after it.
 */
final class PrefillBudget {

    /**
     * A step with prompt tokens may take this many times a decode-only step: running streams slow by at most this, or
     * {@code 1 + (STALL - 1) * waiting / rows} times when more prompts wait than rows decode.
     */
    static final double STALL = 3.0;
    /** How far the decoding rows may move from those the decode cost was measured at before it is measured again. */
    static final double DRIFT = 1.5;
    /** Steps with prompt tokens between two decode-only steps that measure the decode cost. */
    static final int REMEASURE = 8;

    /** Decode-only steps' costs per decoding row, measured at {@link #measuredRows} rows. */
    private final double[] rowNanos = new double[3];
    private int rowSamples;
    private int measuredRows;
    /** Steps with prompt tokens since the last decode-only one. */
    private int sinceMeasured;
    /** The last mixed steps: each one's cost, decoding rows and prompt tokens, the newest at {@code (mixedNext - 1) % length}. */
    private final long[] mixedNanos = new long[5];
    private final int[] mixedRows = new int[5];
    private final int[] mixedTokens = new int[5];
    private int mixedSamples;
    private int mixedNext;

    /**
     * Prompt tokens for the next step, which decodes {@code rows} rows while {@code waiting} generations prefill, at
     * most {@code most * max(1, waiting / rows)}: none while a decode-only step at about this many rows has yet to be
     * measured or is due again ({@link #REMEASURE}), then the most until a prompt token's cost is known.
     *
     * <p>The stall is granted per waiting generation: with more of them waiting than rows decoding, the step may stall
     * the streams {@code waiting / rows} times as long. A burst of new conversations behind one stream is then
     * prefilled in a few steps, and all of them decode together, instead of joining one by one while that stream's
     * steps stay short; one long prompt beside one stream keeps to the stall.
     */
    int tokens(int most, int rows, int waiting) {
        if (rowSamples == 0 || drifted(rows) || sinceMeasured >= REMEASURE) {
            return 0;
        }
        double share = Math.max(1, (double) waiting / rows);
        double cap = most * share;
        if (mixedSamples == 0) {
            return (int) Math.min(Integer.MAX_VALUE, cap);
        }
        double tokens = share * rowNanos() * rows * (STALL - 1) / tokenNanos();
        return (int) Math.max(1, Math.min(cap, tokens));
    }

    /**
     * {@code tokens} prompt tokens shared out among prompts that still need {@code needs[i]} tokens each: evenly, and a
     * prompt that needs less than its share leaves the rest to the others (max-min fairness), so a short prompt that
     * arrives during a long one's prefill is fed beside it instead of after it. Shares are taken shortest need first;
     * once fewer tokens are left than prompts to serve, they go a token each to the oldest of those, so a long prompt
     * is never starved by short ones arriving after it.
     */
    static int[] split(int tokens, int[] needs) {
        Integer[] order = new Integer[needs.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Integer.compare(needs[a], needs[b]));
        int[] shares = new int[needs.length];
        int left = tokens;
        for (int k = 0; k < order.length && left >= order.length - k; k++) {
            int i = order[k];
            shares[i] = Math.min(needs[i], left / (order.length - k));
            left -= shares[i];
        }
        for (int i = 0; i < needs.length && left > 0; i++) {
            if (shares[i] == 0 && needs[i] > 0) {
                shares[i] = 1;
                left--;
            }
        }
        return shares;
    }

    /** A step that decoded {@code rows} rows and carried {@code promptTokens} prompt tokens (0 for none) took {@code nanos}. */
    void record(int promptTokens, int rows, long nanos) {
        if (promptTokens == 0) {
            if (drifted(rows)) {
                rowSamples = 0;
            }
            System.arraycopy(rowNanos, 0, rowNanos, 1, rowNanos.length - 1);
            rowNanos[0] = (double) nanos / rows;
            rowSamples = Math.min(rowNanos.length, rowSamples + 1);
            measuredRows = rows;
            sinceMeasured = 0;
        } else if (rowSamples > 0 && !drifted(rows)) {
            sinceMeasured++;
            mixedNanos[mixedNext] = nanos;
            mixedRows[mixedNext] = rows;
            mixedTokens[mixedNext] = promptTokens;
            mixedNext = (mixedNext + 1) % mixedNanos.length;
            mixedSamples = Math.min(mixedNanos.length, mixedSamples + 1);
        }
    }

    /** The decode cost per row: the least of the last measurements. */
    private double rowNanos() {
        double least = rowNanos[0];
        for (int i = 1; i < rowSamples; i++) {
            least = Math.min(least, rowNanos[i]);
        }
        return least;
    }

    /**
     * A prompt token's cost: the median, over the last mixed steps, of what each cost beyond its decode rows (at the
     * decode cost of now) per prompt token; the lower of the middle two.
     */
    private double tokenNanos() {
        double perRow = rowNanos();
        double[] costs = new double[mixedSamples];
        for (int i = 0; i < mixedSamples; i++) {
            int at = Math.floorMod(mixedNext - 1 - i, mixedNanos.length);
            costs[i] = Math.max(1, mixedNanos[at] - perRow * mixedRows[at]) / mixedTokens[at];
        }
        Arrays.sort(costs);
        return costs[(mixedSamples - 1) / 2];
    }

    private boolean drifted(int rows) {
        return rows > measuredRows * DRIFT || rows * DRIFT < measuredRows;
    }
}
