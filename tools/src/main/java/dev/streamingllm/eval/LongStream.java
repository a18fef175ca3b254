package dev.streamingllm.eval;

import dev.streamingllm.backend.cpu.decoder.Transformer;
import dev.streamingllm.cache.CacheConfig;
import dev.streamingllm.cache.SinkCache;
import dev.streamingllm.cache.SinkCacheSnapshot;
import dev.streamingllm.session.Session;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.function.Consumer;

/**
 * A text read over and over through one session, far past its own length: perplexity and resident memory per
 * block of tokens. Flat blocks are the claim of a fixed-size cache; a growing cache, or a model that loses its
 * footing once the first tokens are gone, shows as a trend.
 *
 * <p>A million tokens take hours on a small machine, so a stream may keep a checkpoint: after each block, the
 * session's cache snapshot (exact, as a restored conversation is) and the scores so far. A run given the same
 * checkpoint directory continues where the last one stopped and scores what one uninterrupted run would.
 */
public final class LongStream {

    /**
     * One block: the tokens streamed so far, the block's perplexity, and the resident memory at its end of the
     * process that scored it ({@code process} counts the runs of a resumed stream from 1).
     */
    public record Block(long tokens, double perplexity, long residentBytes, int process) {
    }

    private static final String PROGRESS = "stream.properties";

    private final Transformer transformer;

    public LongStream(Transformer transformer) {
        this.transformer = transformer;
    }

    /**
     * Streams {@code total} tokens of {@code text}, repeated from its start as often as needed, through one session
     * of {@code config}, scoring every prediction; reports each block of {@code block} tokens as it ends.
     */
    public List<Block> run(CacheConfig config, int[] text, long total, int block, Consumer<Block> progress) {
        return run(config, text, total, block, null, progress);
    }

    /**
     * As {@link #run(CacheConfig, int[], long, int, Consumer)}, continuing from and keeping a checkpoint in
     * {@code checkpoint} (no checkpoint when null). The blocks of earlier runs are reported first.
     */
    public List<Block> run(CacheConfig config, int[] text, long total, int block, Path checkpoint, Consumer<Block> progress) {
        String stream = config + " total " + total + " block " + block + " text " + text.length + " tokens, hash " + Arrays.hashCode(text);
        Progress at = checkpoint == null ? null : Progress.read(checkpoint, stream, transformer);
        Session session = new Session(transformer, at != null ? at.cache : transformer.newCache(config), Session.DEFAULT_PREFILL_CHUNK);
        List<Block> blocks = new ArrayList<>(at != null ? at.blocks : List.of());
        blocks.forEach(progress);
        int process = blocks.isEmpty() ? 1 : blocks.getLast().process() + 1;
        int vocab = transformer.config().vocabularySize();
        int chunk = Session.DEFAULT_PREFILL_CHUNK;
        int[] piece = new int[chunk];
        double blockNll = at != null ? at.blockNll : 0;
        int inBlock = at != null ? at.inBlock : 0;
        long fed = at != null ? at.fed : 0;
        int next = text[(int) (fed % text.length)];
        // each step feeds `chunk` tokens and scores the token after each of them
        while (fed < total) {
            int count = (int) Math.min(chunk, total - fed);
            for (int i = 0; i < count; i++) {
                piece[i] = next;
                next = text[(int) ((fed + i + 1) % text.length)];
            }
            float[] logits = session.prefillAll(Arrays.copyOf(piece, count));
            boolean ended = false;
            for (int i = 0; i < count; i++) {
                int target = i + 1 < count ? piece[i + 1] : next;
                blockNll += Perplexity.negativeLogLikelihood(logits, i * vocab, vocab, target);
                inBlock++;
                if (inBlock == block || fed + i + 1 == total) {
                    Block result = new Block(fed + i + 1, Math.exp(blockNll / inBlock), Benchmarks.residentBytes(), process);
                    blocks.add(result);
                    progress.accept(result);
                    blockNll = 0;
                    inBlock = 0;
                    ended = true;
                }
            }
            fed += count;
            if (ended && checkpoint != null) {
                new Progress(fed, blockNll, inBlock, blocks, session.cache()).write(checkpoint, stream);
            }
        }
        return blocks;
    }

    /** A checkpoint: the tokens fed, the open block's sum and count, the finished blocks, and the cache. */
    private record Progress(long fed, double blockNll, int inBlock, List<Block> blocks, SinkCache cache) {

        /** The checkpoint in {@code directory}, or null when there is none; one of another stream is an error. */
        static Progress read(Path directory, String stream, Transformer transformer) {
            Path file = directory.resolve(PROGRESS);
            if (!Files.exists(file)) {
                return null;
            }
            try {
                Properties p = read(file);
                if (!stream.equals(p.getProperty("stream"))) {
                    throw new IllegalArgumentException("checkpoint " + directory + " belongs to another stream (" + p.getProperty("stream")
                            + "), not " + stream + "; give a new directory");
                }
                List<Block> blocks = new ArrayList<>();
                for (String line : p.getProperty("blocks").split(";")) {
                    if (!line.isEmpty()) {
                        String[] f = line.split(",");
                        blocks.add(new Block(Long.parseLong(f[0]), Double.parseDouble(f[1]), Long.parseLong(f[2]), Integer.parseInt(f[3])));
                    }
                }
                byte[] snapshot = Files.readAllBytes(directory.resolve(p.getProperty("cache")));
                SinkCache cache = SinkCacheSnapshot.read(snapshot, transformer.config().layers(), transformer.config().kvDim());
                return new Progress(Long.parseLong(p.getProperty("fed")), Double.parseDouble(p.getProperty("blockNll")),
                        Integer.parseInt(p.getProperty("inBlock")), blocks, cache);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the stream checkpoint " + file, e);
            }
        }

        /** The cache first under a new name, then the progress file that names it, each replaced in one rename. */
        void write(Path directory, String stream) {
            try {
                Files.createDirectories(directory);
                String name = "cache-" + fed + ".snk";
                replace(directory.resolve(name), out -> out.write(SinkCacheSnapshot.write(cache)));
                Properties p = new Properties();
                p.setProperty("stream", stream);
                p.setProperty("fed", Long.toString(fed));
                p.setProperty("blockNll", Double.toHexString(blockNll));
                p.setProperty("inBlock", Integer.toString(inBlock));
                p.setProperty("cache", name);
                StringBuilder lines = new StringBuilder();
                for (Block b : blocks) {
                    lines.append(b.tokens()).append(',').append(Double.toHexString(b.perplexity())).append(',')
                            .append(b.residentBytes()).append(',').append(b.process()).append(';');
                }
                p.setProperty("blocks", lines.toString());
                Path file = directory.resolve(PROGRESS);
                String previous = Files.exists(file) ? read(file).getProperty("cache") : null;
                replace(file, out -> {
                    try (Writer w = new OutputStreamWriter(out, StandardCharsets.UTF_8)) {
                        p.store(w, "StreamingLLM long stream checkpoint");
                    }
                });
                if (previous != null && !previous.equals(name)) {
                    Files.deleteIfExists(directory.resolve(previous));
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write the stream checkpoint in " + directory, e);
            }
        }

        private static Properties read(Path file) throws IOException {
            Properties p = new Properties();
            try (Reader in = Files.newBufferedReader(file)) {
                p.load(in);
            }
            return p;
        }

        private interface Content {
            void writeTo(OutputStream out) throws IOException;
        }

        private static void replace(Path target, Content content) throws IOException {
            Path part = target.resolveSibling(target.getFileName() + ".part");
            try (OutputStream out = Files.newOutputStream(part)) {
                content.writeTo(out);
            }
            Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
    }
}
