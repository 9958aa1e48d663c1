package dev.s2redge.core;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** An s2r-edge index directory (index.hnsw, docs.jsonl, manifest.json), verified on load and searched. */
public final class DocIndex {
    private final Manifest manifest;
    private final List<Doc> docs;
    private final HnswGraph graph;

    private DocIndex(Manifest manifest, List<Doc> docs, HnswGraph graph) {
        this.manifest = manifest;
        this.docs = docs;
        this.graph = graph;
    }

    /** Load {@code dir}: checksums first, then docs and graph, which must agree with the manifest. */
    public static DocIndex load(Path dir) throws S2RException {
        if (!Files.isDirectory(dir)) {
            throw new S2RException(dir + ": no such index directory; " + Manifest.FIX);
        }
        Manifest manifest = Manifest.load(dir);
        List<Doc> docs = Doc.readAll(dir.resolve("docs.jsonl"));
        if (docs.size() != manifest.count()) {
            throw new S2RException(dir + ": manifest.json counts " + manifest.count() + " docs, docs.jsonl has "
                    + docs.size() + "; " + Manifest.FIX);
        }
        Path file = dir.resolve("index.hnsw");
        HnswGraph graph = HnswGraph.read(file, manifest.dim());
        if (graph.size() != docs.size()) {
            throw new S2RException(file + ": holds " + graph.size() + " vectors for " + docs.size() + " docs; "
                    + Manifest.FIX);
        }
        for (int i = 0; i < graph.size(); i++) {
            if (graph.label(i) < 0 || graph.label(i) >= docs.size()) {
                throw new S2RException(file + ": label " + graph.label(i) + " has no line in docs.jsonl; "
                        + Manifest.FIX);
            }
        }
        return new DocIndex(manifest, docs, graph);
    }

    public Manifest manifest() {
        return manifest;
    }

    public HnswGraph graph() {
        return graph;
    }

    /** The documents, in label order (label i is row i of docs.jsonl). */
    public List<Doc> docs() {
        return Collections.unmodifiableList(docs);
    }

    public int size() {
        return docs.size();
    }

    /** Top-{@code k} docs for one unit query vector of the index's dimension, best first. */
    public List<Hit> search(float[] query, int k) {
        if (query.length != manifest.dim()) {
            throw new IllegalArgumentException("query vector has dimension " + query.length + ", the index holds "
                    + manifest.dim() + "-d vectors");
        }
        for (float v : query) {
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException("query vector contains NaN or infinite values");
            }
        }
        if (k < 1) {
            throw new IllegalArgumentException("k must be at least 1, got " + k);
        }
        k = Math.min(k, docs.size());
        List<Hit> hits = new ArrayList<>(k);
        for (HnswGraph.Neighbor nb : graph.search(query, k, Math.max(k, manifest.efSearch()))) {
            Doc doc = docs.get((int) graph.label(nb.id()));
            hits.add(new Hit(doc.id(), 1.0 - nb.distance(), doc.text()));
        }
        return hits;
    }
}
