package dev.s2redge.core;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** One searchable document of docs.jsonl: a unique id and the text shown for it. */
public record Doc(String id, String text) {

    /** Read a docs file, one {@code {"id": str, "text": str, ...}} per line; errors name file and line. */
    public static List<Doc> readAll(Path path) throws S2RException {
        List<Doc> docs = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        try (BufferedReader in = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            int n = 0;
            for (String line; (line = in.readLine()) != null; ) {
                n++;
                if (line.trim().isEmpty()) {
                    continue;
                }
                String where = path + ":" + n;
                Map<String, Object> obj;
                try {
                    obj = Json.parseObject(line);
                } catch (IllegalArgumentException e) {
                    throw new S2RException(where + ": not valid JSON (" + e.getMessage() + "); " + Manifest.FIX);
                }
                Doc doc = new Doc(Json.string(obj, "id", where), Json.string(obj, "text", where));
                if (!seen.add(doc.id)) {
                    throw new S2RException(where + ": duplicate id " + doc.id + "; " + Manifest.FIX);
                }
                docs.add(doc);
            }
        } catch (IOException e) {
            throw new S2RException(path + ": cannot be read (" + e.getMessage() + "); " + Manifest.FIX);
        }
        return docs;
    }
}
