package io.sparserender.engine.quality;

/**
 * Compares a render with its reference render frame by frame, streaming both from their raw frame files:
 * PSNR over the 8-bit RGB frames, mean luma SSIM, the temporal flicker of both, and the relative L2 error of
 * the final latents. The frames are the ones handed to the H.264 encoder (before encoding), so the numbers
 * measure what the attention policy changed, not what the codec did to two slightly different inputs.
 */
public final class FrameComparison {
    private FrameComparison() {}

    public static ClipQuality compare(CapturedRender render, CapturedRender reference) {
        if (render.width() != reference.width() || render.height() != reference.height()
                || render.count() != reference.count()) {
            throw new IllegalArgumentException("Cannot compare " + render.frames() + " (" + render.count() + " frames of "
                    + render.width() + "x" + render.height() + ") with " + reference.frames() + " ("
                    + reference.count() + " frames of " + reference.width() + "x" + reference.height() + ")");
        }
        int w = render.width();
        int h = render.height();
        Psnr psnr = new Psnr();
        Flicker flicker = new Flicker();
        Flicker flickerRef = new Flicker();
        double ssimSum = 0;
        try (RawFrames.Reader a = new RawFrames.Reader(render.frames(), w, h);
             RawFrames.Reader b = new RawFrames.Reader(reference.frames(), w, h)) {
            for (int t = 0; t < render.count(); t++) {
                byte[] fa = a.next();
                byte[] fb = b.next();
                psnr.add(fa, fb);
                double[] ya = Luma.of(fa, w, h);
                double[] yb = Luma.of(fb, w, h);
                ssimSum += Ssim.mean(ya, yb, w, h);
                flicker.add(ya);
                flickerRef.add(yb);
            }
        }
        double ssim = render.count() == 0 ? Double.NaN : ssimSum / render.count();
        return new ClipQuality(render.count(), psnr.db(), ssim, RelativeL2.of(render.latents(), reference.latents()),
                flicker.score(), flickerRef.score());
    }
}
