package dev.streamingllm.sampling;

import java.util.List;

/**
 * Finds stop strings in streamed text. Text that could still be the start of a stop string is held
 * back until the next piece decides; text before a stop string is released, the stop string is not.
 */
public final class StopStrings {

    private final List<String> stops;
    private final StringBuilder pending = new StringBuilder();
    private boolean stopped;

    public StopStrings(List<String> stops) {
        this.stops = stops;
    }

    /** Adds a piece of generated text and returns what is safe to emit now. */
    public String feed(String piece) {
        if (stopped) {
            return "";
        }
        pending.append(piece);
        int earliest = -1;
        for (String stop : stops) {
            int at = pending.indexOf(stop);
            if (at >= 0 && (earliest < 0 || at < earliest)) {
                earliest = at;
            }
        }
        if (earliest >= 0) {
            stopped = true;
            String out = pending.substring(0, earliest);
            pending.setLength(0);
            return out;
        }
        int hold = 0;
        for (String stop : stops) {
            for (int k = Math.min(stop.length() - 1, pending.length()); k > hold; k--) {
                if (pending.substring(pending.length() - k).equals(stop.substring(0, k))) {
                    hold = k;
                    break;
                }
            }
        }
        String out = pending.substring(0, pending.length() - hold);
        pending.delete(0, pending.length() - hold);
        return out;
    }

    /** The held-back text once the stream ends without a stop string. */
    public String flush() {
        String out = stopped ? "" : pending.toString();
        pending.setLength(0);
        return out;
    }

    public boolean stopped() {
        return stopped;
    }
}
