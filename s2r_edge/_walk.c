/* The compact index's hot loops, in C because a Python loop per graph hop is 10x too slow for a 0.3 ms query.
 *
 * walk():   HNSW search over hnswlib's own links (read out of index.hnsw into compressed rows: offsets into one
 *           array of neighbours), scoring nodes by 4-bit codes of their PCA-rotated vectors instead of the float32
 *           vectors, which stay on disk.
 * bfs():    a breadth-first order of the nodes, to lay them out so that graph neighbours sit close in memory.
 * rescore(): exact inner products for a few candidates, each vector read with pread() from index.hnsw.
 *
 * Arrays come in as Python buffers (numpy arrays, C-contiguous) and results are written into caller-owned ones,
 * so this file has no Python objects to manage beyond argument parsing. The GIL is held throughout: the visited
 * tags below are shared state.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DELETED 0x01 /* flags: hnswlib marked the node deleted */

typedef struct {
    float score;
    uint32_t id;
} Entry;

/* Binary heaps of Entry: `max` keeps the best (highest score) on top when set, the worst otherwise. */
typedef struct {
    Entry *items;
    Py_ssize_t size;
    int max;
} Heap;

static int above(const Heap *h, Entry a, Entry b) { return h->max ? a.score > b.score : a.score < b.score; }

static void heap_push(Heap *h, Entry e) {
    Py_ssize_t i = h->size++;
    while (i > 0) {
        Py_ssize_t parent = (i - 1) / 2;
        if (!above(h, e, h->items[parent])) break;
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = e;
}

static Entry heap_pop(Heap *h) {
    Entry top = h->items[0], last = h->items[--h->size];
    Py_ssize_t i = 0;
    for (;;) {
        Py_ssize_t child = 2 * i + 1;
        if (child >= h->size) break;
        if (child + 1 < h->size && above(h, h->items[child + 1], h->items[child])) child++;
        if (!above(h, h->items[child], last)) break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->size > 0) h->items[i] = last;
    return top;
}

/* Visited marks: a tag per node, bumped per query, cleared only when the tag wraps. */
static uint16_t *visited = NULL;
static Py_ssize_t visited_size = 0;
static uint16_t visit_tag = 0;

static int start_visit(Py_ssize_t n) {
    if (n > visited_size) {
        uint16_t *grown = realloc(visited, (size_t)n * sizeof(uint16_t));
        if (grown == NULL) return -1;
        memset(grown + visited_size, 0, (size_t)(n - visited_size) * sizeof(uint16_t));
        visited = grown;
        visited_size = n;
    }
    if (++visit_tag == 0) {
        memset(visited, 0, (size_t)visited_size * sizeof(uint16_t));
        visit_tag = 1;
    }
    return 0;
}

/* The walk's heaps and neighbour list, kept between queries (allocating n entries per query costs page faults). */
static Entry *heap_space = NULL;
static uint32_t *fresh = NULL;
static Py_ssize_t heap_capacity = 0, fresh_capacity = 0;

static int reserve(Py_ssize_t heap_entries, Py_ssize_t fresh_entries) {
    if (heap_entries > heap_capacity) {
        Entry *grown = realloc(heap_space, (size_t)heap_entries * sizeof(Entry));
        if (grown == NULL) return -1;
        heap_space = grown;
        heap_capacity = heap_entries;
    }
    if (fresh_entries > fresh_capacity) {
        uint32_t *grown = realloc(fresh, (size_t)fresh_entries * sizeof(uint32_t));
        if (grown == NULL) return -1;
        fresh = grown;
        fresh_capacity = fresh_entries;
    }
    return 0;
}

/* Score of node `id`: sum_i w[i] * code_i. Byte j of a row holds code j (low nibble) and code j + half (high). */
static inline float code_score(const uint8_t *codes, Py_ssize_t half, const float *w, uint32_t id) {
    const uint8_t *row = codes + (Py_ssize_t)id * half;
    const float *w_hi = w + half;
    float s = 0.0f;
    for (Py_ssize_t j = 0; j < half; j++) s += w[j] * (float)(row[j] & 15) + w_hi[j] * (float)(row[j] >> 4);
    return s;
}

static inline void prefetch_row(const uint8_t *codes, Py_ssize_t half, uint32_t id) {
    const uint8_t *row = codes + (Py_ssize_t)id * half;
    for (Py_ssize_t at = 0; at < half; at += 64) __builtin_prefetch(row + at);
}

typedef struct {
    Py_buffer offsets, neighbours, flags, upper_nodes, upper_start, upper_links, codes, weights, mask;
    Py_buffer out_ids, out_scores;
} WalkArgs;

static void release(WalkArgs *a) {
    Py_buffer *all[] = {&a->offsets, &a->neighbours, &a->flags, &a->upper_nodes, &a->upper_start, &a->upper_links,
                        &a->codes, &a->weights, &a->mask, &a->out_ids, &a->out_scores};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i]->obj != NULL) PyBuffer_Release(all[i]);
}

/* Greedy descent through the upper levels: the closest node found on each level starts the next. */
static uint32_t descend(const WalkArgs *a, Py_ssize_t max_m, const float *w, Py_ssize_t row_bytes, uint32_t node,
                        int max_level) {
    const uint32_t *nodes = a->upper_nodes.buf, *start = a->upper_start.buf, *links = a->upper_links.buf;
    Py_ssize_t n_upper = a->upper_nodes.len / (Py_ssize_t)sizeof(uint32_t);
    float best = code_score(a->codes.buf, row_bytes, w, node);
    for (int level = max_level; level >= 1; level--) {
        int changed = 1;
        while (changed) {
            changed = 0;
            Py_ssize_t lo = 0, hi = n_upper; /* binary search: nodes is sorted */
            while (lo < hi) {
                Py_ssize_t mid = (lo + hi) / 2;
                if (nodes[mid] < node) lo = mid + 1; else hi = mid;
            }
            if (lo == n_upper || nodes[lo] != node || (Py_ssize_t)(start[lo + 1] - start[lo]) < level) break;
            const uint32_t *block = links + (Py_ssize_t)(start[lo] + level - 1) * (1 + max_m);
            uint32_t count = block[0] & 0xFFFF;
            if (count > max_m) count = (uint32_t)max_m;
            for (uint32_t j = 1; j <= count; j++) {
                float s = code_score(a->codes.buf, row_bytes, w, block[j]);
                if (s > best) {
                    best = s;
                    node = block[j];
                    changed = 1;
                }
            }
        }
    }
    return node;
}

static PyObject *walk(PyObject *self, PyObject *args) {
    WalkArgs a;
    memset(&a, 0, sizeof a);
    PyObject *mask_obj;
    unsigned int entry;
    int max_level;
    Py_ssize_t max_degree, max_m, ef;
    if (!PyArg_ParseTuple(args, "y*y*y*ny*y*y*ny*y*IinOw*w*", &a.offsets, &a.neighbours, &a.flags, &max_degree,
                          &a.upper_nodes, &a.upper_start, &a.upper_links, &max_m, &a.codes, &a.weights, &entry, &max_level, &ef,
                          &mask_obj, &a.out_ids, &a.out_scores)) {
        release(&a);
        return NULL;
    }
    if (mask_obj != Py_None && PyObject_GetBuffer(mask_obj, &a.mask, PyBUF_SIMPLE) < 0) {
        release(&a);
        return NULL;
    }
    Py_ssize_t row_bytes = a.weights.len / (Py_ssize_t)sizeof(float) / 2;
    Py_ssize_t n = row_bytes > 0 ? a.codes.len / row_bytes : 0;
    const uint32_t *offsets = a.offsets.buf, *neighbours = a.neighbours.buf;
    Py_ssize_t n_neighbours = a.neighbours.len / (Py_ssize_t)sizeof(uint32_t);
    /* O(1) checks here; each expanded node's row is checked against the neighbour array as it is read */
    if (n == 0 || a.offsets.len != (n + 1) * (Py_ssize_t)sizeof(uint32_t) || a.flags.len != n || max_degree < 0 ||
        offsets[n] > n_neighbours || entry >= n || ef < 1 || a.out_ids.len < ef * (Py_ssize_t)sizeof(uint32_t) ||
        a.out_scores.len < ef * (Py_ssize_t)sizeof(float) || (a.mask.obj != NULL && a.mask.len != n)) {
        release(&a);
        PyErr_SetString(PyExc_ValueError, "walk: arrays of inconsistent sizes");
        return NULL;
    }
    const uint8_t *codes = a.codes.buf, *mask = a.mask.obj != NULL ? a.mask.buf : NULL;
    const float *w = a.weights.buf;
    if (reserve(n + ef + 1, max_degree + 1) < 0 || start_visit(n) < 0) {
        release(&a);
        return PyErr_NoMemory();
    }
    Heap todo = {heap_space, 0, 1}, found = {heap_space + n, 0, 0};
    uint32_t node = descend(&a, max_m, w, row_bytes, entry, max_level);
    const uint8_t *flags = a.flags.buf;
#define KEEP(id) (!(flags[id] & DELETED) && (!mask || mask[id]))
    Entry first = {code_score(codes, row_bytes, w, node), node};
    visited[node] = visit_tag;
    heap_push(&todo, first);
    if (KEEP(node)) heap_push(&found, first);
    float bound = found.size ? first.score : -INFINITY;
    while (todo.size > 0) {
        Entry cur = heap_pop(&todo);
        if (cur.score < bound && found.size == ef) break;
        const uint32_t *list = neighbours + offsets[cur.id] - 1; /* list[1..count], as in descend() */
        uint32_t first = offsets[cur.id], last = offsets[cur.id + 1], n_fresh = 0;
        uint32_t count = last < first || last > n_neighbours ? 0 : last - first;
        if (count > max_degree) count = (uint32_t)max_degree;
        for (uint32_t j = 1; j <= count; j++) { /* the unvisited neighbours, their codes fetched ahead of scoring */
            uint32_t next = list[j];
            if (next >= n || visited[next] == visit_tag) continue;
            visited[next] = visit_tag;
            prefetch_row(codes, row_bytes, next);
            fresh[n_fresh++] = next;
        }
        for (uint32_t j = 0; j < n_fresh; j++) {
            uint32_t next = fresh[j];
            float s = code_score(codes, row_bytes, w, next);
            if (found.size < ef || s > bound) {
                Entry e = {s, next};
                heap_push(&todo, e);
                __builtin_prefetch(neighbours + offsets[next]);
                if (KEEP(next)) {
                    heap_push(&found, e);
                    if (found.size > ef) heap_pop(&found);
                }
                if (found.size) bound = found.items[0].score;
            }
        }
    }
#undef KEEP
    Py_ssize_t got = found.size;
    uint32_t *out_ids = a.out_ids.buf;
    float *out_scores = a.out_scores.buf;
    for (Py_ssize_t i = got - 1; i >= 0; i--) { /* worst pops first: fill from the back, best ends up first */
        Entry e = heap_pop(&found);
        out_ids[i] = e.id;
        out_scores[i] = e.score;
    }
    release(&a);
    return PyLong_FromSsize_t(got);
}

static PyObject *bfs(PyObject *self, PyObject *args) {
    Py_buffer offsets = {0}, neighbours = {0}, order = {0};
    unsigned int entry;
    if (!PyArg_ParseTuple(args, "y*y*Iw*", &offsets, &neighbours, &entry, &order)) return NULL;
    Py_ssize_t n = offsets.len / (Py_ssize_t)sizeof(uint32_t) - 1;
    const uint32_t *off = offsets.buf, *nb = neighbours.buf;
    uint32_t *out = order.buf;
    uint8_t *seen = calloc(n > 0 ? (size_t)n : 1, 1);
    PyObject *result = NULL;
    if (seen == NULL) {
        PyErr_NoMemory();
    } else if (n < 1 || entry >= n || order.len != n * (Py_ssize_t)sizeof(uint32_t) ||
               off[n] > neighbours.len / (Py_ssize_t)sizeof(uint32_t)) {
        PyErr_SetString(PyExc_ValueError, "bfs: arrays of inconsistent sizes");
    } else {
        Py_ssize_t head = 0, tail = 0;
        for (Py_ssize_t root = -1; root < n; root++) { /* the entry first, then whatever it does not reach */
            uint32_t start = root < 0 ? entry : (uint32_t)root;
            if (seen[start]) continue;
            seen[start] = 1;
            out[tail++] = start;
            while (head < tail) {
                uint32_t node = out[head++];
                for (uint32_t j = off[node]; j < off[node + 1]; j++)
                    if (nb[j] < n && !seen[nb[j]]) {
                        seen[nb[j]] = 1;
                        out[tail++] = nb[j];
                    }
            }
        }
        result = PyLong_FromSsize_t(tail);
    }
    free(seen);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&neighbours);
    PyBuffer_Release(&order);
    return result;
}

static PyObject *rescore(PyObject *self, PyObject *args) {
    int fd;
    long long base, record;
    Py_buffer query = {0}, ids = {0}, out = {0};
    if (!PyArg_ParseTuple(args, "iLLy*y*w*", &fd, &base, &record, &query, &ids, &out)) return NULL;
    Py_ssize_t dim = query.len / (Py_ssize_t)sizeof(float), count = ids.len / (Py_ssize_t)sizeof(uint32_t);
    PyObject *result = NULL;
    float *row = malloc((size_t)dim * sizeof(float));
    if (row == NULL) {
        PyErr_NoMemory();
    } else if (out.len < count * (Py_ssize_t)sizeof(float)) {
        PyErr_SetString(PyExc_ValueError, "rescore: output array too small");
    } else {
        const float *q = query.buf;
        const uint32_t *id = ids.buf;
        float *scores = out.buf;
        Py_ssize_t i;
        for (i = 0; i < count; i++) {
            ssize_t want = (ssize_t)(dim * (Py_ssize_t)sizeof(float));
            if (pread(fd, row, (size_t)want, (off_t)(base + (long long)id[i] * record)) != want) break;
            float s = 0.0f;
            for (Py_ssize_t j = 0; j < dim; j++) s += q[j] * row[j];
            scores[i] = s;
        }
        if (i == count) result = PyLong_FromSsize_t(count);
        else PyErr_Format(PyExc_OSError, "rescore: could not read vector %zd of the index file (truncated?)", i);
    }
    free(row);
    PyBuffer_Release(&query);
    PyBuffer_Release(&ids);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"walk", walk, METH_VARARGS,
     "walk(offsets, neighbours, flags, max_degree, upper_nodes, upper_start, upper_links, max_m, codes, weights, entry, "
     "max_level, ef, mask, "
     "out_ids, out_scores) -> count: HNSW search by 4-bit code scores; best `count` nodes written best first."},
    {"bfs", bfs, METH_VARARGS,
     "bfs(offsets, neighbours, entry, order) -> n: every node once in `order`, breadth first from `entry`."},
    {"rescore", rescore, METH_VARARGS,
     "rescore(fd, base, record, query, ids, out) -> count: exact inner products of `query` with the float32 "
     "vectors at base + id * record in file descriptor `fd`."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_walk", "Compact index hot loops.", -1, methods};

PyMODINIT_FUNC PyInit__walk(void) { return PyModule_Create(&module); }
