package dev.streamingllm.sampling;

import java.util.List;

/**
 * One node of a {@link JsonGrammar}: what a JSON value at some place of the document may look like. Nodes refer to
 * each other by index into the grammar's node list, so that recursive schemas ({@code $ref} to an enclosing
 * definition) need no special case.
 */
sealed interface JsonShape {

    /**
     * An object whose keys come in the order of {@code properties}; a property may be left out unless required.
     * {@code keysFrom[i]} is the node of the keys that may come next when property {@code i} is the first not yet
     * passed ({@link Literals}: {@code i} itself and the optional ones after it, up to the next required one);
     * {@code nextRequired[i]} is the first required property from {@code i} on, or -1.
     */
    record Fixed(List<Property> properties, int[] nextRequired, int[] keysFrom) implements JsonShape {
    }

    /** A property of a {@link Fixed} object: its name, whether it is required, and its value's node. */
    record Property(String name, boolean required, int value) {
    }

    /** An object with any keys (strings of node {@code key}), each value of node {@code value}. */
    record Free(int key, int value) implements JsonShape {
    }

    record Array(int items, int minItems, int maxItems) implements JsonShape {
    }

    /** A string of {@code minLength} to {@code maxLength} characters (code points). */
    record Text(int minLength, int maxLength) implements JsonShape {
    }

    record Number(boolean integer) implements JsonShape {
    }

    /**
     * One of a set of JSON texts, such as {@code "red"}, {@code true}, {@code null} or an object's key: {@code texts}
     * in unsigned byte order, so the texts that share a prefix are neighbours; {@code ids[i]} is what matching
     * {@code texts[i]} means to the parent (a property's index for keys).
     */
    record Literals(byte[][] texts, int[] ids) implements JsonShape {
    }

    /** One of several shapes, told apart by the value's first byte: {@code byFirstByte[b]} is a node index or -1. */
    record Union(int[] byFirstByte) implements JsonShape {
    }
}
