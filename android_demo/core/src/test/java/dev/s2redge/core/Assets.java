package dev.s2redge.core;

import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** The folder android_demo/make_assets.py --golden wrote: model/, index/ and golden/ (spoken queries, hits). */
final class Assets {
    private Assets() {}

    static Path dir() {
        Path dir = Paths.get(System.getProperty("s2r.assets", "build/test-assets"));
        assertTrue(dir + " is missing: run `make android-core-test`, which writes it with make_assets.py --golden",
                Files.isDirectory(dir.resolve("golden")));
        return dir;
    }

    static Path index() {
        return dir().resolve("index");
    }

    static Path model() {
        return dir().resolve("model").resolve("encoder_int8.pte");
    }

    /** The spoken golden queries: {"wav", "vector", "hits", "chunks", ...} per line of golden/queries.jsonl. */
    static List<Map<String, Object>> queries() throws IOException {
        return lines("queries.jsonl");
    }

    /** Random unit query vectors with hnswlib's hits for them: {"vector", "hits"} per line. */
    static List<Map<String, Object>> randomQueries() throws IOException {
        return lines("random.jsonl");
    }

    private static List<Map<String, Object>> lines(String name) throws IOException {
        List<Map<String, Object>> out = new ArrayList<>();
        for (String line : Files.readAllLines(dir().resolve("golden").resolve(name))) {
            out.add(Json.parseObject(line));
        }
        return out;
    }

    static float[] floats(List<?> values) {
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Double) values.get(i)).floatValue();
        }
        return out;
    }

    /** A writable copy of a folder, for tests that damage files. */
    static Path copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        return to;
    }

    static void delete(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                Files.delete(f);
            }
        }
    }
}
