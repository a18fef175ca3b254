package dev.streamingllm.spring.autoconfigure;

import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.util.unit.DataSize;

/** The HTTP API: {@code streamingllm.web.*}. */
@ConfigurationProperties(prefix = StreamingLlmWebProperties.PREFIX)
public class StreamingLlmWebProperties {

    public static final String PREFIX = "streamingllm.web";

    /** Serve the OpenAI-compatible API and the session API under /v1 (needs a reactive web application). */
    private boolean enabled = false;

    /**
     * API keys clients must send as {@code Authorization: Bearer KEY}; empty means no authentication. A
     * conversation is bound to the key that created it: other keys get 404 for it.
     */
    private List<String> apiKeys = new ArrayList<>();

    private final Limits limits = new Limits();

    public boolean isEnabled() {
        return enabled;
    }

    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    public List<String> getApiKeys() {
        return apiKeys;
    }

    public void setApiKeys(List<String> apiKeys) {
        this.apiKeys = apiKeys;
    }

    public Limits getLimits() {
        return limits;
    }

    public static class Limits {

        /** Largest request body accepted; larger ones get 413. */
        private DataSize maxRequestSize = DataSize.ofKilobytes(256);

        /** Largest {@code max_tokens} a request may ask for (400 above it); also the budget when it asks none. */
        private int maxTokens = 1024;

        /**
         * Generations one API key may run at once (all clients together when no keys are configured); one more
         * gets 429.
         */
        private int concurrentGenerationsPerKey = 8;

        public DataSize getMaxRequestSize() {
            return maxRequestSize;
        }

        public void setMaxRequestSize(DataSize maxRequestSize) {
            this.maxRequestSize = maxRequestSize;
        }

        public int getMaxTokens() {
            return maxTokens;
        }

        public void setMaxTokens(int maxTokens) {
            this.maxTokens = maxTokens;
        }

        public int getConcurrentGenerationsPerKey() {
            return concurrentGenerationsPerKey;
        }

        public void setConcurrentGenerationsPerKey(int concurrentGenerationsPerKey) {
            this.concurrentGenerationsPerKey = concurrentGenerationsPerKey;
        }
    }
}
