package io.sparserender.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * DESIGN §2: the engine (executor-kernels) runs on a GPU host with only its own jars, so it never
 * touches Spark, Scala or Hadoop, nor the driver and jobs layers above it; the driver never uses jobs.
 */
class DependencyRuleTest {
    private static final JavaClasses CLASSES = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.sparserender");

    @Test
    void engineDependsOnNoSparkHadoopOrUpperLayer() {
        noClasses().that().resideInAPackage("io.sparserender.engine..")
                .should().dependOnClassesThat().resideInAnyPackage(
                        "org.apache.spark..", "org.apache.hadoop..", "scala..",
                        "io.sparserender.driver..", "io.sparserender.jobs..")
                .check(CLASSES);
    }

    @Test
    void driverDoesNotDependOnJobs() {
        noClasses().that().resideInAPackage("io.sparserender.driver..")
                .should().dependOnClassesThat().resideInAPackage("io.sparserender.jobs..")
                .allowEmptyShould(true)
                .check(CLASSES);
    }
}
