package dev.streamingllm.spring.routing;

import static org.awaitility.Awaitility.await;

import dev.streamingllm.model.Model;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.session.Engine;
import dev.streamingllm.spring.chat.ConversationIdAdvisor;
import dev.streamingllm.spring.chat.StreamingLlmChatOptions;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.template.ChatMessage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.client.advisor.MessageChatMemoryAdvisor;
import org.springframework.ai.chat.memory.ChatMemory;
import org.springframework.ai.chat.memory.MessageWindowChatMemory;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * What the routing tests over a real Redis share: one {@code redis-server} for the test class, stories260K with an
 * engine apart from the instances under test (for the uninterrupted reference conversations), and instances started
 * in this process with a short lease, so that takeovers happen within seconds.
 */
abstract class RedisRoutingTest {

    static final Path MODEL = Path.of(System.getProperty("streamingllm.shared", "../../shared"), "models", "stories260K.gguf")
            .toAbsolutePath().normalize();

    static RealRedis redis;
    static Model model;
    /** Runs the uninterrupted reference conversations, apart from the instances under test. */
    static Engine engine;

    @BeforeAll
    static void startRedis() {
        redis = RealRedis.start();
        System.out.println("Redis for the routing tests: " + redis.kind() + " on port " + redis.port());
        model = Model.load(MODEL);
        engine = new Engine(model);
    }

    @AfterAll
    static void stopRedis() throws Exception {
        engine.close();
        model.close();
        redis.close();
    }

    /**
     * The arguments of an instance on the shared Redis: lease 3 s, heartbeat 500 ms, registry calls 1 s; then
     * {@code more}, which replace those of the same names (a name given twice would bind as a list).
     */
    static List<String> instanceArgs(String instance, String... more) {
        List<String> args = new ArrayList<>();
        for (String fixed : List.of(
                "--streamingllm.model=" + MODEL,
                "--spring.data.redis.host=localhost",
                "--spring.data.redis.port=" + redis.port(),
                "--streamingllm.routing.instance-id=" + instance,
                "--streamingllm.routing.lease=3s",
                "--streamingllm.routing.heartbeat=500ms",
                "--streamingllm.routing.redis-timeout=1s")) {
            String name = fixed.substring(0, fixed.indexOf('=') + 1);
            if (java.util.Arrays.stream(more).noneMatch(arg -> arg.startsWith(name))) {
                args.add(fixed);
            }
        }
        args.addAll(List.of(more));
        return args;
    }

    /**
     * An instance without a web server, used in-process. It announces itself at a URL nobody calls, so that the
     * other instances see it live.
     */
    static ConfigurableApplicationContext startInProcess(String instance, String... more) {
        List<String> args = instanceArgs(instance, more);
        args.add("--streamingllm.routing.base-url=http://localhost:1");
        return new SpringApplicationBuilder(RoutingTestApplication.class).web(WebApplicationType.NONE).run(args.toArray(String[]::new));
    }

    /** What an application builds: a greedy ChatClient over the instance's model, remembering conversations in its own memory. */
    static ChatClient chatClient(ConfigurableApplicationContext context, int maxTokens) {
        ChatMemory memory = MessageWindowChatMemory.builder().build();
        return ChatClient.builder(context.getBean(ChatModel.class))
                .defaultAdvisors(context.getBean(ConversationIdAdvisor.class), MessageChatMemoryAdvisor.builder(memory).build())
                .defaultOptions(StreamingLlmChatOptions.builder().temperature(0.0).maxTokens(maxTokens))
                .build();
    }

    /** Waits until nobody holds the session's lease: its owner stopped renewing it, and it ran out. */
    static void awaitLeaseExpired(SessionRegistry registry, String id) {
        await("the lease of session " + id + " expiring").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100))
                .until(() -> registry.lease(id).block(Duration.ofSeconds(2)) == null);
    }

    static String say(ChatClient client, String id, String user) {
        return client.prompt().user(user).advisors(a -> a.param(ChatMemory.CONVERSATION_ID, id)).call().content();
    }

    /**
     * The conversation of {@code users} run without interruption in this process, the whole history each turn, with
     * {@code settingsFrom}'s cache: what every routed run of it must reproduce. Each reply goes to {@code texts}.
     */
    static Conversation uninterrupted(ChatSessions settingsFrom, SamplingParams params, List<String> users, List<String> texts) {
        Conversation conversation = new Conversation(engine, settingsFrom.settings().cache(), settingsFrom.settings().pinSystemPrompt());
        List<ChatMessage> history = new ArrayList<>();
        for (String user : users) {
            history.add(ChatMessage.user(user));
            String text = conversation.reply(history, params, piece -> { }, () -> false).text();
            history.add(ChatMessage.assistant(text));
            texts.add(text);
        }
        return conversation;
    }
}
