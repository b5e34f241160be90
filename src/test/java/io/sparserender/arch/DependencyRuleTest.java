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

    @Test
    void reportHtmlIsPlainJava() {
        // The HTML report renders from plain values, so it is testable and reusable without a Spark session.
        noClasses().that().resideInAPackage("io.sparserender.driver.report.html..")
                .should().dependOnClassesThat().resideInAnyPackage("org.apache.spark..", "org.apache.hadoop..", "scala..")
                .check(CLASSES);
    }

    @Test
    void commandsDoNotTouchSpark() {
        // The GPU-host bundle loads the CLI classes without Spark: Spark work lives in the driver's *Job classes.
        // (doctor reads Spark's version on purpose, guarded; GpuBundleIT runs it without Spark.)
        noClasses().that().resideInAPackage("io.sparserender.jobs..").and().haveSimpleNameEndingWith("Command")
                .and().doNotHaveSimpleName("DoctorCommand")
                .should().dependOnClassesThat().resideInAnyPackage("org.apache.spark..")
                .check(CLASSES);
    }
}
