package dev.s2redge.core;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * What the app must know about the exported encoder: the constant methods baked into the .pte (sample rate,
 * chunk size, embedding size, version, teacher) plus the shapes of the state tensors carried between steps,
 * which the Android Module API cannot read from the program, so they travel in a JSON file beside it.
 */
public record ModelInfo(
        int sampleRate, int chunkSamples, int embDim, String modelVersion, String teacher, List<long[]> stateShapes) {

    static final String FIX = "regenerate the app assets with android_demo/make_assets.py";

    /** The metadata file that sits beside {@code pte}: {@code encoder_int8.pte} -> {@code encoder_int8.json}. */
    public static Path sidecar(Path pte) {
        String name = pte.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return pte.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + ".json");
    }

    /** Read the metadata beside {@code pte} and check the .pte against the sha256 it records. */
    public static ModelInfo load(Path pte) throws S2RException {
        Path json = sidecar(pte);
        Map<String, Object> obj = Json.readObject(json, FIX);
        String where = json.toString();
        Sha256.check(pte, Json.string(obj, "sha256", where), FIX);
        List<long[]> shapes = new ArrayList<>();
        for (Object shape : Json.array(obj, "state_shapes", where)) {
            if (!(shape instanceof List<?> dims)) {
                throw new S2RException(where + ": \"state_shapes\" must be a list of shapes; " + FIX);
            }
            long[] s = new long[dims.size()];
            for (int i = 0; i < s.length; i++) {
                if (!(dims.get(i) instanceof Double d) || d < 1 || d % 1 != 0) {
                    throw new S2RException(where + ": state shape " + dims + " is not a list of sizes; " + FIX);
                }
                s[i] = d.longValue();
            }
            shapes.add(s);
        }
        ModelInfo info = new ModelInfo(
                (int) Json.integer(obj, "sample_rate", where),
                (int) Json.integer(obj, "chunk_samples", where),
                (int) Json.integer(obj, "emb_dim", where),
                Json.string(obj, "model_version", where),
                Json.string(obj, "teacher", where),
                Collections.unmodifiableList(shapes));
        if (info.sampleRate < 1 || info.chunkSamples < 1 || info.embDim < 1) {
            throw new S2RException(where + ": sample_rate, chunk_samples and emb_dim must be positive; " + FIX);
        }
        return info;
    }

    /** Fail unless the constants read from the program itself agree with this file (same export). */
    public void requireProgram(Path pte, int sampleRate, int chunkSamples, int embDim, String version, String teacher)
            throws S2RException {
        if (sampleRate != this.sampleRate || chunkSamples != this.chunkSamples || embDim != this.embDim
                || !version.equals(modelVersion) || !teacher.equals(this.teacher)) {
            throw new S2RException(pte + ": its metadata (" + sampleRate + " Hz, " + chunkSamples + " samples, "
                    + embDim + "-d, v" + version + ", " + teacher + ") differs from " + sidecar(pte) + "; " + FIX);
        }
    }

    /** Fail unless an index built for this model: same vector size and teacher. */
    public void requireIndex(Manifest manifest, Path indexDir) throws S2RException {
        if (manifest.dim() != embDim || !manifest.teacher().equals(teacher)) {
            throw new S2RException(indexDir + ": holds " + manifest.dim() + "-d vectors of teacher "
                    + manifest.teacher() + ", but the model embeds " + embDim + "-d vectors of teacher " + teacher
                    + "; rebuild the index with `s2r-edge index build` or ship the matching model");
        }
    }
}
