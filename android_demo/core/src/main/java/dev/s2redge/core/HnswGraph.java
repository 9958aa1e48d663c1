package dev.s2redge.core;

import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * An hnswlib graph read from the file {@code saveIndex} writes, searched the way hnswlib's {@code searchKnn}
 * does in its inner-product space (distance = 1 - dot), so the same file gives the same neighbours.
 *
 * <p>File layout (little-endian, size_t = 8 bytes): a header of offsetLevel0, max_elements, element count,
 * bytes per element, label offset, data offset (size_t each), max level (int32), entry point (uint32),
 * maxM, maxM0, M (size_t), level multiplier (double), ef_construction (size_t); then one fixed-size record
 * per element: its level-0 link list (uint32 count word, low 16 bits = count, bit 0 of byte 2 = deleted;
 * then maxM0 uint32 neighbour ids), its vector (dim float32) and its label (size_t); then per element a
 * uint32 byte length and the link lists of its upper levels (each a count word and maxM ids).
 */
public final class HnswGraph {
    private static final int DELETED_MARK = 0x01;
    private static final int[] NO_LINKS = {};

    private final int dim;
    private final int count;
    private final int entryPoint;
    private final int maxLevel;
    private final float[] vectors; // count * dim
    private final long[] labels;
    private final boolean[] deleted;
    private final boolean anyDeleted;
    private final int[][] level0; // neighbour ids per element
    private final int[][][] upper; // [element][level - 1] -> neighbour ids

    /** One neighbour: internal element id and its distance to the query. */
    public record Neighbor(int id, float distance) {}

    private HnswGraph(int dim, int count, int entryPoint, int maxLevel, float[] vectors, long[] labels,
            boolean[] deleted, int[][] level0, int[][][] upper) {
        this.dim = dim;
        this.count = count;
        this.entryPoint = entryPoint;
        this.maxLevel = maxLevel;
        this.vectors = vectors;
        this.labels = labels;
        this.deleted = deleted;
        boolean any = false;
        for (boolean d : deleted) {
            any |= d;
        }
        this.anyDeleted = any;
        this.level0 = level0;
        this.upper = upper;
    }

    /** Read {@code file}, which must hold {@code dim}-d float vectors; a bad file is an error naming it. */
    public static HnswGraph read(Path file, int dim) throws S2RException {
        ByteBuffer buf;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            if (channel.size() > Integer.MAX_VALUE) {
                throw new S2RException(file + ": over 2 GB, more than this reader maps; shard the index");
            }
            // Mapped, not read into a heap array: the file is copied once, into the search arrays.
            buf = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size()).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new S2RException(file + ": cannot be read (" + e.getMessage() + "); " + Manifest.FIX);
        }
        try {
            return parse(buf, file, dim);
        } catch (BufferUnderflowException | IndexOutOfBoundsException e) {
            throw new S2RException(file + ": truncated or not an hnswlib index; " + Manifest.FIX);
        }
    }

    private static HnswGraph parse(ByteBuffer buf, Path file, int dim) throws S2RException {
        long offsetLevel0 = buf.getLong();
        buf.getLong(); // max_elements: capacity, not needed to search
        long count = buf.getLong();
        long bytesPerElement = buf.getLong();
        long labelOffset = buf.getLong();
        long dataOffset = buf.getLong();
        int maxLevel = buf.getInt();
        long entryPoint = Integer.toUnsignedLong(buf.getInt());
        long maxM = buf.getLong();
        long maxM0 = buf.getLong();
        buf.getLong(); // M
        buf.getDouble(); // level multiplier
        buf.getLong(); // ef_construction
        if (count < 1 || count > Integer.MAX_VALUE || entryPoint >= count || maxLevel < 0 || maxM < 1 || maxM0 < 1
                || offsetLevel0 != 0 || dataOffset != 4 + 4 * maxM0 || labelOffset <= dataOffset
                || bytesPerElement != labelOffset + 8 || bytesPerElement > Integer.MAX_VALUE / count
                || count * bytesPerElement > buf.remaining()) {
            throw new S2RException(file + ": header is not that of an hnswlib index (or the file is truncated); "
                    + Manifest.FIX);
        }
        long fileDim = (labelOffset - dataOffset) / 4;
        if (fileDim != dim) {
            throw new S2RException(file + ": holds " + fileDim + "-d vectors but manifest.json says " + dim
                    + "-d; " + Manifest.FIX);
        }
        int n = (int) count;
        int record = (int) bytesPerElement;
        int start = buf.position(); // the header is read; absolute reads from here on
        float[] vectors = new float[n * dim];
        long[] labels = new long[n];
        boolean[] deleted = new boolean[n];
        int[][] level0 = new int[n][];
        for (int i = 0; i < n; i++) {
            int at = start + i * record;
            level0[i] = readLinks(buf, at, n, (int) maxM0, file);
            deleted[i] = (buf.get(at + 2) & DELETED_MARK) != 0;
            for (int j = 0; j < dim; j++) {
                vectors[i * dim + j] = buf.getFloat(at + (int) dataOffset + 4 * j);
            }
            labels[i] = buf.getLong(at + (int) labelOffset);
        }
        int at = start + n * record;
        int linksBytes = 4 + 4 * (int) maxM;
        int[][][] upper = new int[n][][];
        for (int i = 0; i < n; i++) {
            int size = buf.getInt(at);
            at += 4;
            if (size < 0 || size % linksBytes != 0 || size / linksBytes > maxLevel) {
                throw new S2RException(file + ": corrupt upper-level links of element " + i + "; " + Manifest.FIX);
            }
            upper[i] = new int[size / linksBytes][];
            for (int level = 0; level < upper[i].length; level++) {
                upper[i][level] = readLinks(buf, at, n, (int) maxM, file);
                at += linksBytes;
            }
        }
        if (at != buf.limit()) {
            throw new S2RException(file + ": " + (buf.limit() - at) + " unexpected trailing bytes; " + Manifest.FIX);
        }
        return new HnswGraph(dim, n, (int) entryPoint, maxLevel, vectors, labels, deleted, level0, upper);
    }

    /** The link list at byte {@code at}: a count word, then up to {@code max} ids below {@code n}. */
    private static int[] readLinks(ByteBuffer buf, int at, int n, int max, Path file) throws S2RException {
        int size = buf.getInt(at) & 0xFFFF;
        if (size > max) {
            throw new S2RException(file + ": a link list holds " + size + " > " + max + " links; " + Manifest.FIX);
        }
        int[] links = new int[size];
        for (int j = 0; j < size; j++) {
            links[j] = buf.getInt(at + 4 + 4 * j);
            if (links[j] < 0 || links[j] >= n) {
                throw new S2RException(file + ": a link points outside the graph; " + Manifest.FIX);
            }
        }
        return links;
    }

    public int dim() {
        return dim;
    }

    public int size() {
        return count;
    }

    /** The label the element was added with (in s2r-edge: the row of its doc in docs.jsonl). */
    public long label(int id) {
        return labels[id];
    }

    public boolean isDeleted(int id) {
        return deleted[id];
    }

    /** Inner-product distance between {@code query} and element {@code id}: 1 - dot, as hnswlib's ip space. */
    public float distance(float[] query, int id) {
        float dot = 0f;
        int base = id * dim;
        for (int j = 0; j < dim; j++) {
            dot += query[j] * vectors[base + j];
        }
        return 1f - dot;
    }

    /**
     * The {@code k} nearest live elements, nearest first: greedy descent through the upper levels from the
     * entry point, then a beam search of width max(ef, k) on level 0.
     */
    public List<Neighbor> search(float[] query, int k, int ef) {
        int current = entryPoint;
        float currentDist = distance(query, current);
        for (int level = maxLevel; level > 0; level--) {
            for (boolean changed = true; changed; ) {
                changed = false;
                int[][] levels = upper[current];
                for (int candidate : level <= levels.length ? levels[level - 1] : NO_LINKS) {
                    float d = distance(query, candidate);
                    if (d < currentDist) {
                        currentDist = d;
                        current = candidate;
                        changed = true;
                    }
                }
            }
        }
        List<Neighbor> found = searchLevel0(query, current, Math.max(ef, k));
        found.sort(Comparator.comparingDouble(Neighbor::distance).thenComparingLong(nb -> labels[nb.id()]));
        return found.size() > k ? new ArrayList<>(found.subList(0, k)) : found;
    }

    private List<Neighbor> searchLevel0(float[] query, int entry, int ef) {
        Comparator<Neighbor> nearestFirst = Comparator.comparingDouble(Neighbor::distance);
        PriorityQueue<Neighbor> candidates = new PriorityQueue<>(nearestFirst);
        PriorityQueue<Neighbor> best = new PriorityQueue<>(nearestFirst.reversed()); // farthest on top
        boolean[] visited = new boolean[count];
        Neighbor start = new Neighbor(entry, distance(query, entry));
        float bound = deleted[entry] ? Float.MAX_VALUE : start.distance();
        if (!deleted[entry]) {
            best.add(start);
        }
        candidates.add(new Neighbor(entry, bound));
        visited[entry] = true;
        while (!candidates.isEmpty()) {
            Neighbor next = candidates.peek();
            if (next.distance() > bound && (best.size() == ef || !anyDeleted)) {
                break;
            }
            candidates.poll();
            for (int candidate : level0[next.id()]) {
                if (visited[candidate]) {
                    continue;
                }
                visited[candidate] = true;
                float d = distance(query, candidate);
                if (best.size() < ef || d < bound) {
                    candidates.add(new Neighbor(candidate, d));
                    if (!deleted[candidate]) {
                        best.add(new Neighbor(candidate, d));
                    }
                    if (best.size() > ef) {
                        best.poll();
                    }
                    if (!best.isEmpty()) {
                        bound = best.peek().distance();
                    }
                }
            }
        }
        return new ArrayList<>(best);
    }
}
