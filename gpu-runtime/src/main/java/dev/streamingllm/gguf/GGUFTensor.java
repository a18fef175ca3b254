package dev.streamingllm.gguf;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One tensor of a GGUF file. {@code shape[0]} is the fastest-varying dimension (GGML order), so a
 * weight matrix of {@code rows x cols} has {@code shape = {cols, rows}}. {@code data} is a slice of
 * the memory-mapped file.
 */
public record GGUFTensor(String name, long[] shape, GGMLType type, MemorySegment data) {

    public long elements() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Size of the fastest-varying dimension: the length of one row. */
    public int cols() {
        return Math.toIntExact(shape[0]);
    }

    /** Number of rows: the product of every dimension but the first. */
    public int rows() {
        return Math.toIntExact(elements() / shape[0]);
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape);
    }
}
