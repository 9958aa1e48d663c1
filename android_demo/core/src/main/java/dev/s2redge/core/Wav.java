package dev.s2redge.core;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads RIFF/WAVE files (16/24/32-bit integer PCM or 32-bit float, any channel count) as mono float. */
public final class Wav {
    private static final int PCM = 1;
    private static final int FLOAT = 3;
    private static final int EXTENSIBLE = 0xFFFE;

    private Wav() {}

    /** Samples in [-1, 1] of one file, channels averaged, and the file's sample rate. */
    public record Pcm(float[] samples, int sampleRate) {}

    /** Read {@code path} and require it to be at {@code sampleRate} Hz (the model's rate); errors name it. */
    public static float[] readMono(Path path, int sampleRate) throws S2RException {
        Pcm pcm = read(path);
        if (pcm.sampleRate != sampleRate) {
            throw new S2RException(path + ": recorded at " + pcm.sampleRate + " Hz, the model needs " + sampleRate
                    + " Hz; convert it first (e.g. sox in.wav -r " + sampleRate + " -c 1 out.wav)");
        }
        return pcm.samples;
    }

    public static Pcm read(Path path) throws S2RException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new S2RException(path + ": cannot be read (" + e.getMessage() + ")");
        }
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 12 || !tag(buf, 0, "RIFF") || !tag(buf, 8, "WAVE")) {
            throw new S2RException(path + ": not a WAV file (no RIFF/WAVE header); pass a .wav recording");
        }
        int format = -1, channels = 0, rate = 0, bits = 0;
        for (int at = 12; at + 8 <= bytes.length; ) {
            int size = buf.getInt(at + 4);
            int body = at + 8;
            if (size < 0 || body + size > bytes.length) {
                throw new S2RException(path + ": truncated WAV (a chunk runs past the end of the file)");
            }
            if (tag(buf, at, "fmt ") && size >= 16) {
                format = buf.getShort(body) & 0xFFFF;
                channels = buf.getShort(body + 2) & 0xFFFF;
                rate = buf.getInt(body + 4);
                bits = buf.getShort(body + 14) & 0xFFFF;
                if (format == EXTENSIBLE && size >= 26) {
                    format = buf.getShort(body + 24) & 0xFFFF; // sub-format GUID starts with the format code
                }
            } else if (tag(buf, at, "data")) {
                if (format < 0) {
                    throw new S2RException(path + ": WAV data comes before its fmt chunk");
                }
                return new Pcm(decode(buf, body, size, format, channels, bits, path), rate);
            }
            at = body + size + (size & 1); // chunks are padded to an even length
        }
        throw new S2RException(path + ": WAV file has no data chunk");
    }

    private static float[] decode(ByteBuffer buf, int at, int size, int format, int channels, int bits, Path path)
            throws S2RException {
        boolean supported = (format == PCM && (bits == 16 || bits == 24 || bits == 32))
                || (format == FLOAT && bits == 32);
        if (!supported || channels < 1) {
            throw new S2RException(path + ": unsupported WAV encoding (format " + format + ", " + bits + " bits, "
                    + channels + " channels); use 16-bit PCM or 32-bit float");
        }
        int width = bits / 8;
        int frames = size / (width * channels);
        float[] out = new float[frames];
        for (int i = 0; i < frames; i++) {
            float sum = 0f;
            for (int c = 0; c < channels; c++) {
                int p = at + (i * channels + c) * width;
                sum += switch (bits) {
                    case 16 -> buf.getShort(p) / 32768f;
                    case 24 -> ((buf.get(p) & 0xFF) | (buf.get(p + 1) & 0xFF) << 8 | buf.get(p + 2) << 16) / 8388608f;
                    default -> format == FLOAT ? buf.getFloat(p) : buf.getInt(p) / 2147483648f;
                };
            }
            out[i] = sum / channels;
        }
        return out;
    }

    private static boolean tag(ByteBuffer buf, int at, String name) {
        for (int i = 0; i < 4; i++) {
            if (buf.get(at + i) != name.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
