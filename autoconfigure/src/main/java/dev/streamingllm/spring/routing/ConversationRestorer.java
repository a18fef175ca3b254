package dev.streamingllm.spring.routing;

import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.model.Model;
import dev.streamingllm.session.Conversation;
import dev.streamingllm.session.ConversationSnapshot;
import dev.streamingllm.session.Engine;
import dev.streamingllm.spring.session.ChatSessions;
import dev.streamingllm.template.ChatMessage;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.json.JsonMapper;

/**
 * Turns a session's stored state back into its conversation, for the instance that takes the session over: exact from
 * the snapshot, else approximate by replaying the transcript, else none (the conversation starts over).
 */
final class ConversationRestorer {

    private static final Logger log = LoggerFactory.getLogger(ConversationRestorer.class);
    private static final TypeReference<List<ChatMessage>> MESSAGES = new TypeReference<>() { };

    private final ChatSessions sessions;
    private final JsonMapper json = JsonMapper.builder().build();

    /** The stored transcript: its parts, in order, as one list of messages. */
    static List<ChatMessage> transcript(Publication publication, JsonMapper json) {
        return publication.transcript().stream().flatMap(part -> json.readValue(part, MESSAGES).stream()).toList();
    }

    ConversationRestorer(ChatSessions sessions) {
        this.sessions = sessions;
    }

    /**
     * The stored conversation: exact from the snapshot and its deltas, else approximate from the transcript, else none. A
     * state that holds fewer turns than were acknowledged is used, being all there is, but called stale, never exact.
     */
    Optional<Conversation> restore(String sessionId, Publication publication, long acknowledged) {
        Engine engine = sessions.engine();
        Model model = engine.model();
        long stored = publication.record().turns();
        String missing = stored < acknowledged
                ? "stale: it holds " + stored + " turns of " + acknowledged + " acknowledged, the later ones are lost"
                : null;
        try {
            Conversation restored = ConversationSnapshot.read(publication.snapshot(), publication.deltas(), engine,
                    model.chatTemplate());
            long bytes = publication.snapshot().length + publication.deltas().stream().mapToLong(delta -> delta.length).sum();
            if (missing != null) {
                log.warn("Session {}: restored from its snapshot and {} deltas ({} bytes, {} tokens seen), {}", sessionId,
                        publication.deltas().size(), bytes, restored.session().tokensSeen(), missing);
            } else {
                log.info("Session {}: restored from its snapshot and {} deltas ({} bytes, {} tokens seen, {} turns), exact", sessionId,
                        publication.deltas().size(), bytes, restored.session().tokensSeen(), stored);
            }
            return Optional.of(restored);
        } catch (IllegalArgumentException e) {
            log.warn("Session {}: snapshot unusable ({}); replaying its transcript instead, approximate", sessionId, e.getMessage());
        }
        try {
            List<ChatMessage> transcript = transcript(publication, json);
            SessionRecord record = publication.record();
            CacheConfig cache = sessions.settings().cache().with(record.sinks(), record.window());
            if (missing != null) {
                log.warn("Session {}: replayed from its transcript, approximate and {}", sessionId, missing);
            }
            return Optional.of(Conversation.replay(engine, model.chatTemplate(), cache, sessions.settings().pinSystemPrompt(), transcript));
        } catch (RuntimeException e) {
            log.warn("Session {}: transcript unusable ({}); the conversation starts over here", sessionId, e.getMessage());
            return Optional.empty();
        }
    }
}
