package dev.streamingllm;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The runtime's packages form layers (gguf, tokenizer, cache, kernels, llama, backend, the decoders, model,
 * session): a package never depends, even through others, on one that depends on it.
 */
class PackageCyclesTest {

    /** The module's own classes: the build runs tests from the module's directory. */
    private static final JavaClasses RUNTIME = new ClassFileImporter().importPath(Path.of("target/classes"));

    @Test
    void thePackagesHaveNoCycles() {
        // a slice per package, sub-packages apart: backend.cuda -> backend -> backend.cuda is a cycle too
        slices().matching("dev.streamingllm.(**)").should().beFreeOfCycles().check(RUNTIME);
    }

    @Test
    void theLayersAreWhereTheRuleLooks() {
        // the rule would pass vacuously on an empty import
        assertThat(RUNTIME.containPackage("dev.streamingllm.model")).isTrue();
        assertThat(RUNTIME.containPackage("dev.streamingllm.backend.cuda")).isTrue();
        assertThat(RUNTIME.containPackage("dev.streamingllm.session")).isTrue();
    }
}
