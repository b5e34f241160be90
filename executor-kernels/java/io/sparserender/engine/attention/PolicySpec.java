package io.sparserender.engine.attention;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses a policy spec {@code name[:key=value,...]}: {@code dense}, {@code topk:k=16}, {@code topp:p=0.95},
 * {@code blasst:scale=200}, {@code dynsparse:lambda=-9}, {@code dynsparse:preal=0.1},
 * {@code recall:r=0.95[,bound=max|exact|binned]}, {@code hybrid:r=0.95[,bound=…][,pre=0.2][,global=8]}; every
 * policy also takes {@code br=}, {@code bc=} (default 64) and {@code order=natural|local|estimate}
 * (default natural; estimate for hybrid). Errors are {@link IllegalArgumentException}s starting
 * "Invalid policy spec '&lt;spec&gt;': " and naming the key or value.
 */
public final class PolicySpec {
    private static final List<String> NAMES = List.of("dense", "topk", "topp", "blasst", "dynsparse", "recall", "hybrid");
    private static final List<String> TILING_KEYS = List.of("br", "bc", "order");

    private PolicySpec() {}

    public static AttentionPolicy parse(String spec) {
        if (spec == null) {
            throw new IllegalArgumentException("Invalid policy spec: null");
        }
        String s = spec.strip();
        int colon = s.indexOf(':');
        String name = (colon < 0 ? s : s.substring(0, colon)).strip();
        if (!NAMES.contains(name)) {
            throw invalid(spec, "unknown policy '" + name + "' (known: " + String.join(", ", NAMES) + ")");
        }
        Map<String, String> kv = new LinkedHashMap<>();
        if (colon >= 0) {
            String body = s.substring(colon + 1);
            if (body.isBlank()) {
                throw invalid(spec, "no key=value after ':'");
            }
            for (String part : body.split(",", -1)) {
                int eq = part.indexOf('=');
                if (eq <= 0 || eq == part.length() - 1) {
                    throw invalid(spec, "'" + part.strip() + "' is not key=value");
                }
                String key = part.substring(0, eq).strip();
                String value = part.substring(eq + 1).strip();
                if (kv.put(key, value) != null) {
                    throw invalid(spec, "key '" + key + "' given twice");
                }
            }
        }
        List<String> allowed = new ArrayList<>(switch (name) {
            case "topk" -> List.of("k");
            case "topp" -> List.of("p");
            case "blasst" -> List.of("scale");
            case "dynsparse" -> List.of("lambda", "preal");
            case "recall" -> List.of("r", "bound");
            case "hybrid" -> List.of("r", "bound", "pre", "global");
            default -> List.<String>of();
        });
        allowed.addAll(TILING_KEYS);
        for (String key : kv.keySet()) {
            if (!allowed.contains(key)) {
                throw invalid(spec, "unknown key '" + key + "' for policy '" + name + "' (keys: "
                        + String.join(", ", allowed) + ")");
            }
        }
        Reader r = new Reader(spec, kv);
        Tiling tiling = new Tiling(r.positiveInt("br", Tiling.DEFAULT_BR), r.positiveInt("bc", Tiling.DEFAULT_BC),
                r.order(name.equals("hybrid") ? VisitOrder.ESTIMATE : VisitOrder.NATURAL));
        return switch (name) {
            case "dense" -> new AttentionPolicy.Dense(tiling);
            case "topk" -> new AttentionPolicy.TopK(r.positiveInt("k", null), tiling);
            case "topp" -> new AttentionPolicy.TopP(r.fraction("p", false), tiling);
            case "blasst" -> {
                double scale = r.number("scale");
                if (!(scale > 0)) {
                    throw invalid(spec, "scale must be positive, got " + kv.get("scale"));
                }
                yield new AttentionPolicy.Blasst(scale, tiling);
            }
            case "dynsparse" -> {
                boolean hasLambda = kv.containsKey("lambda");
                boolean hasPreal = kv.containsKey("preal");
                if (hasLambda == hasPreal) {
                    throw invalid(spec, "give exactly one of 'lambda' and 'preal'");
                }
                if (hasLambda) {
                    yield new AttentionPolicy.DynSparse(r.number("lambda"), Double.NaN, tiling);
                }
                double preal = r.number("preal");
                if (!(preal > 0)) {
                    throw invalid(spec, "preal must be positive, got " + kv.get("preal"));
                }
                yield new AttentionPolicy.DynSparse(Double.NaN, preal, tiling);
            }
            case "recall" -> new AttentionPolicy.Recall(r.fraction("r", false), r.bound(), tiling);
            case "hybrid" -> new AttentionPolicy.Hybrid(r.fraction("r", false), r.bound(),
                    r.has("pre") ? r.fraction("pre", true) : AttentionPolicy.Hybrid.DEFAULT_PRE,
                    r.nonNegativeInt("global", AttentionPolicy.Hybrid.DEFAULT_GLOBAL), tiling);
            default -> throw new IllegalStateException(name);
        };
    }

    /** Splits a list of specs separated by ';' or by newlines ('#' starts a comment line). */
    public static List<AttentionPolicy> parseList(String specs) {
        List<AttentionPolicy> out = new ArrayList<>();
        for (String line : specs.split("[;\\n]")) {
            String t = line.strip();
            if (!t.isEmpty() && !t.startsWith("#")) {
                out.add(parse(t));
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("Invalid policy list: no spec in '" + specs.strip() + "'");
        }
        return out;
    }

    /** A number as written in canonical specs: no trailing zeros, no exponent for ordinary values. */
    static String num(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }

    static IllegalArgumentException invalid(String spec, String what) {
        return new IllegalArgumentException("Invalid policy spec '" + spec + "': " + what);
    }

    private record Reader(String spec, Map<String, String> kv) {
        boolean has(String key) {
            return kv.containsKey(key);
        }

        String required(String key) {
            String v = kv.get(key);
            if (v == null) {
                throw invalid(spec, "missing required key '" + key + "'");
            }
            return v;
        }

        double number(String key) {
            String v = required(key);
            double d;
            try {
                d = Double.parseDouble(v);
            } catch (NumberFormatException e) {
                throw invalid(spec, "value of '" + key + "' is not a number: '" + v + "'");
            }
            if (!Double.isFinite(d)) {
                throw invalid(spec, "value of '" + key + "' is not finite: '" + v + "'");
            }
            return d;
        }

        /** A number in (0, 1], or [0, 1] when {@code zeroAllowed}. */
        double fraction(String key, boolean zeroAllowed) {
            double d = number(key);
            if (!(d <= 1 && (zeroAllowed ? d >= 0 : d > 0))) {
                throw invalid(spec, key + " must be in " + (zeroAllowed ? "[0, 1]" : "(0, 1]") + ", got " + kv.get(key));
            }
            return d;
        }

        int nonNegativeInt(String key, int dflt) {
            if (!kv.containsKey(key)) {
                return dflt;
            }
            String v = kv.get(key);
            int i;
            try {
                i = Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw invalid(spec, "value of '" + key + "' is not an integer: '" + v + "'");
            }
            if (i < 0) {
                throw invalid(spec, key + " must be at least 0, got " + v);
            }
            return i;
        }

        int positiveInt(String key, Integer dflt) {
            if (!kv.containsKey(key) && dflt != null) {
                return dflt;
            }
            String v = required(key);
            int i;
            try {
                i = Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw invalid(spec, "value of '" + key + "' is not an integer: '" + v + "'");
            }
            if (i < 1) {
                throw invalid(spec, key + " must be at least 1, got " + v);
            }
            return i;
        }

        VisitOrder order(VisitOrder dflt) {
            if (!kv.containsKey("order")) {
                return dflt;
            }
            VisitOrder o = VisitOrder.fromSpec(kv.get("order"));
            if (o == null) {
                throw invalid(spec, "unknown order '" + kv.get("order") + "' (known: natural, local, estimate)");
            }
            return o;
        }

        RecallBound bound() {
            if (!kv.containsKey("bound")) {
                return RecallBound.MAX;
            }
            RecallBound b = RecallBound.fromSpec(kv.get("bound"));
            if (b == null) {
                throw invalid(spec, "unknown bound '" + kv.get("bound") + "' (known: max, exact, binned)");
            }
            return b;
        }
    }
}
