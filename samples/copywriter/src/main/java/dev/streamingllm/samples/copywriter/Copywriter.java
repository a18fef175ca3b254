package dev.streamingllm.samples.copywriter;

import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.client.advisor.MessageChatMemoryAdvisor;
import org.springframework.ai.chat.memory.ChatMemory;
import org.springframework.stereotype.Service;
import reactor.core.publisher.Flux;

/**
 * An ordinary service that uses {@link ChatClient}: one endless conversation per document, so an editor can
 * keep refining a text for as long as it lives without the prompt growing. The conversation id is the one
 * Spring AI's chat-memory advisors use; the StreamingLLM chat model keeps a session per id and feeds only
 * what is new each turn.
 */
@Service
public class Copywriter {

    static final String BRIEF = """
            You are a copywriter. Write short, vivid copy and revise it as the editor asks.
            Answer with the text only.""";

    private final ChatClient chat;

    public Copywriter(ChatClient.Builder chat, ChatMemory memory) {
        this.chat = chat.defaultSystem(BRIEF)
                .defaultAdvisors(MessageChatMemoryAdvisor.builder(memory).build())
                .build();
    }

    /** Applies one instruction to {@code document} and streams the new text. */
    public Flux<String> revise(String document, String instruction) {
        return chat.prompt()
                .user(instruction)
                .advisors(a -> a.param(ChatMemory.CONVERSATION_ID, conversationId(document)))
                .stream()
                .content();
    }

    /** The whole reply to one instruction. */
    public String reviseNow(String document, String instruction) {
        return chat.prompt()
                .user(instruction)
                .advisors(a -> a.param(ChatMemory.CONVERSATION_ID, conversationId(document)))
                .call()
                .content();
    }

    static String conversationId(String document) {
        return "document-" + document;
    }
}
