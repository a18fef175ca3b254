package dev.streamingllm.spring.session;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The sessions kept for requests without a conversation id, and the index that finds them by their history. An idle
 * one is indexed under the {@link HistoryDigest} of everything it has seen: the messages of its last turn and the
 * reply. A request continues the idle session whose history it extends furthest, by at least one message: one map
 * lookup per message of the request, never a look at the caches. A session that no request extends stays as it is
 * until the time-to-live or the least-recently-used rule ends it.
 *
 * <p>A session running a turn is off the index, so a second request with the same history does not wait for it but
 * gets a session of its own (as llama.cpp's server does when a slot is busy); afterwards the session goes back under
 * its new history. When two clients send the same opening, the first to send another continuation than the session's
 * gets a fresh session and prefills its whole history: nothing is copied from a session once it has diverged.
 *
 * <p>Not thread-safe: {@link ChatSessions} guards it with its monitor.
 */
final class PrefixIndex {

    private final Set<ChatSession> kept = new LinkedHashSet<>();
    private final Map<HistoryDigest, List<ChatSession>> idle = new HashMap<>();

    int size() {
        return kept.size();
    }

    /** The kept sessions, idle or running a turn. */
    List<ChatSession> sessions() {
        return List.copyOf(kept);
    }

    /** Keeps a new session, running its first turn (off the index until {@link #index}). */
    void add(ChatSession session) {
        kept.add(session);
    }

    /**
     * Takes the idle session whose history {@code prefixes} (a request's, see {@link HistoryDigest#prefixes}) extends
     * furthest off the index; null when it extends none.
     */
    @Nullable ChatSession take(HistoryDigest[] prefixes) {
        // the last prefix is the whole request, which must leave at least one new message
        for (int k = prefixes.length - 2; k > 0; k--) {
            List<ChatSession> found = idle.get(prefixes[k]);
            if (found != null) {
                ChatSession session = found.removeLast();
                if (found.isEmpty()) {
                    idle.remove(prefixes[k]);
                }
                session.history = null;
                return session;
            }
        }
        return null;
    }

    /** Puts a kept session back on the index under the history it has now seen. */
    void index(ChatSession session, HistoryDigest history) {
        session.history = history;
        idle.computeIfAbsent(history, h -> new ArrayList<>(1)).add(session);
    }

    void remove(ChatSession session) {
        kept.remove(session);
        HistoryDigest history = session.history;
        if (history != null) {
            List<ChatSession> same = idle.get(history);
            same.remove(session);
            if (same.isEmpty()) {
                idle.remove(history);
            }
            session.history = null;
        }
    }
}
