package dev.streamingllm.spring.routing;

import static org.awaitility.Awaitility.await;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import redis.embedded.RedisServer;

/**
 * A real Redis Cluster of three masters on loopback: three {@code redis-server} processes from the binary that
 * {@code embedded-redis} ships, with {@code cluster-enabled yes}, joined with CLUSTER MEET, the 16384 slots split
 * between them with CLUSTER ADDSLOTS, ready once CLUSTER INFO says {@code cluster_state:ok} on every node.
 */
final class RealRedisCluster implements AutoCloseable {

    private static final int SLOTS = 16384;

    private final List<RedisServer> servers = new ArrayList<>();
    private final List<Integer> ports = new ArrayList<>();

    private RealRedisCluster() {
    }

    static RealRedisCluster start() throws IOException {
        RealRedisCluster cluster = new RealRedisCluster();
        try {
            Path dir = Files.createDirectories(Path.of("target", "redis-cluster").toAbsolutePath());
            for (int i = 0; i < 3; i++) {
                int port = clusterPort();
                Files.deleteIfExists(dir.resolve("nodes-" + port + ".conf"));
                RedisServer server = RedisServer.newRedisServer().port(port).bind("127.0.0.1")
                        .setting("cluster-enabled yes")
                        .setting("cluster-config-file " + dir.resolve("nodes-" + port + ".conf"))
                        .setting("cluster-node-timeout 5000")
                        .setting("save \"\"")
                        .setting("appendonly no")
                        .build();
                server.start();
                cluster.servers.add(server);
                cluster.ports.add(port);
            }
            cluster.join();
            return cluster;
        } catch (IOException | RuntimeException e) {
            cluster.close();
            throw e;
        }
    }

    /** {@code host:port} of each master, as {@code spring.data.redis.cluster.nodes} takes them. */
    List<String> nodes() {
        return ports.stream().map(port -> "127.0.0.1:" + port).toList();
    }

    private void join() {
        List<RedisClient> clients = ports.stream().map(port -> RedisClient.create(RedisURI.create("127.0.0.1", port))).toList();
        try {
            List<StatefulRedisConnection<String, String>> connections = clients.stream().map(RedisClient::connect).toList();
            for (int i = 1; i < connections.size(); i++) {
                connections.getFirst().sync().clusterMeet("127.0.0.1", ports.get(i));
            }
            int per = SLOTS / connections.size();
            for (int i = 0; i < connections.size(); i++) {
                int from = i * per;
                int to = i == connections.size() - 1 ? SLOTS : from + per;
                connections.get(i).sync().clusterAddSlots(IntStream.range(from, to).toArray());
            }
            await("the Redis cluster on " + nodes() + " reaching cluster_state:ok").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(100))
                    .until(() -> connections.stream().allMatch(c -> c.sync().clusterInfo().contains("cluster_state:ok")));
        } finally {
            clients.forEach(RedisClient::shutdown);
        }
    }

    /** A free port whose cluster bus port (10000 above) is free too. */
    private static int clusterPort() throws IOException {
        for (int attempt = 0; attempt < 100; attempt++) {
            try (ServerSocket socket = new ServerSocket(0)) {
                int port = socket.getLocalPort();
                if (port + 10000 < 65536) {
                    try (ServerSocket bus = new ServerSocket(port + 10000)) {
                        return port;
                    } catch (IOException taken) {
                        // try another
                    }
                }
            }
        }
        throw new UncheckedIOException(new IOException("no free port with a free cluster bus port"));
    }

    @Override
    public void close() {
        for (RedisServer server : servers) {
            try {
                server.stop();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
