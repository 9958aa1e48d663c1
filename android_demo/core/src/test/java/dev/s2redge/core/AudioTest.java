package dev.s2redge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** WAV reading, fixed-size chunking and endpointing on real TTS speech written by the Python side. */
public class AudioTest {
    private Path scratch;

    @Before
    public void makeScratch() throws IOException {
        scratch = Files.createTempDirectory("s2r-audio-test");
    }

    @After
    public void dropScratch() throws IOException {
        Assets.delete(scratch);
    }

    @Test
    public void chunksMatchThePythonStream() throws Exception {
        ModelInfo model = ModelInfo.load(Assets.model());
        for (Map<String, Object> q : Assets.queries()) {
            float[] samples = Wav.readMono(Assets.dir().resolve("golden").resolve((String) q.get("wav")),
                    model.sampleRate());
            Chunker chunker = new Chunker(model);
            List<float[]> chunks = new ArrayList<>();
            for (int at = 0; at < samples.length; at += 1000) { // microphone-sized reads, not chunk-sized
                chunks.addAll(chunker.accept(samples, at, Math.min(1000, samples.length - at)));
            }
            float[] tail = chunker.flush();
            if (tail != null) {
                chunks.add(tail);
            }
            assertEquals(q.get("wav") + ": chunks", ((Double) q.get("chunks")).intValue(), chunks.size());
            assertEquals(q.get("wav") + ": audio_s", (Double) q.get("audio_s"),
                    samples.length / (double) model.sampleRate(), 1e-3);
            double energy = 0, peak = 0;
            for (float s : samples) {
                energy += (double) s * s;
                peak = Math.max(peak, Math.abs(s));
            }
            assertEquals(q.get("wav") + ": rms as Python read it", (Double) q.get("rms"),
                    Math.sqrt(energy / samples.length), 1e-6);
            assertEquals(q.get("wav") + ": peak as Python read it", (Double) q.get("peak"), peak, 1e-6);
            for (float[] c : chunks) {
                assertEquals(model.chunkSamples(), c.length);
            }
            assertTrue(Arrays.equals(Arrays.copyOf(samples, model.chunkSamples()), chunks.get(0)));
            assertNull("flush empties the buffer", chunker.flush());
        }
    }

    @Test
    public void endpointerFindsTheSpokenQueryAndNothingElse() throws Exception {
        ModelInfo model = ModelInfo.load(Assets.model());
        int rate = model.sampleRate();
        float[] audio = Wav.readMono(Assets.dir().resolve("golden").resolve("padded.wav"), rate);
        Map<String, Object> truth = Json.readObject(Assets.dir().resolve("golden").resolve("padded.json"), "");
        long start = Json.integer(truth, "speech_start", "padded.json");
        long end = Json.integer(truth, "speech_end", "padded.json");

        Endpointer endpointer = new Endpointer(Endpointer.Config.DEFAULT, rate);
        List<Endpointer.Event> events = new ArrayList<>();
        Chunker chunker = new Chunker(model);
        for (float[] chunk : chunker.accept(audio)) {
            events.addAll(endpointer.accept(chunk));
        }
        assertEquals(events.toString(), 2, events.size());
        assertEquals(Endpointer.Kind.START, events.get(0).kind());
        assertEquals(Endpointer.Kind.END, events.get(1).kind());
        long tolerance = rate * 300 / 1000; // TTS leaves some quiet at both ends of its audio
        assertTrue("start " + events.get(0) + " vs " + start, Math.abs(events.get(0).sample() - start) <= tolerance);
        assertTrue("end " + events.get(1) + " vs " + end, Math.abs(events.get(1).sample() - end) <= tolerance);
        assertTrue(!endpointer.inSpeech());
    }

    @Test
    public void longQuietBackgroundIsNoQuery() throws Exception {
        ModelInfo model = ModelInfo.load(Assets.model());
        float[] audio = Wav.readMono(Assets.dir().resolve("golden").resolve("padded.wav"), model.sampleRate());
        Endpointer endpointer = new Endpointer(Endpointer.Config.DEFAULT, model.sampleRate());
        float[] background = Arrays.copyOf(audio, model.sampleRate() / 2); // the quiet room before the speech
        for (int i = 0; i < 60; i++) {
            assertTrue(endpointer.accept(background).isEmpty());
            assertTrue(endpointer.accept(new float[model.sampleRate() / 2]).isEmpty()); // digital silence too
        }
    }

    @Test
    public void badWavFilesAreRefusedByName() throws Exception {
        Path text = scratch.resolve("notes.wav");
        Files.writeString(text, "not audio at all");
        S2RException e = assertThrows(S2RException.class, () -> Wav.read(text));
        assertTrue(e.getMessage(), e.getMessage().contains("notes.wav") && e.getMessage().contains("not a WAV"));

        Path q0 = Assets.dir().resolve("golden").resolve("q0.wav");
        byte[] bytes = Files.readAllBytes(q0);
        Path cut = scratch.resolve("cut.wav");
        Files.write(cut, Arrays.copyOf(bytes, 100));
        e = assertThrows(S2RException.class, () -> Wav.read(cut));
        assertTrue(e.getMessage(), e.getMessage().contains("cut.wav") && e.getMessage().contains("truncated"));

        e = assertThrows(S2RException.class, () -> Wav.readMono(q0, 44100));
        assertTrue(e.getMessage(), e.getMessage().contains("q0.wav") && e.getMessage().contains("44100 Hz"));
    }
}
