package io.sparserender.engine.model.wan;

import java.util.Arrays;

/** Shape checks of a forward's inputs against a config, with messages that name the tensor. */
public final class WanInputs {
    private WanInputs() {}

    /**
     * Checks hidden_states [B, C_in, F, H, W], timestep [B] or [B, L] and encoder_hidden_states [B, T, textDim].
     *
     * @throws IllegalArgumentException naming the first tensor that does not fit
     */
    public static void check(WanConfig c, int[] hidden, int[] timestep, int[] text) {
        if (hidden.length != 5) {
            throw bad("hidden_states", hidden, "expected rank 5 [B, C, F, H, W]");
        }
        int b = hidden[0];
        if (hidden[1] != c.inChannels()) {
            throw bad("hidden_states", hidden, hidden[1] + " channels, the model takes " + c.inChannels());
        }
        if (hidden[2] % c.patchT() != 0 || hidden[3] % c.patchH() != 0 || hidden[4] % c.patchW() != 0
                || hidden[2] == 0 || hidden[3] == 0 || hidden[4] == 0) {
            throw bad("hidden_states", hidden, "F, H, W must be positive multiples of the patch "
                    + c.patchT() + "×" + c.patchH() + "×" + c.patchW());
        }
        int tokens = tokens(c, hidden);
        if (timestep.length == 0 || timestep.length > 2 || timestep[0] != b || timestep.length == 2 && timestep[1] != tokens) {
            throw bad("timestep", timestep, "expected [" + b + "] or [" + b + ", " + tokens + "] (batch " + b + ", "
                    + tokens + " tokens)");
        }
        if (text.length != 3 || text[0] != b || text[2] != c.textDim()) {
            throw bad("encoder_hidden_states", text, "expected [" + b + ", T, " + c.textDim() + "]");
        }
        if (text[1] == 0 || text[1] > c.textLen()) {
            throw bad("encoder_hidden_states", text, "T = " + text[1] + " must be in [1, " + c.textLen() + "]");
        }
    }

    /** Tokens of a latent [B, C, F, H, W]: (F/pt)(H/ph)(W/pw). */
    public static int tokens(WanConfig c, int[] hidden) {
        return hidden[2] / c.patchT() * (hidden[3] / c.patchH()) * (hidden[4] / c.patchW());
    }

    private static IllegalArgumentException bad(String tensor, int[] shape, String why) {
        return new IllegalArgumentException("Invalid input '" + tensor + "' " + Arrays.toString(shape) + ": " + why);
    }
}
