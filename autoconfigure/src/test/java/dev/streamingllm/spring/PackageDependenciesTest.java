package dev.streamingllm.spring;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The starter's packages form layers: session below chat, the shared request contract (api) below both the HTTP API
 * (web) and session routing (routing), which stay independent of each other, and the auto-configuration on top.
 */
class PackageDependenciesTest {

    /** The module's own classes: the build runs tests from the module's directory. */
    private static final JavaClasses STARTER = new ClassFileImporter().importPath(Path.of("target/classes"));

    @Test
    void thePackagesHaveNoCycles() {
        slices().matching("dev.streamingllm.spring.(**)").should().beFreeOfCycles().check(STARTER);
    }

    @Test
    void routingDoesNotDependOnTheHttpApi() {
        noClasses().that().resideInAPackage("dev.streamingllm.spring.routing..")
                .should().dependOnClassesThat().resideInAPackage("dev.streamingllm.spring.web..")
                .check(STARTER);
    }

    @Test
    void theHttpApiDoesNotDependOnRouting() {
        noClasses().that().resideInAPackage("dev.streamingllm.spring.web..")
                .should().dependOnClassesThat().resideInAPackage("dev.streamingllm.spring.routing..")
                .check(STARTER);
    }

    @Test
    void thePackagesAreWhereTheRulesLook() {
        // the rules would pass vacuously on an empty import
        assertThat(STARTER.containPackage("dev.streamingllm.spring.routing")).isTrue();
        assertThat(STARTER.containPackage("dev.streamingllm.spring.web")).isTrue();
        assertThat(STARTER.containPackage("dev.streamingllm.spring.api")).isTrue();
    }
}
