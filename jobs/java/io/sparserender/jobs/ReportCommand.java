package io.sparserender.jobs;

import io.sparserender.driver.report.ReportJob;
import io.sparserender.driver.report.ReportOptions;
import io.sparserender.driver.report.ReportRun;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Aggregates the statistics tables of generate runs into Parquet tables and one self-contained HTML
 * report. Parses flags only: the Spark job lives in the driver (ReportJob), so this class loads on hosts
 * without Spark.
 */
@Command(name = "report", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Aggregate statistics tables into Parquet and a self-contained HTML report (a Spark job; "
                + "local mode unless run by spark-submit).",
            "Outputs under --out: aggregates/<table>/ (Parquet) and report.html."})
final class ReportCommand implements Callable<Integer> {
    @Option(names = "--stats", required = true, paramLabel = "URI",
            description = "The --out root of generate runs (holds stats/, runs/, clips/); any Hadoop URI or local path.")
    String stats;

    @Option(names = "--from", paramLabel = "YYYY-MM-DD", description = "First day (dt partition) included (default: the first).")
    String from;

    @Option(names = "--to", paramLabel = "YYYY-MM-DD", description = "Last day included (default: the last).")
    String to;

    @Option(names = "--runs", paramLabel = "ID,...", description = "Only these run ids (default: every run in range).")
    String runs;

    @Option(names = "--out", required = true, paramLabel = "URI", description = "Where aggregates/ and report.html go.")
    String out;

    @Option(names = "--master", paramLabel = "URL", description = "Spark master when not under spark-submit (default: ${DEFAULT-VALUE}).")
    String master = "local[2]";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        LocalDate f = date("--from", from);
        LocalDate t = date("--to", to);
        if (f != null && t != null && f.isAfter(t)) {
            throw new UsageException("Invalid --from " + from + ": it is after --to " + to);
        }
        List<String> ids = runs == null ? List.of()
                : Arrays.stream(runs.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
        if (runs != null && ids.isEmpty()) {
            throw new UsageException("Invalid --runs '" + runs + "': give run ids separated by commas");
        }
        ReportOptions options = new ReportOptions(uri(stats), f, t, ids, uri(out));
        ReportRun.Summary s = ReportJob.run(options, master);
        PrintWriter o = spec.commandLine().getOut();
        o.printf("report: %d clips, %d policy×model×layer×step cells, %d runs from %d partitions%n", s.clips(), s.layerSteps(), s.runs(),
                s.partitions());
        s.tables().forEach((k, v) -> o.println("  aggregate " + k + ": " + v));
        o.println("  html: " + s.html());
        o.flush();
        return Main.EXIT_OK;
    }

    private static LocalDate date(String flag, String v) {
        if (v == null) {
            return null;
        }
        try {
            return LocalDate.parse(v);
        } catch (DateTimeParseException e) {
            throw new UsageException("Invalid " + flag + " '" + v + "': use YYYY-MM-DD");
        }
    }

    private static String uri(String s) {
        return s.contains("://") ? s : Path.of(s).toAbsolutePath().normalize().toUri().toString();
    }
}
