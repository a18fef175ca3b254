package dev.streamingllm.spring.web;

import dev.streamingllm.sampling.JsonGrammar;
import dev.streamingllm.spring.api.ApiException;
import dev.streamingllm.spring.api.ConversationOwners;
import dev.streamingllm.spring.api.ExchangeAttributes;
import dev.streamingllm.spring.chat.StreamingLlmChatModel;
import dev.streamingllm.spring.chat.StreamingLlmChatOptions;
import dev.streamingllm.spring.session.TurnWork;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.SystemMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.metadata.Usage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.model.Generation;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DefaultDataBufferFactory;
import org.springframework.http.CacheControl;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.util.context.Context;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * OpenAI's Chat Completions and Models endpoints over {@link StreamingLlmChatModel}. The conversation id
 * ({@link ExchangeAttributes}) names the session that holds the conversation, so a client may send only its new
 * message each turn; without one, a resent history continues the session of the same API key that it extends.
 *
 * <p>A request is validated, then admitted ({@link GenerationLimiter}), and only then reaches a session. A client that
 * goes away cancels its turn, which stops at its next step; the turn's slot is freed when it has stopped.
 */
@RestController
public class ChatCompletionsController {

    private static final int MAX_STOP_SEQUENCES = 4;

    /**
     * Set to {@code false} on a JSON reply whose turn could not be stored in the session registry: the conversation
     * would lose the turn if this instance went away. A streamed reply says so in its finishing chunk instead
     * ({@code "durable": false}), since its headers are sent before the turn ends.
     */
    public static final String DURABLE = "X-StreamingLLM-Durable";

    private final StreamingLlmChatModel chatModel;
    private final ConversationOwners owners;
    private final GenerationLimiter limiter;
    private final JsonMapper json;
    private final int maxTokens;
    private final String modelId;
    private final long started = Instant.now().getEpochSecond();
    private final ChatRequestReader reader = new ChatRequestReader();
    private final AtomicLong abandoned = new AtomicLong();

    public ChatCompletionsController(StreamingLlmChatModel chatModel, ConversationOwners owners,
            GenerationLimiter limiter, JsonMapper json, int maxTokens) {
        this.chatModel = chatModel;
        this.owners = owners;
        this.limiter = limiter;
        this.json = json;
        this.maxTokens = maxTokens;
        this.modelId = chatModel.getOptions().getModel();
    }

    @GetMapping("/v1/models")
    public ModelList models() {
        return new ModelList(List.of(card()));
    }

    @GetMapping("/v1/models/{id}")
    public ModelList.ModelCard model(@PathVariable String id) {
        if (!id.equals(modelId)) {
            throw ApiException.notFound("model_not_found", "The model '" + id + "' does not exist here; this server runs '" + modelId + "'.");
        }
        return card();
    }

    private ModelList.ModelCard card() {
        return new ModelList.ModelCard(modelId, started);
    }

    /** Turns whose client went away before they ended. */
    public long abandoned() {
        return abandoned.get();
    }

    @PostMapping(path = "/v1/chat/completions", consumes = MediaType.APPLICATION_JSON_VALUE)
    public Mono<ResponseEntity<?>> complete(@RequestBody(required = false) byte @Nullable [] body, ServerWebExchange exchange) {
        ChatCompletionRequest request = reader.read(body);
        List<Message> incoming = validate(request);
        String outputSchema = outputSchema(request.responseFormat());
        String client = ExchangeAttributes.client(exchange);
        String conversationId = ExchangeAttributes.conversationId(exchange);
        Prompt prompt = new Prompt(incoming, options(request, conversationId, client, outputSchema));
        return limiter.admit(client).flatMap(slot -> {
            try {
                if (conversationId != null && !owners.claim(conversationId, client)) {
                    throw ApiException.notFound("conversation_not_found", "No conversation '" + conversationId + "' here.");
                }
                Turn turn = new Turn("chatcmpl-" + UUID.randomUUID().toString().replace("-", ""), Instant.now().getEpochSecond());
                // the slot is freed when the turn's work has stopped, which for a client gone away is after the cancel
                TurnWork work = new TurnWork(slot::release);
                Flux<ChatResponse> responses = chatModel.stream(prompt)
                        .doOnCancel(abandoned::incrementAndGet)
                        .doFinally(signal -> work.streamEnded())
                        .contextWrite(Context.of(TurnWork.KEY, work));
                if (request.streaming()) {
                    // written here, event by event: Spring's SSE writer frames events as "data:" without OpenAI's space
                    ServerHttpResponse response = exchange.getResponse();
                    response.setStatusCode(HttpStatus.OK);
                    response.getHeaders().setContentType(MediaType.TEXT_EVENT_STREAM);
                    response.getHeaders().setCacheControl(CacheControl.noCache());
                    return response.writeAndFlushWith(events(turn, responses, request.includeUsage()).map(Mono::just))
                            .then(Mono.<ResponseEntity<?>>empty());
                }
                AtomicReference<@Nullable ChatResponse> last = new AtomicReference<>();
                return whole(turn, responses.doOnNext(last::set)).map(completion -> {
                    ResponseEntity.BodyBuilder ok = ResponseEntity.ok().cacheControl(CacheControl.noCache())
                            .contentType(MediaType.APPLICATION_JSON);
                    if (!durable(last.get())) {
                        ok.header(DURABLE, "false");
                    }
                    return ok.body(completion);
                });
            } catch (RuntimeException e) {
                slot.release();
                throw e;
            }
        });
    }

    /** One response's identity. */
    private record Turn(String id, long created) {
    }

    private Mono<ChatCompletion> whole(Turn turn, Flux<ChatResponse> responses) {
        StringBuilder text = new StringBuilder();
        AtomicReference<ChatResponse> last = new AtomicReference<>();
        return responses.doOnNext(response -> {
            text.append(text(response));
            last.set(response);
        }).then(Mono.fromSupplier(() -> {
            ChatResponse end = last.get();
            return new ChatCompletion(turn.id(), turn.created(), modelId, text.toString(), finishReason(end), usage(end));
        }));
    }

    /**
     * Server-sent events framed as OpenAI frames them: {@code data: {...}}, a blank line, and {@code data: [DONE]} last.
     * The first event (the role) waits for the turn's first output, so that a turn refused before it ran (its session
     * held by another instance, none free) is answered with its HTTP status and {@code Retry-After} like a JSON request.
     */
    private Flux<DataBuffer> events(Turn turn, Flux<ChatResponse> responses, boolean includeUsage) {
        ChatCompletionChunk role = ChatCompletionChunk.delta(turn.id(), turn.created(), modelId,
                new ChatCompletionChunk.Delta("assistant", ""), null);
        AtomicBoolean started = new AtomicBoolean();
        Flux<ChatCompletionChunk> chunks = responses.concatMapIterable(response -> {
            List<ChatCompletionChunk> out = new ArrayList<>(4);
            if (started.compareAndSet(false, true)) {
                out.add(role);
            }
            String piece = text(response);
            if (!piece.isEmpty()) {
                out.add(ChatCompletionChunk.delta(turn.id(), turn.created(), modelId,
                        new ChatCompletionChunk.Delta(null, piece), null));
            }
            String finish = generation(response).getMetadata().getFinishReason();
            if (finish != null) {
                out.add(ChatCompletionChunk.finish(turn.id(), turn.created(), modelId, finishReason(response), durable(response)));
                if (includeUsage) {
                    out.add(ChatCompletionChunk.usage(turn.id(), turn.created(), modelId, usage(response)));
                }
            }
            return out;
        });
        return chunks.defaultIfEmpty(role)
                .map(chunk -> event(json.writeValueAsString(chunk)))
                // once an event is out the status is sent: a later error can only be reported as an event
                .onErrorResume(e -> started.get()
                        ? Mono.just(event(json.writeValueAsString(ApiExceptionHandler.toApiError(e, null).body())))
                        : Mono.error(e))
                .concatWith(Mono.fromSupplier(() -> event("[DONE]")));
    }

    private static DataBuffer event(String data) {
        return DefaultDataBufferFactory.sharedInstance.wrap(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
    }

    private List<Message> validate(ChatCompletionRequest request) {
        if (request.model() != null && !request.model().isBlank() && !request.model().equals(modelId)) {
            throw ApiException.notFound("model_not_found",
                    "The model '" + request.model() + "' is not served here; this server runs '" + modelId + "'.");
        }
        if (request.n() != null && request.n() != 1) {
            throw ApiException.invalidRequest("unsupported_parameter", "n=" + request.n() + " is not supported: this server returns one choice.");
        }
        if (request.tools() != null && !request.tools().isNull() && !request.tools().isEmpty()) {
            throw ApiException.invalidRequest("unsupported_parameter", "tools are not supported: the local model does not call tools.");
        }
        Integer budget = request.tokenBudget();
        if (budget != null && (budget < 1 || budget > maxTokens)) {
            throw ApiException.invalidRequest("invalid_max_tokens", "max_tokens must be between 1 and " + maxTokens
                    + " (streamingllm.web.limits.max-tokens), was " + budget + ".");
        }
        if (request.temperature() != null && !(request.temperature() >= 0 && request.temperature() <= 2)) {
            throw ApiException.invalidParam("temperature", "invalid_temperature", "temperature must be between 0 and 2, was " + request.temperature() + ".");
        }
        if (request.topP() != null && !(request.topP() > 0 && request.topP() <= 1)) {
            throw ApiException.invalidParam("top_p", "invalid_top_p", "top_p must be in (0, 1], was " + request.topP() + ".");
        }
        if (request.messages() == null || request.messages().isEmpty()) {
            throw ApiException.invalidRequest("missing_messages", "messages must hold at least one message.");
        }
        List<Message> messages = new ArrayList<>();
        for (int i = 0; i < request.messages().size(); i++) {
            messages.add(message(i, request.messages().get(i)));
        }
        if (messages.stream().noneMatch(UserMessage.class::isInstance)) {
            throw ApiException.invalidRequest("missing_user_message", "messages must hold at least one user message.");
        }
        return messages;
    }

    private static Message message(int index, ChatCompletionRequest.@Nullable Message message) {
        String where = "messages[" + index + "]";
        if (message == null || message.role() == null) {
            throw ApiException.invalidRequest("invalid_message", where + " has no role.");
        }
        String text = content(where, message.content());
        return switch (message.role()) {
            case "system", "developer" -> new SystemMessage(text);
            case "user" -> new UserMessage(text);
            case "assistant" -> new AssistantMessage(text);
            case "tool", "function" -> throw ApiException.invalidRequest("unsupported_message",
                    where + " is a " + message.role() + " message: the local model does not call tools.");
            default -> throw ApiException.invalidRequest("invalid_message", where + " has the unknown role '" + message.role()
                    + "'; use system, developer, user or assistant.");
        };
    }

    /** A message's text: a string, or the text parts of a content array. */
    private static String content(String where, @Nullable JsonNode content) {
        if (content == null || content.isNull()) {
            throw ApiException.invalidParam(where + ".content", "invalid_type", where + ".content must be a string or an array of"
                    + " text parts, was " + ChatRequestReader.describe(content) + ".");
        }
        if (content.isString()) {
            return content.asString();
        }
        if (content.isArray()) {
            StringBuilder text = new StringBuilder();
            for (int i = 0; i < content.size(); i++) {
                String at = where + ".content[" + i + "]";
                JsonNode type = content.get(i).get("type");
                JsonNode partText = content.get(i).get("text");
                if (type == null || !type.isString()) {
                    throw ApiException.invalidParam(at + ".type", "invalid_type", at + ".type must be a string, was "
                            + ChatRequestReader.describe(type) + ".");
                }
                if (!type.asString().equals("text")) {
                    throw ApiException.invalidParam(at + ".type", "unsupported_content", at + " is a content part of type '"
                            + type.asString() + "': only text parts are supported.");
                }
                if (partText == null || !partText.isString()) {
                    throw ApiException.invalidParam(at + ".text", "invalid_type", at + ".text must be a string, was "
                            + ChatRequestReader.describe(partText) + ".");
                }
                text.append(partText.asString());
            }
            return text.toString();
        }
        throw ApiException.invalidParam(where + ".content", "invalid_type", where + ".content must be a string or an array of"
                + " text parts, was " + ChatRequestReader.describe(content) + ".");
    }

    /** The JSON Schema that {@code response_format} asks the reply to follow; null for plain text. */
    private static @Nullable String outputSchema(@Nullable ResponseFormat format) {
        if (format == null || "text".equals(format.type())) {
            return null;
        }
        if ("json_object".equals(format.type())) {
            return "{\"type\":\"object\"}";
        }
        if (!"json_schema".equals(format.type())) {
            throw ApiException.invalidParam("response_format.type", "invalid_response_format",
                    "response_format.type must be text, json_object or json_schema, was " + format.type() + ".");
        }
        ResponseFormat.JsonSchema jsonSchema = format.jsonSchema();
        if (jsonSchema == null || jsonSchema.name() == null || jsonSchema.name().isBlank()) {
            throw ApiException.invalidParam("response_format.json_schema.name", "invalid_response_format", "response_format.json_schema.name is required.");
        }
        if (jsonSchema.schema() == null || !jsonSchema.schema().isObject()) {
            throw ApiException.invalidParam("response_format.json_schema.schema", "invalid_response_format", "response_format.json_schema.schema must be a JSON Schema object.");
        }
        String schema = jsonSchema.schema().toString();
        try {
            JsonGrammar.fromSchema(schema);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalidParam("response_format.json_schema.schema", "unsupported_schema", "response_format.json_schema.schema: " + e.getMessage() + ".");
        }
        return schema;
    }

    private StreamingLlmChatOptions options(ChatCompletionRequest request, @Nullable String conversationId, String client,
            @Nullable String outputSchema) {
        Integer defaultBudget = chatModel.getOptions().getMaxTokens();
        int budget = request.tokenBudget() != null ? request.tokenBudget()
                : defaultBudget != null ? Math.min(defaultBudget, maxTokens) : maxTokens;
        return StreamingLlmChatOptions.builder()
                .conversationId(conversationId)
                .client(client)
                .maxTokens(budget)
                .temperature(request.temperature())
                .topP(request.topP())
                .frequencyPenalty(request.frequencyPenalty())
                .presencePenalty(request.presencePenalty())
                .seed(request.seed())
                .stopSequences(stop(request.stop()))
                .outputSchema(outputSchema)
                .build();
    }

    private static @Nullable List<String> stop(@Nullable JsonNode stop) {
        if (stop == null || stop.isNull()) {
            return null;
        }
        if (stop.isString()) {
            return List.of(stop.asString());
        }
        if (stop.isArray() && stop.size() <= MAX_STOP_SEQUENCES) {
            List<String> out = new ArrayList<>();
            for (JsonNode s : stop) {
                if (!s.isString() || s.asString().isEmpty()) {
                    throw ApiException.invalidRequest("invalid_stop", "stop must hold non-empty strings.");
                }
                out.add(s.asString());
            }
            return out;
        }
        throw ApiException.invalidRequest("invalid_stop", "stop must be a string or an array of up to " + MAX_STOP_SEQUENCES + " strings.");
    }

    private static Generation generation(ChatResponse response) {
        return response.getResult();
    }

    private static String text(ChatResponse response) {
        String text = generation(response).getOutput().getText();
        return text == null ? "" : text;
    }

    /** False only when the turn ran and its state could not be stored. */
    private static boolean durable(@Nullable ChatResponse response) {
        return response == null || !Boolean.FALSE.equals(response.getMetadata().get(StreamingLlmChatModel.DURABLE));
    }

    /** The runtime's finish reason in OpenAI's words. */
    private static String finishReason(@Nullable ChatResponse response) {
        String reason = response == null ? null : generation(response).getMetadata().getFinishReason();
        return reason != null && reason.toUpperCase(Locale.ROOT).equals("LENGTH") ? "length" : "stop";
    }

    private static ChatCompletion.Usage usage(@Nullable ChatResponse response) {
        Usage usage = response == null ? null : response.getMetadata().getUsage();
        if (usage == null) {
            return new ChatCompletion.Usage(0, 0);
        }
        return new ChatCompletion.Usage(usage.getPromptTokens() == null ? 0 : usage.getPromptTokens(),
                usage.getCompletionTokens() == null ? 0 : usage.getCompletionTokens());
    }
}
