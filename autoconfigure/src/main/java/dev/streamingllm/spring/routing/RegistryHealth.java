package dev.streamingllm.spring.routing;

import java.time.Instant;
import java.util.function.IntSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the session registry answers, as this instance last found it: any failing call marks it down, with the
 * reason and since when; only the heartbeat marks it up again, once it has re-written what the sessions served here
 * hold. Health reports it, and requests for sessions not served here are refused while it is down.
 */
final class RegistryHealth {

    private static final Logger log = LoggerFactory.getLogger(RegistryHealth.class);

    private final String registry;
    private final IntSupplier localSessions;
    private final IntSupplier pendingSnapshots;
    private volatile @Nullable String downReason;
    private volatile @Nullable Instant downSince;

    /**
     * @param registry         the registry's kind, for messages
     * @param localSessions    how many sessions this instance serves, for messages
     * @param pendingSnapshots how many session states wait to be written, for messages
     */
    RegistryHealth(String registry, IntSupplier localSessions, IntSupplier pendingSnapshots) {
        this.registry = registry;
        this.localSessions = localSessions;
        this.pendingSnapshots = pendingSnapshots;
    }

    boolean isUp() {
        return downReason == null;
    }

    /** Why the registry counts as unreachable; null while it answers. */
    @Nullable String reason() {
        return downReason;
    }

    /** Since when the registry has been unreachable; null while it answers. */
    @Nullable Instant since() {
        return downSince;
    }

    /** A call to the registry failed with {@code e}: it is down, since now unless it was already. */
    void down(Throwable e) {
        if (downReason == null) {
            downSince = Instant.now();
            log.warn("Session registry ({}) unreachable: {}; {} local sessions keep working, their snapshots wait", registry,
                    message(e), localSessions.getAsInt());
        }
        downReason = "session registry (" + registry + ") unreachable since " + downSince + ": " + message(e) + "; "
                + localSessions.getAsInt() + " local sessions keep working, " + pendingSnapshots.getAsInt() + " snapshots wait to be written";
    }

    void up() {
        downReason = null;
        downSince = null;
    }

    /** The root cause's message: what a failed registry call says about the registry. */
    static String message(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
    }
}
