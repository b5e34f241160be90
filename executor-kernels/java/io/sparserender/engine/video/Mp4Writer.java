package io.sparserender.engine.video;

import static io.sparserender.engine.video.Ffmpeg.AVERROR_EAGAIN;
import static io.sparserender.engine.video.Ffmpeg.check;
import static org.bytedeco.ffmpeg.global.avcodec.AV_CODEC_FLAG_GLOBAL_HEADER;
import static org.bytedeco.ffmpeg.global.avcodec.AV_CODEC_ID_H264;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_alloc;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_free;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_rescale_ts;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_unref;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_alloc_context3;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_find_encoder;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_free_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_open2;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_parameters_from_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_receive_packet;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_send_frame;
import static org.bytedeco.ffmpeg.global.avformat.AVFMT_GLOBALHEADER;
import static org.bytedeco.ffmpeg.global.avformat.AVIO_FLAG_WRITE;
import static org.bytedeco.ffmpeg.global.avformat.av_interleaved_write_frame;
import static org.bytedeco.ffmpeg.global.avformat.av_write_trailer;
import static org.bytedeco.ffmpeg.global.avformat.avformat_alloc_output_context2;
import static org.bytedeco.ffmpeg.global.avformat.avformat_free_context;
import static org.bytedeco.ffmpeg.global.avformat.avformat_new_stream;
import static org.bytedeco.ffmpeg.global.avformat.avformat_write_header;
import static org.bytedeco.ffmpeg.global.avformat.avio_closep;
import static org.bytedeco.ffmpeg.global.avformat.avio_open;
import static org.bytedeco.ffmpeg.global.avutil.AVCOL_PRI_SMPTE170M;
import static org.bytedeco.ffmpeg.global.avutil.AVCOL_RANGE_MPEG;
import static org.bytedeco.ffmpeg.global.avutil.AVCOL_SPC_SMPTE170M;
import static org.bytedeco.ffmpeg.global.avutil.AVCOL_TRC_SMPTE170M;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EOF;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_RGB24;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_YUV420P;
import static org.bytedeco.ffmpeg.global.avutil.av_dict_free;
import static org.bytedeco.ffmpeg.global.avutil.av_dict_set;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_alloc;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_free;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_get_buffer;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_make_writable;
import static org.bytedeco.ffmpeg.global.avutil.av_make_q;
import static org.bytedeco.ffmpeg.global.swscale.SWS_BICUBIC;
import static org.bytedeco.ffmpeg.global.swscale.sws_freeContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_getContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_scale_frame;

import io.sparserender.engine.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.avcodec.AVCodecContext;
import org.bytedeco.ffmpeg.avcodec.AVPacket;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVIOContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.avutil.AVDictionary;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.swscale.SwsContext;

/**
 * Writes an H.264 MP4 (yuv420p) through FFmpeg's libavformat/libavcodec (bytedeco's LGPL build, whose H.264
 * encoder is OpenH264) with bit-rate control. Frames arrive as float RGB in [−1, 1], channels first
 * [3, T, H, W] (the decoder's per-sample layout), any number of frames per call, or as packed RGB24.
 * The file is written beside the target under a hidden temporary name and moved into place by
 * {@link #close()}, so the target never holds a partial video; {@link #abort()} (or a failure) removes it.
 * Not thread-safe; one writer per file.
 */
public final class Mp4Writer implements AutoCloseable {
    private final Path target;
    private final Path tmp;
    private final int width;
    private final int height;
    private final Mp4Settings settings;
    private final byte[] rgb;
    private AVFormatContext format;
    private AVCodecContext codec;
    private AVStream stream;
    private AVFrame rgbFrame;
    private AVFrame yuvFrame;
    private AVPacket packet;
    private SwsContext sws;
    private long frames;
    private boolean done;

    private Mp4Writer(Path target, int width, int height, Mp4Settings settings) {
        this.target = target.toAbsolutePath();
        this.width = width;
        this.height = height;
        this.settings = settings;
        this.rgb = new byte[width * height * 3];
        try {
            Files.createDirectories(this.target.getParent());
            this.tmp = Files.createTempFile(this.target.getParent(), "." + this.target.getFileName(), ".tmp");
        } catch (IOException e) {
            throw new VideoException("Cannot create MP4 " + target + ": " + e.getMessage(), e);
        }
    }

    /** Opens a writer for {@code width}×{@code height} (both even) video at {@code settings}. */
    public static Mp4Writer open(Path target, int width, int height, Mp4Settings settings) {
        if (width < 2 || height < 2 || width % 2 != 0 || height % 2 != 0) {
            throw new IllegalArgumentException("Cannot write MP4 " + target + ": yuv420p needs even sizes, got "
                    + width + "x" + height);
        }
        Mp4Writer w = new Mp4Writer(target, width, height, settings);
        try {
            w.start();
            return w;
        } catch (RuntimeException e) {
            w.abortInto(e);
            throw e;
        }
    }

    private void start() {
        Ffmpeg.init();
        String where = " for " + target;
        format = new AVFormatContext(null);
        check(avformat_alloc_output_context2(format, null, "mp4", tmp.toString()), "avformat_alloc_output_context2(mp4)" + where);
        AVCodec encoder = avcodec_find_encoder(AV_CODEC_ID_H264);
        if (encoder == null || encoder.isNull()) {
            throw new VideoException("Cannot write MP4 " + target + ": this FFmpeg build has no H.264 encoder");
        }
        stream = avformat_new_stream(format, null);
        if (stream == null || stream.isNull()) {
            throw new VideoException("FFmpeg avformat_new_stream failed" + where);
        }
        codec = avcodec_alloc_context3(encoder);
        codec.codec_id(AV_CODEC_ID_H264);
        codec.width(width);
        codec.height(height);
        codec.pix_fmt(AV_PIX_FMT_YUV420P);
        codec.time_base(av_make_q(1, settings.fps()));
        codec.framerate(av_make_q(settings.fps(), 1));
        codec.bit_rate(settings.bitRate());
        codec.rc_max_rate(settings.bitRate() * 2);
        codec.rc_buffer_size((int) Math.min(Integer.MAX_VALUE, settings.bitRate() * 2));
        codec.gop_size(settings.gopFrames());
        codec.max_b_frames(0);
        codec.color_range(AVCOL_RANGE_MPEG);
        codec.colorspace(AVCOL_SPC_SMPTE170M);
        codec.color_primaries(AVCOL_PRI_SMPTE170M);
        codec.color_trc(AVCOL_TRC_SMPTE170M);
        if ((format.oformat().flags() & AVFMT_GLOBALHEADER) != 0) {
            codec.flags(codec.flags() | AV_CODEC_FLAG_GLOBAL_HEADER);
        }
        AVDictionary opts = new AVDictionary(null);
        av_dict_set(opts, "rc_mode", "bitrate", 0); // libopenh264: bit-rate rate control
        av_dict_set(opts, "allow_skip_frames", "0", 0); // never drop frames to meet the rate
        try {
            check(avcodec_open2(codec, encoder, opts), "avcodec_open2(" + encoder.name().getString() + ")" + where);
        } finally {
            av_dict_free(opts);
        }
        check(avcodec_parameters_from_context(stream.codecpar(), codec), "avcodec_parameters_from_context" + where);
        stream.time_base(codec.time_base());
        stream.avg_frame_rate(av_make_q(settings.fps(), 1));
        AVIOContext pb = new AVIOContext(null);
        check(avio_open(pb, tmp.toString(), AVIO_FLAG_WRITE), "avio_open(" + tmp + ")");
        format.pb(pb);
        check(avformat_write_header(format, (AVDictionary) null), "avformat_write_header" + where);

        rgbFrame = frame(AV_PIX_FMT_RGB24);
        yuvFrame = frame(AV_PIX_FMT_YUV420P);
        yuvFrame.color_range(AVCOL_RANGE_MPEG);
        yuvFrame.colorspace(AVCOL_SPC_SMPTE170M);
        sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P, SWS_BICUBIC,
                null, null, (double[]) null);
        if (sws == null || sws.isNull()) {
            throw new VideoException("FFmpeg sws_getContext(RGB24 → YUV420P) failed" + where);
        }
        packet = av_packet_alloc();
    }

    private AVFrame frame(int pixFmt) {
        AVFrame f = av_frame_alloc();
        f.format(pixFmt);
        f.width(width);
        f.height(height);
        check(av_frame_get_buffer(f, 0), "av_frame_get_buffer for " + target);
        return f;
    }

    /** Appends every frame of {@code video} [3, T, H, W] with values in [−1, 1]. */
    public void write(Tensor video) {
        if (video.rank() != 4 || video.dim(0) != 3 || video.dim(2) != height || video.dim(3) != width) {
            throw new IllegalArgumentException("Cannot write " + video + " to MP4 " + target + ": expected [3, T, "
                    + height + ", " + width + "]");
        }
        for (int t = 0; t < video.dim(1); t++) {
            FrameConversion.toRgb24(video, t, rgb);
            writeRgb24(rgb);
        }
    }

    /** Appends one frame of packed RGB24 bytes (H·W·3, row-major). */
    public void writeRgb24(byte[] frame) {
        if (done) {
            throw new IllegalStateException("Cannot write to MP4 " + target + ": the writer is closed");
        }
        if (frame.length != width * height * 3) {
            throw new IllegalArgumentException("Cannot write frame of " + frame.length + " bytes to MP4 " + target
                    + ": expected " + width * height * 3);
        }
        try {
            check(av_frame_make_writable(rgbFrame), "av_frame_make_writable for " + target);
            int stride = rgbFrame.linesize(0);
            for (int y = 0; y < height; y++) {
                rgbFrame.data(0).position((long) y * stride).put(frame, y * width * 3, width * 3);
            }
            rgbFrame.data(0).position(0);
            check(av_frame_make_writable(yuvFrame), "av_frame_make_writable for " + target);
            check(sws_scale_frame(sws, yuvFrame, rgbFrame), "sws_scale_frame(RGB24 → YUV420P) for " + target);
            yuvFrame.pts(frames++);
            check(avcodec_send_frame(codec, yuvFrame), "avcodec_send_frame for " + target);
            drain();
        } catch (RuntimeException e) {
            abortInto(e);
            throw e;
        }
    }

    private void drain() {
        while (true) {
            int ret = avcodec_receive_packet(codec, packet);
            if (ret == AVERROR_EAGAIN || ret == AVERROR_EOF) {
                return;
            }
            check(ret, "avcodec_receive_packet for " + target);
            av_packet_rescale_ts(packet, codec.time_base(), stream.time_base());
            packet.stream_index(stream.index());
            int w = av_interleaved_write_frame(format, packet);
            av_packet_unref(packet);
            check(w, "av_interleaved_write_frame for " + target);
        }
    }

    public long framesWritten() {
        return frames;
    }

    public Path target() {
        return target;
    }

    /** Flushes the encoder, writes the trailer and moves the finished file onto the target. */
    @Override
    public void close() {
        if (done) {
            return;
        }
        try {
            if (frames == 0) {
                throw new VideoException("Cannot finish MP4 " + target + ": no frames were written");
            }
            check(avcodec_send_frame(codec, null), "avcodec_send_frame(flush) for " + target);
            drain();
            check(av_write_trailer(format), "av_write_trailer for " + target);
            check(avio_closep(format.pb()), "avio_closep for " + target);
            free();
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            done = true;
        } catch (IOException e) {
            VideoException v = new VideoException("Cannot move finished MP4 into " + target + ": " + e.getMessage(), e);
            abortInto(v);
            throw v;
        } catch (RuntimeException e) {
            abortInto(e);
            throw e;
        }
    }

    /** Drops the partial file; the target is left as it was. */
    public void abort() {
        RuntimeException holder = new RuntimeException();
        abortInto(holder);
        if (holder.getSuppressed().length > 0) {
            throw new VideoException("Cannot abort MP4 " + target + " cleanly", holder.getSuppressed()[0]);
        }
    }

    private void abortInto(RuntimeException primary) {
        if (done) {
            return;
        }
        done = true;
        try {
            if (format != null && !format.isNull() && format.pb() != null && !format.pb().isNull()) {
                avio_closep(format.pb());
            }
            free();
        } catch (RuntimeException e) {
            primary.addSuppressed(e);
        }
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException e) {
            primary.addSuppressed(e);
        }
    }

    private void free() {
        if (sws != null) {
            sws_freeContext(sws);
            sws = null;
        }
        if (packet != null) {
            av_packet_free(packet);
            packet = null;
        }
        if (rgbFrame != null) {
            av_frame_free(rgbFrame);
            rgbFrame = null;
        }
        if (yuvFrame != null) {
            av_frame_free(yuvFrame);
            yuvFrame = null;
        }
        if (codec != null) {
            avcodec_free_context(codec);
            codec = null;
        }
        if (format != null) {
            avformat_free_context(format);
            format = null;
        }
    }
}
