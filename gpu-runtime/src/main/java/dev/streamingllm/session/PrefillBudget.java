package dev.streamingllm.session;

/**
 * How many prompt tokens a step may carry while other generations decode: as many as keep the step within
 * {@link #STALL} times the cost of a step that only decodes, by the costs of recent steps, and never more than the
 * configured most. A prompt token costs more as its cache fills (it attends over more keys) and more on a busy
 * machine, so a fixed count either stalls the running streams or starves the prompt; measured costs follow both.
 */
final class PrefillBudget {

    /** A step with prompt tokens may take this many times a decode-only step: running streams slow by at most this. */
    static final double STALL = 3.0;
    /** Weight of the newest step in the running averages. */
    private static final double NEWEST = 0.25;

    private double decodeNanos = Double.NaN;
    private double tokenNanos = Double.NaN;

    /** Prompt tokens for the next step with decoding rows, at most {@code most}: {@code most} until costs are known. */
    int tokens(int most) {
        if (Double.isNaN(decodeNanos) || Double.isNaN(tokenNanos)) {
            return most;
        }
        double tokens = decodeNanos * (STALL - 1) / tokenNanos;
        return (int) Math.max(1, Math.min(most, tokens));
    }

    /** A step that decoded and carried {@code promptTokens} prompt tokens (0 for none) took {@code nanos}. */
    void record(int promptTokens, long nanos) {
        if (promptTokens == 0) {
            decodeNanos = average(decodeNanos, nanos);
        } else if (!Double.isNaN(decodeNanos)) {
            // The decode rows' share of a mixed step is taken as a decode-only step's; the rest is the prompt's.
            tokenNanos = average(tokenNanos, Math.max(1, nanos - decodeNanos) / promptTokens);
        }
    }

    private static double average(double average, double sample) {
        return Double.isNaN(average) ? sample : average + NEWEST * (sample - average);
    }
}
