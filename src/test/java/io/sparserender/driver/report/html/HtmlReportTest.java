package io.sparserender.driver.report.html;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The HTML report without Spark: escaping in text and attributes, and honest empty sections. */
class HtmlReportTest {
    private static ReportData data(String prompt, String policy, List<ReportData.WorstClip> worst) {
        return new ReportData("t", "file:///s/", "first .. last", "now",
                new ReportData.Totals(1, 1, 0, 0.5, 0.25, 0.125, 0, 0), List.of(), List.of(), List.of(), 1,
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
        assertThat(html).contains("No reference clips sampled", "No sampled recall in range",
                "No clip has sampled recall in range.");
        // Stage bars: total left out, dit shown without the attention time inside it.
        assertThat(html).contains("<title>r1 dit excl. attention: 1.500</title>", "<title>r1 attention: 0.500</title>")
                .doesNotContain("r1 total");
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
