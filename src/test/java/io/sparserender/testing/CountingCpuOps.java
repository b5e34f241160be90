package io.sparserender.testing;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.Tensor;
import java.util.List;

/**
 * A backend for tests that counts what crosses the host boundary: every tensor operation runs on {@link CpuOps},
 * while {@link #fromHost} (uploads, in calls and values) and {@link #toHost} (read-backs) are counted. Methods with
 * defaults in {@link Ops} (the VAE's, {@code zeros}, the fused ones) keep them, so they run as a backend without
 * kernels of its own would run them.
 */
public class CountingCpuOps implements Ops<Tensor> {
    /** The reference backend every operation runs on. */
    protected final CpuOps cpu = new CpuOps();
    /** fromHost calls. */
    public int uploads;
    /** Values uploaded by fromHost. */
    public long uploadedValues;
    /** toHost calls. */
    public int readBacks;

    @Override public String backend() { return "counting"; }
    @Override public Tensor fromHost(Tensor t) { uploads++; uploadedValues += t.numel(); return t; }
    @Override public Tensor toHost(Tensor t) { readBacks++; return t; }
    @Override public int[] shape(Tensor t) { return t.shape(); }
    @Override public Tensor reshape(Tensor t, int... shape) { return cpu.reshape(t, shape); }
    @Override public Tensor permute(Tensor t, int... axes) { return cpu.permute(t, axes); }
    @Override public Tensor slice(Tensor t, int dim, int start, int end) { return cpu.slice(t, dim, start, end); }
    @Override public Tensor concat(int dim, List<Tensor> parts) { return cpu.concat(dim, parts); }
    @Override public Tensor add(Tensor a, Tensor b) { return cpu.add(a, b); }
    @Override public Tensor sub(Tensor a, Tensor b) { return cpu.sub(a, b); }
    @Override public Tensor mul(Tensor a, Tensor b) { return cpu.mul(a, b); }
    @Override public Tensor addScalar(Tensor a, float s) { return cpu.addScalar(a, s); }
    @Override public Tensor scale(Tensor a, float s) { return cpu.scale(a, s); }
    @Override public Tensor silu(Tensor a) { return cpu.silu(a); }
    @Override public Tensor geluTanh(Tensor a) { return cpu.geluTanh(a); }
    @Override public Tensor layerNorm(Tensor x, Tensor g, Tensor b, float eps) { return cpu.layerNorm(x, g, b, eps); }
    @Override public Tensor rmsNorm(Tensor x, Tensor g, float eps) { return cpu.rmsNorm(x, g, eps); }
    @Override public Tensor softmax(Tensor x) { return cpu.softmax(x); }
    @Override public Tensor linear(Tensor x, Tensor w, Tensor b) { return cpu.linear(x, w, b); }
    @Override public Tensor attention(Tensor q, Tensor k, Tensor v, float s, Tensor b, Tensor m) {
        return cpu.attention(q, k, v, s, b, m);
    }
}
