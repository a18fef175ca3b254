package dev.streamingllm.spring.autoconfigure;

import java.time.Duration;
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

    private final Cors cors = new Cors();

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

    public Cors getCors() {
        return cors;
    }

    public static class Limits {

        /** Largest request body accepted; larger ones get 413. */
        private DataSize maxRequestSize = DataSize.ofKilobytes(256);

        /** Largest {@code max_tokens} a request may ask for (400 above it); also the budget when it asks none. */
        private int maxTokens = 1024;

        /**
         * Generations one API key may run at once (all clients together when no keys are configured); more wait in
         * the key's queue.
         */
        private int concurrentGenerationsPerKey = 8;

        /** Requests of one API key that may wait for a generation slot; one more gets 429 with Retry-After. */
        private int queue = 64;

        /** How long a request may wait in the queue; longer gets 503 with Retry-After. */
        private Duration queueTimeout = Duration.ofSeconds(60);

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

        public int getQueue() {
            return queue;
        }

        public void setQueue(int queue) {
            this.queue = queue;
        }

        public Duration getQueueTimeout() {
            return queueTimeout;
        }

        public void setQueueTimeout(Duration queueTimeout) {
            this.queueTimeout = queueTimeout;
        }
    }

    /**
     * Cross-origin requests to {@code /v1}, for browser clients on other origins; off until origins are set. As Spring's
     * {@code CorsConfiguration} (and Spring Boot's {@code management.endpoints.web.cors.*}).
     */
    public static class Cors {

        /** Origins allowed, e.g. {@code https://app.example.com}; '*' allows all (not with credentials). */
        private List<String> allowedOrigins = new ArrayList<>();

        /** Origin patterns allowed, e.g. {@code https://*.example.com}; work with credentials. */
        private List<String> allowedOriginPatterns = new ArrayList<>();

        /** Methods allowed. */
        private List<String> allowedMethods = new ArrayList<>(List.of("GET", "POST", "DELETE"));

        /** Request headers allowed; '*' allows all (Authorization and X-Conversation-Id included). */
        private List<String> allowedHeaders = new ArrayList<>(List.of("*"));

        /** Response headers a browser lets the page read, e.g. Retry-After. */
        private List<String> exposedHeaders = new ArrayList<>();

        /** Whether browsers send credentials (cookies) along. */
        private boolean allowCredentials = false;

        /** How long browsers may cache a preflight answer. */
        private Duration maxAge = Duration.ofMinutes(30);

        public List<String> getAllowedOrigins() {
            return allowedOrigins;
        }

        public void setAllowedOrigins(List<String> allowedOrigins) {
            this.allowedOrigins = allowedOrigins;
        }

        public List<String> getAllowedOriginPatterns() {
            return allowedOriginPatterns;
        }

        public void setAllowedOriginPatterns(List<String> allowedOriginPatterns) {
            this.allowedOriginPatterns = allowedOriginPatterns;
        }

        public List<String> getAllowedMethods() {
            return allowedMethods;
        }

        public void setAllowedMethods(List<String> allowedMethods) {
            this.allowedMethods = allowedMethods;
        }

        public List<String> getAllowedHeaders() {
            return allowedHeaders;
        }

        public void setAllowedHeaders(List<String> allowedHeaders) {
            this.allowedHeaders = allowedHeaders;
        }

        public List<String> getExposedHeaders() {
            return exposedHeaders;
        }

        public void setExposedHeaders(List<String> exposedHeaders) {
            this.exposedHeaders = exposedHeaders;
        }

        public boolean isAllowCredentials() {
            return allowCredentials;
        }

        public void setAllowCredentials(boolean allowCredentials) {
            this.allowCredentials = allowCredentials;
        }

        public Duration getMaxAge() {
            return maxAge;
        }

        public void setMaxAge(Duration maxAge) {
            this.maxAge = maxAge;
        }
    }
}
