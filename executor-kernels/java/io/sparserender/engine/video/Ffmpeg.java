package io.sparserender.engine.video;

import static org.bytedeco.ffmpeg.global.avutil.av_strerror;

/** Checks of FFmpeg return codes, each naming the call that failed. */
final class Ffmpeg {
    /** AVERROR(EAGAIN) on Linux: the codec wants input (or output) before it can go on. */
    static final int AVERROR_EAGAIN = -11;

    static {
        // FFmpeg logs to stderr from native code; keep only errors (OpenH264 warns about its own profile defaults).
        org.bytedeco.ffmpeg.global.avutil.av_log_set_level(org.bytedeco.ffmpeg.global.avutil.AV_LOG_ERROR);
    }

    private Ffmpeg() {}

    /** Loads the natives and applies the log level; call before the first FFmpeg function. */
    static void init() {}

    static int check(int ret, String call) {
        if (ret < 0) {
            throw new VideoException("FFmpeg " + call + " failed: " + describe(ret) + " (" + ret + ")");
        }
        return ret;
    }

    static String describe(int ret) {
        byte[] buf = new byte[256];
        av_strerror(ret, buf, buf.length);
        int n = 0;
        while (n < buf.length && buf[n] != 0) {
            n++;
        }
        return new String(buf, 0, n, java.nio.charset.StandardCharsets.UTF_8);
    }
}
