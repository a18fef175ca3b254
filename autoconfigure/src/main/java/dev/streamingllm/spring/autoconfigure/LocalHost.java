package dev.streamingllm.spring.autoconfigure;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** This machine's address, for the session API's owner and routing's default base URL. */
final class LocalHost {

    private LocalHost() {
    }

    /** The local host's IP address as text; {@code localhost} when it cannot be resolved. */
    static String address() {
        try {
            return InetAddress.getLocalHost().getHostAddress();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }
}
