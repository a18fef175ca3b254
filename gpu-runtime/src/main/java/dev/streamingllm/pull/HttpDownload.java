package dev.streamingllm.pull;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;

/**
 * Downloads one URL into a partial file, resuming what it already holds with a range request: after a dropped
 * connection within the same pull, and after an interrupted earlier pull.
 */
final class HttpDownload {

    /** Attempts in a row that may end early before the download gives up (each one that made progress resets it). */
    private static final int ATTEMPTS = 3;

    private final HttpClient client;
    private final Duration timeout;

    HttpDownload(HttpClient client, Duration timeout) {
        this.client = client;
        this.timeout = timeout;
    }

    /** Fills {@code part} with the whole of {@code url}; returns when the server's full length is held. */
    void fetch(URI url, Path part, PullProgress progress) throws IOException, InterruptedException {
        IOException last = null;
        for (int failures = 0; failures < ATTEMPTS; ) {
            long held = Files.exists(part) ? Files.size(part) : 0;
            try {
                if (attempt(url, part, held, progress)) {
                    return;
                }
            } catch (IOException e) {
                last = e;
            }
            long now = Files.exists(part) ? Files.size(part) : 0;
            failures = now > held ? 0 : failures + 1;
        }
        throw last != null ? last : new IOException("the connection kept closing before the end of the file");
    }

    /** One request: true when the file is complete, false when the body ended early. */
    private boolean attempt(URI url, Path part, long held, PullProgress progress) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(url).timeout(timeout).GET();
        if (held > 0) {
            request.header("Range", "bytes=" + held + "-");
        }
        HttpResponse<InputStream> response = client.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        int status = response.statusCode();
        try (InputStream body = response.body()) {
            long start;
            long total;
            if (status == 206) {
                start = held;
                total = contentRangeTotal(response).orElse(-1L);
            } else if (status == 200) {
                start = 0; // the server ignored the range: start over
                total = response.headers().firstValueAsLong("Content-Length").orElse(-1L);
            } else if (status == 416 && held > 0) {
                Files.delete(part); // what is held is not a prefix of this file
                throw new IOException("HTTP 416 for a resumed range; starting over");
            } else {
                throw new IOException("HTTP " + status);
            }
            progress.started(url.toString(), total, start);
            long done = copy(body, part, start, progress);
            progress.finished();
            if (total >= 0 && done < total) {
                return false;
            }
            return true;
        }
    }

    private static long copy(InputStream body, Path part, long start, PullProgress progress) throws IOException {
        var options = start > 0
                ? new StandardOpenOption[] {StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND}
                : new StandardOpenOption[] {StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING};
        long done = start;
        try (OutputStream out = Files.newOutputStream(part, options)) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = body.read(buffer)) > 0; ) {
                out.write(buffer, 0, n);
                done += n;
                progress.advanced(done);
            }
        } catch (IOException e) {
            progress.finished();
            throw e;
        }
        return done;
    }

    /** The file's full length from {@code Content-Range: bytes a-b/total}. */
    private static java.util.Optional<Long> contentRangeTotal(HttpResponse<?> response) {
        return response.headers().firstValue("Content-Range")
                .map(v -> v.substring(v.lastIndexOf('/') + 1).trim())
                .filter(t -> !t.equals("*"))
                .map(Long::parseLong);
    }
}
