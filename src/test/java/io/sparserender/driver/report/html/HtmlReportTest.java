package io.sparserender.driver.report.html;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The HTML report without Spark: escaping in text and attributes, and honest empty sections. */
class HtmlReportTest {
    private static ReportData data(String prompt, String policy, List<ReportData.WorstClip> worst) {
        return data(worst, List.of());
    }

    private static ReportData data(List<ReportData.WorstClip> worst, List<ReportData.ClipPoint> clips) {
        return new ReportData("t", "file:///s/", "first .. last", "now",
                new ReportData.Totals(1, 1, 0, 0.5, 0.25, 0.125, 0, 0), List.of(), List.of(), clips,
                Math.max(1, clips.size()),
                List.of(new ReportData.StageBar("r1", "dit", 2.0), new ReportData.StageBar("r1", "attention", 0.5),
                        new ReportData.StageBar("r1", "total", 9.0)),
                List.of(), List.of(), worst, List.of(), List.of());
    }

    @Test
    void escapesTextAndAttributes() {
        assertThat(Html.escape("<a href=\"x\" onclick='y'>&amp;</a>\u0000"))
                .isEqualTo("&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;\uFFFD");
        assertThat(Html.escape(null)).isEmpty();
        String evil = "<script>alert(1)</script>";
        ReportData.WorstClip c = new ReportData.WorstClip("id\"><script>", "r1", evil, "p'><b>", "m", 0.5, 0.5, 0.5,
                0.5, 1.0, "file:/x\"onmouseover=\"alert(1)", "file:/y.json");
        String html = new String(HtmlReport.render(data(evil, "p", List.of(c))), StandardCharsets.UTF_8);
        assertThat(html).doesNotContain("<script", "<b>", "\"onmouseover")
                .contains("&lt;script&gt;alert(1)&lt;/script&gt;", "p&#39;&gt;&lt;b&gt;",
                        "href=\"file:/x&quot;onmouseover=&quot;alert(1)\"");
    }

    @Test
    void everyChartSectionIsPresentAndSaysWhatIsMissing() {
        String html = new String(HtmlReport.render(data("x", "p", List.of())), StandardCharsets.UTF_8);
        for (String id : HtmlReport.CHARTS) {
            assertThat(html).contains("<section id=\"" + id + "\"");
        }
        assertThat(html).contains("No reference clips in range: run generate with --reference-fraction F",
                "No sampled recall in range",
                "No clip has sampled recall in range.");
        // Stage bars: total left out, dit shown without the attention time inside it.
        assertThat(html).contains("<title>r1 dit excl. attention: 1.500</title>", "<title>r1 attention: 0.500</title>")
                .doesNotContain("r1 total");
    }

    private static String section(String html, String id) {
        int start = html.indexOf("<section id=\"" + id + "\"");
        return html.substring(start, html.indexOf("</section>", start));
    }

    @Test
    void qualityScatterDrawsReferenceClipsAndSaysWhichAreIdentical() {
        double nan = Double.NaN;
        List<ReportData.ClipPoint> clips = List.of(
                new ReportData.ClipPoint("dense1", "dense", 0.0, nan, Double.POSITIVE_INFINITY, 1.0, 0.0, 40.0, 40.0),
                new ReportData.ClipPoint("sparse1", "dynsparse", 0.5, 0.25, 33.5, 0.9915, 0.045, 40.6, 40.4),
                new ReportData.ClipPoint("plain", "dynsparse", 0.75, 0.5, nan, nan, nan, nan, nan));
        String scatter = section(new String(HtmlReport.render(data(List.of(), clips)), StandardCharsets.UTF_8),
                "chart-scatter");
        assertThat(scatter).doesNotContain("class=\"empty\"")
                .contains("data-chart=\"scatter\"", "data-chart=\"scatter-ssim\"")
                .contains("1 of 2 reference clips are identical to their dense render (infinite PSNR)");
        String psnr = scatter.substring(scatter.indexOf("data-chart=\"scatter\""), scatter.indexOf("data-chart=\"scatter-ssim\""));
        String ssim = scatter.substring(scatter.indexOf("data-chart=\"scatter-ssim\""));
        // PSNR: only the finite point; SSIM: both reference clips; the clip without a reference in neither
        assertThat(psnr).contains("<title>dynsparse sparse1 (PSNR 33.500 dB, SSIM 0.9915, latent rel. L2 0.045, "
                + "flicker 40.600 vs dense 40.400): clip tile sparsity 0.500, PSNR vs dense (dB) 33.500</title>")
                .doesNotContain("dense1", "plain");
        assertThat(ssim).contains("<title>dense dense1 (PSNR ∞ dB, SSIM 1.0000", "SSIM vs dense 1.000</title>",
                "<title>dynsparse sparse1 (PSNR 33.500").doesNotContain("plain");

        String onlyIdentical = section(new String(HtmlReport.render(data(List.of(), clips.subList(0, 1))),
                StandardCharsets.UTF_8), "chart-scatter");
        assertThat(onlyIdentical).contains("Every reference clip is identical to its dense render (infinite PSNR).",
                "data-chart=\"scatter-ssim\"").doesNotContain("data-chart=\"scatter\"");
    }

    @Test
    void heatmapColoursFollowTheValue() {
        assertThat(Svg.color(0)).isEqualTo("#440154");
        assertThat(Svg.color(1)).isEqualTo("#fde725");
        assertThat(Svg.color(2)).isEqualTo("#fde725");
        String svg = Svg.heatmap("h", new double[][] {{0.0, Double.NaN}}, "step", "layer", "p");
        assertThat(svg).contains("fill=\"#440154\"><title>p layer 0, step 0: 0.000</title>",
                "fill=\"#dddddd\"><title>p layer 0, step 1: n/a</title>");
    }
}
