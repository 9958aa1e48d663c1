package dev.s2redge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** The Java reader and search against the Python side: same hits as `s2r-edge search`, exact on the vectors. */
public class DocIndexTest {
    private Path scratch;

    @Before
    public void makeScratch() throws IOException {
        scratch = Files.createTempDirectory("s2r-index-test");
    }

    @After
    public void dropScratch() throws IOException {
        Assets.delete(scratch);
    }

    @Test
    public void sameHitsAsPythonSearch() throws Exception {
        List<Map<String, Object>> queries = Assets.queries();
        assertTrue("golden file holds queries", queries.size() >= 4);
        assertSameHits(queries);
    }

    @Test
    public void sameHitsAsHnswlibOnRandomVectors() throws Exception {
        List<Map<String, Object>> queries = Assets.randomQueries();
        assertTrue("golden file holds random queries", queries.size() >= 100);
        assertSameHits(queries);
    }

    private static void assertSameHits(List<Map<String, Object>> queries) throws Exception {
        DocIndex index = DocIndex.load(Assets.index());
        for (int i = 0; i < queries.size(); i++) {
            Map<String, Object> q = queries.get(i);
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> expected = (List<Map<String, Object>>) q.get("hits");
            List<Hit> hits = index.search(Assets.floats((List<?>) q.get("vector")), expected.size());
            assertEquals("query " + i + ": hit count", expected.size(), hits.size());
            for (int r = 0; r < hits.size(); r++) {
                String where = "query " + i + " " + q.getOrDefault("wav", "(random)") + " rank " + (r + 1);
                double score = (Double) expected.get(r).get("score");
                Object id = expected.get(r).get("id");
                assertEquals(where + " score", score, hits.get(r).score(), 1e-4);
                if (!id.equals(hits.get(r).id())) {
                    // a tie in float32 (random vectors make many): the other one of the pair must be in our list
                    assertTrue(where + " id " + hits.get(r).id() + " differs, and not by a tie",
                               hits.stream().anyMatch(h -> h.id().equals(id)
                                                           && Math.abs(h.score() - score) < 1e-5));
                    continue;
                }
                assertEquals(where + " text", expected.get(r).get("text"), hits.get(r).text());
            }
        }
    }

    @Test
    public void approximateSearchRecallsAsMuchAsHnswlib() throws Exception {
        DocIndex index = DocIndex.load(Assets.index());
        HnswGraph graph = index.graph();
        int k = 10, ours = 0, theirs = 0, total = 0;
        for (Map<String, Object> q : Assets.randomQueries()) {
            float[] query = Assets.floats((List<?>) q.get("vector"));
            List<Integer> exact = new ArrayList<>();
            for (int id = 0; id < graph.size(); id++) {
                exact.add(id);
            }
            exact.sort(Comparator.comparingDouble(id -> graph.distance(query, id)));
            List<String> approx = new ArrayList<>();
            for (Hit hit : index.search(query, k)) {
                approx.add(hit.id());
            }
            @SuppressWarnings("unchecked")
            List<String> hnswlib = ((List<Map<String, Object>>) q.get("hits")).stream()
                    .map(h -> (String) h.get("id")).collect(java.util.stream.Collectors.toList());
            for (int id : exact.subList(0, k)) {
                String docId = index.docs().get((int) graph.label(id)).id();
                ours += approx.contains(docId) ? 1 : 0;
                theirs += hnswlib.contains(docId) ? 1 : 0;
                total++;
            }
        }
        double recall = ours / (double) total, reference = theirs / (double) total;
        assertTrue("recall@10 " + recall + " vs hnswlib's " + reference + " on the same graph",
                   recall >= reference - 0.005 && recall >= 0.95);
    }

    @Test
    public void corruptIndexFileIsNamed() throws Exception {
        Path dir = Assets.copy(Assets.index(), scratch.resolve("index"));
        byte[] bytes = Files.readAllBytes(dir.resolve("index.hnsw"));
        bytes[bytes.length / 2] ^= 0x40;
        Files.write(dir.resolve("index.hnsw"), bytes);
        S2RException e = assertThrows(S2RException.class, () -> DocIndex.load(dir));
        assertTrue(e.getMessage(), e.getMessage().contains("index.hnsw") && e.getMessage().contains("sha256"));
    }

    @Test
    public void missingDocsFileIsNamed() throws Exception {
        Path dir = Assets.copy(Assets.index(), scratch.resolve("index"));
        Files.delete(dir.resolve("docs.jsonl"));
        S2RException e = assertThrows(S2RException.class, () -> DocIndex.load(dir));
        assertTrue(e.getMessage(), e.getMessage().contains("docs.jsonl") && e.getMessage().contains("missing"));
    }

    @Test
    public void truncatedGraphIsRefusedEvenWithAMatchingChecksum() throws Exception {
        Path dir = Assets.copy(Assets.index(), scratch.resolve("index"));
        Path file = dir.resolve("index.hnsw");
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length - 100));
        rewriteManifest(dir, "\"index.hnsw\": \"[0-9a-f]+\"", "\"index.hnsw\": \"" + Sha256.of(file) + "\"");
        S2RException e = assertThrows(S2RException.class, () -> DocIndex.load(dir));
        assertTrue(e.getMessage(), e.getMessage().contains("index.hnsw") && e.getMessage().contains("truncated"));
    }

    @Test
    public void dimensionMismatchIsNamed() throws Exception {
        Path dir = Assets.copy(Assets.index(), scratch.resolve("index"));
        int dim = DocIndex.load(dir).manifest().dim();
        rewriteManifest(dir, "\"dim\": " + dim, "\"dim\": " + (dim / 2));
        S2RException e = assertThrows(S2RException.class, () -> DocIndex.load(dir));
        assertTrue(e.getMessage(), e.getMessage().contains("index.hnsw") && e.getMessage().contains(dim + "-d"));
    }

    @Test
    public void versionThreeIsSearchedOnItsFullGraphAndVersionTwoIsRefused() throws Exception {
        // v3 only adds codes.npz (the Python runtime's compact search); index.hnsw is the same full graph
        Path dir = Assets.copy(Assets.index(), scratch.resolve("index"));
        rewriteManifest(dir, "\"format_version\": 1", "\"format_version\": 3");
        float[] query = Assets.floats((List<?>) Assets.queries().get(0).get("vector"));
        assertEquals(DocIndex.load(Assets.index()).search(query, 5), DocIndex.load(dir).search(query, 5));
        rewriteManifest(dir, "\"format_version\": 3", "\"format_version\": 2");
        S2RException e = assertThrows(S2RException.class, () -> DocIndex.load(dir));
        assertTrue(e.getMessage(), e.getMessage().contains("manifest.json") && e.getMessage().contains("v1 or v3"));
    }

    @Test
    public void missingDirectoryAndBadQueryAreRefused() throws Exception {
        S2RException e = assertThrows(S2RException.class, () -> DocIndex.load(scratch.resolve("nothing")));
        assertTrue(e.getMessage(), e.getMessage().contains("no such index directory"));
        DocIndex index = DocIndex.load(Assets.index());
        assertThrows(IllegalArgumentException.class, () -> index.search(new float[3], 10));
        float[] nan = new float[index.manifest().dim()];
        nan[0] = Float.NaN;
        assertThrows(IllegalArgumentException.class, () -> index.search(nan, 10));
    }

    private static void rewriteManifest(Path dir, String regex, String replacement) throws IOException {
        Path manifest = dir.resolve("manifest.json");
        String before = Files.readString(manifest);
        String after = before.replaceFirst(regex, replacement);
        assertTrue("manifest has " + regex, !after.equals(before));
        Files.writeString(manifest, after);
    }
}
