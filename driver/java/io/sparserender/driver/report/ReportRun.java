package io.sparserender.driver.report;

import io.sparserender.driver.output.OutputLayout;
import io.sparserender.driver.output.OutputStore;
import io.sparserender.driver.report.html.HtmlReport;
import io.sparserender.driver.report.html.ReportData;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;

/**
 * The report job (DESIGN §5): reads the statistics tables and run manifests in range, writes the
 * aggregate tables as Parquet under {@code <out>/aggregates/<table>/}, and the HTML report at
 * {@code <out>/report.html} (written whole or not at all).
 */
public final class ReportRun {
    /** Aggregate tables, in the order they are written. */
    public static final List<String> TABLES = List.of("layer_steps", "clips", "runs", "stages", "recall_histogram",
            "trends");
    /** Clips drawn in the scatter plots and listed per worst-clips table. */
    static final int MAX_POINTS = 5000;
    static final int WORST = 20;

    /** What a report read and wrote. */
    public record Summary(int partitions, long clips, long layerSteps, long runs, Map<String, String> tables,
                          String html) {}

    private final SparkSession spark;
    private final ReportOptions options;

    public ReportRun(SparkSession spark, ReportOptions options) {
        this.spark = spark;
        this.options = options;
    }

    public Summary run() {
        StatsReader reader = new StatsReader(spark, options);
        List<Path> clipParts = reader.partitions("clips");
        Dataset<Row> manifests = reader.manifests(StatsReader.runIds(clipParts)).cache();
        if (clipParts.isEmpty() && manifests.isEmpty()) {
            throw reader.nothingInRange();
        }
        Dataset<Row> clips = reader.read("clips", clipParts, StatsReader.CLIPS).cache();
        Dataset<Row> ls = reader.read("layer_steps", reader.partitions("layer_steps"), StatsReader.LAYER_STEPS).cache();

        Map<String, Dataset<Row>> aggs = new LinkedHashMap<>();
        Dataset<Row> clipAgg = Aggregates.clips(clips, ls).cache();
        Dataset<Row> runs = Aggregates.runs(manifests, clipAgg, ls).cache();
        aggs.put("layer_steps", Aggregates.layerSteps(ls));
        aggs.put("clips", clipAgg);
        aggs.put("runs", runs);
        aggs.put("stages", Aggregates.stages(clipAgg));
        aggs.put("recall_histogram", Aggregates.recallHistogram(ls));
        aggs.put("trends", Aggregates.trends(runs, clipAgg));

        OutputLayout out = OutputLayout.of(options.out());
        Map<String, String> written = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Dataset<Row>> en : aggs.entrySet()) {
                String path = new Path(new Path(out.root(), "aggregates"), en.getKey()).toString();
                spark.sparkContext().setJobDescription("report: aggregate " + en.getKey());
                String[] sort = Aggregates.SORT.get(en.getKey());
                en.getValue().coalesce(1).sortWithinPartitions(sort[0], java.util.Arrays.copyOfRange(sort, 1, sort.length))
                        .write().mode(SaveMode.Overwrite).parquet(path);
                written.put(en.getKey(), path);
            }
            // Read back what was written: the HTML shows exactly the Parquet aggregates.
            Map<String, Dataset<Row>> back = new LinkedHashMap<>();
            written.forEach((k, v) -> back.put(k, spark.read().parquet(v)));
            ReportData data = ReportDataBuilder.build(back, options, reader.layout());
            Path html = new Path(out.root(), "report.html");
            new OutputStore(out, spark.sparkContext().hadoopConfiguration()).writeAtomically(html, HtmlReport.render(data));
            return new Summary(clipParts.size(), data.clipsTotal(), back.get("layer_steps").count(), data.runs().size(),
                    written, html.toString());
        } finally {
            clipAgg.unpersist();
            clips.unpersist();
            manifests.unpersist();
            ls.unpersist();
            runs.unpersist();
        }
    }
}
