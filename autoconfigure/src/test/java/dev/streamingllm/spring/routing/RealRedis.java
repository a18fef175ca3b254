package dev.streamingllm.spring.routing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import redis.embedded.RedisServer;

/**
 * A real Redis server for tests, never a mock: a container where Docker runs, otherwise the {@code redis-server}
 * binary that {@code embedded-redis} ships, started as a process. Chosen automatically.
 */
final class RealRedis implements AutoCloseable {

    private final GenericContainer<?> container;
    private final int port;
    private RedisServer process;

    private RealRedis(GenericContainer<?> container, int port, RedisServer process) {
        this.container = container;
        this.port = port;
        this.process = process;
    }

    static RealRedis start() {
        if (DockerClientFactory.instance().isDockerAvailable()) {
            GenericContainer<?> container = new GenericContainer<>("redis:7-alpine").withExposedPorts(6379)
                    .waitingFor(Wait.forLogMessage(".*Ready to accept connections.*", 1));
            container.start();
            return new RealRedis(container, container.getMappedPort(6379), null);
        }
        int port = freePort();
        return new RealRedis(null, port, startProcess(port));
    }

    private static RedisServer startProcess(int port) {
        try {
            RedisServer server = new RedisServer(port);
            server.start();
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start redis-server on port " + port, e);
        }
    }

    int port() {
        return port;
    }

    /** How it runs, for the test log. */
    String kind() {
        return container != null ? "Testcontainers redis:7-alpine" : "embedded-redis redis-server process";
    }

    void stop() {
        try {
            if (container != null) {
                container.getDockerClient().pauseContainerCmd(container.getContainerId()).exec();
            } else {
                process.stop();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Starts it again on the same port, empty (no persistence): the harder case for reconciliation. */
    void restart() {
        if (container != null) {
            container.getDockerClient().unpauseContainerCmd(container.getContainerId()).exec();
            container.getDockerClient().execCreateCmd(container.getContainerId()).withCmd("redis-cli", "FLUSHALL").exec();
        } else {
            process = startProcess(port);
        }
    }

    @Override
    public void close() throws IOException {
        if (container != null) {
            container.stop();
        } else if (process.isActive()) {
            process.stop();
        }
    }

    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
