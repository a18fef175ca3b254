package dev.streamingllm.spring.chat;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.sampling.JsonGrammar;
import dev.streamingllm.sampling.SamplingParams;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.spring.session.TurnEvent;
import dev.streamingllm.spring.session.TurnRequest;
import dev.streamingllm.spring.session.TurnResult;
import dev.streamingllm.template.ChatMessage;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import io.micrometer.observation.contextpropagation.ObservationThreadLocalAccessor;
import java.util.List;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.metadata.ChatGenerationMetadata;
import org.springframework.ai.chat.metadata.ChatResponseMetadata;
import org.springframework.ai.chat.metadata.DefaultUsage;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.model.Generation;
import org.springframework.ai.chat.model.MessageAggregator;
import org.springframework.ai.chat.observation.ChatModelObservationContext;
import org.springframework.ai.chat.observation.ChatModelObservationConvention;
import org.springframework.ai.chat.observation.ChatModelObservationDocumentation;
import org.springframework.ai.chat.observation.DefaultChatModelObservationConvention;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import reactor.core.publisher.Flux;

/**
 * Spring AI's {@link ChatModel} (and streaming model) over the StreamingLLM runtime. A prompt whose options carry
 * a conversation id continues that conversation's session, feeding only the messages that are new since its last
 * turn; a prompt without one continues the session whose history it extends (a {@code ChatClient} built by hand
 * with a memory advisor resends its history so), else begins one. Responses carry usage (prompt tokens are the
 * tokens actually prefilled this turn), the tokens reused from earlier turns and the finish reason; calls are
 * observed as {@code gen_ai.client.operation}.
 */
public class StreamingLlmChatModel implements ChatModel {

    /**
     * Response metadata: whether the turn's state is stored where another instance would continue the conversation
     * from (session routing's registry); false when the registry could not be reached.
     */
    public static final String DURABLE = "durable";

    /** The provider name in observations and metadata. */
    public static final String PROVIDER = "streamingllm";

    private static final ChatModelObservationConvention DEFAULT_CONVENTION = new DefaultChatModelObservationConvention();

    private final ChatSessions sessions;
    private final StreamingLlmChatOptions defaultOptions;
    private final ObservationRegistry observationRegistry;
    private ChatModelObservationConvention observationConvention = DEFAULT_CONVENTION;

    public StreamingLlmChatModel(ChatSessions sessions, StreamingLlmChatOptions defaultOptions, ObservationRegistry observationRegistry) {
        this.sessions = sessions;
        this.defaultOptions = defaultOptions.getModel() != null ? defaultOptions
                : defaultOptions.mutate().model(modelName(sessions)).build();
        this.observationRegistry = observationRegistry;
    }

    public void setObservationConvention(ChatModelObservationConvention observationConvention) {
        this.observationConvention = observationConvention;
    }

    public ChatSessions sessions() {
        return sessions;
    }

    @Override
    public StreamingLlmChatOptions getOptions() {
        return defaultOptions;
    }

    @Override
    public ChatResponse call(Prompt prompt) {
        Prompt request = withMergedOptions(prompt);
        TurnRequest turn = toTurn(request);
        ChatModelObservationContext context = ChatModelObservationContext.builder().prompt(request).provider(PROVIDER).build();
        return ChatModelObservationDocumentation.CHAT_MODEL_OPERATION
                .observation(observationConvention, DEFAULT_CONVENTION, () -> context, observationRegistry)
                .observe(() -> {
                    Thread caller = Thread.currentThread();
                    TurnResult result = sessions.turn(turn, text -> {
                    }, caller::isInterrupted);
                    ChatResponse response = response(result.text(), result, modelOf(request));
                    context.setResponse(response);
                    return response;
                });
    }

    @Override
    public Flux<ChatResponse> stream(Prompt prompt) {
        return Flux.deferContextual(contextView -> {
            Prompt request = withMergedOptions(prompt);
            TurnRequest turn = toTurn(request);
            String model = modelOf(request);
            ChatModelObservationContext context = ChatModelObservationContext.builder().prompt(request).provider(PROVIDER)
                    .streaming(true).build();
            Observation observation = ChatModelObservationDocumentation.CHAT_MODEL_OPERATION
                    .observation(observationConvention, DEFAULT_CONVENTION, () -> context, observationRegistry);
            observation.parentObservation(contextView.getOrDefault(ObservationThreadLocalAccessor.KEY, null)).start();
            Flux<ChatResponse> responses = sessions.stream(turn).map(event -> switch (event) {
                case TurnEvent.Text text -> response(text.text(), null, model);
                case TurnEvent.Done done -> response("", done.result(), model);
            });
            return new MessageAggregator().aggregate(responses, context::setResponse)
                    .doOnError(observation::error)
                    // stopped before the subscriber sees the end (doFinally runs after), with the aggregated response set
                    .doOnTerminate(observation::stop)
                    .doOnCancel(observation::stop)
                    .contextWrite(ctx -> ctx.put(ObservationThreadLocalAccessor.KEY, observation));
        });
    }

    /** The defaults overlaid with what the prompt sets. */
    private Prompt withMergedOptions(Prompt prompt) {
        ChatOptions requested = prompt.getOptions();
        StreamingLlmChatOptions merged = requested == null ? defaultOptions
                : defaultOptions.mutate().combineWith(StreamingLlmChatOptions.from(requested).mutate()).build();
        return prompt.mutate().chatOptions(merged).build();
    }

    private TurnRequest toTurn(Prompt prompt) {
        StreamingLlmChatOptions options = (StreamingLlmChatOptions) prompt.getOptions();
        List<ChatMessage> messages = prompt.getInstructions().stream().map(StreamingLlmChatModel::toRuntime).toList();
        CacheConfig defaults = sessions.settings().cache();
        CacheConfig cache = options.getSinks() == null && options.getWindow() == null ? null
                : defaults.with(options.getSinks(), options.getWindow());
        return new TurnRequest(options.getConversationId(), messages, sampling(options), cache, options.getPinSystemPrompt(),
                options.getClient());
    }

    /** The runtime's sampling parameters for {@code options}; unset fields keep the runtime's defaults. */
    public static SamplingParams sampling(StreamingLlmChatOptions options) {
        SamplingParams.Builder b = SamplingParams.DEFAULTS.toBuilder();
        if (options.getTemperature() != null) {
            b.temperature(options.getTemperature().floatValue());
        }
        if (options.getTopK() != null) {
            b.topK(options.getTopK());
        }
        if (options.getTopP() != null) {
            b.topP(options.getTopP().floatValue());
        }
        if (options.getMinP() != null) {
            b.minP(options.getMinP().floatValue());
        }
        if (options.getRepeatPenalty() != null) {
            b.repeatPenalty(options.getRepeatPenalty().floatValue());
        }
        if (options.getFrequencyPenalty() != null) {
            b.frequencyPenalty(options.getFrequencyPenalty().floatValue());
        }
        if (options.getPresencePenalty() != null) {
            b.presencePenalty(options.getPresencePenalty().floatValue());
        }
        if (options.getSeed() != null) {
            b.seed(options.getSeed());
        }
        if (options.getMaxTokens() != null) {
            b.maxTokens(options.getMaxTokens());
        }
        if (options.getOutputSchema() != null) {
            b.grammar(JsonGrammar.fromSchema(options.getOutputSchema()));
        }
        if (options.getStopSequences() != null) {
            b.stop(options.getStopSequences());
        }
        return b.build();
    }

    private static ChatMessage toRuntime(Message message) {
        if (message instanceof UserMessage user && !user.getMedia().isEmpty()) {
            throw new IllegalArgumentException("streamingllm models read text only; the user message carries "
                    + user.getMedia().size() + " media item(s)");
        }
        String text = message.getText() == null ? "" : message.getText();
        return switch (message.getMessageType()) {
            case SYSTEM -> ChatMessage.system(text);
            case USER -> ChatMessage.user(text);
            case ASSISTANT -> ChatMessage.assistant(text);
            case TOOL -> throw new IllegalArgumentException("streamingllm models do not call tools; the prompt holds a tool response message");
        };
    }

    private static ChatResponse response(String text, TurnResult result, String model) {
        ChatGenerationMetadata generationMetadata = result == null ? ChatGenerationMetadata.NULL
                : ChatGenerationMetadata.builder().finishReason(result.finishReason().name()).build();
        ChatResponseMetadata.Builder metadata = ChatResponseMetadata.builder().model(model);
        if (result != null) {
            metadata.id(result.conversationId() + "-" + result.session().tokensSeen())
                    .usage(new DefaultUsage(result.promptTokens(), result.completionTokens()))
                    .keyValue("conversation-id", result.conversationId())
                    .keyValue("reset", result.reset())
                    .keyValue("cached-tokens", result.cachedTokens())
                    .keyValue("tokens-seen", result.session().tokensSeen())
                    .keyValue("evicted", result.session().evicted())
                    .keyValue(DURABLE, result.durable());
        }
        return new ChatResponse(List.of(new Generation(new AssistantMessage(text), generationMetadata)), metadata.build());
    }

    private String modelOf(Prompt prompt) {
        String model = prompt.getOptions() != null ? prompt.getOptions().getModel() : null;
        return model != null ? model : defaultOptions.getModel();
    }

    private static String modelName(ChatSessions sessions) {
        String file = sessions.model().path().getFileName().toString();
        return file.endsWith(".gguf") ? file.substring(0, file.length() - ".gguf".length()) : file;
    }
}
