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
    public Tensor concat(int dim, Tensor... parts) {
        int[] first = parts[0].shape();
        int total = 0;
        for (Tensor p : parts) {
            int[] s = p.shape();
            for (int i = 0; i < s.length; i++) {
                if (i != dim && s[i] != first[i] || s.length != first.length) {
                    throw new IllegalArgumentException("Cannot concat " + Arrays.toString(parts) + " along dim " + dim);
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

    // ---- text encoder ----

    @Override
    public Tensor embedding(Tensor table, int[] ids) {
        return Gather.rows(table, ids);
    }
}
