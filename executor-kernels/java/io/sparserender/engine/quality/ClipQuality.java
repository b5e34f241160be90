package io.sparserender.engine.quality;

/**
 * How a clip's render compares with its dense reference render (same spec, dense attention).
 *
 * @param frames           frames compared
 * @param psnr             PSNR in dB of the 8-bit RGB frames against the reference's ({@link Psnr}); +∞ when identical
 * @param ssim             mean over frames of the luma MSSIM against the reference ({@link Ssim})
 * @param latentRelL2      ‖z − z_ref‖ / ‖z_ref‖ of the sampler's final (normalised) latents ({@link RelativeL2})
 * @param flicker          this render's temporal flicker ({@link Flicker}); NaN for one frame
 * @param flickerReference the reference render's temporal flicker
 */
public record ClipQuality(int frames, double psnr, double ssim, double latentRelL2, double flicker,
                          double flickerReference) {}
