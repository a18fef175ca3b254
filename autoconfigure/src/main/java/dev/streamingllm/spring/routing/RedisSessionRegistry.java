package dev.streamingllm.spring.routing;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.springframework.data.redis.core.ReactiveRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import reactor.core.publisher.Mono;
import tools.jackson.databind.json.JsonMapper;

/**
 * The registry in Redis. Keys under {@code prefix}: {@code instance:<id>} (base URL, expiring heartbeat),
 * {@code lease:<session>} ("instance fence", SET NX PX), {@code fence:<session>} (INCR counter),
 * {@code session:<session>} (record as JSON), {@code snapshot:<session>}, {@code transcript:<session>},
 * {@code turns:<session>} (the stored state's turn count) and {@code acked:<session>} (turns acknowledged to clients).
 * Fenced writes are Lua scripts that compare the lease first, so check and write are one atomic step.
 */
public final class RedisSessionRegistry implements SessionRegistry {

    private static final RedisScript<Long> RENEW = RedisScript.of("""
            if redis.call('GET', KEYS[1]) ~= ARGV[1] then
              return 0
            end
            if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[3]) then
              redis.call('SET', KEYS[2], ARGV[3])
            end
            return redis.call('PEXPIRE', KEYS[1], ARGV[2])""", Long.class);

    private static final RedisScript<Long> RELEASE = RedisScript.of("""
            if redis.call('GET', KEYS[1]) == ARGV[1] then
              return redis.call('DEL', KEYS[1])
            end
            return 0""", Long.class);

    private static final RedisScript<Long> PUBLISH = RedisScript.of("""
            if redis.call('GET', KEYS[1]) ~= ARGV[1] then
              return 0
            end
            local turns = tonumber(ARGV[5])
            if tonumber(redis.call('GET', KEYS[5]) or '-1') <= turns then
              redis.call('SET', KEYS[2], ARGV[2])
              redis.call('SET', KEYS[3], ARGV[3])
              redis.call('SET', KEYS[4], ARGV[4])
              redis.call('SET', KEYS[5], ARGV[5])
            end
            if tonumber(redis.call('GET', KEYS[6]) or '0') < turns then
              redis.call('SET', KEYS[6], ARGV[5])
            end
            return 1""", Long.class);

    private static final RedisScript<Long> REMOVE = RedisScript.of("""
            if redis.call('GET', KEYS[1]) ~= ARGV[1] then
              return 0
            end
            redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
            return 1""", Long.class);

    private final ReactiveRedisTemplate<String, byte[]> redis;
    private final String prefix;
    private final JsonMapper json = JsonMapper.builder().build();

    public RedisSessionRegistry(ReactiveRedisTemplate<String, byte[]> redis, String prefix) {
        this.redis = redis;
        this.prefix = prefix.endsWith(":") ? prefix : prefix + ":";
    }

    @Override
    public Mono<Void> heartbeat(Instance self, Duration ttl) {
        return redis.opsForValue().set(key("instance", self.id()), utf8(self.baseUrl()), ttl).then();
    }

    @Override
    public Mono<Instance> instance(String instanceId) {
        return redis.opsForValue().get(key("instance", instanceId)).map(url -> new Instance(instanceId, string(url)));
    }

    @Override
    public Mono<Lease> acquire(String sessionId, String instanceId, Duration ttl) {
        // the token comes first: every grant gets a larger one than any grant before it
        return redis.opsForValue().increment(key("fence", sessionId))
                .flatMap(fence -> {
                    Lease lease = new Lease(sessionId, instanceId, fence);
                    return redis.opsForValue().setIfAbsent(key("lease", sessionId), utf8(lease.value()), ttl)
                            .filter(Boolean::booleanValue)
                            .map(granted -> lease);
                });
    }

    @Override
    public Mono<Lease> lease(String sessionId) {
        return redis.opsForValue().get(key("lease", sessionId)).map(value -> Lease.parse(sessionId, string(value)));
    }

    @Override
    public Mono<Boolean> renew(Lease lease, long acknowledged, Duration ttl) {
        String id = lease.sessionId();
        return run(RENEW, List.of(key("lease", id), key("acked", id)), utf8(lease.value()), utf8(Long.toString(ttl.toMillis())),
                utf8(Long.toString(acknowledged)));
    }

    @Override
    public Mono<Boolean> release(Lease lease) {
        return run(RELEASE, List.of(key("lease", lease.sessionId())), utf8(lease.value()));
    }

    @Override
    public Mono<Boolean> publish(Lease lease, Publication publication) {
        String id = lease.sessionId();
        return run(PUBLISH, keys(id), utf8(lease.value()), json.writeValueAsBytes(publication.record()), publication.snapshot(),
                publication.transcript(), utf8(Long.toString(publication.record().turns())));
    }

    @Override
    public Mono<Publication> find(String sessionId) {
        return redis.opsForValue().multiGet(List.of(key("session", sessionId), key("snapshot", sessionId), key("transcript", sessionId)))
                .filter(values -> values.get(0) != null)
                .map(values -> new Publication(json.readValue(values.get(0), SessionRecord.class),
                        values.get(1) != null ? values.get(1) : new byte[0], values.get(2) != null ? values.get(2) : new byte[0]));
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
                key("acked", id));
    }

    @Override
    public String kind() {
        return "redis";
    }

    private Mono<Boolean> run(RedisScript<Long> script, List<String> keys, byte[]... args) {
        return redis.execute(script, keys, List.of(args)).next().map(result -> result != null && result > 0);
    }

    private String key(String kind, String id) {
        return prefix + kind + ":" + id;
    }

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static String string(byte[] utf8) {
        return new String(utf8, StandardCharsets.UTF_8);
    }
}
