package dev.streamingllm.pull;

import java.util.List;

/**
 * A model the catalog can pull by name: the file it becomes in the cache, its exact size and SHA-256, and where to
 * get it, tried in order.
 */
public record KnownModel(String name, String fileName, long size, String sha256, List<ModelSource> sources) {

    public KnownModel {
        sources = List.copyOf(sources);
    }
}
