package dev.s2redge.core;

import java.util.ArrayList;
import java.util.List;

/**
 * Cuts audio arriving in any block size (a microphone read, a file) into the fixed chunks the encoder's
 * {@code step} takes; the chunk size comes from the model's {@code chunk_samples}, never a constant here.
 */
public final class Chunker {
    private final float[] pending;
    private int filled;

    public Chunker(ModelInfo model) {
        this.pending = new float[model.chunkSamples()];
    }

    public int chunkSamples() {
        return pending.length;
    }

    /** Add {@code length} samples from {@code samples[offset]}; returns the chunks they completed, in order. */
    public List<float[]> accept(float[] samples, int offset, int length) {
        List<float[]> chunks = new ArrayList<>();
        for (int i = offset; i < offset + length; ) {
            int n = Math.min(pending.length - filled, offset + length - i);
            System.arraycopy(samples, i, pending, filled, n);
            filled += n;
            i += n;
            if (filled == pending.length) {
                chunks.add(pending.clone());
                filled = 0;
            }
        }
        return chunks;
    }

    public List<float[]> accept(float[] samples) {
        return accept(samples, 0, samples.length);
    }

    /** The buffered tail zero-padded to a whole chunk, or null when nothing is buffered; empties the buffer. */
    public float[] flush() {
        if (filled == 0) {
            return null;
        }
        float[] chunk = new float[pending.length];
        System.arraycopy(pending, 0, chunk, 0, filled);
        filled = 0;
        return chunk;
    }

    /** Drop buffered samples (a new utterance starts). */
    public void reset() {
        filled = 0;
    }
}
