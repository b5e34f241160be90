package io.sparserender.engine.vae;

import io.sparserender.engine.ops.Ops;

/** norm → SiLU → causal conv → norm → SiLU → causal conv, plus the input (through a 1×1×1 conv when widths differ). */
final class VaeResidualBlock<T> {
    private final T gamma1;
    private final CausalConv3d<T> conv1;
    private final T gamma2;
    private final CausalConv3d<T> conv2;
    private final CausalConv3d<T> shortcut; // null when in == out

    VaeResidualBlock(T gamma1, CausalConv3d<T> conv1, T gamma2, CausalConv3d<T> conv2, CausalConv3d<T> shortcut) {
        this.gamma1 = gamma1;
        this.conv1 = conv1;
        this.gamma2 = gamma2;
        this.conv2 = conv2;
        this.shortcut = shortcut;
    }

    T forward(Ops<T> ops, T x, CausalConvCache<T> cache) {
        T h = shortcut != null ? shortcut.forward(ops, x, cache) : x;
        T y = ops.channelRmsNormSilu(x, gamma1, null);
        T y1 = conv1.forward(ops, y, cache);
        ops.release(y);
        y = ops.channelRmsNormSilu(y1, gamma2, null);
        ops.release(y1);
        T y2 = conv2.forward(ops, y, cache);
        ops.release(y);
        T out = ops.add(y2, h);
        ops.release(y2);
        if (h != x) {
            ops.release(h);
        }
        return out;
    }
}
