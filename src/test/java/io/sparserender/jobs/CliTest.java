package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class CliTest {
    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    void doctorReportsEverySectionAndSucceedsWithoutAGpu() {
        Result r = run("doctor");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("java", "kernels", "nvidia driver", "cublasLt", "gemm            ", "spark           4.2.0", "hadoop          3.5.0");
        assertThat(r.out()).as("the attention kernel that would run").containsPattern("attention +[a-z0-9-]+ configured \\(SPARSE_RENDER_ATTENTION_KERNEL\\); on compute 9\\.0: .+; other cards: mma-sync");
    }

    @Test
    void everyCommandHasHelp() {
        for (String c : new String[] {"doctor", "generate", "report", "attention", "forward-check", "bench"}) {
            Result r = run(c, "--help");
            assertThat(r.code()).as(c).isZero();
            assertThat(r.out()).as(c).startsWith("Usage: sparse-render " + c);
        }
    }

    @Test
    void usageErrorsExitTwoWithOneLine() {
        Result unknown = run("doctor", "--no-such-flag");
        assertThat(unknown.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(unknown.err()).startsWith("sparse-render doctor: Unknown option: '--no-such-flag'");
        Result none = run();
        assertThat(none.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(none.err()).startsWith("sparse-render: missing command");
        assertThat(run("nonsense").code()).isEqualTo(Main.EXIT_USAGE);
    }
}
