package io.sparserender.engine.quality;

/**
 * Luma of 8-bit RGB frames: Y′ = 0.299 R′ + 0.587 G′ + 0.114 B′ (the ITU-R BT.601 weights, which the MP4
 * writer's video is tagged with), full range on the 0–255 scale, not rounded.
 */
public final class Luma {
    public static final double R = 0.299;
    public static final double G = 0.587;
    public static final double B = 0.114;

    private Luma() {}

    /** The luma plane (row-major, width·height values) of one packed RGB24 frame. */
    public static double[] of(byte[] rgb24, int width, int height) {
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("Invalid frame size " + width + "x" + height + ": must be at least 1x1");
        }
        if (rgb24.length != width * height * 3) {
            throw new IllegalArgumentException("Invalid RGB24 frame: " + rgb24.length + " bytes for " + width + "x"
                    + height + ", expected " + width * height * 3);
        }
        double[] y = new double[width * height];
        for (int p = 0; p < y.length; p++) {
            y[p] = R * (rgb24[3 * p] & 0xff) + G * (rgb24[3 * p + 1] & 0xff) + B * (rgb24[3 * p + 2] & 0xff);
        }
        return y;
    }
}
