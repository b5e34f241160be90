package io.sparserender.driver.report;

import java.time.LocalDate;
import java.util.List;
import java.util.Objects;

/**
 * What a report covers and where it goes.
 *
 * @param stats the {@code --out} root of generate runs (holds stats/, runs/, clips/), any Hadoop URI
 * @param from  first day (dt partition) included, or null for no lower bound
 * @param to    last day included, or null for no upper bound
 * @param runs  run ids to include; empty for every run in the date range
 * @param out   where aggregates/ and report.html are written, any Hadoop URI
 */
public record ReportOptions(String stats, LocalDate from, LocalDate to, List<String> runs, String out) {
    public ReportOptions {
        Objects.requireNonNull(stats, "stats is null");
        Objects.requireNonNull(out, "out is null");
        runs = List.copyOf(runs);
        if (from != null && to != null && from.isAfter(to)) {
            throw new IllegalArgumentException("Invalid date range: --from " + from + " is after --to " + to);
        }
    }

    boolean inRange(LocalDate day) {
        return (from == null || !day.isBefore(from)) && (to == null || !day.isAfter(to));
    }

    String rangeText() {
        return (from == null ? "first" : from.toString()) + " .. " + (to == null ? "last" : to.toString())
                + (runs.isEmpty() ? "" : ", runs " + String.join(",", runs));
    }
}
