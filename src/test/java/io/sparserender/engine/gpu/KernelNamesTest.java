package io.sparserender.engine.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every kernel name the engine looks up at start is an {@code extern "C" __global__} function of some
 * executor-kernels/cuda/*.cu file: a misspelt name would otherwise surface only on a GPU host. Kernels
 * stamped out by a function-like macro ({@code #define FA_KERNEL(D, BC) ... flash_attn_fwd_d##D##_bc##BC(}
 * and {@code FA_KERNEL(64, 32)} lines) are expanded for the check.
 */
class KernelNamesTest {
    private static final String KERNEL_HEAD = "extern\\s+\"C\"\\s+__global__\\s+void\\s+(?:__launch_bounds__\\([^)]*\\)\\s+)?";
    private static final Pattern KERNEL = Pattern.compile(KERNEL_HEAD + "(?!__launch_bounds__)(\\w+)\\s*\\(");
    private static final Pattern MACRO_KERNEL = Pattern.compile(KERNEL_HEAD + "(?!__launch_bounds__)([\\w#]+)\\s*\\(");
    private static final Pattern DEFINE = Pattern.compile("#define\\s+(\\w+)\\(([^)]*)\\)((?:[^\\n]*\\\\\\n)*[^\\n]*)");

    @Test
    void everyLookedUpKernelIsDefined() throws IOException {
        Set<String> defined = new HashSet<>();
        try (Stream<Path> files = Files.list(Path.of("executor-kernels", "cuda"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".cu")).toList()) {
                defined.addAll(kernels(Files.readString(f)));
            }
        }
        assertThat(defined).containsAll(KernelModule.KERNELS);
        assertThat(KernelModule.KERNELS).as("every defined kernel is looked up when the module loads (else launching it fails)")
                .containsAll(defined);
    }

    @Test
    void macroStampedKernelsAreExpanded() {
        String src = "#define K(D, BC) \\\n  extern \"C\" __global__ void __launch_bounds__(128, 2) k_d##D##_bc##BC(P p) { \\\n body; }\n"
                + "K(64, 32)\nK(128, 64)\nextern \"C\" __global__ void plain(int x) {}\n";
        assertThat(kernels(src)).containsExactlyInAnyOrder("k_d64_bc32", "k_d128_bc64", "plain");
    }

    static Set<String> kernels(String source) {
        Set<String> names = new HashSet<>();
        Matcher m = KERNEL.matcher(source);
        while (m.find()) {
            names.add(m.group(1));
        }
        Matcher d = DEFINE.matcher(source);
        while (d.find()) {
            Matcher k = MACRO_KERNEL.matcher(d.group(3));
            List<String> params = List.of(d.group(2).split("\\s*,\\s*"));
            while (k.find()) { // every kernel the macro stamps, not only the first
                if (!k.group(1).contains("##")) {
                    continue;
                }
                Matcher use = Pattern.compile("(?m)^" + d.group(1) + "\\(([^)]*)\\)").matcher(source);
                while (use.find()) {
                    String[] args = use.group(1).split("\\s*,\\s*");
                    String name = k.group(1);
                    for (int i = 0; i < params.size() && i < args.length; i++) {
                        name = name.replaceAll("(?<=^|##)" + Pattern.quote(params.get(i).strip()) + "(?=##|$)", args[i].strip());
                    }
                    names.add(name.replace("##", ""));
                }
            }
        }
        return names;
    }
}
