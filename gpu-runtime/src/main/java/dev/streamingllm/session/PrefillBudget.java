package dev.streamingllm.session;

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
 */
final class PrefillBudget {

    /** A step with prompt tokens may take this many times a decode-only step: running streams slow by at most this. */
    static final double STALL = 3.0;
    /** How far the decoding rows may move from those the decode cost was measured at before it is measured again. */
    static final double DRIFT = 1.5;
    /** Weight of the newest step in the running averages. */
    private static final double NEWEST = 0.25;

    /** A decode-only step's cost per decoding row, measured at {@link #measuredRows} rows. */
    private double rowNanos = Double.NaN;
    private int measuredRows;
    private double tokenNanos = Double.NaN;

    /**
     * Prompt tokens for the next step, which decodes {@code rows} rows, at most {@code most}: none while a decode-only
     * step at about this many rows has yet to be measured, then {@code most} until a prompt token's cost is known.
     */
    int tokens(int most, int rows) {
        if (Double.isNaN(rowNanos) || drifted(rows)) {
            return 0;
        }
        if (Double.isNaN(tokenNanos)) {
            return most;
        }
        double tokens = rowNanos * rows * (STALL - 1) / tokenNanos;
        return (int) Math.max(1, Math.min(most, tokens));
    }

    /** A step that decoded {@code rows} rows and carried {@code promptTokens} prompt tokens (0 for none) took {@code nanos}. */
    void record(int promptTokens, int rows, long nanos) {
        if (promptTokens == 0) {
            double perRow = (double) nanos / rows;
            rowNanos = Double.isNaN(rowNanos) || drifted(rows) ? perRow : average(rowNanos, perRow);
            measuredRows = rows;
        } else if (!Double.isNaN(rowNanos) && !drifted(rows)) {
            // The decode rows' share of a mixed step is taken as a decode-only step's; the rest is the prompt's.
            tokenNanos = average(tokenNanos, Math.max(1, nanos - rowNanos * rows) / promptTokens);
        }
    }

    private boolean drifted(int rows) {
        return rows > measuredRows * DRIFT || rows * DRIFT < measuredRows;
    }

    private static double average(double average, double sample) {
        return Double.isNaN(average) ? sample : average + NEWEST * (sample - average);
    }
}
