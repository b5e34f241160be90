package io.sparserender.jobs;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Reserved: filled by a later issue. */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = {"Aggregate statistics tables into Parquet and an HTML report (Spark job).", "Not available in this build yet."})
final class ReportCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new IllegalStateException("'report' is not available in this build yet");
    }
}
