package dev.s2redge.core;

import java.util.ArrayList;
import java.util.List;

/**
 * Energy voice-activity detection with hangover: speech starts after {@code startMs} of frames louder than
 * the tracked noise floor by {@code marginDb} (and above {@code minDb}), and ends after {@code hangoverMs} of
 * quieter frames, so pauses between words do not cut a query. Its state is separate from the encoder's, so
 * either can be reset alone.
 */
public final class Endpointer {
    private static final double SILENCE_DB = -100.0; // level of digital silence, keeps log10 finite
    private static final double FLOOR_RISE = 0.05; // the noise floor falls at once and rises this fast per frame

    /**
     * Tuning of the endpointer.
     *
     * @param frameMs analysis frame length
     * @param marginDb how far above the noise floor a frame must be to count as speech
     * @param minDb frames quieter than this are never speech (dBFS)
     * @param startMs loud time needed to start an utterance (rejects clicks)
     * @param hangoverMs quiet time that ends an utterance
     * @param maxSpeechMs an utterance is cut here even if the room never goes quiet
     */
    public record Config(int frameMs, double marginDb, double minDb, int startMs, int hangoverMs, int maxSpeechMs) {
        public static final Config DEFAULT = new Config(20, 12.0, -50.0, 100, 600, 10_000);
    }

    public enum Kind { START, END }

    /** A transition at absolute sample {@code sample} of the input: the first loud or the last loud sample. */
    public record Event(Kind kind, long sample) {}

    private final Config config;
    private final int frameSamples;
    private final int startFrames;
    private final int hangoverFrames;
    private final int maxSpeechFrames;

    private long position; // samples consumed so far
    private double frameEnergy;
    private int frameFill;
    private double noiseDb = Double.NaN;
    private boolean inSpeech;
    private int loudRun;
    private int quietRun;
    private int speechFrames;
    private long lastLoudEnd;

    public Endpointer(Config config, int sampleRate) {
        this.config = config;
        this.frameSamples = Math.max(1, sampleRate * config.frameMs() / 1000);
        this.startFrames = Math.max(1, config.startMs() / config.frameMs());
        this.hangoverFrames = Math.max(1, config.hangoverMs() / config.frameMs());
        this.maxSpeechFrames = Math.max(1, config.maxSpeechMs() / config.frameMs());
    }

    public boolean inSpeech() {
        return inSpeech;
    }

    /** The noise floor tracked so far in dBFS (NaN before the first frame). */
    public double noiseDb() {
        return noiseDb;
    }

    /** Feed samples in any block size; returns the transitions they caused, in order. */
    public List<Event> accept(float[] samples) {
        List<Event> events = new ArrayList<>(1);
        for (float s : samples) {
            frameEnergy += (double) s * s;
            position++;
            if (++frameFill == frameSamples) {
                frame(10 * Math.log10(frameEnergy / frameSamples + 1e-10), events);
                frameEnergy = 0;
                frameFill = 0;
            }
        }
        return events;
    }

    private void frame(double db, List<Event> events) {
        db = Math.max(db, SILENCE_DB);
        if (Double.isNaN(noiseDb)) {
            noiseDb = db;
        }
        boolean loud = db > Math.max(config.minDb(), noiseDb + config.marginDb());
        if (!inSpeech) {
            if (!loud) {
                noiseDb = db < noiseDb ? db : noiseDb + FLOOR_RISE * (db - noiseDb);
            }
            loudRun = loud ? loudRun + 1 : 0;
            if (loudRun >= startFrames) {
                inSpeech = true;
                quietRun = 0;
                speechFrames = loudRun;
                lastLoudEnd = position;
                events.add(new Event(Kind.START, position - (long) loudRun * frameSamples));
            }
            return;
        }
        speechFrames++;
        if (loud) {
            quietRun = 0;
            lastLoudEnd = position;
        } else {
            quietRun++;
        }
        if (quietRun >= hangoverFrames || speechFrames >= maxSpeechFrames) {
            if (speechFrames >= maxSpeechFrames && loud) {
                noiseDb = db; // the room stayed loud: take that level as the new background
            }
            inSpeech = false;
            loudRun = 0;
            events.add(new Event(Kind.END, lastLoudEnd));
        }
    }

    /** Forget the current utterance but keep the learned noise floor. */
    public void reset() {
        inSpeech = false;
        loudRun = 0;
        quietRun = 0;
        speechFrames = 0;
    }
}
