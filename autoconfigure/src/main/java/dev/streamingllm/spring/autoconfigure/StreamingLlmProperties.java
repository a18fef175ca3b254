package dev.streamingllm.spring.autoconfigure;

import dev.streamingllm.backend.Backend;
import dev.streamingllm.cache.CacheType;
import dev.streamingllm.pull.ModelCatalog;
import dev.streamingllm.pull.PullPolicy;
import dev.streamingllm.session.Scheduler;
import dev.streamingllm.spring.chat.StreamingLlmChatOptions;
import java.nio.file.Path;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.NestedConfigurationProperty;

/** StreamingLLM settings, under the project's own prefix {@code streamingllm}. */
@ConfigurationProperties(prefix = StreamingLlmProperties.PREFIX)
public class StreamingLlmProperties {

    public static final String PREFIX = "streamingllm";

    /**
     * The GGUF model: a file path, a catalog name (smollm2-135m-instruct) or an http(s) URL; names and URLs are
     * pulled into the model cache.
     */
    private String model = ModelCatalog.DEFAULT_MODEL;

    /** Whether a model named by catalog name or URL is downloaded when the cache lacks it: when-missing or never. */
    private PullPolicy pull = PullPolicy.WHEN_MISSING;

    /** Where pulled models are kept. Default: $STREAMINGLLM_HOME/models, else ~/.cache/streamingllm/models. */
    private @Nullable Path modelCache;

    /**
     * Where the CPU backend keeps its repacked copies of the model's matrices, mapped again by later starts. Default:
     * the JVM's -Dstreamingllm.repacked (none: in the process's memory), else $STREAMINGLLM_HOME/repacked, else
     * ~/.cache/streamingllm/repacked.
     */
    private @Nullable Path repackedCache;

    /** Compute backend: auto (CUDA when a usable device is present, else the CPU), cpu or cuda. */
    private Backend backend = Backend.AUTO;

    /** Default chat options; a prompt's own options override them. Unset values keep the runtime's defaults. */
    @NestedConfigurationProperty
    private StreamingLlmChatOptions chat = StreamingLlmChatOptions.builder().build();

    private final Cache cache = new Cache();

    private final Sessions sessions = new Sessions();

    private final Batch batch = new Batch();

    private final Warmup warmup = new Warmup();

    public String getModel() {
        return model;
    }

    public void setModel(String model) {
        this.model = model;
    }

    public PullPolicy getPull() {
        return pull;
    }

    public void setPull(PullPolicy pull) {
        this.pull = pull;
    }

    public @Nullable Path getModelCache() {
        return modelCache;
    }

    public void setModelCache(@Nullable Path modelCache) {
        this.modelCache = modelCache;
    }

    public @Nullable Path getRepackedCache() {
        return repackedCache;
    }

    public void setRepackedCache(@Nullable Path repackedCache) {
        this.repackedCache = repackedCache;
    }

    public Backend getBackend() {
        return backend;
    }

    public void setBackend(Backend backend) {
        this.backend = backend;
    }

    public StreamingLlmChatOptions getChat() {
        return chat;
    }

    public void setChat(StreamingLlmChatOptions chat) {
        this.chat = chat;
    }

    public Cache getCache() {
        return cache;
    }

    public Sessions getSessions() {
        return sessions;
    }

    public Batch getBatch() {
        return batch;
    }

    public Warmup getWarmup() {
        return warmup;
    }

    /** Geometry of each session's sink cache. */
    public static class Cache {

        /** First tokens of a conversation that are never evicted (the attention sinks). */
        private int sinks = 4;

        /** Recent tokens kept after the sinks. Default: the model's context length (at most 2048) minus the sinks. */
        private @Nullable Integer window;

        /** Tokens evicted at once when the cache is full (1 = the paper's policy). */
        private int evictBatch = 1;

        /** Keep each conversation's system prompt next to the sinks, never evicted (up to half the cache). */
        private boolean pinSystemPrompt = true;

        /**
         * How keys and values are stored: f16 (IEEE halves, as llama.cpp's default: half the bytes per session), f32,
         * or q8_0 (a byte per value and a half scale per 32, as llama.cpp's q8_0). The CUDA backend keeps f32 on the
         * device.
         */
        private CacheType type = CacheType.F16;

        public CacheType getType() {
            return type;
        }

        public void setType(CacheType type) {
            this.type = type;
        }

        public int getSinks() {
            return sinks;
        }

        public void setSinks(int sinks) {
            this.sinks = sinks;
        }

        public @Nullable Integer getWindow() {
            return window;
        }

        public void setWindow(@Nullable Integer window) {
            this.window = window;
        }

        public int getEvictBatch() {
            return evictBatch;
        }

        public void setEvictBatch(int evictBatch) {
            this.evictBatch = evictBatch;
        }

        public boolean isPinSystemPrompt() {
            return pinSystemPrompt;
        }

        public void setPinSystemPrompt(boolean pinSystemPrompt) {
            this.pinSystemPrompt = pinSystemPrompt;
        }
    }

    /** How many conversations are kept, and for how long. */
    public static class Sessions {

        /** Conversations held at once; the least recently used idle one makes room for a new one. */
        private int max = 32;

        /** How long an idle conversation keeps its session. */
        private Duration ttl = Duration.ofMinutes(30);

        /**
         * Keep the session of a request without a conversation id, so that a later request resending its history
         * continues it (local to this instance); false releases it after the turn.
         */
        private boolean reusePrefix = true;

        public int getMax() {
            return max;
        }

        public void setMax(int max) {
            this.max = max;
        }

        public Duration getTtl() {
            return ttl;
        }

        public void setTtl(Duration ttl) {
            this.ttl = ttl;
        }

        public boolean isReusePrefix() {
            return reusePrefix;
        }

        public void setReusePrefix(boolean reusePrefix) {
            this.reusePrefix = reusePrefix;
        }
    }

    /**
     * Continuous batching: every generation runs in one forward pass per step, prompts in chunks between the decode
     * steps of the others.
     */
    public static class Batch {

        /** Prompt tokens per step when no generation is decoding. */
        private int prefillChunk = Scheduler.Settings.DEFAULT.prefillChunk();

        /**
         * The most prompt tokens per step while some generation decodes; a step takes fewer when the measured costs
         * say more would make it over three times as long as a step that only decodes. With more generations waiting
         * for their first token than decoding, both limits grow in proportion.
         */
        private int prefillWhileDecoding = Scheduler.Settings.DEFAULT.prefillWhileDecoding();

        public int getPrefillChunk() {
            return prefillChunk;
        }

        public void setPrefillChunk(int prefillChunk) {
            this.prefillChunk = prefillChunk;
        }

        public int getPrefillWhileDecoding() {
            return prefillWhileDecoding;
        }

        public void setPrefillWhileDecoding(int prefillWhileDecoding) {
            this.prefillWhileDecoding = prefillWhileDecoding;
        }
    }

    /**
     * The model's CPU kernels run on throwaway caches once the application has started, before it reports itself ready
     * for traffic: until the JIT has compiled them, the first conversations run many times slower.
     */
    public static class Warmup {

        /** Whether the warm-up runs. */
        private boolean enabled = true;

        /** The most time it takes; a round under way runs to its end. */
        private Duration timeout = Duration.ofSeconds(30);

        public boolean isEnabled() {
            return enabled;
        }

        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        public Duration getTimeout() {
            return timeout;
        }

        public void setTimeout(Duration timeout) {
            this.timeout = timeout;
        }
    }
}
