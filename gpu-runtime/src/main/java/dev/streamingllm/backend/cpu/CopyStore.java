package dev.streamingllm.backend.cpu;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the CPU backend keeps the copies it makes of a model's matrices ({@link InterleavedRows}): off the heap in the
 * process's own memory ({@link #ANONYMOUS}), or in files of a directory, mapped. A mapped copy is made once per model
 * and kept: a later load maps it instead of copying again, and its pages are the page cache's, shared by every process
 * that maps it and given back under memory pressure like the model file's own. A copy is written to a file of its
 * own name and moved into place once complete, so a crash leaves no partial copy behind, and two processes writing
 * the same copy each move a whole one; a file whose size is not the copy's is made again. Where the directory cannot
 * be written, the copies are made in the process's memory instead, with one warning.
 */
public final class CopyStore {

    private static final Logger LOG = LoggerFactory.getLogger(CopyStore.class);

    /** Copies in the process's own memory, off the heap. */
    public static final CopyStore ANONYMOUS = new CopyStore(null);

    private final Path directory;
    /** Set when a copy could not be kept: the rest are made in memory without trying, and without another warning. */
    private volatile boolean unwritable;

    private CopyStore(Path directory) {
        this.directory = directory;
    }

    /** Copies mapped from files in {@code directory}, which is made when first written to. */
    public static CopyStore in(Path directory) {
        return new CopyStore(directory);
    }

    /** The directory of the mapped copies, or null for {@link #ANONYMOUS}. */
    public Path directory() {
        return directory;
    }

    /**
     * The copy named {@code name} of {@code bytes} bytes, aligned to 64: the file of that name when it has that size,
     * else a segment that {@code fill} writes and that is then kept under that name.
     */
    MemorySegment segment(String name, long bytes, Consumer<MemorySegment> fill) {
        if (directory == null || unwritable) {
            return filled(Arena.ofAuto().allocate(bytes, 64), fill);
        }
        // a tensor's name may hold characters a file name cannot, '/' among them
        String fileName = name.replaceAll("[^A-Za-z0-9._-]", "_");
        Path file = directory.resolve(fileName);
        try {
            if (Files.isRegularFile(file) && Files.size(file) == bytes) {
                return map(file, bytes, FileChannel.MapMode.READ_ONLY, StandardOpenOption.READ);
            }
            Files.createDirectories(directory);
            Path partial = Files.createTempFile(directory, fileName + ".", ".partial");
            try {
                MemorySegment segment = map(partial, bytes, FileChannel.MapMode.READ_WRITE,
                        StandardOpenOption.READ, StandardOpenOption.WRITE);
                fill.accept(segment);
                segment.force();
                Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                return segment;
            } finally {
                Files.deleteIfExists(partial);
            }
        } catch (IOException | UnsupportedOperationException e) {
            unwritable = true;
            LOG.warn("cannot keep the model's repacked matrices in {} ({}); making them in the process's memory", directory, e.toString());
            return filled(Arena.ofAuto().allocate(bytes, 64), fill);
        }
    }

    private static MemorySegment filled(MemorySegment segment, Consumer<MemorySegment> fill) {
        fill.accept(segment);
        return segment;
    }

    /** {@code file} mapped for as long as the segment is reachable; mapped for writing, it grows to {@code bytes}. */
    private static MemorySegment map(Path file, long bytes, FileChannel.MapMode mode, StandardOpenOption... options) throws IOException {
        try (FileChannel channel = FileChannel.open(file, options)) {
            return channel.map(mode, 0, bytes, Arena.ofAuto());
        }
    }

    @Override
    public String toString() {
        return directory == null ? "anonymous" : directory.toString();
    }
}
