package io.sparserender.engine.ops;

import io.sparserender.engine.tensor.Tensor;
import java.util.Arrays;
import java.util.function.DoubleBinaryOperator;
import java.util.stream.IntStream;

/**
 * The float32 host reference of {@link Ops}: plain loops, obviously correct, used by CI, the tiny
 * model and as the twin every CUDA kernel is tested against. Dot products and norms accumulate in
 * double so that the reference's own rounding stays far below the tolerances it is used with.
 */
public final class CpuOps implements Ops<Tensor> {
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);

    @Override
    public String backend() {
        return "cpu";
    }

    @Override
    public Tensor fromHost(Tensor t) {
        return t;
    }

    @Override
    public Tensor toHost(Tensor t) {
        return t;
    }

    @Override
    public int[] shape(Tensor t) {
        return t.shape();
    }

    @Override
    public Tensor reshape(Tensor t, int... shape) {
        return t.reshape(shape);
    }

    @Override
    public Tensor permute(Tensor t, int... axes) {
        int[] in = t.shape();
        int rank = in.length;
        if (axes.length != rank) {
            throw new IllegalArgumentException("Cannot permute " + t + " with axes " + Arrays.toString(axes));
        }
        int[] inStrides = strides(in);
        int[] out = new int[rank];
        int[] srcStride = new int[rank];
        boolean[] seen = new boolean[rank];
        for (int i = 0; i < rank; i++) {
            if (axes[i] < 0 || axes[i] >= rank || seen[axes[i]]) {
                throw new IllegalArgumentException("Cannot permute " + t + " with axes " + Arrays.toString(axes));
            }
            seen[axes[i]] = true;
            out[i] = in[axes[i]];
            srcStride[i] = inStrides[axes[i]];
        }
        float[] src = t.data();
        float[] dst = new float[src.length];
        int[] idx = new int[rank];
        int off = 0;
        for (int o = 0; o < dst.length; o++) {
            dst[o] = src[off];
            for (int d = rank - 1; d >= 0; d--) {
                idx[d]++;
                off += srcStride[d];
                if (idx[d] < out[d]) {
                    break;
                }
                off -= srcStride[d] * out[d];
                idx[d] = 0;
            }
        }
        return new Tensor(dst, out);
    }

    @Override
    public Tensor slice(Tensor t, int dim, int start, int end) {
        int[] s = t.shape();
        if (dim < 0 || dim >= s.length || start < 0 || end > s[dim] || start > end) {
            throw new IllegalArgumentException("Cannot slice " + t + " at dim " + dim + " [" + start + ", " + end + ")");
        }
        int outer = prod(s, 0, dim);
        int inner = prod(s, dim + 1, s.length);
        int n = end - start;
        float[] dst = new float[outer * n * inner];
        for (int o = 0; o < outer; o++) {
            System.arraycopy(t.data(), (o * s[dim] + start) * inner, dst, o * n * inner, n * inner);
        }
        int[] out = s.clone();
        out[dim] = n;
        return new Tensor(dst, out);
    }

    @Override
    public Tensor concat(int dim, java.util.List<Tensor> parts) {
        int[] first = parts.get(0).shape();
        int total = 0;
        for (Tensor p : parts) {
            int[] s = p.shape();
            for (int i = 0; i < s.length; i++) {
                if (i != dim && s[i] != first[i] || s.length != first.length) {
                    throw new IllegalArgumentException("Cannot concat " + parts + " along dim " + dim);
                }
            }
            total += s[dim];
        }
        int outer = prod(first, 0, dim);
        int inner = prod(first, dim + 1, first.length);
        int[] out = first.clone();
        out[dim] = total;
        float[] dst = new float[outer * total * inner];
        int at = 0;
        for (Tensor p : parts) {
            int n = p.dim(dim);
            for (int o = 0; o < outer; o++) {
                System.arraycopy(p.data(), o * n * inner, dst, (o * total + at) * inner, n * inner);
            }
            at += n;
        }
        return new Tensor(dst, out);
    }

    // ---- elementwise ----

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return binary(a, b, (x, y) -> x + y);
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        return binary(a, b, (x, y) -> x - y);
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return binary(a, b, (x, y) -> x * y);
    }

    private static Tensor binary(Tensor a, Tensor b, DoubleBinaryOperator f) {
        float[] x = a.data();
        float[] y = b.data();
        if (Arrays.equals(a.shape(), b.shape())) {
            float[] out = new float[x.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) f.applyAsDouble(x[i], y[i]);
            }
            return new Tensor(out, a.shape());
        }
        Broadcast bc = Broadcast.of(a.shape(), b.shape());
        int[] shape = bc.shape();
        int rank = shape.length;
        float[] out = new float[(int) Tensor.numel(shape)];
        int[] idx = new int[rank];
        int ia = 0;
        int ib = 0;
        for (int o = 0; o < out.length; o++) {
            out[o] = (float) f.applyAsDouble(x[ia], y[ib]);
            for (int d = rank - 1; d >= 0; d--) {
                idx[d]++;
                ia += bc.stridesA()[d];
                ib += bc.stridesB()[d];
                if (idx[d] < shape[d]) {
                    break;
                }
                ia -= bc.stridesA()[d] * shape[d];
                ib -= bc.stridesB()[d] * shape[d];
                idx[d] = 0;
            }
        }
        return new Tensor(out, shape);
    }

    @Override
    public Tensor addScalar(Tensor a, float s) {
        float[] x = a.data();
        float[] out = new float[x.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = x[i] + s;
        }
        return new Tensor(out, a.shape());
    }

    @Override
    public Tensor scale(Tensor a, float s) {
        float[] x = a.data();
        float[] out = new float[x.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = x[i] * s;
        }
        return new Tensor(out, a.shape());
    }

    @Override
    public Tensor silu(Tensor a) {
        float[] x = a.data();
        float[] out = new float[x.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (x[i] / (1.0 + Math.exp(-x[i])));
        }
        return new Tensor(out, a.shape());
    }

    @Override
    public Tensor geluTanh(Tensor a) {
        float[] x = a.data();
        float[] out = new float[x.length];
        for (int i = 0; i < out.length; i++) {
            double v = x[i];
            out[i] = (float) (0.5 * v * (1.0 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))));
        }
        return new Tensor(out, a.shape());
    }

    // ---- reductions over the last dimension ----

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        int d = x.dim(-1);
        checkVector(gamma, d, "layerNorm gamma");
        checkVector(beta, d, "layerNorm beta");
        float[] in = x.data();
        float[] out = new float[in.length];
        int rows = in.length / Math.max(d, 1);
        parallelRows(rows, r -> {
            int o = r * d;
            double mean = 0;
            for (int i = 0; i < d; i++) {
                mean += in[o + i];
            }
            mean /= d;
            double var = 0;
            for (int i = 0; i < d; i++) {
                double c = in[o + i] - mean;
                var += c * c;
            }
            var /= d;
            double inv = 1.0 / Math.sqrt(var + eps);
            for (int i = 0; i < d; i++) {
                double v = (in[o + i] - mean) * inv;
                if (gamma != null) {
                    v *= gamma.data()[i];
                }
                if (beta != null) {
                    v += beta.data()[i];
                }
                out[o + i] = (float) v;
            }
        });
        return new Tensor(out, x.shape());
    }

    @Override
    public Tensor rmsNorm(Tensor x, Tensor gamma, float eps) {
        int d = x.dim(-1);
        checkVector(gamma, d, "rmsNorm gamma");
        float[] in = x.data();
        float[] out = new float[in.length];
        int rows = in.length / Math.max(d, 1);
        parallelRows(rows, r -> {
            int o = r * d;
            double ss = 0;
            for (int i = 0; i < d; i++) {
                ss += (double) in[o + i] * in[o + i];
            }
            double inv = 1.0 / Math.sqrt(ss / d + eps);
            for (int i = 0; i < d; i++) {
                double v = in[o + i] * inv;
                out[o + i] = (float) (gamma != null ? v * gamma.data()[i] : v);
            }
        });
        return new Tensor(out, x.shape());
    }

    @Override
    public Tensor softmax(Tensor x) {
        int d = x.dim(-1);
        float[] in = x.data();
        float[] out = new float[in.length];
        int rows = in.length / Math.max(d, 1);
        parallelRows(rows, r -> softmaxRow(in, out, r * d, d));
        return new Tensor(out, x.shape());
    }

    private static void softmaxRow(float[] in, float[] out, int o, int d) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < d; i++) {
            max = Math.max(max, in[o + i]);
        }
        double sum = 0;
        for (int i = 0; i < d; i++) {
            sum += Math.exp(in[o + i] - max);
        }
        for (int i = 0; i < d; i++) {
            out[o + i] = (float) (Math.exp(in[o + i] - max) / sum);
        }
    }

    // ---- products ----

    @Override
    public Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        int in = x.dim(-1);
        if (weight.rank() != 2 || weight.dim(1) != in) {
            throw new IllegalArgumentException("Cannot apply linear: input " + x + " and weight " + weight
                    + " (expected [out, " + in + "])");
        }
        int outF = weight.dim(0);
        checkVector(bias, outF, "linear bias");
        float[] a = x.data();
        float[] w = weight.data();
        int rows = a.length / Math.max(in, 1);
        float[] out = new float[rows * outF];
        parallelRows(rows, r -> {
            int ao = r * in;
            for (int j = 0; j < outF; j++) {
                int wo = j * in;
                double s = bias != null ? bias.data()[j] : 0;
                for (int k = 0; k < in; k++) {
                    s += (double) a[ao + k] * w[wo + k];
                }
                out[r * outF + j] = (float) s;
            }
        });
        int[] shape = x.shape();
        shape[shape.length - 1] = outF;
        return new Tensor(out, shape);
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, float scale, Tensor bias, Tensor keyMask) {
        if (q.rank() != 4 || k.rank() != 4 || v.rank() != 4 || q.dim(0) != k.dim(0) || q.dim(2) != k.dim(2)
                || q.dim(3) != k.dim(3) || !Arrays.equals(k.shape(), v.shape())) {
            throw new IllegalArgumentException("Cannot attend: q " + q + ", k " + k + ", v " + v
                    + " (expected [B, L, H, D] with equal B, H, D)");
        }
        int b = q.dim(0);
        int lq = q.dim(1);
        int h = q.dim(2);
        int d = q.dim(3);
        int lk = k.dim(1);
        boolean batchedBias = bias != null && bias.rank() == 4;
        if (bias != null && !(batchedBias ? Arrays.equals(bias.shape(), new int[] {b, h, lq, lk})
                : Arrays.equals(bias.shape(), new int[] {h, lq, lk}))) {
            throw new IllegalArgumentException("Cannot attend: bias " + bias + " is not [H, Lq, Lk] or [B, H, Lq, Lk]");
        }
        if (keyMask != null && !Arrays.equals(keyMask.shape(), new int[] {b, lk})) {
            throw new IllegalArgumentException("Cannot attend: key mask " + keyMask + " is not [B, Lk]");
        }
        float[] qd = q.data();
        float[] kd = k.data();
        float[] vd = v.data();
        float[] out = new float[b * lq * h * d];
        parallelRows(b * h * lq, task -> {
            int bi = task / (h * lq);
            int hi = (task / lq) % h;
            int i = task % lq;
            double[] s = new double[lk];
            double max = Double.NEGATIVE_INFINITY;
            int qo = ((bi * lq + i) * h + hi) * d;
            for (int j = 0; j < lk; j++) {
                if (keyMask != null && keyMask.data()[bi * lk + j] == 0) {
                    s[j] = Double.NEGATIVE_INFINITY;
                    continue;
                }
                int ko = ((bi * lk + j) * h + hi) * d;
                double dot = 0;
                for (int c = 0; c < d; c++) {
                    dot += (double) qd[qo + c] * kd[ko + c];
                }
                dot *= scale;
                if (bias != null) {
                    dot += bias.data()[((batchedBias ? bi * h : 0) + hi) * lq * lk + i * lk + j];
                }
                s[j] = dot;
                max = Math.max(max, dot);
            }
            double sum = 0;
            for (int j = 0; j < lk; j++) {
                s[j] = s[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - max);
                sum += s[j];
            }
            for (int c = 0; c < d; c++) {
                double acc = 0;
                for (int j = 0; j < lk; j++) {
                    acc += s[j] * vd[((bi * lk + j) * h + hi) * d + c];
                }
                out[qo + c] = (float) (acc / sum);
            }
        });
        return new Tensor(out, b, lq, h, d);
    }

    // ---- helpers ----

    private static void parallelRows(int rows, java.util.function.IntConsumer body) {
        if (rows < 64) {
            for (int r = 0; r < rows; r++) {
                body.accept(r);
            }
        } else {
            IntStream.range(0, rows).parallel().forEach(body);
        }
    }

    private static void checkVector(Tensor t, int n, String what) {
        if (t != null && (t.rank() != 1 || t.dim(0) != n)) {
            throw new IllegalArgumentException("Invalid " + what + ": " + t + ", expected [" + n + "]");
        }
    }

    private static int prod(int[] s, int from, int to) {
        int p = 1;
        for (int i = from; i < to; i++) {
            p *= s[i];
        }
        return p;
    }

    static int[] strides(int[] shape) {
        int[] st = new int[shape.length];
        int s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= shape[i];
        }
        return st;
    }

    // ---- VAE ----
    // Layout: channels-first [C, T, H, W] (see Ops). conv3d is an implicit GEMM over output rows: one task
    // per output row (t, h) produces that row for every output channel, four channels at a time; for each
    // input row (c, t + dt, h + dh − padH) and tap dw, a scalar weight times the shifted input row is added
    // to the accumulator rows, so the innermost loop runs over contiguous W and vectorises. It accumulates
    // in float (at most C·kt·kh·kw terms per output; rounding stays near 1e-6 relative).

    @Override
    public Tensor zeros(int... shape) {
        return Tensor.zeros(shape);
    }

    @Override
    public Tensor conv3d(Tensor x, Tensor weight, Tensor bias, int padH, int padW) {
        if (x.rank() != 4 || weight.rank() != 5 || weight.dim(1) != x.dim(0) || padH < 0 || padW < 0) {
            throw new IllegalArgumentException("Cannot apply conv3d: input " + x + " (expected [C, T, H, W]), weight "
                    + weight + " (expected [O, C, kt, kh, kw]), padding " + padH + "x" + padW);
        }
        int c = x.dim(0);
        int t = x.dim(1);
        int h = x.dim(2);
        int w = x.dim(3);
        int o = weight.dim(0);
        int kt = weight.dim(2);
        int kh = weight.dim(3);
        int kw = weight.dim(4);
        int to = t - kt + 1;
        int ho = h + 2 * padH - kh + 1;
        int wo = w + 2 * padW - kw + 1;
        if (to <= 0 || ho <= 0 || wo <= 0) {
            throw new IllegalArgumentException("Cannot apply conv3d: input " + x + " is smaller than kernel " + weight
                    + " with padding " + padH + "x" + padW);
        }
        checkVector(bias, o, "conv3d bias");
        float[] in = x.data();
        float[] wt = weight.data();
        float[] b = bias == null ? null : bias.data();
        int ks = c * kt * kh * kw;
        float[] out = new float[o * to * ho * wo];
        parallelRows(to * ho, r -> {
            int ti = r / ho;
            int hi = r % ho;
            float[][] acc = new float[4][wo];
            for (int ob = 0; ob < o; ob += 4) {
                int nb = Math.min(4, o - ob);
                for (int j = 0; j < nb; j++) {
                    Arrays.fill(acc[j], b == null ? 0f : b[ob + j]);
                }
                float[] a0 = acc[0];
                float[] a1 = acc[1];
                float[] a2 = acc[2];
                float[] a3 = acc[3];
                for (int ci = 0; ci < c; ci++) {
                    for (int dt = 0; dt < kt; dt++) {
                        for (int dh = 0; dh < kh; dh++) {
                            int inH = hi + dh - padH;
                            if (inH < 0 || inH >= h) {
                                continue;
                            }
                            int rowBase = ((ci * t + ti + dt) * h + inH) * w;
                            int wBase = ob * ks + ((ci * kt + dt) * kh + dh) * kw;
                            if (nb == 4 && kw == 3 && padW == 1 && w >= 2) {
                                row3Taps(in, rowBase, w, wt, wBase, ks, a0, a1, a2, a3);
                                continue;
                            }
                            for (int dw = 0; dw < kw; dw++) {
                                int shift = dw - padW;
                                int x0 = Math.max(0, -shift);
                                int x1 = Math.min(wo, w - shift);
                                int src = rowBase + shift;
                                if (nb == 4) {
                                    float w0 = wt[wBase + dw];
                                    float w1 = wt[wBase + ks + dw];
                                    float w2 = wt[wBase + 2 * ks + dw];
                                    float w3 = wt[wBase + 3 * ks + dw];
                                    for (int xx = x0; xx < x1; xx++) {
                                        float v = in[src + xx];
                                        a0[xx] += w0 * v;
                                        a1[xx] += w1 * v;
                                        a2[xx] += w2 * v;
                                        a3[xx] += w3 * v;
                                    }
                                } else {
                                    for (int j = 0; j < nb; j++) {
                                        float wj = wt[wBase + j * ks + dw];
                                        float[] aj = acc[j];
                                        for (int xx = x0; xx < x1; xx++) {
                                            aj[xx] += wj * in[src + xx];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                for (int j = 0; j < nb; j++) {
                    System.arraycopy(acc[j], 0, out, (((ob + j) * to + ti) * ho + hi) * wo, wo);
                }
            }
        });
        return new Tensor(out, o, to, ho, wo);
    }

    /**
     * The common case of {@link #conv3d}'s inner loop: a 3-wide row kernel with padding 1 into four output rows.
     * All three taps go into one pass over the row (three FMAs per accumulator load and store instead of one);
     * the two edge columns, where one tap falls on the zero padding, are done apart.
     */
    private static void row3Taps(float[] in, int row, int w, float[] wt, int wBase, int ks,
            float[] a0, float[] a1, float[] a2, float[] a3) {
        float w00 = wt[wBase];
        float w01 = wt[wBase + 1];
        float w02 = wt[wBase + 2];
        float w10 = wt[wBase + ks];
        float w11 = wt[wBase + ks + 1];
        float w12 = wt[wBase + ks + 2];
        float w20 = wt[wBase + 2 * ks];
        float w21 = wt[wBase + 2 * ks + 1];
        float w22 = wt[wBase + 2 * ks + 2];
        float w30 = wt[wBase + 3 * ks];
        float w31 = wt[wBase + 3 * ks + 1];
        float w32 = wt[wBase + 3 * ks + 2];
        for (int x = 1; x < w - 1; x++) {
            float l = in[row + x - 1];
            float m = in[row + x];
            float r = in[row + x + 1];
            a0[x] += w00 * l + w01 * m + w02 * r;
            a1[x] += w10 * l + w11 * m + w12 * r;
            a2[x] += w20 * l + w21 * m + w22 * r;
            a3[x] += w30 * l + w31 * m + w32 * r;
        }
        float first = in[row];
        float second = in[row + 1];
        a0[0] += w01 * first + w02 * second;
        a1[0] += w11 * first + w12 * second;
        a2[0] += w21 * first + w22 * second;
        a3[0] += w31 * first + w32 * second;
        float beforeLast = in[row + w - 2];
        float last = in[row + w - 1];
        a0[w - 1] += w00 * beforeLast + w01 * last;
        a1[w - 1] += w10 * beforeLast + w11 * last;
        a2[w - 1] += w20 * beforeLast + w21 * last;
        a3[w - 1] += w30 * beforeLast + w31 * last;
    }

    @Override
    public Tensor channelRmsNorm(Tensor x, Tensor gamma, Tensor beta) {
        if (x.rank() < 1) {
            throw new IllegalArgumentException("Cannot apply channelRmsNorm to scalar " + x);
        }
        int c = x.dim(0);
        checkVector(gamma, c, "channelRmsNorm gamma");
        checkVector(beta, c, "channelRmsNorm beta");
        if (gamma == null) {
            throw new IllegalArgumentException("Invalid channelRmsNorm gamma: null");
        }
        int n = x.numel() / Math.max(c, 1);
        float[] in = x.data();
        double[] ss = new double[n];
        for (int ci = 0; ci < c; ci++) {
            int base = ci * n;
            for (int p = 0; p < n; p++) {
                double v = in[base + p];
                ss[p] += v * v;
            }
        }
        double sqrtC = Math.sqrt(c);
        double[] inv = new double[n];
        for (int p = 0; p < n; p++) {
            inv[p] = sqrtC / Math.max(Math.sqrt(ss[p]), 1e-12);
        }
        float[] g = gamma.data();
        float[] be = beta == null ? null : beta.data();
        float[] out = new float[in.length];
        for (int ci = 0; ci < c; ci++) {
            int base = ci * n;
            double gc = g[ci];
            double bc = be == null ? 0 : be[ci];
            for (int p = 0; p < n; p++) {
                out[base + p] = (float) (in[base + p] * inv[p] * gc + bc);
            }
        }
        return new Tensor(out, x.shape());
    }

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        if (x.rank() < 2) {
            throw new IllegalArgumentException("Cannot upsample " + x + ": needs [..., H, W]");
        }
        int h = x.dim(-2);
        int w = x.dim(-1);
        int outer = x.numel() / Math.max(h * w, 1);
        float[] in = x.data();
        float[] out = new float[in.length * 4];
        int w2 = 2 * w;
        parallelRows(outer * h, r -> {
            int src = r * w;
            int dst = (r / h) * 4 * h * w + (r % h) * 2 * w2;
            for (int xx = 0; xx < w; xx++) {
                float v = in[src + xx];
                out[dst + 2 * xx] = v;
                out[dst + 2 * xx + 1] = v;
            }
            System.arraycopy(out, dst, out, dst + w2, w2);
        });
        int[] shape = x.shape();
        shape[shape.length - 2] = 2 * h;
        shape[shape.length - 1] = w2;
        return new Tensor(out, shape);
    }

    @Override
    public Tensor repeatInterleave(Tensor x, int dim, int repeats) {
        int[] s = x.shape();
        if (dim < 0 || dim >= s.length || repeats < 1) {
            throw new IllegalArgumentException("Cannot repeat " + x + " along dim " + dim + " " + repeats + " times");
        }
        int outer = prod(s, 0, dim);
        int n = s[dim];
        int inner = prod(s, dim + 1, s.length);
        float[] in = x.data();
        float[] out = new float[in.length * repeats];
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < n; i++) {
                int src = (o * n + i) * inner;
                for (int j = 0; j < repeats; j++) {
                    System.arraycopy(in, src, out, ((o * n + i) * repeats + j) * inner, inner);
                }
            }
        }
        s[dim] = n * repeats;
        return new Tensor(out, s);
    }

    @Override
    public Tensor clamp(Tensor x, float lo, float hi) {
        float[] in = x.data();
        float[] out = new float[in.length];
        for (int i = 0; i < in.length; i++) {
            out[i] = Math.min(Math.max(in[i], lo), hi);
        }
        return new Tensor(out, x.shape());
    }

    // ---- text encoder ----

    @Override
    public Tensor embedding(Tensor table, int[] ids) {
        return Gather.rows(table, ids);
    }
}
