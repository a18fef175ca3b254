package dev.streamingllm.cli;

import dev.streamingllm.pull.KnownModel;
import dev.streamingllm.pull.ModelCatalog;
import dev.streamingllm.pull.ModelPuller;
import dev.streamingllm.pull.PullException;
import dev.streamingllm.pull.PullProgress;
import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "pull", description = "Downloads a model by catalog name or URL into the cache and prints its path (last line of stdout).")
final class PullCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "NAME|URL", description = "a catalog name (${COMPLETION-CANDIDATES}) or an http(s) URL of a GGUF file",
            completionCandidates = CatalogNames.class)
    String model;

    @Override
    public Integer call() {
        ModelPuller puller = ModelPuller.standard(PullProgress.forConsole());
        Path file;
        if (model.startsWith("http://") || model.startsWith("https://")) {
            file = puller.pull(URI.create(model));
        } else {
            KnownModel known = ModelCatalog.find(model).orElseThrow(() -> new PullException("unknown model '" + model
                    + "' (known: " + ModelCatalog.models().stream().map(KnownModel::name).collect(Collectors.joining(", "))
                    + "; or give an http(s) URL)"));
            file = puller.pull(known);
        }
        System.out.println(file);
        return 0;
    }

    /** The catalog's names, for the help text. */
    static final class CatalogNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return ModelCatalog.models().stream().map(KnownModel::name).iterator();
        }
    }
}
