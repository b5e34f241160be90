package io.sparserender.driver.report;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.driver.report.html.HtmlReport;
import io.sparserender.testing.LocalSpark;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTML report in a real headless browser (Debian's chromium): it loads without console errors, every
 * chart section holds a drawn chart, a prompt holding {@code <script>} shows as text, and a screenshot is
 * kept as a test artifact under target/report-artifacts/. Skipped with a reason when chromium is missing,
 * except in CI (CI=true), where that is a failure: .ci/run installs it.
 */
class ReportBrowserTest {
    static final Path ARTIFACTS = Path.of("target", "report-artifacts");

    @TempDir
    Path dir;

    @Test
    void reportRendersInChromiumWithEveryChartAndEscapedPrompts() throws Exception {
        String chromium = chromium();
        StatsFixture.write(LocalSpark.get(), dir.resolve("stats"));
        new ReportRun(LocalSpark.get(), new ReportOptions(dir.resolve("stats").toUri().toString(),
                java.time.LocalDate.parse("2026-11-01"), null, List.of(), dir.resolve("report").toUri().toString())).run();
        Path html = dir.resolve("report/report.html");

        Browser dom = browse(chromium, "--dump-dom", html);
        assertThat(dom.exit()).as(dom.stderr()).isZero();
        assertThat(dom.stderr()).as("console messages").doesNotContain("CONSOLE", "Uncaught");
        String page = dom.stdout();
        assertThat(page).contains("<h1>sparse-render sparsity report</h1>");
        for (String id : HtmlReport.CHARTS) {
            Matcher m = Pattern.compile("<section id=\"" + id + "\"[^>]*>(.*?)</section>", Pattern.DOTALL).matcher(page);
            assertThat(m.find()).as("section %s in the DOM", id).isTrue();
            assertThat(m.group(1)).as("chart %s drawn", id).containsAnyOf("<svg", "<table");
            assertThat(m.group(1)).as("chart %s has data", id).doesNotContain("class=\"empty\"");
        }
        assertThat(page).doesNotContainIgnoringCase("<script")
                .contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; \"a boat\"")
                .contains("dddd: NaN in latents &lt;b&gt;bold&lt;/b&gt;");

        Files.createDirectories(ARTIFACTS);
        Path png = ARTIFACTS.resolve("report.png").toAbsolutePath();
        Files.deleteIfExists(png);
        Browser shot = browse(chromium, "--screenshot=" + png, html);
        assertThat(shot.exit()).as(shot.stderr()).isZero();
        byte[] bytes = Files.readAllBytes(png);
        assertThat(bytes.length).isGreaterThan(10_000);
        assertThat(new String(bytes, 1, 3, StandardCharsets.US_ASCII)).isEqualTo("PNG");
        Files.copy(html, ARTIFACTS.resolve("report.html"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    record Browser(int exit, String stdout, String stderr) {}

    private Browser browse(String chromium, String action, Path html) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(chromium, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-default-apps", "--mute-audio", "--enable-logging=stderr", "--v=0",
                "--user-data-dir=" + Files.createTempDirectory(dir, "chromium"), "--window-size=1400,2000", action,
                html.toUri().toString()));
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("chromium did not finish in 60 s: " + String.join(" ", cmd));
        }
        return new Browser(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    /** The chromium binary on PATH; a visible skip outside CI when there is none, a failure in CI. */
    static String chromium() {
        for (String name : List.of("chromium", "chromium-browser")) {
            for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
                if (Files.isExecutable(Path.of(d, name))) {
                    return Path.of(d, name).toString();
                }
            }
        }
        String why = "chromium is not installed (apt-get install -y chromium; .ci/run installs it)";
        if ("true".equals(System.getenv("CI"))) {
            throw new AssertionError(why + ", and CI=true: the browser test must run in CI");
        }
        Assumptions.abort(why);
        return null;
    }
}
