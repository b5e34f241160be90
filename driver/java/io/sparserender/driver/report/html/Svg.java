package io.sparserender.driver.report.html;

import java.util.List;
import java.util.Locale;

/**
 * Inline SVG charts for the report: heatmap, histogram, scatter, stacked bars and lines. No script, no
 * external resource; every label passes through {@link Html#escape}, and every mark carries a
 * {@code <title>} (the browser's tooltip) with its exact value.
 */
public final class Svg {
    static final String[] PALETTE = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
        "#ff9da7", "#9c755f", "#bab0ac"};
    private static final double[][] VIRIDIS = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    private static final int L = 56;
    private static final int R = 16;
    private static final int T = 16;
    private static final int B = 44;

    private Svg() {}

    /** A point of a scatter or line series. */
    public record Point(double x, double y, String label) {}

    public record Series(String name, List<Point> points) {
        public Series {
            points = List.copyOf(points);
        }
    }

    /** Values in [0, 1] per row (y) × column (x); NaN cells are left grey. */
    public static String heatmap(String name, double[][] v, String xLabel, String yLabel, String cellTitlePrefix) {
        int rows = v.length;
        int cols = rows == 0 ? 0 : v[0].length;
        int cell = Math.max(4, Math.min(28, 560 / Math.max(1, Math.max(cols, rows))));
        int w = L + cols * cell + R + 60;
        int h = Math.max(T + rows * cell + B, T + 110 + B);
        StringBuilder s = open(name, w, h);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double x = v[r][c];
                s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">"
                                + "<title>%s</title></rect>", L + c * cell, T + r * cell, cell, cell,
                        Double.isNaN(x) ? "#dddddd" : color(x),
                        Html.escape(cellTitlePrefix + " " + yLabel + " " + r + ", " + xLabel + " " + c + ": " + fmt(x))));
            }
        }
        axisLabels(s, L + cols * cell + R, h, xLabel, yLabel);
        tick(s, L, T + rows * cell + 14, "0", "start");
        tick(s, L + cols * cell, T + rows * cell + 14, String.valueOf(cols - 1), "end");
        tick(s, L - 4, T + 10, "0", "end");
        tick(s, L - 4, T + rows * cell, String.valueOf(rows - 1), "end");
        int lx = L + cols * cell + 16;
        for (int i = 0; i <= 10; i++) {
            s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"%d\" fill=\"%s\"/>", lx,
                    T + (10 - i) * 10, 10, color(i / 10.0)));
        }
        tick(s, lx + 16, T + 10, "1", "start");
        tick(s, lx + 16, T + 110, "0", "start");
        return s.append("</svg>").toString();
    }

    /** Bars of counts over [lo, hi) bins, one colour per series, side by side. */
    public static String histogram(String name, List<String> series, double[] edges, long[][] counts, String xLabel) {
        int w = 640;
        int h = 260;
        int pw = w - L - R;
        int ph = h - T - B;
        int fullH = h + legendHeight(series);
        long maxCount = 1;
        for (long[] c : counts) {
            for (long n : c) {
                maxCount = Math.max(maxCount, n);
            }
        }
        StringBuilder s = open(name, w, fullH);
        int bins = edges.length - 1;
        double bw = (double) pw / bins;
        for (int k = 0; k < series.size(); k++) {
            for (int b = 0; b < bins; b++) {
                long n = counts[k][b];
                double bh = (double) n / maxCount * ph;
                double x = L + b * bw + k * bw / series.size();
                s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                                + "<title>%s</title></rect>", x, T + ph - bh, Math.max(1, bw / series.size() - 1), bh,
                        PALETTE[k % PALETTE.length], Html.escape(series.get(k) + " [" + fmt(edges[b]) + ", "
                                + fmt(edges[b + 1]) + "): " + n)));
            }
        }
        frame(s, pw, ph);
        tick(s, L, T + ph + 14, fmt(edges[0]), "start");
        tick(s, L + pw, T + ph + 14, fmt(edges[bins]), "end");
        tick(s, L - 4, T + 10, String.valueOf(maxCount), "end");
        tick(s, L - 4, T + ph, "0", "end");
        axisLabels(s, w, h, xLabel, "count");
        legend(s, series, h);
        return s.append("</svg>").toString();
    }

    /** Points per series on linear axes fitted to the data (and to [xMin, xMax] at least). */
    public static String scatter(String name, List<Series> series, String xLabel, String yLabel, boolean lines) {
        return scatter(name, series, xLabel, yLabel, lines, null);
    }

    /** As above; with {@code xNames}, x is an index into them and the axis ends show names, not numbers. */
    public static String scatter(String name, List<Series> series, String xLabel, String yLabel, boolean lines,
                                 List<String> xNames) {
        int w = 640;
        int h = 300;
        int pw = w - L - R;
        int ph = h - T - B;
        List<String> names = series.stream().map(Series::name).toList();
        double x0 = Double.POSITIVE_INFINITY;
        double x1 = Double.NEGATIVE_INFINITY;
        double y0 = Double.POSITIVE_INFINITY;
        double y1 = Double.NEGATIVE_INFINITY;
        for (Series ser : series) {
            for (Point p : ser.points()) {
                if (Double.isFinite(p.x()) && Double.isFinite(p.y())) {
                    x0 = Math.min(x0, p.x());
                    x1 = Math.max(x1, p.x());
                    y0 = Math.min(y0, p.y());
                    y1 = Math.max(y1, p.y());
                }
            }
        }
        if (!(x0 <= x1)) {
            x0 = 0;
            x1 = 1;
            y0 = 0;
            y1 = 1;
        }
        if (x1 - x0 < 1e-12) {
            x0 -= 0.5;
            x1 += 0.5;
        }
        if (y1 - y0 < 1e-12) {
            y0 -= 0.5;
            y1 += 0.5;
        }
        double padX = (x1 - x0) * 0.05;
        double padY = (y1 - y0) * 0.05;
        x0 -= padX;
        x1 += padX;
        y0 -= padY;
        y1 += padY;
        StringBuilder s = open(name, w, h + legendHeight(names));
        frame(s, pw, ph);
        for (int k = 0; k < series.size(); k++) {
            String colour = PALETTE[k % PALETTE.length];
            StringBuilder path = new StringBuilder();
            for (Point p : series.get(k).points()) {
                if (!Double.isFinite(p.x()) || !Double.isFinite(p.y())) {
                    continue;
                }
                double px = L + (p.x() - x0) / (x1 - x0) * pw;
                double py = T + ph - (p.y() - y0) / (y1 - y0) * ph;
                path.append(path.length() == 0 ? "M" : " L").append(String.format(Locale.ROOT, "%.1f %.1f", px, py));
                s.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\" "
                        + "fill-opacity=\"0.75\"><title>%s</title></circle>", px, py, colour,
                        Html.escape(series.get(k).name() + " " + p.label() + ": "
                                + (xNames == null ? xLabel + " " + fmt(p.x()) + ", " : "") + yLabel + " " + fmt(p.y()))));
            }
            if (lines && path.length() > 0) {
                s.append("<path d=\"").append(path).append("\" fill=\"none\" stroke=\"").append(colour)
                        .append("\" stroke-width=\"1.5\"/>");
            }
        }
        if (xNames != null && !xNames.isEmpty()) {
            tick(s, L, T + ph + 14, xNames.get(0), "start");
            tick(s, L + pw, T + ph + 14, xNames.get(xNames.size() - 1), "end");
        } else {
            tick(s, L, T + ph + 14, fmt(x0), "start");
            tick(s, L + pw, T + ph + 14, fmt(x1), "end");
        }
        tick(s, L - 4, T + 10, fmt(y1), "end");
        tick(s, L - 4, T + ph, fmt(y0), "end");
        axisLabels(s, w, h, xLabel, yLabel);
        legend(s, names, h);
        return s.append("</svg>").toString();
    }

    /** One bar per category, stacked by series; {@code v[category][series]}, NaN counted as 0. */
    public static String stackedBars(String name, List<String> categories, List<String> series, double[][] v,
                                     String yLabel) {
        int w = Math.max(300, Math.min(1100, L + R + categories.size() * 36));
        int h = 280;
        int pw = w - L - R;
        int ph = h - T - B;
        double max = 0;
        for (double[] row : v) {
            double t = 0;
            for (double x : row) {
                t += Double.isNaN(x) ? 0 : x;
            }
            max = Math.max(max, t);
        }
        if (max <= 0) {
            max = 1;
        }
        StringBuilder s = open(name, Math.max(w, 300), h + 14 + legendHeight(series));
        double bw = (double) pw / Math.max(1, categories.size());
        for (int c = 0; c < categories.size(); c++) {
            double y = T + ph;
            for (int k = 0; k < series.size(); k++) {
                double x = Double.isNaN(v[c][k]) ? 0 : v[c][k];
                double bh = x / max * ph;
                y -= bh;
                s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                                + "<title>%s</title></rect>", L + c * bw + 2, y, Math.max(1, bw - 4), bh,
                        PALETTE[k % PALETTE.length], Html.escape(categories.get(c) + " " + series.get(k) + ": " + fmt(x))));
            }
        }
        frame(s, pw, ph);
        tick(s, L - 4, T + 10, fmt(max), "end");
        tick(s, L - 4, T + ph, "0", "end");
        int longest = categories.stream().mapToInt(String::length).max().orElse(0);
        if (longest * 6.5 <= bw) {
            for (int c = 0; c < categories.size(); c++) {
                tick(s, L + (c + 0.5) * bw, T + ph + 14, categories.get(c), "middle");
            }
        } else if (!categories.isEmpty()) {
            tick(s, L, T + ph + 14, categories.get(0), "start");
            if (categories.size() > 1) {
                tick(s, L + pw, T + ph + 28, categories.get(categories.size() - 1), "end");
            }
        }
        axisLabels(s, w, h, "", yLabel);
        legend(s, series, h + 14);
        return s.append("</svg>").toString();
    }

    /** A colour on the viridis scale for {@code x} in [0, 1] (clamped). */
    static String color(double x) {
        double t = Math.max(0, Math.min(1, x)) * (VIRIDIS.length - 1);
        int i = Math.min(VIRIDIS.length - 2, (int) Math.floor(t));
        double f = t - i;
        int[] c = new int[3];
        for (int k = 0; k < 3; k++) {
            c[k] = (int) Math.round(VIRIDIS[i][k] + f * (VIRIDIS[i + 1][k] - VIRIDIS[i][k]));
        }
        return String.format(Locale.ROOT, "#%02x%02x%02x", c[0], c[1], c[2]);
    }

    static String fmt(double x) {
        if (Double.isNaN(x)) {
            return "n/a";
        }
        double a = Math.abs(x);
        if (a != 0 && (a < 1e-3 || a >= 1e6)) {
            return String.format(Locale.ROOT, "%.3g", x);
        }
        return String.format(Locale.ROOT, a >= 100 ? "%.1f" : "%.3f", x);
    }

    private static StringBuilder open(String name, int w, int h) {
        return new StringBuilder(String.format(Locale.ROOT,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-chart=\"%s\" width=\"%d\" height=\"%d\" "
                        + "viewBox=\"0 0 %d %d\" role=\"img\" font-family=\"sans-serif\" font-size=\"11\">",
                Html.escape(name), w, h, w, h));
    }

    private static void frame(StringBuilder s, int pw, int ph) {
        s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                + "stroke=\"#888\"/>", L, T, pw, ph));
    }

    private static void tick(StringBuilder s, double x, double y, String text, String anchor) {
        s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"#333\">%s</text>",
                x, y, anchor, Html.escape(text)));
    }

    private static void axisLabels(StringBuilder s, int w, int h, String x, String y) {
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#333\">%s</text>",
                (L + w - R) / 2, h - 8, Html.escape(x)));
        s.append(String.format(Locale.ROOT, "<text x=\"14\" y=\"%d\" text-anchor=\"middle\" fill=\"#333\" "
                + "transform=\"rotate(-90 14 %d)\">%s</text>", h / 2, h / 2, Html.escape(y)));
    }

    /** Height of the legend drawn below a chart: one line per series, none for a single series. */
    private static int legendHeight(List<String> names) {
        return names.size() < 2 ? 0 : names.size() * 15 + 4;
    }

    /** One line per series below the chart (whose own height is {@code top}), so long names are not cut. */
    private static void legend(StringBuilder s, List<String> names, int top) {
        if (names.size() < 2) {
            return;
        }
        for (int k = 0; k < names.size(); k++) {
            int y = top + k * 15;
            s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>",
                    L, y, PALETTE[k % PALETTE.length]));
            tick(s, L + 14, y + 9, names.get(k), "start");
        }
    }
}
