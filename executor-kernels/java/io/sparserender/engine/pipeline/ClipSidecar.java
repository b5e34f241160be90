package io.sparserender.engine.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparserender.engine.quality.ClipQuality;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.TreeMap;

/**
 * The JSON written beside each video ({@code clips/<clip_id>.json}): the full spec, where and when it
 * was rendered, timings per stage and the attention statistics. Written last: its presence means the
 * clip is complete. NaN statistics (not sampled) are written as null.
 *
 * <p>A clip sampled for quality ({@code --reference-fraction}) also has a {@code quality} object comparing it
 * with its dense reference render; other clips have none. Its {@code psnr} is a number in dB, or the string
 * {@code "Infinity"} when the frames are identical to the reference's (JSON has no infinity; Spark's JSON reader
 * and Python's {@code float()} both read that string as +∞). {@code flicker} fields are null for one-frame clips.
 */
public final class ClipSidecar {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ClipSidecar() {}

    public static byte[] toJson(ClipSpec spec, RenderResult result, String runId, String videoName, long videoBytes,
                                String device, Instant finished) {
        return toJson(spec, result, runId, videoName, videoBytes, null, 0, device, finished);
    }

    /**
     * As above for a clip with a dense reference render published as {@code referenceVideoName} (null when the
     * result has no reference).
     */
    public static byte[] toJson(ClipSpec spec, RenderResult result, String runId, String videoName, long videoBytes,
                                String referenceVideoName, long referenceVideoBytes, String device, Instant finished) {
        ObjectNode root = JSON.createObjectNode();
        root.put("clip_id", spec.clipId());
        root.put("run_id", runId);
        try {
            root.set("spec", JSON.readTree(spec.canonicalJson()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        root.put("video", videoName);
        root.put("video_bytes", videoBytes);
        root.put("device", device);
        root.put("finished", finished.toString());
        ObjectNode stages = root.putObject("stage_seconds");
        new TreeMap<>(result.stageSeconds()).forEach(stages::put);
        putNumber(root, "tile_sparsity", result.tileSparsity());
        putNumber(root, "compute_saved", result.computeSaved());
        root.put("peak_device_bytes", result.peakDeviceBytes());
        if (!result.stagePeakBytes().isEmpty()) {
            ObjectNode peaks = root.putObject("peak_device_bytes_by_stage");
            result.stagePeakBytes().forEach(peaks::put);
        }
        RenderResult.Reference ref = result.reference();
        if (ref != null) {
            if (referenceVideoName == null) {
                throw new IllegalArgumentException("Cannot write the sidecar of clip " + spec.clipId()
                        + ": it has a reference render but no published reference video");
            }
            ClipQuality q = ref.quality();
            ObjectNode o = root.putObject("quality");
            o.put("reference_policy", ref.policy());
            o.put("reference_clip_id", ref.clipId());
            o.put("reference_video", referenceVideoName);
            o.put("reference_video_bytes", referenceVideoBytes);
            o.put("reference_seconds", ref.seconds());
            o.put("frames", q.frames());
            if (q.psnr() == Double.POSITIVE_INFINITY) {
                o.put("psnr", "Infinity");
            } else {
                putNumber(o, "psnr", q.psnr());
            }
            putNumber(o, "ssim", q.ssim());
            putNumber(o, "latent_rel_l2", q.latentRelL2());
            putNumber(o, "flicker", q.flicker());
            putNumber(o, "flicker_reference", q.flickerReference());
        }
        ArrayNode att = root.putArray("attention");
        for (LayerStepStats s : result.attention()) {
            ObjectNode o = att.addObject();
            o.put("step", s.step());
            o.put("layer", s.layer());
            putNumber(o, "tile_sparsity", s.tileSparsity());
            putNumber(o, "compute_saved", s.computeSaved());
            putNumber(o, "recall_mean", s.recallMean());
            putNumber(o, "recall_p05", s.recallP05());
            putNumber(o, "rel_l2_vs_dense", s.relL2());
        }
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static JsonNode parse(byte[] json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("Invalid sidecar JSON: " + e.getMessage(), e);
        }
    }

    private static void putNumber(ObjectNode o, String name, double v) {
        if (Double.isFinite(v)) {
            o.put(name, v);
        } else {
            o.putNull(name);
        }
    }

}
