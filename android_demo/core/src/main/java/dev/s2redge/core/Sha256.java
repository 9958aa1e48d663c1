package dev.s2redge.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** Hex sha256 of a file, streamed, to check shipped files against the checksums written beside them. */
public final class Sha256 {
    private Sha256() {}

    public static String of(Path file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform provides SHA-256", e);
        }
        byte[] block = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(block)) > 0; ) {
                digest.update(block, 0, n);
            }
        }
        StringBuilder hex = new StringBuilder(64);
        for (byte b : digest.digest()) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }

    /** Fail naming {@code file} if it is missing or its sha256 is not {@code expected}. */
    public static void check(Path file, String expected, String fix) throws S2RException {
        if (!Files.isRegularFile(file)) {
            throw new S2RException(file + ": missing; " + fix);
        }
        String actual;
        try {
            actual = of(file);
        } catch (IOException e) {
            throw new S2RException(file + ": cannot be read (" + e.getMessage() + "); " + fix);
        }
        if (!actual.equals(expected)) {
            throw new S2RException(file + ": corrupt or changed since it was written (sha256 mismatch); " + fix);
        }
    }
}
