package io.sparserender.engine.attention;

/**
 * The (frames, rows, columns) latent token grid of a video DiT; token i sits at frame
 * i / (rows·cols), row (i / cols) % rows, column i % cols (row-major, as the patch embedding flattens).
 */
public record VideoGrid(int frames, int rows, int cols) {
    public VideoGrid {
        if (frames < 1 || rows < 1 || cols < 1) {
            throw new IllegalArgumentException("Invalid grid " + frames + "x" + rows + "x" + cols + ": every side must be at least 1");
        }
        if ((long) frames * rows * cols > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Invalid grid " + frames + "x" + rows + "x" + cols + ": too many tokens");
        }
    }

    /** Parses {@code F,R,C} or {@code FxRxC}. */
    public static VideoGrid parse(String s) {
        String[] p = s.strip().split("[,x]");
        if (p.length != 3) {
            throw new IllegalArgumentException("Invalid grid '" + s + "': expected frames,rows,cols");
        }
        try {
            return new VideoGrid(Integer.parseInt(p[0].strip()), Integer.parseInt(p[1].strip()), Integer.parseInt(p[2].strip()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("Invalid grid '" + s + "': expected three integers frames,rows,cols");
        }
    }

    public int tokens() {
        return frames * rows * cols;
    }

    public int frameOf(int token) {
        return token / (rows * cols);
    }

    public int rowOf(int token) {
        return (token / cols) % rows;
    }

    public int colOf(int token) {
        return token % cols;
    }

    @Override
    public String toString() {
        return frames + "x" + rows + "x" + cols;
    }
}
