package io.sparserender.driver.report.html;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Renders {@link ReportData} as one self-contained HTML file: inline CSS and SVG, no script, no external
 * resource. Every chart section is present with a fixed id; a chart without data shows a sentence saying
 * what is missing instead of an empty frame. All user text (prompts, ids, policies, failures) is escaped.
 */
public final class HtmlReport {
    /** The ids of the chart sections, in page order; the browser test checks each. */
    public static final List<String> CHARTS = List.of("chart-heatmap", "chart-recall", "chart-scatter", "chart-error",
            "chart-stages", "chart-throughput", "chart-failures", "table-worst");

    private HtmlReport() {}

    public static byte[] render(ReportData d) {
        StringBuilder h = new StringBuilder(64 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">")
                .append("<title>").append(e(d.title())).append("</title><style>").append(CSS).append("</style></head><body>\n");
        h.append("<h1>").append(e(d.title())).append("</h1>\n<p class=\"meta\">Statistics: <code>").append(e(d.statsUri()))
                .append("</code> · range ").append(e(d.range())).append(" · generated ").append(e(d.generated())).append("</p>\n");
        summary(h, d.totals());
        heatmaps(h, d);
        recall(h, d);
        scatter(h, d);
        stages(h, d);
        nights(h, d);
        worst(h, d);
        runs(h, d);
        h.append("</body></html>\n");
        return h.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void summary(StringBuilder h, ReportData.Totals t) {
        h.append("<section id=\"summary\"><div class=\"cards\">");
        card(h, "runs", String.valueOf(t.runs()));
        card(h, "clips", String.valueOf(t.clips()));
        card(h, "failed clips", String.valueOf(t.failed()));
        card(h, "GPU hours", Svg.fmt(t.gpuHours()));
        card(h, "mean tile sparsity", Svg.fmt(t.tileSparsity()));
        card(h, "mean compute saved", Svg.fmt(t.computeSaved()));
        card(h, "sampled layer×steps", String.valueOf(t.sampledLayerSteps()));
        card(h, "dense reference clips", String.valueOf(t.referenceClips()));
        h.append("</div></section>\n");
    }

    private static void card(StringBuilder h, String label, String value) {
        h.append("<div class=\"card\"><div class=\"v\">").append(e(value)).append("</div><div class=\"l\">")
                .append(e(label)).append("</div></div>");
    }

    private static void heatmaps(StringBuilder h, ReportData d) {
        section(h, "chart-heatmap", "Tile sparsity per layer × step, per policy");
        Map<String, List<ReportData.HeatCell>> byKey = new TreeMap<>();
        for (ReportData.HeatCell c : d.heat()) {
            byKey.computeIfAbsent(c.policy() + " · " + c.model(), k -> new ArrayList<>()).add(c);
        }
        if (byKey.isEmpty()) {
            empty(h, "No layer × step statistics in range.");
        }
        h.append("<div class=\"grid\">");
        for (Map.Entry<String, List<ReportData.HeatCell>> en : byKey.entrySet()) {
            int layers = 0;
            int steps = 0;
            for (ReportData.HeatCell c : en.getValue()) {
                layers = Math.max(layers, c.layer() + 1);
                steps = Math.max(steps, c.step() + 1);
            }
            double[][] v = new double[layers][steps];
            for (double[] row : v) {
                java.util.Arrays.fill(row, Double.NaN);
            }
            for (ReportData.HeatCell c : en.getValue()) {
                v[c.layer()][c.step()] = c.tileSparsity();
            }
            h.append("<figure><figcaption>").append(e(en.getKey())).append("</figcaption>")
                    .append(Svg.heatmap("heatmap", v, "step", "layer", en.getKey())).append("</figure>");
        }
        h.append("</div></section>\n");
    }

    private static void recall(StringBuilder h, ReportData d) {
        section(h, "chart-recall", "Recall distribution (sampled layer × step rows)");
        List<String> policies = new ArrayList<>(new TreeSet<>(d.recall().stream().map(ReportData.HistBin::policy).toList()));
        if (policies.isEmpty()) {
            empty(h, "No sampled recall in range: recall is measured only on sampled heads of sparse policies.");
        } else {
            int bins = 20;
            double[] edges = new double[bins + 1];
            for (int i = 0; i <= bins; i++) {
                edges[i] = i / (double) bins;
            }
            long[][] counts = new long[policies.size()][bins];
            for (ReportData.HistBin b : d.recall()) {
                int i = (int) Math.round(b.lo() * bins);
                counts[policies.indexOf(b.policy())][Math.max(0, Math.min(bins - 1, i))] += b.count();
            }
            h.append(Svg.histogram("recall", policies, edges, counts, "recall (mean over sampled heads)"));
        }
        h.append("</section>\n");
    }

    private static void scatter(StringBuilder h, ReportData d) {
        section(h, "chart-scatter", "Sparsity versus quality against the dense reference");
        List<ReportData.ClipPoint> refs = d.clips().stream().filter(ReportData.ClipPoint::hasReference).toList();
        // the PSNR, SSIM and attention-error charts list every policy of the plotted clips, so a policy has one
        // colour in all three
        List<String> policies = d.clips().stream().map(ReportData.ClipPoint::policy).distinct().sorted().toList();
        if (refs.isEmpty()) {
            empty(h, "No reference clips in range: run generate with --reference-fraction F to re-render a sample of "
                    + "clips with dense attention and measure PSNR and SSIM against it.");
        } else {
            long identical = refs.stream().filter(c -> c.psnr() == Double.POSITIVE_INFINITY).count();
            List<Svg.Series> psnr = quality(refs, c -> c.psnr(), policies);
            h.append("<div class=\"grid\"><figure><figcaption>PSNR of the frames (dB, RGB)</figcaption>");
            if (identical == refs.size()) {
                h.append("<p class=\"note\">Every reference clip is identical to its dense render (infinite PSNR).</p>");
            } else {
                h.append(Svg.scatter("scatter", psnr, "clip tile sparsity", "PSNR vs dense (dB)", false));
            }
            h.append("</figure><figure><figcaption>SSIM of the frames (luma)</figcaption>")
                    .append(Svg.scatter("scatter-ssim", quality(refs, c -> c.ssim(), policies), "clip tile sparsity",
                            "SSIM vs dense", false))
                    .append("</figure></div>");
            if (identical > 0) {
                h.append("<p class=\"note\">").append(identical).append(" of ").append(refs.size())
                        .append(" reference clips are identical to their dense render (infinite PSNR): they are left out"
                                + " of the PSNR chart and drawn at SSIM 1.</p>");
            }
        }
        if (d.clips().size() < d.clipsTotal()) {
            h.append("<p class=\"note\">The first ").append(d.clips().size()).append(" of ").append(d.clipsTotal())
                    .append(" clips (by day and id) are plotted.</p>");
        }
        h.append("</section>\n");
        section(h, "chart-error", "Sparsity versus attention error (sampled heads)");
        List<Svg.Series> err = quality(d.clips(), c -> c.relL2(), policies);
        if (err.isEmpty()) {
            empty(h, "No sampled attention error in range: it is measured only on sampled heads of sparse policies.");
        } else {
            h.append(Svg.scatter("error", err, "clip tile sparsity", "attention rel. L2 vs dense", false));
        }
        h.append("</section>\n");
    }

    /**
     * One series per policy in {@code policies} (possibly empty) of (tile sparsity, y) for the clips where both
     * are finite; no series at all when no clip has a point.
     */
    private static List<Svg.Series> quality(List<ReportData.ClipPoint> clips,
                                            java.util.function.ToDoubleFunction<ReportData.ClipPoint> y,
                                            List<String> policies) {
        Map<String, List<Svg.Point>> m = new LinkedHashMap<>();
        policies.forEach(p -> m.put(p, new ArrayList<>()));
        boolean any = false;
        for (ReportData.ClipPoint c : clips) {
            double v = y.applyAsDouble(c);
            if (Double.isFinite(v) && Double.isFinite(c.tileSparsity()) && m.containsKey(c.policy())) {
                m.get(c.policy()).add(new Svg.Point(c.tileSparsity(), v, label(c)));
                any = true;
            }
        }
        return any ? m.entrySet().stream().map(en -> new Svg.Series(en.getKey(), en.getValue())).toList() : List.of();
    }

    /** A point's tooltip: the clip and, for reference clips, every quality number. */
    private static String label(ReportData.ClipPoint c) {
        if (!c.hasReference()) {
            return c.clipId();
        }
        return c.clipId() + " (PSNR " + (c.psnr() == Double.POSITIVE_INFINITY ? "∞" : Svg.fmt(c.psnr()))
                + " dB, SSIM " + String.format(java.util.Locale.ROOT, "%.4f", c.ssim()) + ", latent rel. L2 " + Svg.fmt(c.latentRelL2())
                + ", flicker " + Svg.fmt(c.flicker()) + " vs dense " + Svg.fmt(c.flickerReference()) + ")";
    }

    private static void stages(StringBuilder h, ReportData d) {
        section(h, "chart-stages", "Time per clip by stage, per run (mean seconds)");
        // "total" is the sum of the others, and "attention" is time inside "dit": bars show dit without it.
        Map<String, Map<String, Double>> perRun = new LinkedHashMap<>();
        TreeSet<String> names = new TreeSet<>();
        for (ReportData.StageBar b : d.stages()) {
            if (!b.stage().equals("total")) {
                perRun.computeIfAbsent(b.runId(), k -> new TreeMap<>()).put(b.stage(), b.meanSeconds());
                names.add(b.stage());
            }
        }
        if (perRun.isEmpty()) {
            empty(h, "No stage timings in range.");
        } else {
            List<String> stageNames = new ArrayList<>(names);
            List<String> runs = new ArrayList<>(perRun.keySet());
            double[][] v = new double[runs.size()][stageNames.size()];
            for (int r = 0; r < runs.size(); r++) {
                Map<String, Double> m = perRun.get(runs.get(r));
                for (int k = 0; k < stageNames.size(); k++) {
                    double x = m.getOrDefault(stageNames.get(k), 0.0);
                    if (stageNames.get(k).equals("dit")) {
                        x -= m.getOrDefault("attention", 0.0);
                    }
                    v[r][k] = x;
                }
            }
            List<String> labels = stageNames.stream()
                    .map(n -> n.equals("dit") && names.contains("attention") ? "dit excl. attention" : n).toList();
            h.append(Svg.stackedBars("stages", runs, labels, v, "seconds per clip"));
        }
        h.append("</section>\n");
    }

    private static void nights(StringBuilder h, ReportData d) {
        section(h, "chart-throughput", "Throughput and sparsity per night");
        if (d.nights().isEmpty()) {
            empty(h, "No runs in range.");
        } else {
            List<Svg.Point> tput = new ArrayList<>();
            List<Svg.Point> sparsity = new ArrayList<>();
            for (int i = 0; i < d.nights().size(); i++) {
                ReportData.Night n = d.nights().get(i);
                tput.add(new Svg.Point(i, n.clipsPerHour(), n.dt()));
                sparsity.add(new Svg.Point(i, n.tileSparsity(), n.dt()));
            }
            String span = "night";
            List<String> days = d.nights().stream().map(ReportData.Night::dt).toList();
            h.append("<div class=\"grid\"><figure><figcaption>clips per hour</figcaption>")
                    .append(Svg.scatter("throughput", List.of(new Svg.Series("clips/h", tput)), span, "clips per hour", true, days))
                    .append("</figure><figure><figcaption>mean tile sparsity</figcaption>")
                    .append(Svg.scatter("sparsity-trend", List.of(new Svg.Series("tile sparsity", sparsity)), span,
                            "tile sparsity", true, days))
                    .append("</figure></div>");
        }
        h.append("</section>\n");
        section(h, "chart-failures", "Rendered and failed clips per night");
        if (d.nights().isEmpty()) {
            empty(h, "No runs in range.");
        } else {
            List<String> days = d.nights().stream().map(ReportData.Night::dt).toList();
            double[][] v = new double[days.size()][2];
            for (int i = 0; i < days.size(); i++) {
                v[i][0] = d.nights().get(i).rendered();
                v[i][1] = d.nights().get(i).failed();
            }
            h.append(Svg.stackedBars("failures", days, List.of("rendered", "failed"), v, "clips"));
        }
        h.append("</section>\n");
    }

    private static void worst(StringBuilder h, ReportData d) {
        section(h, "table-worst", "Worst clips");
        h.append("<h3>Lowest recall</h3>");
        worstTable(h, d.lowestRecall(), "No clip has sampled recall in range.");
        h.append("<h3>Highest attention error</h3>");
        worstTable(h, d.highestError(), "No clip has sampled attention error in range.");
        h.append("<h3>Slowest</h3>");
        worstTable(h, d.slowest(), "No clip timings in range.");
        h.append("</section>\n");
    }

    private static void worstTable(StringBuilder h, List<ReportData.WorstClip> rows, String none) {
        if (rows.isEmpty()) {
            empty(h, none);
            return;
        }
        h.append("<table><thead><tr><th>clip</th><th>run</th><th>prompt</th><th>policy</th><th>model</th>")
                .append("<th>tile sparsity</th><th>recall mean</th><th>recall p05</th><th>rel. L2</th><th>seconds</th><th>files</th></tr></thead><tbody>");
        for (ReportData.WorstClip c : rows) {
            h.append("<tr><td><code>").append(e(c.clipId())).append("</code></td><td>").append(e(c.runId()))
                    .append("</td><td class=\"prompt\">").append(e(c.prompt())).append("</td><td>").append(e(c.policy()))
                    .append("</td><td>").append(e(c.model())).append("</td><td>").append(Svg.fmt(c.tileSparsity()))
                    .append("</td><td>").append(Svg.fmt(c.recallMean())).append("</td><td>").append(Svg.fmt(c.recallP05()))
                    .append("</td><td>").append(Svg.fmt(c.relL2())).append("</td><td>").append(Svg.fmt(c.totalSeconds()))
                    .append("</td><td><a href=\"").append(e(c.videoHref()))
                    .append("\">video</a> · <a href=\"").append(e(c.sidecarHref())).append("\">sidecar</a></td></tr>");
        }
        h.append("</tbody></table>");
    }

    private static void runs(StringBuilder h, ReportData d) {
        section(h, "table-runs", "Runs");
        if (d.runs().isEmpty()) {
            empty(h, "No runs in range.");
        } else {
            h.append("<table><thead><tr><th>run</th><th>dt</th><th>model</th><th>rendered</th><th>failed</th>")
                    .append("<th>clips in stats</th><th>GPU hours</th><th>tile sparsity</th><th>clips/h</th><th>failures</th></tr></thead><tbody>");
            for (ReportData.RunRow r : d.runs()) {
                h.append("<tr><td>").append(e(r.runId())).append("</td><td>").append(e(r.dt())).append("</td><td>")
                        .append(e(r.model())).append("</td><td>").append(r.rendered()).append("</td><td>").append(r.failed())
                        .append("</td><td>").append(r.statsClips()).append("</td><td>").append(Svg.fmt(r.gpuHours()))
                        .append("</td><td>").append(Svg.fmt(r.tileSparsity())).append("</td><td>")
                        .append(Svg.fmt(r.clipsPerHour())).append("</td><td>");
                r.failures().forEach(f -> h.append("<div class=\"fail\">").append(e(f)).append("</div>"));
                h.append("</td></tr>");
            }
            h.append("</tbody></table>");
        }
        h.append("</section>\n");
    }

    private static void section(StringBuilder h, String id, String title) {
        h.append("<section id=\"").append(id).append("\" class=\"chart-section\"><h2>").append(e(title)).append("</h2>");
    }

    private static void empty(StringBuilder h, String why) {
        h.append("<p class=\"empty\">").append(e(why)).append("</p>");
    }

    private static String e(String s) {
        return Html.escape(s);
    }

    private static final String CSS = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}"
            + "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}"
            + "h3{font-size:14px}.meta{color:#666;font-size:12px}.cards{display:flex;flex-wrap:wrap;gap:10px}"
            + ".card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:110px}.card .v{font-size:20px}"
            + ".card .l{color:#666;font-size:12px}.grid{display:flex;flex-wrap:wrap;gap:18px}figure{margin:0}"
            + "figcaption{font-size:12px;color:#444}.empty{color:#8a6d3b;background:#fcf8e3;padding:8px;border-radius:4px}"
            + ".note{color:#666;font-size:12px}table{border-collapse:collapse;font-size:12px}"
            + "td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}"
            + "td.prompt{max-width:420px;white-space:pre-wrap;word-break:break-word}.fail{color:#a33}";
}
