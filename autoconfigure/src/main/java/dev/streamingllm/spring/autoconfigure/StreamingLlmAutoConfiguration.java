package dev.streamingllm.spring.autoconfigure;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheSettings;
import dev.streamingllm.gguf.GGUFException;
import dev.streamingllm.model.Model;
import dev.streamingllm.session.Scheduler;
import dev.streamingllm.pull.ModelPuller;
import dev.streamingllm.pull.PullException;
import dev.streamingllm.spring.chat.StreamingLlmChatModel;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.SessionListener;
import dev.streamingllm.spring.session.SessionLoader;
import dev.streamingllm.spring.session.TurnStore;
import io.micrometer.observation.ObservationRegistry;
import java.time.Clock;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.ai.chat.observation.ChatModelObservationConvention;
import org.springframework.ai.model.SpringAIModelProperties;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;

/**
 * The StreamingLLM chat model: the model file, the sessions over it and the Spring AI {@code ChatModel}.
 * Active under Spring AI's switch {@code spring.ai.model.chat=streamingllm}, and when the switch is not set.
 */
@AutoConfiguration
@ConditionalOnClass(StreamingLlmChatModel.class)
@ConditionalOnProperty(name = SpringAIModelProperties.CHAT_MODEL, havingValue = StreamingLlmAutoConfiguration.MODEL_NAME,
        matchIfMissing = true)
@EnableConfigurationProperties(StreamingLlmProperties.class)
public class StreamingLlmAutoConfiguration {

    /** The value of {@code spring.ai.model.chat} that selects this model. */
    public static final String MODEL_NAME = "streamingllm";

    private static final Logger log = LoggerFactory.getLogger(StreamingLlmAutoConfiguration.class);

    @Bean
    @ConditionalOnMissingBean
    Model streamingLlmModel(StreamingLlmProperties properties) {
        String model = properties.getModel();
        if (model == null || model.isBlank()) {
            throw new InvalidModelException(null, null, "no model is configured");
        }
        Path path = modelFile(model, properties);
        if (!Files.isRegularFile(path)) {
            throw new InvalidModelException(model, path, ModelPuller.isPullable(model)
                    ? "it is not in the model cache " + path.getParent() + " and streamingllm.pull=never (run bin/streamingllm pull "
                            + model + ", or set streamingllm.pull=when-missing)"
                    : "the file does not exist or is not a regular file");
        }
        try {
            return Model.load(path, properties.getBackend(), cacheSettings(properties.getCache()), null, properties.getRepackedCache());
        } catch (GGUFException e) {
            // the runtime's message names the file first; ours already does
            String reason = e.getMessage().startsWith(path + ": ") ? e.getMessage().substring(path.toString().length() + 2) : e.getMessage();
            throw new InvalidModelException(model, path, reason);
        }
    }

    /** The model's file: a path as given, or a catalog name or URL resolved in the cache, pulled when allowed. */
    private static Path modelFile(String model, StreamingLlmProperties properties) {
        Path cache = properties.getModelCache() != null ? properties.getModelCache() : ModelPuller.defaultDirectory();
        ModelPuller puller = ModelPuller.standard(cache, new PullLog(log));
        try {
            return puller.resolve(model, properties.getPull());
        } catch (PullException e) {
            throw new InvalidModelException(model, null, e.getMessage());
        }
    }

    /** The cache as configured; the runtime resolves an unset window against the model. */
    private static CacheSettings cacheSettings(StreamingLlmProperties.Cache cache) {
        return new CacheSettings(cache.getSinks(), cache.getWindow(), cache.getEvictBatch(), cache.getType());
    }

    @Bean
    @ConditionalOnMissingBean
    ChatSessions chatSessions(Model model, StreamingLlmProperties properties, ObjectProvider<SessionListener> listeners,
            ObjectProvider<SessionLoader> loader, ObjectProvider<TurnStore> store) {
        StreamingLlmProperties.Cache cache = properties.getCache();
        CacheConfig geometry = cacheSettings(cache).resolve(model.config().contextLength());
        ChatSessions.Settings settings = new ChatSessions.Settings(geometry, cache.isPinSystemPrompt(),
                properties.getSessions().getMax(), properties.getSessions().getTtl(), properties.getSessions().isReusePrefix());
        // loader and store (session routing) are looked up when a turn needs them: routing needs these sessions itself
        ChatSessions sessions = new ChatSessions(model, settings, listeners.orderedStream().toList(), loader::getIfAvailable,
                store::getIfAvailable, Clock.systemUTC());
        StreamingLlmProperties.Batch batch = properties.getBatch();
        sessions.engine().scheduler().settings(new Scheduler.Settings(batch.getPrefillChunk(), batch.getPrefillWhileDecoding()));
        long perSession = sessions.bytesPerSession();
        log.info("StreamingLLM: {} on the {} backend; cache {} sinks + {} window = {} tokens of {}; memory budget {} sessions x {} = {}",
                model.path().getFileName(), model.backend().backend().name().toLowerCase(), geometry.sinks(), geometry.window(),
                geometry.capacity(), geometry.type().name().toLowerCase(), settings.maxSessions(), bytes(perSession),
                bytes(perSession * settings.maxSessions()));
        return sessions;
    }

    @Bean
    @ConditionalOnMissingBean
    StreamingLlmChatModel streamingLlmChatModel(ChatSessions sessions, StreamingLlmProperties properties,
            ObjectProvider<ObservationRegistry> observationRegistry,
            ObjectProvider<ChatModelObservationConvention> observationConvention) {
        StreamingLlmChatModel chatModel = new StreamingLlmChatModel(sessions, properties.getChat(),
                observationRegistry.getIfUnique(() -> ObservationRegistry.NOOP));
        observationConvention.ifAvailable(chatModel::setObservationConvention);
        return chatModel;
    }

    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnBooleanProperty(prefix = StreamingLlmProperties.PREFIX + ".warmup", name = "enabled", matchIfMissing = true)
    StreamingLlmWarmup streamingLlmWarmup(ChatSessions sessions, StreamingLlmProperties properties) {
        return new StreamingLlmWarmup(sessions, StreamingLlmChatModel.sampling(properties.getChat()), properties.getWarmup().getTimeout());
    }

    @Bean
    @ConditionalOnMissingBean
    StreamingLlmMetrics streamingLlmMetrics(ChatSessions sessions) {
        return new StreamingLlmMetrics(sessions);
    }

    static String bytes(long bytes) {
        if (bytes < 1024 * 1024) {
            return String.format("%.1f KiB", bytes / 1024.0);
        }
        if (bytes < 1024L * 1024 * 1024) {
            return String.format("%.1f MiB", bytes / (1024.0 * 1024));
        }
        return String.format("%.2f GiB", bytes / (1024.0 * 1024 * 1024));
    }
}
