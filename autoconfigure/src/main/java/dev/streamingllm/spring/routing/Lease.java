package dev.streamingllm.spring.routing;

/**
 * The right to serve one session, held by one instance until it expires unless renewed. The fencing token grows
 * with every grant of the session's lease, so a write from an older holder is recognisable and refused.
 */
public record Lease(String sessionId, String instanceId, long fence) {

    /** The value stored under the lease key. */
    String value() {
        return instanceId + " " + fence;
    }

    static Lease parse(String sessionId, String value) {
        int space = value.lastIndexOf(' ');
        if (space < 0) {
            throw new IllegalStateException("lease of session " + sessionId + " has a malformed value '" + value + "'");
        }
        return new Lease(sessionId, value.substring(0, space), Long.parseLong(value.substring(space + 1)));
    }
}
