package io.sparserender.engine.video;

import static io.sparserender.engine.video.Ffmpeg.AVERROR_EAGAIN;
import static io.sparserender.engine.video.Ffmpeg.check;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_alloc;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_free;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_unref;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_alloc_context3;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_find_decoder;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_free_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_get_name;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_open2;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_parameters_to_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_receive_frame;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_send_packet;
import static org.bytedeco.ffmpeg.global.avformat.av_find_best_stream;
import static org.bytedeco.ffmpeg.global.avformat.av_read_frame;
import static org.bytedeco.ffmpeg.global.avformat.avformat_close_input;
import static org.bytedeco.ffmpeg.global.avformat.avformat_find_stream_info;
import static org.bytedeco.ffmpeg.global.avformat.avformat_open_input;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EOF;
import static org.bytedeco.ffmpeg.global.avutil.AVMEDIA_TYPE_VIDEO;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_RGB24;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_alloc;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_free;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_get_buffer;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_unref;
import static org.bytedeco.ffmpeg.global.swscale.SWS_BICUBIC;
import static org.bytedeco.ffmpeg.global.swscale.sws_freeContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_getContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_scale_frame;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.avcodec.AVCodecContext;
import org.bytedeco.ffmpeg.avcodec.AVPacket;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.avutil.AVDictionary;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.avutil.AVRational;
import org.bytedeco.ffmpeg.swscale.SwsContext;

/** Decodes a video file's best video stream to packed RGB24 frames with FFmpeg (for checks and tests). */
public final class Mp4Reader {
    /** A decoded video: codec name, frame size, nominal frame rate and every frame as RGB24 (H·W·3 bytes). */
    public record Video(String codec, int width, int height, double fps, List<byte[]> frames) {
        public Video {
            frames = List.copyOf(frames);
        }
    }

    private Mp4Reader() {}

    public static Video read(Path file) {
        Ffmpeg.init();
        String where = " for " + file;
        AVFormatContext format = new AVFormatContext(null);
        check(avformat_open_input(format, file.toString(), null, (AVDictionary) null), "avformat_open_input" + where);
        AVCodecContext codec = null;
        AVPacket packet = null;
        AVFrame frame = null;
        AVFrame rgb = null;
        SwsContext sws = null;
        try {
            check(avformat_find_stream_info(format, (AVDictionary) null), "avformat_find_stream_info" + where);
            int index = check(av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, (AVCodec) null, 0),
                    "av_find_best_stream(video)" + where);
            AVStream stream = format.streams(index);
            AVCodec decoder = avcodec_find_decoder(stream.codecpar().codec_id());
            if (decoder == null || decoder.isNull()) {
                throw new VideoException("Cannot read " + file + ": no decoder for codec "
                        + avcodec_get_name(stream.codecpar().codec_id()).getString());
            }
            codec = avcodec_alloc_context3(decoder);
            check(avcodec_parameters_to_context(codec, stream.codecpar()), "avcodec_parameters_to_context" + where);
            check(avcodec_open2(codec, decoder, (AVDictionary) null), "avcodec_open2(decoder)" + where);
            int w = codec.width();
            int h = codec.height();
            packet = av_packet_alloc();
            frame = av_frame_alloc();
            rgb = av_frame_alloc();
            rgb.format(AV_PIX_FMT_RGB24);
            rgb.width(w);
            rgb.height(h);
            check(av_frame_get_buffer(rgb, 0), "av_frame_get_buffer" + where);
            sws = sws_getContext(w, h, codec.pix_fmt(), w, h, AV_PIX_FMT_RGB24, SWS_BICUBIC, null, null, (double[]) null);
            List<byte[]> frames = new ArrayList<>();
            boolean flushing = false;
            while (true) {
                if (!flushing) {
                    int r = av_read_frame(format, packet);
                    if (r == AVERROR_EOF) {
                        flushing = true;
                        check(avcodec_send_packet(codec, null), "avcodec_send_packet(flush)" + where);
                    } else {
                        check(r, "av_read_frame" + where);
                        if (packet.stream_index() == index) {
                            check(avcodec_send_packet(codec, packet), "avcodec_send_packet" + where);
                        }
                        av_packet_unref(packet);
                    }
                }
                int ret;
                while ((ret = avcodec_receive_frame(codec, frame)) >= 0) {
                    check(sws_scale_frame(sws, rgb, frame), "sws_scale_frame(→ RGB24)" + where);
                    byte[] out = new byte[w * h * 3];
                    int stride = rgb.linesize(0);
                    for (int y = 0; y < h; y++) {
                        rgb.data(0).position((long) y * stride).get(out, y * w * 3, w * 3);
                    }
                    rgb.data(0).position(0);
                    frames.add(out);
                    av_frame_unref(frame);
                }
                if (ret == AVERROR_EOF) {
                    break;
                }
                if (ret != AVERROR_EAGAIN) {
                    check(ret, "avcodec_receive_frame" + where);
                }
            }
            AVRational fr = stream.avg_frame_rate();
            double fps = fr.den() == 0 ? 0 : (double) fr.num() / fr.den();
            return new Video(decoder.name().getString(), w, h, fps, frames);
        } finally {
            if (sws != null) {
                sws_freeContext(sws);
            }
            if (rgb != null) {
                av_frame_free(rgb);
            }
            if (frame != null) {
                av_frame_free(frame);
            }
            if (packet != null) {
                av_packet_free(packet);
            }
            if (codec != null) {
                avcodec_free_context(codec);
            }
            avformat_close_input(format);
        }
    }
}
