package dev.streamingllm.spring.routing;

/** Where a request for a session goes. */
public sealed interface Route {

    /** This instance serves it (it owns the session, or just took it over). */
    record Local() implements Route {
    }

    /** Another live instance owns it. */
    record Remote(Instance owner) implements Route {
    }

    /** Nobody can serve it right now, and why. */
    record Unavailable(String reason) implements Route {
    }
}
