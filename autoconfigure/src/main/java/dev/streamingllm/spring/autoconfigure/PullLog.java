package dev.streamingllm.spring.autoconfigure;

import dev.streamingllm.pull.PullProgress;
import org.slf4j.Logger;

/** A model download at start-up, in the application's log: each source tried, then every tenth of the file. */
final class PullLog implements PullProgress {

    private final Logger log;
    private long total;
    private long nextTenth;

    PullLog(Logger log) {
        this.log = log;
    }

    @Override
    public void started(String source, long total, long resumedAt) {
        this.total = total;
        this.nextTenth = total > 0 ? (resumedAt * 10 / total + 1) : Long.MAX_VALUE;
        log.info("StreamingLLM: {} the model from {}{}", resumedAt > 0 ? "resuming" : "pulling", source,
                total > 0 ? String.format(" (%.1f MiB)", total / (1024.0 * 1024)) : "");
    }

    @Override
    public void advanced(long done) {
        if (total > 0 && done * 10 >= nextTenth * total) {
            log.info("StreamingLLM: pulled {}%", done * 100 / total);
            nextTenth = done * 10 / total + 1;
        }
    }

    @Override
    public void failed(String source, String reason) {
        log.warn("StreamingLLM: could not pull the model from {}: {}", source, reason);
    }
}
