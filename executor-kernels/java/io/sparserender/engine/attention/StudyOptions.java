package io.sparserender.engine.attention;

import java.util.LinkedHashMap;
import java.util.Map;

/** The `--flag value` pairs of the CPU study mains (SparsityStudy, HybridFloorStudy, OracleStudy). */
final class StudyOptions {
    private StudyOptions() {}

    /** Flags to values, in order; a flag without a value is refused by name. */
    static Map<String, String> parse(String[] args) {
        if (args.length % 2 != 0) {
            throw new IllegalArgumentException("Option " + args[args.length - 1] + " has no value (expected --flag value pairs)");
        }
        Map<String, String> opt = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            opt.put(args[i], args[i + 1]);
        }
        return opt;
    }
}
