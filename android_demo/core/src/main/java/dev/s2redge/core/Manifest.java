package dev.s2redge.core;

import java.nio.file.Path;
import java.util.Map;

/**
 * The index directory's manifest.json (written by s2r_edge/index.py): vector size, doc count, teacher, HNSW
 * query width and the sha256 of index.hnsw and docs.jsonl, which {@link #load} checks before anything is read.
 */
public record Manifest(int dim, int count, String teacher, int efSearch) {
    public static final String FORMAT = "s2r-edge-index";
    /** v1: full vectors; v3 adds codes.npz for the Python runtime's compact search, which this reader ignores. */
    public static final java.util.Set<Double> FORMAT_VERSIONS = java.util.Set.of(1.0, 3.0);
    public static final String[] FILES = {"index.hnsw", "docs.jsonl"};
    static final String FIX = "rebuild the index with `s2r-edge index build`";

    /** Read {@code dir/manifest.json} and verify every file it lists; any problem names the file. */
    public static Manifest load(Path dir) throws S2RException {
        Path path = dir.resolve("manifest.json");
        Map<String, Object> obj = Json.readObject(path, "this is not an s2r-edge index directory; " + FIX);
        String where = path.toString();
        if (!FORMAT.equals(obj.get("format")) || !FORMAT_VERSIONS.contains(obj.get("format_version"))) {
            throw new S2RException(where + ": format " + obj.get("format") + " v" + obj.get("format_version")
                    + " is not " + FORMAT + " v1 or v3; " + FIX);
        }
        if (!"cosine".equals(obj.get("metric"))) {
            throw new S2RException(where + ": metric " + obj.get("metric") + " is not cosine; " + FIX);
        }
        Map<String, Object> files = Json.object(obj, "files", where);
        for (String name : FILES) {
            Sha256.check(dir.resolve(name), Json.string(files, name, where), FIX);
        }
        Manifest m = new Manifest(
                (int) Json.integer(obj, "dim", where),
                (int) Json.integer(obj, "count", where),
                Json.string(obj, "teacher", where),
                (int) Json.integer(Json.object(obj, "hnsw", where), "ef_search", where));
        if (m.dim < 1 || m.count < 1 || m.efSearch < 1) {
            throw new S2RException(where + ": dim, count and ef_search must be positive; " + FIX);
        }
        return m;
    }
}
