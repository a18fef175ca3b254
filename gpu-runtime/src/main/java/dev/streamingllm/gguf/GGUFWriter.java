package dev.streamingllm.gguf;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF version 3 files: metadata, tensor infos, then each tensor's bytes, streamed so that
 * multi-gigabyte synthetic models never sit in memory. Used by {@code bench --synthetic}.
 */
public final class GGUFWriter {

    private static final int ALIGNMENT = 32;

    /** Produces one tensor's bytes, in GGML layout, into {@code out}. */
    @FunctionalInterface
    public interface TensorData {
        void write(OutputStream out) throws IOException;
    }

    private record Tensor(String name, long[] shape, GGMLType type, TensorData data) {
        long bytes() {
            long elements = 1;
            for (long d : shape) {
                elements *= d;
            }
            return type.byteSize(elements);
        }
    }

    private final Map<String, Object> metadata = new LinkedHashMap<>();
    private final List<Tensor> tensors = new ArrayList<>();

    /** Values: String, Integer (uint32), Float, Boolean, String[], float[], int[] (int32). */
    public GGUFWriter put(String key, Object value) {
        metadata.put(key, value);
        return this;
    }

    public GGUFWriter tensor(String name, long[] shape, GGMLType type, TensorData data) {
        tensors.add(new Tensor(name, shape, type, data));
        return this;
    }

    public void write(Path file) throws IOException {
        try (CountingOutput out = new CountingOutput(new BufferedOutputStream(Files.newOutputStream(file), 1 << 20))) {
            out.u32(0x46554747);
            out.u32(3);
            out.u64(tensors.size());
            out.u64(metadata.size());
            for (Map.Entry<String, Object> entry : metadata.entrySet()) {
                out.string(entry.getKey());
                value(out, entry.getKey(), entry.getValue());
            }
            long offset = 0;
            for (Tensor tensor : tensors) {
                out.string(tensor.name);
                out.u32(tensor.shape.length);
                for (long d : tensor.shape) {
                    out.u64(d);
                }
                out.u32(tensor.type.id());
                out.u64(offset);
                offset = align(offset + tensor.bytes());
            }
            out.pad();
            for (Tensor tensor : tensors) {
                long start = out.written;
                tensor.data.write(out);
                if (out.written - start != tensor.bytes()) {
                    throw new IllegalStateException("tensor '" + tensor.name + "' wrote " + (out.written - start)
                            + " bytes, expected " + tensor.bytes());
                }
                out.pad();
            }
        }
    }

    private static void value(CountingOutput out, String key, Object value) throws IOException {
        switch (value) {
            case String s -> {
                out.u32(8);
                out.string(s);
            }
            case Integer i -> {
                out.u32(4);
                out.u32(i);
            }
            case Float f -> {
                out.u32(6);
                out.u32(Float.floatToRawIntBits(f));
            }
            case Boolean b -> {
                out.u32(7);
                out.write(b ? 1 : 0);
            }
            case String[] strings -> {
                out.u32(9);
                out.u32(8);
                out.u64(strings.length);
                for (String s : strings) {
                    out.string(s);
                }
            }
            case float[] floats -> {
                out.u32(9);
                out.u32(6);
                out.u64(floats.length);
                for (float f : floats) {
                    out.u32(Float.floatToRawIntBits(f));
                }
            }
            case int[] ints -> {
                out.u32(9);
                out.u32(5);
                out.u64(ints.length);
                for (int i : ints) {
                    out.u32(i);
                }
            }
            default -> throw new IllegalArgumentException("metadata key '" + key + "' has unsupported value type " + value.getClass());
        }
    }

    private static long align(long offset) {
        return (offset + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private static final class CountingOutput extends OutputStream {
        private final OutputStream out;
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        long written;

        CountingOutput(OutputStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            written++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            written += len;
        }

        void u32(int v) throws IOException {
            write(scratch.clear().putInt(v).array(), 0, 4);
        }

        void u64(long v) throws IOException {
            write(scratch.clear().putLong(v).array(), 0, 8);
        }

        void string(String s) throws IOException {
            byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
            u64(bytes.length);
            write(bytes, 0, bytes.length);
        }

        void pad() throws IOException {
            while (written % ALIGNMENT != 0) {
                write(0);
            }
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }
}
