package dev.streamingllm.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A memory-mapped GGUF file (versions 2 and 3): typed metadata and tensors that are slices of the
 * mapping. The file is mapped, never copied, so models larger than 2 GiB load with a small heap.
 * Every structural problem is reported as one {@link GGUFException} naming the file and what was wrong.
 */
public final class GGUFFile implements AutoCloseable {

    private static final int MAGIC = 0x46554747; // "GGUF" little-endian
    private static final int DEFAULT_ALIGNMENT = 32;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, GGUFTensor> tensors;
    private final long dataStart;

    private GGUFFile(Path path, Arena arena, int version, Map<String, Object> metadata, Map<String, GGUFTensor> tensors, long dataStart) {
        this.path = path;
        this.dataStart = dataStart;
        this.arena = arena;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
    }

    /** Maps and parses {@code path}; the mapping lives until {@link #close()}. */
    public static GGUFFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment file = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            GGUFFile gguf = new Parser(path, file).parse(arena);
            return gguf;
        } catch (IOException e) {
            arena.close();
            throw new GGUFException(path, "cannot read file: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    /** Where the tensor data begins: the bytes before it are the header (metadata and tensor infos). */
    public long dataStart() {
        return dataStart;
    }

    public int version() {
        return version;
    }

    /** All metadata in file order. Values are Integer/Long/Float/Double/Boolean/String or arrays of those. */
    public Map<String, Object> metadata() {
        return metadata;
    }

    /** Tensors by name, in file order. */
    public Map<String, GGUFTensor> tensors() {
        return tensors;
    }

    public Optional<GGUFTensor> findTensor(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    public GGUFTensor tensor(String name) {
        GGUFTensor tensor = tensors.get(name);
        if (tensor == null) {
            throw new GGUFException(path, "missing tensor '" + name + "'");
        }
        return tensor;
    }

    public boolean contains(String key) {
        return metadata.containsKey(key);
    }

    public String getString(String key) {
        return get(key, String.class);
    }

    public Optional<String> findString(String key) {
        return metadata.containsKey(key) ? Optional.of(getString(key)) : Optional.empty();
    }

    public int getInt(String key) {
        Object value = require(key);
        if (value instanceof Integer || value instanceof Long) {
            long v = ((Number) value).longValue();
            if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
                throw new GGUFException(path, "metadata key '" + key + "' = " + v + " does not fit in an int");
            }
            return (int) v;
        }
        throw wrongType(key, "an integer", value);
    }

    public int getInt(String key, int defaultValue) {
        return metadata.containsKey(key) ? getInt(key) : defaultValue;
    }

    public float getFloat(String key) {
        Object value = require(key);
        if (value instanceof Float || value instanceof Double) {
            return ((Number) value).floatValue();
        }
        throw wrongType(key, "a float", value);
    }

    public float getFloat(String key, float defaultValue) {
        return metadata.containsKey(key) ? getFloat(key) : defaultValue;
    }

    public boolean getBoolean(String key, boolean defaultValue) {
        return metadata.containsKey(key) ? get(key, Boolean.class) : defaultValue;
    }

    public String[] getStringArray(String key) {
        return get(key, String[].class);
    }

    public float[] getFloatArray(String key) {
        return get(key, float[].class);
    }

    /** An integer array (any GGUF integer element type), widened to int. */
    public int[] getIntArray(String key) {
        Object value = require(key);
        if (value instanceof int[] ints) {
            return ints;
        }
        if (value instanceof long[] longs) {
            int[] ints = new int[longs.length];
            for (int i = 0; i < longs.length; i++) {
                ints[i] = Math.toIntExact(longs[i]);
            }
            return ints;
        }
        throw wrongType(key, "an integer array", value);
    }

    private <T> T get(String key, Class<T> type) {
        Object value = require(key);
        if (!type.isInstance(value)) {
            throw wrongType(key, type.getSimpleName(), value);
        }
        return type.cast(value);
    }

    private Object require(String key) {
        Object value = metadata.get(key);
        if (value == null) {
            throw new GGUFException(path, "missing metadata key '" + key + "'");
        }
        return value;
    }

    private GGUFException wrongType(String key, String expected, Object value) {
        return new GGUFException(path, "metadata key '" + key + "' should be " + expected
                + " but is " + value.getClass().getSimpleName());
    }

    @Override
    public void close() {
        arena.close();
    }

    /** Reads the header with explicit bounds checks so a damaged file fails with a reason, not an index error. */
    private static final class Parser {
        private final Path path;
        private final MemorySegment file;
        private long pos;
        private String context = "header";

        Parser(Path path, MemorySegment file) {
            this.path = path;
            this.file = file;
        }

        GGUFFile parse(Arena arena) {
            need(4, "magic");
            int magic = file.get(INT, 0);
            if (magic != MAGIC) {
                throw new GGUFException(path, String.format("not a GGUF file (magic 0x%08x, expected 0x%08x \"GGUF\")", magic, MAGIC));
            }
            pos = 4;
            int version = u32("version");
            if (version != 2 && version != 3) {
                throw new GGUFException(path, "unsupported GGUF version " + version + " (supported: 2, 3)");
            }
            long tensorCount = u64("tensor count");
            long kvCount = u64("metadata count");
            // Every tensor info needs at least 8+4+8+4+8 bytes and every key/value at least 8+4 bytes.
            if (tensorCount < 0 || tensorCount > remaining() / 32) {
                throw new GGUFException(path, "absurd tensor count " + Long.toUnsignedString(tensorCount) + " for a file of " + file.byteSize() + " bytes");
            }
            if (kvCount < 0 || kvCount > remaining() / 12) {
                throw new GGUFException(path, "absurd metadata count " + Long.toUnsignedString(kvCount) + " for a file of " + file.byteSize() + " bytes");
            }

            Map<String, Object> metadata = new LinkedHashMap<>();
            for (long i = 0; i < kvCount; i++) {
                context = "metadata entry " + i;
                String key = string();
                context = "metadata key '" + key + "'";
                metadata.put(key, value(u32("value type")));
            }

            int alignment = DEFAULT_ALIGNMENT;
            Object declared = metadata.get("general.alignment");
            if (declared != null) {
                if (!(declared instanceof Number n) || n.longValue() <= 0 || Long.bitCount(n.longValue()) != 1) {
                    throw new GGUFException(path, "metadata key 'general.alignment' must be a power of two, was " + declared);
                }
                alignment = n.intValue();
            }

            record Info(String name, long[] shape, GGMLType type, long offset) {}
            Info[] infos = new Info[(int) tensorCount];
            for (int i = 0; i < tensorCount; i++) {
                context = "tensor info " + i;
                String name = string();
                context = "tensor '" + name + "'";
                int dims = u32("dimension count");
                if (dims < 1 || dims > 4) {
                    throw error("has " + Integer.toUnsignedString(dims) + " dimensions (1 to 4 allowed)");
                }
                long[] shape = new long[dims];
                for (int d = 0; d < dims; d++) {
                    shape[d] = u64("dimension " + d);
                    if (shape[d] <= 0 || shape[d] > file.byteSize() * 8) {
                        throw error("has absurd dimension " + d + " = " + Long.toUnsignedString(shape[d]));
                    }
                }
                int typeId = u32("type");
                GGMLType type = GGMLType.byId(typeId);
                if (type == null) {
                    throw error("has unknown tensor type id " + typeId);
                }
                long offset = u64("data offset");
                if (offset < 0 || offset % alignment != 0) {
                    throw error("has data offset " + Long.toUnsignedString(offset) + " not aligned to " + alignment);
                }
                infos[i] = new Info(name, shape, type, offset);
            }

            long dataStart = (pos + alignment - 1) / alignment * alignment;
            Map<String, GGUFTensor> tensors = new LinkedHashMap<>();
            for (Info info : infos) {
                context = "tensor '" + info.name + "'";
                long elements = 1;
                for (long d : info.shape) {
                    try {
                        elements = Math.multiplyExact(elements, d);
                    } catch (ArithmeticException e) {
                        throw error("has an element count that overflows");
                    }
                }
                if (info.shape[0] % info.type.blockSize() != 0) {
                    throw error("row length " + info.shape[0] + " is not a multiple of the " + info.type + " block size " + info.type.blockSize());
                }
                long bytes = info.type.byteSize(elements);
                long start = dataStart + info.offset;
                if (start > file.byteSize() || bytes > file.byteSize() - start) {
                    throw error("needs bytes " + start + ".." + (start + bytes) + " but the file has " + file.byteSize() + " (truncated?)");
                }
                if (tensors.put(info.name, new GGUFTensor(info.name, info.shape, info.type, file.asSlice(start, bytes))) != null) {
                    throw error("is defined twice");
                }
            }
            return new GGUFFile(path, arena, version, Collections.unmodifiableMap(metadata), Collections.unmodifiableMap(tensors), dataStart);
        }

        private Object value(int type) {
            return switch (type) {
                case 0 -> Byte.toUnsignedInt(u8());
                case 1 -> (int) u8();
                case 2 -> { need(2, "uint16"); int v = Short.toUnsignedInt(file.get(SHORT, pos)); pos += 2; yield v; }
                case 3 -> { need(2, "int16"); int v = file.get(SHORT, pos); pos += 2; yield v; }
                case 4 -> Integer.toUnsignedLong(u32("uint32"));
                case 5 -> u32("int32");
                case 6 -> { need(4, "float32"); float v = file.get(FLOAT, pos); pos += 4; yield v; }
                case 7 -> u8() != 0;
                case 8 -> string();
                case 9 -> array();
                case 10, 11 -> u64("int64");
                case 12 -> { need(8, "float64"); double v = file.get(DOUBLE, pos); pos += 8; yield v; }
                default -> throw error("has unknown value type " + type);
            };
        }

        private Object array() {
            int elementType = u32("array element type");
            long count = u64("array length");
            int minElementBytes = switch (elementType) {
                case 0, 1, 7 -> 1;
                case 2, 3 -> 2;
                case 4, 5, 6 -> 4;
                case 8, 10, 11, 12 -> 8;
                case 9 -> 12;
                default -> throw error("has unknown array element type " + elementType);
            };
            if (count < 0 || count > remaining() / minElementBytes) {
                throw error("has an array of " + Long.toUnsignedString(count) + " elements, more than the file can hold");
            }
            int n = (int) count;
            switch (elementType) {
                case 4, 5 -> {
                    int[] values = new int[n];
                    MemorySegment.copy(file, INT, pos, values, 0, n);
                    pos += 4L * n;
                    return values;
                }
                case 6 -> {
                    float[] values = new float[n];
                    MemorySegment.copy(file, FLOAT, pos, values, 0, n);
                    pos += 4L * n;
                    return values;
                }
                case 8 -> {
                    String[] values = new String[n];
                    for (int i = 0; i < n; i++) {
                        values[i] = string();
                    }
                    return values;
                }
                case 10, 11 -> {
                    long[] values = new long[n];
                    MemorySegment.copy(file, LONG, pos, values, 0, n);
                    pos += 8L * n;
                    return values;
                }
                default -> {
                    Object[] values = new Object[n];
                    for (int i = 0; i < n; i++) {
                        values[i] = value(elementType);
                    }
                    return values;
                }
            }
        }

        private String string() {
            long length = u64("string length");
            if (length < 0 || length > remaining()) {
                throw error("has a string of " + Long.toUnsignedString(length) + " bytes, more than the file holds");
            }
            byte[] bytes = file.asSlice(pos, length).toArray(ValueLayout.JAVA_BYTE);
            pos += length;
            return new String(bytes, StandardCharsets.UTF_8);
        }

        private byte u8() {
            need(1, "byte");
            return file.get(ValueLayout.JAVA_BYTE, pos++);
        }

        private int u32(String what) {
            need(4, what);
            int v = file.get(INT, pos);
            pos += 4;
            return v;
        }

        private long u64(String what) {
            need(8, what);
            long v = file.get(LONG, pos);
            pos += 8;
            return v;
        }

        private long remaining() {
            return file.byteSize() - pos;
        }

        private void need(long bytes, String what) {
            if (remaining() < bytes) {
                throw error("is truncated: file ends at byte " + file.byteSize() + " while reading its " + what);
            }
        }

        private GGUFException error(String message) {
            return new GGUFException(path, context + " " + message);
        }
    }
}
