package dev.s2redge.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Timing harness (not a test): medians of index load, one k=10 search and endpointing one chunk on this JVM,
 * over the golden assets. Run by `make android-core-bench`; prints one JSON line.
 */
public final class SearchBenchmark {
    private static final int LOADS = 20;
    private static final int WARMUP = 2_000;
    private static final int RUNS = 5_000;

    private SearchBenchmark() {}

    public static void main(String[] args) throws Exception {
        double[] load = new double[LOADS];
        DocIndex index = null;
        for (int i = 0; i < LOADS; i++) {
            long t0 = System.nanoTime();
            index = DocIndex.load(Assets.index());
            load[i] = (System.nanoTime() - t0) / 1e6;
        }
        List<float[]> queries = new ArrayList<>();
        for (Map<String, Object> q : Assets.queries()) {
            queries.add(Assets.floats((List<?>) q.get("vector")));
        }
        for (int i = 0; i < WARMUP; i++) {
            index.search(queries.get(i % queries.size()), 10);
        }
        double[] search = new double[RUNS];
        for (int i = 0; i < RUNS; i++) {
            long t0 = System.nanoTime();
            index.search(queries.get(i % queries.size()), 10);
            search[i] = (System.nanoTime() - t0) / 1e6;
        }
        ModelInfo model = ModelInfo.load(Assets.model());
        float[] chunk = Wav.readMono(Assets.dir().resolve("golden").resolve("q0.wav"), model.sampleRate());
        chunk = Arrays.copyOf(chunk, model.chunkSamples());
        Endpointer endpointer = new Endpointer(Endpointer.Config.DEFAULT, model.sampleRate());
        double[] endpoint = new double[RUNS];
        for (int i = 0; i < WARMUP + RUNS; i++) {
            long t0 = System.nanoTime();
            endpointer.accept(chunk);
            if (i >= WARMUP) {
                endpoint[i - WARMUP] = (System.nanoTime() - t0) / 1e6;
            }
        }
        System.out.printf("{\"docs\": %d, \"dim\": %d, \"index_load_ms\": %.3f, \"search_k10_ms\": %.4f, "
                        + "\"search_k10_p90_ms\": %.4f, \"endpoint_chunk_ms\": %.4f, \"java\": \"%s\"}%n",
                index.size(), index.manifest().dim(), median(load), median(search), quantile(search, 0.9),
                median(endpoint), System.getProperty("java.vm.version"));
    }

    private static double median(double[] values) {
        return quantile(values, 0.5);
    }

    private static double quantile(double[] values, double q) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[(int) Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))];
    }
}
