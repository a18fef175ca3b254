package dev.streamingllm.spring.web;

import dev.streamingllm.spring.session.SessionInfo;
import dev.streamingllm.spring.session.SessionListener;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.MessageType;

/**
 * Lets a client send only its new message each turn. The session matches an incoming history against what it
 * has seen, and it recognises a continuation from its system messages and its last reply; so for a request
 * that carries no assistant message this remembers, per conversation, the system messages and the last reply
 * and puts them in front. A client that resends the whole history is passed through unchanged.
 */
public class ConversationHistory implements SessionListener {

    private record Last(List<Message> system, String reply) {
    }

    private final ConcurrentMap<String, Last> last = new ConcurrentHashMap<>();

    /** The messages to send to the model for {@code incoming} on {@code conversationId}. */
    public List<Message> complete(String conversationId, List<Message> incoming) {
        Last known = last.get(conversationId);
        if (known == null || incoming.stream().anyMatch(m -> m.getMessageType() == MessageType.ASSISTANT)) {
            return incoming;
        }
        List<Message> system = incoming.stream().filter(m -> m.getMessageType() == MessageType.SYSTEM).toList();
        List<Message> out = new ArrayList<>(system.isEmpty() ? known.system() : system);
        out.add(new AssistantMessage(known.reply()));
        incoming.stream().filter(m -> m.getMessageType() != MessageType.SYSTEM).forEach(out::add);
        return out;
    }

    /** Records a finished turn: the system messages it was sent with and its reply. */
    public void turnFinished(String conversationId, List<Message> sent, String reply) {
        List<Message> system = sent.stream().filter(m -> m.getMessageType() == MessageType.SYSTEM).toList();
        last.put(conversationId, new Last(system, reply));
    }

    @Override
    public void sessionEnded(SessionInfo info, EndReason reason) {
        last.remove(info.id());
    }
}
