package dev.streamingllm.pull;

import java.io.PrintStream;

/** Hears how a download advances: a bar on a terminal, log lines in a server, nothing in tests. Each event is optional. */
public interface PullProgress {

    PullProgress QUIET = new PullProgress() {
    };

    /** A download from {@code source} starts; {@code total} is -1 when unknown, {@code resumedAt} the bytes already held. */
    default void started(String source, long total, long resumedAt) {
    }

    /** {@code done} bytes of the file are now held. */
    default void advanced(long done) {
    }

    /** The download ended (complete or not). */
    default void finished() {
    }

    /** {@code source} could not provide the file; the next one, if any, is tried. */
    default void failed(String source, String reason) {
    }

    /** A bar on standard error when it is a terminal, else nothing: output piped to a file stays clean. */
    static PullProgress forConsole() {
        var console = System.console();
        return console != null && console.isTerminal() ? new Bar(System.err) : QUIET;
    }

    /** A one-line bar redrawn with a carriage return, at most once per whole percent. */
    final class Bar implements PullProgress {
        private static final int WIDTH = 30;
        private final PrintStream out;
        private long total;
        private int shown = -1;

        Bar(PrintStream out) {
            this.out = out;
        }

        @Override
        public void started(String source, long total, long resumedAt) {
            this.total = total;
            this.shown = -1;
            out.println((resumedAt > 0 ? "resuming at " + mib(resumedAt) + " from " : "pulling from ") + source);
            advanced(resumedAt);
        }

        @Override
        public void advanced(long done) {
            int percent = total > 0 ? (int) (100 * done / total) : -1;
            if (percent == shown && total > 0) {
                return;
            }
            shown = percent;
            if (total > 0) {
                int filled = percent * WIDTH / 100;
                out.print("\r[" + "#".repeat(filled) + " ".repeat(WIDTH - filled) + "] " + percent + "% of " + mib(total));
            } else {
                out.print("\r" + mib(done));
            }
            out.flush();
        }

        @Override
        public void finished() {
            out.println();
        }

        @Override
        public void failed(String source, String reason) {
            out.println(source + ": " + reason);
        }

        private static String mib(long bytes) {
            return String.format("%.1f MiB", bytes / (1024.0 * 1024));
        }
    }
}
