package dev.streamingllm.sampling;

import java.util.Arrays;
import java.util.Comparator;

/**
 * Tokens by their bytes, as a trie stored in preorder: node {@code i}'s subtree is {@code i .. skip[i] - 1}, so one
 * forward pass visits every node and a rejected prefix skips its whole subtree. Walking it with a
 * {@link JsonAutomaton} steps each distinct prefix once, instead of each token's bytes from the start.
 */
final class TokenTrie {

    private final byte[] edge;
    private final int[] depth;
    private final int[] skip;
    /** The tokens whose bytes end at node {@code i}: {@code tokens[firstToken[i] .. firstToken[i + 1] - 1]}. */
    private final int[] firstToken;
    private final int[] tokens;
    private final int maxDepth;

    /** A trie of the tokens {@code ids}, each with its (non-empty) bytes {@code bytes[id]}. */
    TokenTrie(int[] ids, byte[][] bytes) {
        int[] sorted = Arrays.stream(ids).boxed().sorted(Comparator.comparing((Integer id) -> bytes[id], Arrays::compareUnsigned))
                .mapToInt(Integer::intValue).toArray();
        int capacity = 1 + Arrays.stream(ids).map(id -> bytes[id].length).sum();
        byte[] edge = new byte[capacity];
        int[] depth = new int[capacity];
        int[] endNode = new int[sorted.length];
        int nodes = 1;
        byte[] previous = new byte[0];
        for (int t = 0; t < sorted.length; t++) {
            byte[] text = bytes[sorted[t]];
            int shared = Arrays.mismatch(previous, text);
            if (shared < 0) {
                // the same bytes as the previous token: the same node
                endNode[t] = endNode[t - 1];
                continue;
            }
            // sorted, so a token is never a proper prefix of the one before it: it adds nodes past the shared prefix
            for (int d = shared + 1; d <= text.length; d++) {
                edge[nodes] = text[d - 1];
                depth[nodes] = d;
                nodes++;
            }
            endNode[t] = nodes - 1;
            previous = text;
        }
        // end nodes grow with the sorted order, so each node's tokens are a run of the sorted tokens
        int[] firstToken = new int[nodes + 1];
        for (int t = 0, node = 0; node <= nodes; node++) {
            while (t < sorted.length && endNode[t] < node) {
                t++;
            }
            firstToken[node] = t;
        }
        int maxDepth = Arrays.stream(depth, 0, nodes).max().orElse(0);
        int[] skip = new int[nodes];
        int[] open = new int[maxDepth + 1];
        int height = 0;
        for (int i = 0; i < nodes; i++) {
            while (height > 0 && depth[open[height - 1]] >= depth[i]) {
                skip[open[--height]] = i;
            }
            open[height++] = i;
        }
        while (height > 0) {
            skip[open[--height]] = nodes;
        }
        this.edge = Arrays.copyOf(edge, nodes);
        this.depth = Arrays.copyOf(depth, nodes);
        this.skip = skip;
        this.firstToken = firstToken;
        this.tokens = sorted;
        this.maxDepth = maxDepth;
    }

    /**
     * Sets in {@code allowed} the bit of every token whose bytes {@code automaton} accepts from the state
     * {@code stack} of height {@code top} (left as it was), and after which the document can still be finished in
     * {@code budget} bytes.
     */
    void walk(JsonAutomaton automaton, int[] stack, int top, int budget, long[] allowed, Scratch scratch) {
        int[][] states = scratch.states;
        int[] heights = scratch.heights;
        states[0] = stack;
        heights[0] = top;
        int nodes = edge.length;
        for (int i = 1; i < nodes; ) {
            int d = depth[i];
            int[] state = states[d];
            int height = heights[d - 1];
            System.arraycopy(states[d - 1], 0, state, 0, height * JsonAutomaton.FRAME);
            height = automaton.step(state, height, edge[i] & 0xFF);
            if (height < 0) {
                i = skip[i];
                continue;
            }
            heights[d] = height;
            if (firstToken[i] == firstToken[i + 1] || automaton.closingBytes(state, height) > budget) {
                i++;
                continue;
            }
            for (int t = firstToken[i]; t < firstToken[i + 1]; t++) {
                int id = tokens[t];
                allowed[id >>> 6] |= 1L << id;
            }
            i++;
        }
    }

    /** A state per byte of the longest token, reused from walk to walk. */
    Scratch newScratch() {
        return new Scratch(maxDepth);
    }

    static final class Scratch {
        private final int[][] states;
        private final int[] heights;

        private Scratch(int maxDepth) {
            states = new int[maxDepth + 1][];
            heights = new int[maxDepth + 1];
            for (int d = 1; d <= maxDepth; d++) {
                states[d] = JsonAutomaton.newStack();
            }
        }
    }
}
