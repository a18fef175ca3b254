package dev.streamingllm.spring.routing;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.springframework.data.redis.core.ReactiveRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import reactor.core.publisher.Mono;
import tools.jackson.databind.json.JsonMapper;

/**
 * The registry in Redis. Keys under {@code prefix}: {@code instance:<id>} (base URL, expiring heartbeat), and for each
 * session {@code lease:{<session>}} ("instance fence", SET NX PX), {@code fence:{<session>}} (INCR counter),
 * {@code session:{<session>}} (record as JSON), {@code snapshot:{<session>}} (the last full snapshot),
 * {@code deltas:{<session>}} (a list of the deltas written on it since, oldest first), {@code transcript:{<session>}}
 * (a list of JSON arrays of messages: the one written with the snapshot, then those each delta added),
 * {@code turns:{<session>}} (the stored state's turn count) and {@code acked:{<session>}} (turns acknowledged to
 * clients). The braces are a Redis Cluster hash tag: all keys of one session live in one slot, so the scripts, which
 * touch several of them, run on a cluster too. Fenced writes are Lua scripts that compare the lease first, so check and
 * write are one atomic step. Every key of a session but the lease expires after {@code retention}, refreshed by every
 * write and lease renewal: a conversation nobody continues leaves nothing behind. {@code epoch} ("number grace-end")
 * tells a registry that lost its data ({@link Epoch}); it never expires.
 */
public final class RedisSessionRegistry implements SessionRegistry {

    /**
     * KEYS: epoch; ARGV: the epoch this client saw last ('' for none), its number (0), grace ms, an id for a new one. The
     * stored epoch, unless it is missing or was begun by a client that never saw the last one (not newer than it, yet
     * not it): then a new one, numbered past it, with a grace period from the server's clock when an epoch was lost.
     */
    private static final RedisScript<byte[]> EPOCH = RedisScript.of("""
            local seen = tonumber(ARGV[2])
            local value = redis.call('GET', KEYS[1])
            if value and (value == ARGV[1] or tonumber(string.match(value, '^%d+')) > seen) then
              return value
            end
            local grace = '0'
            if seen > 0 then
              local now = redis.call('TIME')
              grace = string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[3]))
            end
            value = string.format('%d', seen + 1) .. ' ' .. grace .. ' ' .. ARGV[4]
            redis.call('SET', KEYS[1], value)
            return value""", byte[].class);

    /**
     * KEYS: lease, fence; ARGV: instance, lease ms, retention ms, fence floor. The new fence, or 0 when the lease is
     * held. The floor keeps tokens growing across a loss of the registry's data.
     */
    private static final RedisScript<Long> ACQUIRE = RedisScript.of("""
            if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[4]) then
              redis.call('SET', KEYS[2], ARGV[4])
            end
            local fence = redis.call('INCR', KEYS[2])
            redis.call('PEXPIRE', KEYS[2], ARGV[3])
            if redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. fence, 'NX', 'PX', ARGV[2]) then
              return fence
            end
            return 0""", Long.class);

    /**
     * What the fenced scripts share, over {@link #keys} with the lease value as ARGV[1]: whether that lease still holds
     * the session, raising the turns acknowledged to clients (never lowering them), and refreshing the expiry of every
     * key of the session but the lease.
     */
    private static final String FENCE = """
            local function holds()
              return redis.call('GET', KEYS[1]) == ARGV[1]
            end
            local function acknowledge(turns)
              if tonumber(redis.call('GET', KEYS[6]) or '0') < tonumber(turns) then
                redis.call('SET', KEYS[6], turns)
              end
            end
            local function retain(ms)
              for i = 2, #KEYS do
                redis.call('PEXPIRE', KEYS[i], ms)
              end
            end
            """;

    /** KEYS: {@link #keys}; ARGV: lease value, lease ms, acknowledged turns, retention ms. */
    private static final RedisScript<Long> RENEW = fenced("""
            if not holds() then
              return 0
            end
            acknowledge(ARGV[3])
            retain(ARGV[4])
            return redis.call('PEXPIRE', KEYS[1], ARGV[2])""");

    /** KEYS: lease; ARGV: lease value. */
    private static final RedisScript<Long> RELEASE = fenced("""
            if not holds() then
              return 0
            end
            return redis.call('DEL', KEYS[1])""");

    /** KEYS: {@link #keys}; ARGV: lease value, record, snapshot, transcript, turns, retention ms. */
    private static final RedisScript<Long> PUBLISH = fenced("""
            if not holds() then
              return 0
            end
            local turns = tonumber(ARGV[5])
            if tonumber(redis.call('GET', KEYS[5]) or '-1') <= turns then
              redis.call('SET', KEYS[2], ARGV[2])
              redis.call('SET', KEYS[3], ARGV[3])
              redis.call('DEL', KEYS[8], KEYS[4])
              redis.call('RPUSH', KEYS[4], ARGV[4])
              redis.call('SET', KEYS[5], ARGV[5])
            end
            acknowledge(ARGV[5])
            retain(ARGV[6])
            return 1""");

    /**
     * KEYS: {@link #keys}; ARGV: lease value, record, delta, messages added, turns, retention ms, base turns. Appends only on
     * the state the delta was written on: the stored turn count must be its base's.
     */
    private static final RedisScript<Long> APPEND = fenced("""
            if not holds() or redis.call('GET', KEYS[5]) ~= ARGV[7] or redis.call('EXISTS', KEYS[3]) == 0 then
              return 0
            end
            redis.call('SET', KEYS[2], ARGV[2])
            redis.call('RPUSH', KEYS[8], ARGV[3])
            redis.call('RPUSH', KEYS[4], ARGV[4])
            redis.call('SET', KEYS[5], ARGV[5])
            acknowledge(ARGV[5])
            retain(ARGV[6])
            return 1""");

    /**
     * KEYS: session, snapshot, transcript, deltas. Record, snapshot, the number of transcript parts, the parts and the
     * deltas in order, read at once so that the deltas belong to the snapshot; empty when there is no record. A
     * transcript held as one string (as earlier versions wrote it) is one part.
     */
    @SuppressWarnings("rawtypes") // a script's result type is a class
    private static final RedisScript<List> FIND = RedisScript.of("""
            local record = redis.call('GET', KEYS[1])
            if not record then
              return {}
            end
            local transcript
            if redis.call('TYPE', KEYS[3]).ok == 'string' then
              transcript = {redis.call('GET', KEYS[3])}
            else
              transcript = redis.call('LRANGE', KEYS[3], 0, -1)
            end
            local found = {record, redis.call('GET', KEYS[2]) or '', tostring(#transcript)}
            for _, part in ipairs(transcript) do
              found[#found + 1] = part
            end
            for _, delta in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do
              found[#found + 1] = delta
            end
            return found""", List.class);

    /** KEYS: {@link #keys}; ARGV: lease value. The fence stays, so that a later grant still gets a larger one. */
    private static final RedisScript<Long> REMOVE = fenced("""
            if not holds() then
              return 0
            end
            redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[8])
            return 1""");

    private final ReactiveRedisTemplate<String, byte[]> redis;
    private final String prefix;
    private final Duration retention;
    /** The epoch this client saw last: null until it asked. */
    private final AtomicReference<@Nullable Epoch> seen = new AtomicReference<>();
    private final JsonMapper json = JsonMapper.builder().build();

    /** @param retention how long a session's keys outlive its last turn or lease renewal */
    public RedisSessionRegistry(ReactiveRedisTemplate<String, byte[]> redis, String prefix, Duration retention) {
        if (prefix.contains("{") || prefix.contains("}")) {
            throw new IllegalArgumentException("streamingllm.routing.key-prefix must not contain braces (Redis Cluster hash tags), was '"
                    + prefix + "'");
        }
        if (retention.isNegative() || retention.isZero()) {
            throw new IllegalArgumentException("streamingllm.routing.retention must be positive, was " + retention);
        }
        this.redis = redis;
        this.prefix = prefix.endsWith(":") ? prefix : prefix + ":";
        this.retention = retention;
    }

    @Override
    public Mono<Epoch> epoch(Duration grace) {
        Epoch last = seen.get();
        return redis.execute(EPOCH, List.of(prefix + "epoch"), List.of(utf8(last == null ? "" : last.value()),
                        utf8(Long.toString(last == null ? 0 : last.number())), millis(grace), utf8(UUID.randomUUID().toString())))
                .next()
                .map(value -> Epoch.parse(string(value)))
                .doOnNext(seen::set);
    }

    @Override
    public Mono<Void> heartbeat(Instance self, Duration ttl) {
        return redis.opsForValue().set(prefix + "instance:" + self.id(), utf8(self.baseUrl()), ttl).then();
    }

    @Override
    public Mono<Instance> instance(String instanceId) {
        return redis.opsForValue().get(prefix + "instance:" + instanceId).map(url -> new Instance(instanceId, string(url)));
    }

    @Override
    public Mono<Lease> acquire(String sessionId, String instanceId, Duration ttl) {
        // the token comes first: every grant gets a larger one than any grant before it, in this epoch or an earlier one,
        // so the epoch is looked at right before (a lease period is the grace after a loss, as the owners use it)
        return epoch(ttl).flatMap(epoch -> redis.execute(ACQUIRE, List.of(key("lease", sessionId), key("fence", sessionId)),
                                List.of(utf8(instanceId), millis(ttl), millis(retention), utf8(Long.toString(epoch.fenceFloor()))))
                        .next())
                .filter(fence -> fence != null && fence > 0)
                .map(fence -> new Lease(sessionId, instanceId, fence));
    }

    @Override
    public Mono<Lease> lease(String sessionId) {
        return redis.opsForValue().get(key("lease", sessionId)).map(value -> Lease.parse(sessionId, string(value)));
    }

    @Override
    public Mono<Boolean> renew(Lease lease, long acknowledged, Duration ttl) {
        String id = lease.sessionId();
        return run(RENEW, keys(id), utf8(lease.value()), millis(ttl), utf8(Long.toString(acknowledged)), millis(retention));
    }

    @Override
    public Mono<Boolean> release(Lease lease) {
        return run(RELEASE, List.of(key("lease", lease.sessionId())), utf8(lease.value()));
    }

    @Override
    public Mono<Boolean> publish(Lease lease, Publication publication) {
        String id = lease.sessionId();
        return run(PUBLISH, keys(id), utf8(lease.value()), json.writeValueAsBytes(publication.record()), publication.snapshot(),
                publication.transcript().getFirst(), utf8(Long.toString(publication.record().turns())), millis(retention));
    }

    @Override
    public Mono<Boolean> append(Lease lease, DeltaPublication delta) {
        String id = lease.sessionId();
        return run(APPEND, keys(id), utf8(lease.value()), json.writeValueAsBytes(delta.record()), delta.delta(), delta.addedMessages(),
                utf8(Long.toString(delta.record().turns())), millis(retention), utf8(Long.toString(delta.baseTurns())));
    }

    @Override
    public Mono<Publication> find(String sessionId) {
        List<String> keys = List.of(key("session", sessionId), key("snapshot", sessionId), key("transcript", sessionId),
                key("deltas", sessionId));
        return redis.execute(FIND, keys, List.of()).next()
                .map(RedisSessionRegistry::values)
                .filter(values -> !values.isEmpty())
                .map(values -> {
                    int parts = Integer.parseInt(string(values.get(2)));
                    return new Publication(json.readValue(values.get(0), SessionRecord.class), values.get(1),
                            values.subList(3 + parts, values.size()), values.subList(3, 3 + parts));
                });
    }

    @Override
    public Mono<Boolean> remove(Lease lease) {
        String id = lease.sessionId();
        return run(REMOVE, keys(id), utf8(lease.value()));
    }

    @Override
    public Mono<Long> acknowledged(String sessionId) {
        return redis.opsForValue().get(key("acked", sessionId)).map(value -> Long.parseLong(string(value))).defaultIfEmpty(0L);
    }

    /** The keys of one session, in the order the fenced scripts expect them. */
    private List<String> keys(String id) {
        return List.of(key("lease", id), key("session", id), key("snapshot", id), key("transcript", id), key("turns", id),
                key("acked", id), key("fence", id), key("deltas", id));
    }

    @Override
    public String kind() {
        return "redis";
    }

    /** A script that runs after {@link #FENCE}'s functions. */
    private static RedisScript<Long> fenced(String body) {
        return RedisScript.of(FENCE + body, Long.class);
    }

    private Mono<Boolean> run(RedisScript<Long> script, List<String> keys, byte[]... args) {
        return redis.execute(script, keys, List.of(args)).next().map(result -> result != null && result > 0);
    }

    /** A session's key: its id is the hash tag, so that all of them share a cluster slot. */
    private String key(String kind, String sessionId) {
        return prefix + kind + ":{" + sessionId + "}";
    }

    private static List<byte[]> values(List<?> found) {
        return found.stream().map(byte[].class::cast).toList();
    }

    private static byte[] millis(Duration duration) {
        return utf8(Long.toString(duration.toMillis()));
    }

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static String string(byte[] utf8) {
        return new String(utf8, StandardCharsets.UTF_8);
    }
}
