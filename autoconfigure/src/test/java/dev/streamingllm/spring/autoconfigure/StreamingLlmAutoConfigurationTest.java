package dev.streamingllm.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.streamingllm.backend.Backend;
import dev.streamingllm.backend.cuda.CudaDevice;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.CacheType;
import dev.streamingllm.model.Model;
import dev.streamingllm.session.Scheduler;
import dev.streamingllm.session.Warmup;
import dev.streamingllm.spring.TestModels;
import dev.streamingllm.spring.chat.ConversationIdAdvisor;
import dev.streamingllm.spring.chat.StreamingLlmChatModel;
import dev.streamingllm.spring.chat.StreamingLlmChatOptions;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.SessionInfo;
import dev.streamingllm.spring.session.SessionListener;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.observation.ObservationRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.client.ChatClientBuilderCustomizer;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.CommandLineRunner;
import org.springframework.boot.DefaultApplicationArguments;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

class StreamingLlmAutoConfigurationTest {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(StreamingLlmAutoConfiguration.class,
                    StreamingLlmChatClientAutoConfiguration.class, StreamingLlmHealthAutoConfiguration.class))
            .withPropertyValues("streamingllm.model=" + TestModels.stories260K());

    @Test
    void onByDefaultWithEveryBean() {
        runner.run(context -> {
            assertThat(context).hasSingleBean(Model.class).hasSingleBean(ChatSessions.class)
                    .hasSingleBean(StreamingLlmChatModel.class).hasSingleBean(StreamingLlmMetrics.class)
                    .hasSingleBean(StreamingLlmHealthIndicator.class).hasSingleBean(ConversationIdAdvisor.class)
                    .hasSingleBean(ChatClientBuilderCustomizer.class).hasSingleBean(StreamingLlmWarmup.class);
            assertThat(context.getBean(ChatModel.class)).isSameAs(context.getBean(StreamingLlmChatModel.class));
            // defaults: 4 sinks, the window fills the model's context, keys and values as halves, 32 sessions for 30 minutes,
            // prefixes reused
            Model model = context.getBean(Model.class);
            ChatSessions.Settings settings = context.getBean(ChatSessions.class).settings();
            int capacity = Math.min(model.config().contextLength(), 2048);
            assertThat(settings.cache()).isEqualTo(new CacheConfig(4, capacity - 4, 1, CacheType.F16));
            assertThat(settings.pinSystemPrompt()).isTrue();
            assertThat(settings.maxSessions()).isEqualTo(32);
            assertThat(settings.ttl()).isEqualTo(Duration.ofMinutes(30));
            assertThat(settings.reusePrefix()).isTrue();
        });
    }

    /**
     * The warm-up is an {@link ApplicationRunner}, so Spring Boot reports the application ready for traffic after it; its
     * timeout binds (none allowed: one round), and {@code streamingllm.warmup.enabled=false} leaves it out.
     */
    @Test
    void theWarmupRunsAsARunnerUnlessDisabled() {
        runner.withPropertyValues("streamingllm.backend=cpu", "streamingllm.warmup.timeout=0s").run(context -> {
            StreamingLlmWarmup warmup = context.getBean(StreamingLlmWarmup.class);
            assertThat(context.getBeansOfType(ApplicationRunner.class)).containsValue(warmup);
            assertThat(warmup.report()).as("before it runs").isNull();
            warmup.run(new DefaultApplicationArguments());
            assertThat(warmup.report()).isNotNull();
            assertThat(warmup.report().rounds()).isEqualTo(1);
            assertThat(warmup.report().settled()).isFalse();
        });
        runner.withPropertyValues("streamingllm.warmup.enabled=false")
                .run(context -> assertThat(context).hasSingleBean(Model.class).doesNotHaveBean(StreamingLlmWarmup.class));
    }

    /** The warm-up runs before the application's own runners: a first prompt that one of them reads comes warm. */
    @Test
    void theWarmupRunsBeforeTheApplicationsRunners() {
        RunnerApplication.seen.set(null);
        try (ConfigurableApplicationContext context = new SpringApplicationBuilder(RunnerApplication.class).web(WebApplicationType.NONE)
                .properties("streamingllm.model=" + TestModels.stories260K(), "streamingllm.warmup.timeout=0s").run()) {
            assertThat(RunnerApplication.seen.get()).as("the warm-up's report when the application's runner ran")
                    .isNotNull().isSameAs(context.getBean(StreamingLlmWarmup.class).report());
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ImportAutoConfiguration(StreamingLlmAutoConfiguration.class)
    static class RunnerApplication {

        static final AtomicReference<Warmup.Report> seen = new AtomicReference<>();

        @Bean
        CommandLineRunner application(StreamingLlmWarmup warmup) {
            return args -> seen.set(warmup.report());
        }
    }

    @Test
    void theSpringAiSwitchSelectsThisModel() {
        runner.withPropertyValues("spring.ai.model.chat=streamingllm")
                .run(context -> assertThat(context).hasSingleBean(StreamingLlmChatModel.class));
        runner.withPropertyValues("spring.ai.model.chat=openai").run(context -> assertThat(context)
                .doesNotHaveBean(ChatModel.class).doesNotHaveBean(Model.class).doesNotHaveBean(ChatSessions.class)
                .doesNotHaveBean(HealthIndicator.class).doesNotHaveBean(ConversationIdAdvisor.class));
    }

    /** {@code streamingllm.cache.type=q8_0} gives sessions of Q8_0 caches: a byte per value and a 2-byte scale per 32. */
    @Test
    void aQ8_0CacheTypeBindsAndSizesTheSessions() {
        runner.withPropertyValues("streamingllm.backend=cpu", "streamingllm.cache.type=q8_0", "streamingllm.cache.window=60")
                .run(context -> {
                    ChatSessions sessions = context.getBean(ChatSessions.class);
                    assertThat(sessions.settings().cache().type()).isEqualTo(CacheType.Q8_0);
                    // stories260K: 5 layers x 32 values per token; 4 sinks + 60 + 1 slots of values, and of keys
                    // in whole tiles of 16 slots (80)
                    assertThat(sessions.bytesPerSession()).isEqualTo(5L * (65 + 80) * (32 + 2));
                });
    }

    @Test
    void propertiesShapeTheSessionsAndTheDefaultOptions() {
        runner.withPropertyValues("streamingllm.backend=cpu", "streamingllm.cache.sinks=2", "streamingllm.cache.window=60",
                "streamingllm.cache.evict-batch=4", "streamingllm.cache.type=f32", "streamingllm.cache.pin-system-prompt=false", "streamingllm.sessions.max=3",
                "streamingllm.sessions.ttl=90s", "streamingllm.sessions.reuse-prefix=false", "streamingllm.chat.temperature=0.2", "streamingllm.chat.top-k=5",
                "streamingllm.chat.top-p=0.9", "streamingllm.chat.min-p=0.1", "streamingllm.chat.repeat-penalty=1.1",
                "streamingllm.chat.max-tokens=7", "streamingllm.chat.seed=42", "streamingllm.chat.stop=x,y",
                "streamingllm.batch.prefill-chunk=32", "streamingllm.batch.prefill-while-decoding=4")
                .run(context -> {
                    assertThat(context.getBean(ChatSessions.class).engine().scheduler().settings()).isEqualTo(new Scheduler.Settings(32, 4));
                    ChatSessions.Settings settings = context.getBean(ChatSessions.class).settings();
                    assertThat(settings).isEqualTo(new ChatSessions.Settings(new CacheConfig(2, 60, 4, CacheType.F32), false, 3, Duration.ofSeconds(90), false));
                    StreamingLlmChatOptions options = context.getBean(StreamingLlmChatModel.class).getOptions();
                    assertThat(options.getTemperature()).isEqualTo(0.2);
                    assertThat(options.getTopK()).isEqualTo(5);
                    assertThat(options.getTopP()).isEqualTo(0.9);
                    assertThat(options.getMinP()).isEqualTo(0.1);
                    assertThat(options.getRepeatPenalty()).isEqualTo(1.1);
                    assertThat(options.getMaxTokens()).isEqualTo(7);
                    assertThat(options.getSeed()).isEqualTo(42L);
                    assertThat(options.getStopSequences()).containsExactly("x", "y");
                    assertThat(options.getModel()).isEqualTo("stories260K");
                    assertThat(context.getBean(StreamingLlmProperties.class).getBackend()).isEqualTo(Backend.CPU);
                    assertThat(context.getBean(StreamingLlmHealthIndicator.class).health(true).getDetails())
                            .containsEntry("backend", "cpu").containsEntry("activeBackend", "cpu").containsEntry("maxSessions", 3);
                });
    }

    @Test
    void userBeansWin() {
        runner.withUserConfiguration(UserBeans.class).run(context -> {
            assertThat(context).hasSingleBean(ChatSessions.class).hasSingleBean(StreamingLlmChatModel.class)
                    .hasSingleBean(StreamingLlmMetrics.class);
            assertThat(context.getBean(ChatSessions.class)).isSameAs(context.getBean("mySessions"));
            assertThat(context.getBean(StreamingLlmChatModel.class)).isSameAs(context.getBean("myChatModel"));
            assertThat(context.getBean(StreamingLlmMetrics.class)).isSameAs(context.getBean("myMetrics"));
            assertThat(context.getBean(ConversationIdAdvisor.class)).isSameAs(context.getBean("myAdvisor"));
        });
    }

    @Configuration(proxyBeanMethods = false)
    static class UserBeans {

        @Bean(destroyMethod = "close")
        ChatSessions mySessions(Model model) {
            return new ChatSessions(model, new ChatSessions.Settings(CacheConfig.streaming(4, 28), false, 1, Duration.ofMinutes(1)), List.of());
        }

        @Bean
        StreamingLlmChatModel myChatModel(ChatSessions sessions) {
            return new StreamingLlmChatModel(sessions, StreamingLlmChatOptions.builder().build(), ObservationRegistry.NOOP);
        }

        @Bean
        StreamingLlmMetrics myMetrics(ChatSessions sessions) {
            return new StreamingLlmMetrics(sessions);
        }

        @Bean
        ConversationIdAdvisor myAdvisor() {
            return new ConversationIdAdvisor();
        }
    }

    @Test
    void sessionListenerBeansAreRegistered() {
        runner.withUserConfiguration(ListenerConfig.class).withPropertyValues("streamingllm.chat.max-tokens=4").run(context -> {
            ChatModel chatModel = context.getBean(ChatModel.class);
            chatModel.call(new Prompt("Once", StreamingLlmChatOptions.builder().conversationId("x").build()));
            context.getBean(ChatSessions.class).end("x");
            assertThat(context.getBean(ListenerConfig.class).events).containsExactly("created x", "turn x", "ended x ENDED");
        });
    }

    @Configuration(proxyBeanMethods = false)
    static class ListenerConfig {
        final List<String> events = new CopyOnWriteArrayList<>();

        @Bean
        SessionListener recorder() {
            return new SessionListener() {
                @Override
                public void sessionCreated(dev.streamingllm.spring.session.ChatSession session) {
                    events.add("created " + session.id());
                }

                @Override
                public void turnCompleted(dev.streamingllm.spring.session.ChatSession session,
                        dev.streamingllm.spring.session.TurnResult result) {
                    events.add("turn " + session.id());
                }

                @Override
                public void sessionEnded(SessionInfo last, EndReason reason) {
                    events.add("ended " + last.id() + " " + reason);
                }
            };
        }
    }

    @Test
    void aMissingModelSettingFailsStartUpWithOneClearMessage() {
        new ApplicationContextRunner().withConfiguration(AutoConfigurations.of(StreamingLlmAutoConfiguration.class))
                .withPropertyValues("streamingllm.model=").run(context -> {
            assertThat(context).hasFailed();
            InvalidModelException cause = rootCause(context.getStartupFailure());
            assertThat(cause).hasMessage("streamingllm.model is not set: no model is configured");
            FailureAnalysis analysis = new InvalidModelFailureAnalyzer().analyze(context.getStartupFailure());
            assertThat(analysis.getDescription()).isEqualTo("StreamingLLM needs a model, but streamingllm.model is not set.");
            assertThat(analysis.getAction()).contains("Set streamingllm.model");
        });
    }

    @Test
    void aMissingOrInvalidModelFileFailsStartUpNamingTheFile(@TempDir Path dir) throws IOException {
        Path missing = dir.resolve("nope.gguf");
        runner.withPropertyValues("streamingllm.model=" + missing).run(context -> {
            assertThat(context).hasFailed();
            assertThat(rootCause(context.getStartupFailure()))
                    .hasMessage("streamingllm.model=" + missing + " is not usable: the file does not exist or is not a regular file");
        });
        Path garbage = Files.writeString(dir.resolve("garbage.gguf"), "this is not a model", StandardCharsets.UTF_8);
        runner.withPropertyValues("streamingllm.model=" + garbage).run(context -> {
            assertThat(context).hasFailed();
            InvalidModelException cause = rootCause(context.getStartupFailure());
            assertThat(cause.getMessage()).isEqualTo("streamingllm.model=" + garbage
                    + " is not usable: not a GGUF file (magic 0x73696874, expected 0x46554747 \"GGUF\")");
            assertThat(new InvalidModelFailureAnalyzer().analyze(context.getStartupFailure()).getDescription())
                    .startsWith("StreamingLLM cannot use the model file " + garbage.toAbsolutePath());
        });
    }

    @Test
    void aCatalogNameResolvesInTheModelCacheAndPullNeverDoesNotDownload(@TempDir Path cache) {
        new ApplicationContextRunner().withConfiguration(AutoConfigurations.of(StreamingLlmAutoConfiguration.class))
                .withPropertyValues("streamingllm.model-cache=" + cache, "streamingllm.pull=never").run(context -> {
            assertThat(context).hasFailed();
            InvalidModelException cause = rootCause(context.getStartupFailure());
            assertThat(cause).hasMessage("streamingllm.model=smollm2-135m-instruct is not usable: it is not in the model cache "
                    + cache + " and streamingllm.pull=never (run bin/streamingllm pull smollm2-135m-instruct, or set"
                    + " streamingllm.pull=when-missing)");
            assertThat(new InvalidModelFailureAnalyzer().analyze(context.getStartupFailure()).getAction())
                    .contains("streamingllm.model=smollm2-135m-instruct");
            assertThat(cache).isEmptyDirectory();
        });
        // a file already in the cache is used as it is
        new ApplicationContextRunner().withConfiguration(AutoConfigurations.of(StreamingLlmAutoConfiguration.class))
                .withPropertyValues("streamingllm.model-cache=" + TestModels.stories260K().getParent(), "streamingllm.pull=never",
                        "streamingllm.model=http://127.0.0.1:1/models/stories260K.gguf")
                .run(context -> assertThat(context.getBean(Model.class).path()).isEqualTo(TestModels.stories260K()));
    }

    @Test
    void theRepackedCacheIsWhereThePropertySays(@TempDir Path repacked) {
        new ApplicationContextRunner().withConfiguration(AutoConfigurations.of(StreamingLlmAutoConfiguration.class))
                .withPropertyValues("streamingllm.model=" + TestModels.stories260K(), "streamingllm.backend=cpu",
                        "streamingllm.repacked-cache=" + repacked)
                .run(context -> {
                    Model model = context.getBean(Model.class);
                    assertThat(model.repacked().directory()).isEqualTo(repacked.resolve(model.fingerprint()));
                });
    }

    @Test
    void aModelThatCannotBePulledFailsStartUpNamingEachSource(@TempDir Path cache) {
        new ApplicationContextRunner().withConfiguration(AutoConfigurations.of(StreamingLlmAutoConfiguration.class))
                .withPropertyValues("streamingllm.model-cache=" + cache, "streamingllm.model=http://127.0.0.1:1/x.gguf").run(context -> {
            assertThat(context).hasFailed();
            InvalidModelException cause = rootCause(context.getStartupFailure());
            assertThat(cause.getMessage()).startsWith("streamingllm.model=http://127.0.0.1:1/x.gguf is not usable: could not pull "
                    + "http://127.0.0.1:1/x.gguf: ConnectException");
            assertThat(cache.resolve("x.gguf")).doesNotExist();
            assertThat(cache.resolve("x.gguf.part")).doesNotExist();
        });
    }

    @Test
    void backendCudaWithoutAUsableDeviceFailsStartUpSayingWhy() {
        CudaDevice.Probe probe = CudaDevice.probe();
        assumeTrue(probe.device().isEmpty(), "this machine has a usable CUDA device, so backend=cuda starts");
        runner.withPropertyValues("streamingllm.backend=cuda").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).rootCause()
                    .hasMessage("backend 'cuda' was requested but CUDA is not usable: " + probe.reason());
        });
    }

    private static InvalidModelException rootCause(Throwable failure) {
        Throwable t = failure;
        while (!(t instanceof InvalidModelException) && t.getCause() != null) {
            t = t.getCause();
        }
        assertThat(t).isInstanceOf(InvalidModelException.class);
        return (InvalidModelException) t;
    }

    @Test
    void healthReportsModelBackendAndSessions() {
        runner.run(context -> {
            ChatModel chatModel = context.getBean(ChatModel.class);
            chatModel.call(new Prompt("Once", StreamingLlmChatOptions.builder().conversationId("h").maxTokens(2).build()));
            Health health = context.getBean(StreamingLlmHealthIndicator.class).health(true);
            assertThat(health.getStatus()).isEqualTo(Status.UP);
            assertThat(health.getDetails()).containsEntry("model", "stories260K.gguf").containsEntry("backend", "auto")
                    .containsEntry("activeBackend", "cpu").containsEntry("sessions", 1).containsEntry("maxSessions", 32)
                    .containsEntry("bytesPerSession", context.getBean(ChatSessions.class).bytesPerSession());
        });
    }

    @Test
    void withoutActuatorOrChatClientTheirBeansAreLeftOut() {
        runner.withClassLoader(new FilteredClassLoader(HealthIndicator.class))
                .run(context -> assertThat(context).hasSingleBean(ChatModel.class).doesNotHaveBean(StreamingLlmHealthIndicator.class));
        runner.withClassLoader(new FilteredClassLoader(ChatClient.class))
                .run(context -> assertThat(context).hasSingleBean(ChatModel.class).doesNotHaveBean(ConversationIdAdvisor.class));
        runner.withPropertyValues("management.health.streamingllm.enabled=false")
                .run(context -> assertThat(context).doesNotHaveBean(StreamingLlmHealthIndicator.class));
    }

    @Test
    void metricsCountTheCache() {
        runner.run(context -> {
            MeterRegistry registry = new SimpleMeterRegistry();
            context.getBean(StreamingLlmMetrics.class).bindTo(registry);
            ChatSessions sessions = context.getBean(ChatSessions.class);
            StreamingLlmChatModel chatModel = context.getBean(StreamingLlmChatModel.class);
            var usage = chatModel.call(new Prompt("Once upon a time",
                    StreamingLlmChatOptions.builder().conversationId("m").maxTokens(5).build())).getMetadata().getUsage();

            assertThat(registry.get("streamingllm.tokens.prefilled").functionCounter().count()).isEqualTo((double) usage.getPromptTokens());
            assertThat(registry.get("streamingllm.tokens.generated").functionCounter().count()).isEqualTo(5);
            assertThat(registry.get("streamingllm.tokens.seen").functionCounter().count())
                    .isEqualTo((double) sessions.info("m").orElseThrow().tokensSeen());
            assertThat(registry.get("streamingllm.tokens.evicted").functionCounter().count()).isZero();
            assertThat(registry.get("streamingllm.turns").functionCounter().count()).isEqualTo(1);
            assertThat(registry.get("streamingllm.sessions.active").gauge().value()).isEqualTo(1);
            assertThat(registry.get("streamingllm.cache.bytes").gauge().value()).isEqualTo((double) sessions.bytesPerSession());
        });
    }

    @Test
    void configurationMetadataIsGenerated() throws IOException {
        try (var in = getClass().getClassLoader().getResourceAsStream("META-INF/spring-configuration-metadata.json")) {
            assertThat(in).isNotNull();
            String json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            assertThat(json).contains("\"streamingllm.model\"", "\"streamingllm.backend\"", "\"streamingllm.cache.window\"",
                    "\"streamingllm.cache.pin-system-prompt\"", "\"streamingllm.sessions.ttl\"", "\"streamingllm.chat.min-p\"");
        }
    }
}
