/* import_tfjs.c: a Keras model in the TensorFlow.js layers format (model.json + binary weight
 * shards) -> a wt_net with the pretrained weights.
 *
 * Three passes, all over untrusted input:
 *   1. Flatten the topology. Sequential, Model and Functional containers (nested to any depth up
 *      to MAX_NESTING) become one flat list of leaf layers in topological order, each naming the
 *      flat layers it reads (-1 = the network input). A container is only an alias: its input is
 *      whatever feeds it, its output is its last (Sequential) or declared output layer.
 *   2. Choose the output (the cut layer, maybe extended to a following GlobalAveragePooling2D, or
 *      the model's output) and mark the layers it depends on.
 *   3. Emit the marked layers as wt_net nodes in order and load their weights from the manifest.
 *      ZeroPadding2D emits nothing: it travels as a pending pad on the value and is folded into
 *      the convolution that reads it. A softmax emits nothing either: it marks the value, and
 *      only shape no-ops (Reshape, Flatten on 1x1) may follow it up to the output.
 * The manifest is parsed up front: every group's offsets are computed in 64-bit arithmetic and
 * checked against the bytes its shard files provide before anything is read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"

#define MAX_JSON_BYTES ((size_t)32 << 20)
#define MAX_JSON_DEPTH 256
#define MAX_JSON_VALUES ((size_t)2000000)
#define MAX_LAYERS 4096
#define MAX_NESTING 32
#define MAX_ADD_INPUTS 64
#define MAX_WEIGHTS 65536
#define MAX_RANK 8
#define MAX_TENSOR_ELEMS ((uint64_t)1 << 28)
#define MAX_PATHS 65536
#define MAX_NODES 16384 /* webtune nodes one import may create: what a model file can hold */
#define MAX_NAME_SUFFIX 1000

/* ------------------------------------------------------------------------------------------- */
/* State                                                                                        */
/* ------------------------------------------------------------------------------------------- */

typedef struct layer {
    const char* name;
    const char* cls;
    const wt_json* cfg; /* the layer's "config" object */
    const char* scope;  /* name of the enclosing model (to tell apart equal names in the manifest) */
    int in_first, n_in; /* inputs: im->refs[in_first .. in_first + n_in) */
    int needed;
    /* the value this layer produces, once emitted */
    int node;           /* webtune node holding it */
    int pad[4];         /* pending ZeroPadding2D: top, bottom, left, right */
    int has_pad, pad_layer;
    int softmax;        /* the value is softmax(node) */
} layer;

typedef struct mweight {
    const char* name;
    const char* layer_part; size_t layer_len; /* second-last '/' component */
    const char* var_part; size_t var_len;     /* last component (":0" suffix dropped) */
    const char* scope_part; size_t scope_len; /* third-last component, or NULL */
    int rank;
    long long shape[MAX_RANK];
    uint64_t count;
    int storage;        /* ST_* */
    double q_scale, q_min;
    int group;
    uint64_t offset, nbytes;
    const layer* used_by; /* the layer that loads it: a manifest tensor belongs to one layer */
} mweight;

enum { ST_F32, ST_U8, ST_U16, ST_F16, ST_OTHER };

typedef struct mgroup {
    int first_file, n_files;   /* im->group_files[first_file ..) (index into the caller's files) */
    const char* missing;       /* a shard path with no matching file, or NULL */
    uint64_t available, needed;
} mgroup;

/* Open-addressing hash map from a NUL-terminated name (not copied) to an int, so that name
 * lookups stay O(1) however many layers a model.json lists: a linear search per layer would make
 * a large hostile model quadratic. */
typedef struct name_map {
    const char** keys;
    int* values;
    size_t cap, n; /* cap is 0 or a power of two, n <= cap / 2 */
} name_map;

static uint64_t name_hash(const char* s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void map_free(name_map* m) {
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}

/* Slot of `key`, or of the empty slot where it would go. */
static size_t map_slot(const name_map* m, const char* key) {
    size_t i = (size_t)name_hash(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0) i = (i + 1) & (m->cap - 1);
    return i;
}

/* The value of `key`, or -1 if absent. */
static int map_get(const name_map* m, const char* key) {
    if (!m->cap) return -1;
    size_t i = map_slot(m, key);
    return m->keys[i] ? m->values[i] : -1;
}

/* Sets key -> value (a later definition replaces an earlier one). key must outlive the map. */
static wt_status map_put(name_map* m, const char* key, int value) {
    if (2 * (m->n + 1) > m->cap) {
        name_map g = { 0 };
        g.cap = m->cap ? 2 * m->cap : 64;
        g.keys = (const char**)calloc(g.cap, sizeof *g.keys);
        g.values = (int*)malloc(g.cap * sizeof *g.values);
        if (!g.keys || !g.values) {
            map_free(&g);
            return wt_fail(WT_ERR_OUT_OF_MEMORY, "tfjs import: out of memory");
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i]) continue;
            size_t j = map_slot(&g, m->keys[i]);
            g.keys[j] = m->keys[i];
            g.values[j] = m->values[i];
            g.n++;
        }
        map_free(m);
        *m = g;
    }
    size_t i = map_slot(m, key);
    if (!m->keys[i]) {
        m->keys[i] = key;
        m->n++;
    }
    m->values[i] = value;
    return WT_OK;
}

typedef struct importer {
    wt_json_doc* doc;
    layer* layers;
    int n_layers, cap_layers;
    int* refs;
    int n_refs, cap_refs;
    int in_shape[3];
    int have_shape;
    int shape_error;
    /* manifest */
    mweight* weights;
    int n_weights;
    mweight** sorted; /* by (layer_part, var_part) */
    mgroup* groups;
    int n_groups;
    int* group_files;
    int n_group_files;
    const wt_weight_file* files;
    int n_files;
    struct file_key* file_order; /* the files sorted by path, for the manifest's path lookup */
    /* output */
    wt_net* net;
    name_map node_names; /* every node name in net (keys are the strings in name_store) */
    char** name_store;
    int n_names;
    wt_bn_mode bn_mode;
    float* scratch;
    size_t scratch_cap;
    uint8_t* bytes;
    size_t bytes_cap;
    int n_weights_loaded;
    int n_layers_imported;
    int last_gap_node;
} importer;

static int streq(const char* a, const char* b) { return a && b && strcmp(a, b) == 0; }

static int is_container(const char* cls) {
    return streq(cls, "Sequential") || streq(cls, "Model") || streq(cls, "Functional");
}

static const char* str_or(const wt_json* v, const char* dflt) {
    const char* s = wt_json_str(v);
    return s ? s : dflt;
}

/* ------------------------------------------------------------------------------------------- */
/* Pass 1: flatten the topology                                                                 */
/* ------------------------------------------------------------------------------------------- */

static wt_status push_ref(importer* im, int ref) {
    if (im->n_refs == im->cap_refs) {
        int cap = im->cap_refs ? im->cap_refs * 2 : 256;
        int* p = (int*)realloc(im->refs, (size_t)cap * sizeof *p);
        if (!p) return wt_fail(WT_ERR_OUT_OF_MEMORY, "tfjs import: out of memory");
        im->refs = p;
        im->cap_refs = cap;
    }
    im->refs[im->n_refs++] = ref;
    return WT_OK;
}

static wt_status new_layer(importer* im, const char* name, const char* cls, const wt_json* cfg,
                           const char* scope, int* out) {
    if (im->n_layers >= MAX_LAYERS)
        return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: more than %d layers", MAX_LAYERS);
    if (!wt_json_is(cfg, WT_JSON_OBJECT))
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: layer '%s' (%s) has no config object", name, cls);
    if (im->n_layers == im->cap_layers) {
        int cap = im->cap_layers ? im->cap_layers * 2 : 128;
        layer* p = (layer*)realloc(im->layers, (size_t)cap * sizeof *p);
        if (!p) return wt_fail(WT_ERR_OUT_OF_MEMORY, "tfjs import: out of memory");
        im->layers = p;
        im->cap_layers = cap;
    }
    layer* l = &im->layers[im->n_layers];
    memset(l, 0, sizeof *l);
    l->name = name;
    l->cls = cls;
    l->cfg = cfg;
    l->scope = scope;
    l->in_first = im->n_refs;
    l->node = -1;
    *out = im->n_layers++;
    return WT_OK;
}

/* Records the network's input shape from a [null, H, W, C] shape (the first one that feeds the
 * network input wins). */
static void note_input_shape(importer* im, const wt_json* shape) {
    if (im->have_shape || !shape) return;
    if (!wt_json_is(shape, WT_JSON_ARRAY)) return;
    im->have_shape = 1;
    long long h = 0, w = 0, c = 0;
    if (shape->count != 4) {
        im->shape_error = 1;
        return;
    }
    const wt_json* e = shape->first->next;
    if (!wt_json_int(e, 1, 8192, &h)) h = 0; /* null: the caller must give the size */
    e = e->next;
    if (!wt_json_int(e, 1, 8192, &w)) w = 0;
    if (!wt_json_int(e->next, 1, 65536, &c)) im->shape_error = 1;
    im->in_shape[0] = (int)h;
    im->in_shape[1] = (int)w;
    im->in_shape[2] = (int)c;
}

static const wt_json* layer_input_shape(const wt_json* cfg) {
    const wt_json* s = wt_json_get(cfg, "batch_input_shape");
    if (!s) s = wt_json_get(cfg, "batch_shape"); /* Keras 3 */
    return s;
}

static wt_status walk_model(importer* im, const wt_json* model, int in_ref, int nesting, int* out_ref);


/* Collects the layer names of one call's inputs: Keras 2 writes [[name, node, tensor, kwargs], ...];
 * Keras 3 writes {"args": [...keras tensors...]} where each tensor has config.keras_history =
 * [name, node, tensor]. */
static wt_status collect_keras3(const wt_json* v, const char** names, int* n, int depth, const char* lname) {
    if (!v || depth > 6) return WT_OK;
    if (v->type == WT_JSON_OBJECT) {
        const wt_json* hist = wt_json_get(wt_json_get(v, "config"), "keras_history");
        if (hist) {
            const char* nm = wt_json_str(wt_json_at(hist, 0));
            long long t = 0;
            if (!nm || !wt_json_int(wt_json_at(hist, 2), 0, 0, &t))
                return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: layer '%s' reads an input webtune cannot resolve "
                               "(only single-output layers are supported)", lname);
            if (*n >= MAX_ADD_INPUTS)
                return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: layer '%s' has more than %d inputs", lname, MAX_ADD_INPUTS);
            names[(*n)++] = nm;
            return WT_OK;
        }
        for (const wt_json* m = v->first; m; m = m->next) {
            if (streq(m->key, "kwargs")) continue;
            wt_status st = collect_keras3(m, names, n, depth + 1, lname);
            if (st) return st;
        }
    } else if (v->type == WT_JSON_ARRAY) {
        for (const wt_json* e = v->first; e; e = e->next) {
            wt_status st = collect_keras3(e, names, n, depth + 1, lname);
            if (st) return st;
        }
    }
    return WT_OK;
}

static wt_status inbound_names(const wt_json* entry, const char* lname, const char** names, int* n) {
    *n = 0;
    const wt_json* inb = wt_json_get(entry, "inbound_nodes");
    if (!inb || inb->type != WT_JSON_ARRAY)
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: layer '%s' has no inbound_nodes list", lname);
    if (inb->count == 0) return WT_OK;
    if (inb->count > 1)
        return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: layer '%s' is called %zu times (shared layers are not supported)",
                       lname, inb->count);
    const wt_json* call = inb->first;
    if (call->type == WT_JSON_OBJECT) return collect_keras3(wt_json_get(call, "args"), names, n, 0, lname);
    if (call->type != WT_JSON_ARRAY)
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: layer '%s' has a malformed inbound node", lname);
    for (const wt_json* e = call->first; e; e = e->next) {
        const char* nm = wt_json_str(wt_json_at(e, 0));
        long long t = 0;
        if (!nm) return wt_fail(WT_ERR_CORRUPT, "tfjs import: layer '%s' has a malformed inbound node", lname);
        if (!wt_json_int(wt_json_at(e, 2), 0, 0, &t))
            return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: layer '%s' reads a second output of '%s' "
                           "(only single-output layers are supported)", lname, nm);
        if (*n >= MAX_ADD_INPUTS)
            return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: layer '%s' has more than %d inputs", lname, MAX_ADD_INPUTS);
        names[(*n)++] = nm;
    }
    return WT_OK;
}

/* The single name in input_layers / output_layers: [[name, 0, 0]] (Keras 2) or [name, 0, 0]. */
static wt_status io_layer_name(const wt_json* list, const char* model, const char* what, const char** out) {
    if (!wt_json_is(list, WT_JSON_ARRAY) || list->count == 0)
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: model '%s' has no %s", model, what);
    if (list->first->type == WT_JSON_STRING) {
        *out = list->first->str;
        return WT_OK;
    }
    if (list->count > 1)
        return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: model '%s' has %zu %s (only one is supported)", model,
                       list->count, what);
    const char* nm = wt_json_str(wt_json_at(list->first, 0));
    if (!nm) return wt_fail(WT_ERR_CORRUPT, "tfjs import: model '%s' has a malformed %s entry", model, what);
    *out = nm;
    return WT_OK;
}

static wt_status walk_functional(importer* im, const wt_json* cfg, int in_ref, int nesting, int* out_ref) {
    const char* mname = str_or(wt_json_get(cfg, "name"), "model");
    const wt_json* layers = wt_json_get(cfg, "layers");
    if (!wt_json_is(layers, WT_JSON_ARRAY))
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: model '%s' has no layers list", mname);
    const char* in_name = NULL;
    const char* out_name = NULL;
    wt_status st = io_layer_name(wt_json_get(cfg, "input_layers"), mname, "input_layers", &in_name);
    if (!st) st = io_layer_name(wt_json_get(cfg, "output_layers"), mname, "output_layers", &out_name);
    if (st) return st;
    if (layers->count > MAX_LAYERS)
        return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: model '%s' has more than %d layers", mname, MAX_LAYERS);
    /* name -> ref + 1 (refs start at -1, the network input) within this model; the last
     * definition wins */
    name_map map = { 0 };
    const char* names[MAX_ADD_INPUTS];
    for (const wt_json* e = layers->first; e && !st; e = e->next) {
        const char* cls = wt_json_str(wt_json_get(e, "class_name"));
        const wt_json* lcfg = wt_json_get(e, "config");
        const char* lname = wt_json_str(wt_json_get(e, "name"));
        if (!lname) lname = wt_json_str(wt_json_get(lcfg, "name"));
        if (!cls || !lname) {
            st = wt_fail(WT_ERR_CORRUPT, "tfjs import: a layer of model '%s' has no class_name or name (byte %zu)",
                         mname, e->offset);
            break;
        }
        int n_in = 0, ref = -1;
        st = inbound_names(e, lname, names, &n_in);
        if (st) break;
        int in_refs[MAX_ADD_INPUTS];
        for (int k = 0; k < n_in; k++) {
            int at = map_get(&map, names[k]);
            if (at < 0) {
                st = wt_fail(WT_ERR_CORRUPT, "tfjs import: layer '%s' reads '%s', which is not defined before it in model '%s'",
                             lname, names[k], mname);
                break;
            }
            in_refs[k] = at - 1;
        }
        if (st) break;
        if (streq(cls, "InputLayer")) {
            if (!streq(lname, in_name)) {
                st = wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: model '%s' has a second input '%s' (one input only)",
                             mname, lname);
                break;
            }
            if (in_ref == -1) note_input_shape(im, layer_input_shape(lcfg));
            ref = in_ref;
        } else if (n_in == 0) {
            if (!streq(lname, in_name)) {
                st = wt_fail(WT_ERR_CORRUPT, "tfjs import: layer '%s' of model '%s' has no inputs", lname, mname);
                break;
            }
            /* a model whose input is a layer itself (no InputLayer): it reads the model input */
            in_refs[0] = in_ref;
            n_in = 1;
        }
        if (!streq(cls, "InputLayer")) {
            if (is_container(cls)) {
                if (n_in != 1) {
                    st = wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: nested model '%s' has %d inputs (one only)", lname, n_in);
                    break;
                }
                st = walk_model(im, e, in_refs[0], nesting + 1, &ref);
            } else {
                if (in_refs[0] == -1) note_input_shape(im, layer_input_shape(lcfg));
                st = new_layer(im, lname, cls, lcfg, mname, &ref);
                for (int k = 0; k < n_in && !st; k++) st = push_ref(im, in_refs[k]);
                if (!st) im->layers[ref].n_in = n_in;
            }
            if (st) break;
        }
        st = map_put(&map, lname, ref + 1);
    }
    if (!st) {
        int at = map_get(&map, out_name);
        if (at < 0) st = wt_fail(WT_ERR_CORRUPT, "tfjs import: model '%s' outputs '%s', which is not one of its layers", mname, out_name);
        else *out_ref = at - 1;
    }
    map_free(&map);
    return st;
}

static wt_status walk_sequential(importer* im, const wt_json* cfg, int in_ref, int nesting, int* out_ref) {
    /* Keras 2.1 wrote a Sequential's config as the bare list of layers. */
    const wt_json* layers = cfg && cfg->type == WT_JSON_ARRAY ? cfg : wt_json_get(cfg, "layers");
    const char* mname = str_or(wt_json_get(cfg, "name"), "sequential");
    if (!wt_json_is(layers, WT_JSON_ARRAY))
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: sequential model '%s' has no layers list", mname);
    int ref = in_ref;
    for (const wt_json* e = layers->first; e; e = e->next) {
        const char* cls = wt_json_str(wt_json_get(e, "class_name"));
        const wt_json* lcfg = wt_json_get(e, "config");
        if (!cls) return wt_fail(WT_ERR_CORRUPT, "tfjs import: a layer of '%s' has no class_name (byte %zu)", mname, e->offset);
        wt_status st;
        if (is_container(cls)) {
            st = walk_model(im, e, ref, nesting + 1, &ref);
        } else if (streq(cls, "InputLayer")) {
            if (ref == -1) note_input_shape(im, layer_input_shape(lcfg));
            st = WT_OK;
        } else {
            const char* lname = wt_json_str(wt_json_get(lcfg, "name"));
            if (!lname) lname = wt_json_str(wt_json_get(e, "name"));
            if (!lname) return wt_fail(WT_ERR_CORRUPT, "tfjs import: a %s layer of '%s' has no name", cls, mname);
            if (ref == -1) note_input_shape(im, layer_input_shape(lcfg));
            int id;
            st = new_layer(im, lname, cls, lcfg, mname, &id);
            if (!st) st = push_ref(im, ref);
            if (!st) {
                im->layers[id].n_in = 1;
                ref = id;
            }
        }
        if (st) return st;
    }
    *out_ref = ref;
    return WT_OK;
}

static wt_status walk_model(importer* im, const wt_json* model, int in_ref, int nesting, int* out_ref) {
    if (nesting > MAX_NESTING)
        return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: models nested deeper than %d", MAX_NESTING);
    const char* cls = wt_json_str(wt_json_get(model, "class_name"));
    const wt_json* cfg = wt_json_get(model, "config");
    if (streq(cls, "Sequential")) return walk_sequential(im, cfg, in_ref, nesting, out_ref);
    if (streq(cls, "Model") || streq(cls, "Functional")) {
        if (!wt_json_is(cfg, WT_JSON_OBJECT))
            return wt_fail(WT_ERR_CORRUPT, "tfjs import: model at byte %zu has no config object", model->offset);
        return walk_functional(im, cfg, in_ref, nesting, out_ref);
    }
    return wt_fail(cls ? WT_ERR_UNSUPPORTED : WT_ERR_CORRUPT, "tfjs import: model class '%s' is not supported "
                   "(Sequential, Model or Functional)", cls ? cls : "(missing)");
}

/* ------------------------------------------------------------------------------------------- */
/* The weights manifest                                                                         */
/* ------------------------------------------------------------------------------------------- */

/* Splits "a/b/layer/var" into its last three components; ":0"-style suffixes are dropped. */
static void split_weight_name(mweight* w) {
    const char* s = w->name;
    size_t n = strlen(s);
    const char* colon = strrchr(s, ':');
    if (colon && !strchr(colon, '/')) n = (size_t)(colon - s);
    const char* comp[3] = { NULL, NULL, NULL };
    size_t lens[3] = { 0, 0, 0 };
    size_t end = n;
    for (int k = 0; k < 3; k++) {
        size_t start = end;
        while (start > 0 && s[start - 1] != '/') start--;
        comp[k] = s + start;
        lens[k] = end - start;
        if (start == 0) break;
        end = start - 1;
    }
    w->var_part = comp[0];
    w->var_len = lens[0];
    w->layer_part = comp[1];
    w->layer_len = lens[1];
    w->scope_part = comp[2];
    w->scope_len = lens[2];
}

static int cmp_part(const char* a, size_t an, const char* b, size_t bn) {
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

static int cmp_weights(const void* pa, const void* pb) {
    const mweight* a = *(const mweight* const*)pa;
    const mweight* b = *(const mweight* const*)pb;
    int c = cmp_part(a->layer_part ? a->layer_part : "", a->layer_len, b->layer_part ? b->layer_part : "", b->layer_len);
    if (c) return c;
    c = cmp_part(a->var_part, a->var_len, b->var_part, b->var_len);
    if (c) return c;
    return a < b ? -1 : a > b; /* stable: manifest order */
}

/* A path as the manifest and the caller may write it: "./x" is "x". */
static const char* path_key(const char* p) { return p[0] == '.' && p[1] == '/' ? p + 2 : p; }

typedef struct file_key {
    const char* path; /* path_key of the caller's path */
    int index;
} file_key;

static int cmp_file_keys(const void* pa, const void* pb) {
    const file_key* a = (const file_key*)pa;
    const file_key* b = (const file_key*)pb;
    int c = strcmp(a->path, b->path);
    return c ? c : (a->index > b->index) - (a->index < b->index);
}

/* Index of the first of the caller's files named `path`, or -1: a binary search, so a manifest
 * listing many paths costs O(paths log files), not O(paths * files). */
static int find_file(const importer* im, const char* path) {
    const char* key = path_key(path);
    size_t lo = 0, hi = (size_t)im->n_files;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(im->file_order[mid].path, key) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < (size_t)im->n_files && strcmp(im->file_order[lo].path, key) == 0 ? im->file_order[lo].index : -1;
}

/* A manifest path must stay below model.json: relative, no "..", no backslashes or control
 * characters (a loader joins it to the model's directory or URL). */
static int path_is_safe(const char* p) {
    if (!p[0] || p[0] == '/' || strlen(p) > 1024) return 0;
    for (const char* c = p; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == '\\' || *c == 0x7f) return 0;
        if (*c == ':') return 0; /* no URL schemes or drive letters */
    }
    const char* c = p;
    while (*c) {
        const char* e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 2 && c[0] == '.' && c[1] == '.') return 0;
        if (!e) break;
        c = e + 1;
    }
    return 1;
}

static wt_status parse_manifest(importer* im, const wt_json* manifest) {
    if (!wt_json_is(manifest, WT_JSON_ARRAY))
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: model.json has no weightsManifest list");
    size_t n_weights = 0, n_paths = 0;
    for (const wt_json* g = manifest->first; g; g = g->next) {
        const wt_json* ws = wt_json_get(g, "weights");
        const wt_json* ps = wt_json_get(g, "paths");
        if (!wt_json_is(ws, WT_JSON_ARRAY) || !wt_json_is(ps, WT_JSON_ARRAY))
            return wt_fail(WT_ERR_CORRUPT, "tfjs import: weightsManifest group at byte %zu needs 'paths' and 'weights' lists",
                           g->offset);
        n_weights += ws->count;
        n_paths += ps->count;
    }
    if (n_weights > MAX_WEIGHTS || n_paths > MAX_PATHS)
        return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: weightsManifest lists %zu tensors in %zu files (limits %d, %d)",
                       n_weights, n_paths, MAX_WEIGHTS, MAX_PATHS);
    im->weights = (mweight*)calloc(n_weights ? n_weights : 1, sizeof(mweight));
    im->sorted = (mweight**)calloc(n_weights ? n_weights : 1, sizeof(mweight*));
    im->groups = (mgroup*)calloc(manifest->count ? manifest->count : 1, sizeof(mgroup));
    im->group_files = (int*)calloc(n_paths ? n_paths : 1, sizeof(int));
    im->file_order = (file_key*)calloc(im->n_files ? (size_t)im->n_files : 1, sizeof(file_key));
    if (!im->weights || !im->sorted || !im->groups || !im->group_files || !im->file_order)
        return wt_fail(WT_ERR_OUT_OF_MEMORY, "tfjs import: out of memory");
    for (int f = 0; f < im->n_files; f++) im->file_order[f] = (file_key){ path_key(im->files[f].path), f };
    qsort(im->file_order, (size_t)im->n_files, sizeof *im->file_order, cmp_file_keys);

    int gi = 0;
    for (const wt_json* g = manifest->first; g; g = g->next, gi++) {
        mgroup* grp = &im->groups[gi];
        grp->first_file = im->n_group_files;
        for (const wt_json* p = wt_json_get(g, "paths")->first; p; p = p->next) {
            const char* path = wt_json_str(p);
            if (!path || !path_is_safe(path))
                return wt_fail(WT_ERR_CORRUPT, "tfjs import: weight file path '%.200s' (byte %zu) is not a plain relative "
                               "path", path ? path : "(not a string)", p->offset);
            int found = find_file(im, path);
            if (found < 0) {
                if (!grp->missing) grp->missing = path;
            } else {
                grp->available += im->files[found].len;
            }
            im->group_files[im->n_group_files++] = found;
            grp->n_files++;
        }
        uint64_t offset = 0;
        for (const wt_json* wj = wt_json_get(g, "weights")->first; wj; wj = wj->next) {
            mweight* w = &im->weights[im->n_weights];
            w->name = wt_json_str(wt_json_get(wj, "name"));
            const wt_json* shape = wt_json_get(wj, "shape");
            const char* dtype = wt_json_str(wt_json_get(wj, "dtype"));
            if (!w->name || !dtype || !wt_json_is(shape, WT_JSON_ARRAY))
                return wt_fail(WT_ERR_CORRUPT, "tfjs import: weightsManifest entry at byte %zu needs name, shape and dtype",
                               wj->offset);
            if (shape->count > MAX_RANK)
                return wt_fail(WT_ERR_CORRUPT, "tfjs import: weight '%s' has rank %zu", w->name, shape->count);
            w->rank = (int)shape->count;
            w->count = 1;
            int k = 0;
            for (const wt_json* d = shape->first; d; d = d->next, k++) {
                if (!wt_json_int(d, 0, (long long)MAX_TENSOR_ELEMS, &w->shape[k]))
                    return wt_fail(WT_ERR_CORRUPT, "tfjs import: weight '%s' has an invalid shape", w->name);
                w->count *= (uint64_t)w->shape[k];
                if (w->count > MAX_TENSOR_ELEMS)
                    return wt_fail(WT_ERR_CORRUPT, "tfjs import: weight '%s' has more than %llu elements", w->name,
                                   (unsigned long long)MAX_TENSOR_ELEMS);
            }
            uint64_t elem;
            const wt_json* q = wt_json_get(wj, "quantization");
            if (q && q->type != WT_JSON_NULL) {
                const char* qd = wt_json_str(wt_json_get(q, "dtype"));
                if (!streq(dtype, "float32"))
                    return wt_fail(WT_ERR_CORRUPT, "tfjs import: weight '%s' is a quantized %s (only float32 can be quantized)",
                                   w->name, dtype);
                if (streq(qd, "uint8") || streq(qd, "uint16")) {
                    w->storage = streq(qd, "uint8") ? ST_U8 : ST_U16;
                    elem = streq(qd, "uint8") ? 1 : 2;
                    if (!wt_json_num(wt_json_get(q, "scale"), &w->q_scale) ||
                        !wt_json_num(wt_json_get(q, "min"), &w->q_min))
                        return wt_fail(WT_ERR_CORRUPT, "tfjs import: quantized weight '%s' needs numeric scale and min", w->name);
                } else if (streq(qd, "float16")) {
                    w->storage = ST_F16;
                    elem = 2;
                } else {
                    return wt_fail(WT_ERR_CORRUPT, "tfjs import: weight '%s' has unknown quantization dtype '%s'", w->name,
                                   qd ? qd : "(missing)");
                }
            } else if (streq(dtype, "float32")) {
                w->storage = ST_F32;
                elem = 4;
            } else if (streq(dtype, "int32")) {
                w->storage = ST_OTHER;
                elem = 4;
            } else if (streq(dtype, "bool")) {
                w->storage = ST_OTHER;
                elem = 1;
            } else {
                return wt_fail(WT_ERR_CORRUPT, "tfjs import: weight '%s' has unknown dtype '%s'", w->name, dtype);
            }
            w->group = gi;
            w->offset = offset;
            w->nbytes = w->count * elem;
            offset += w->nbytes; /* < 65536 * 2^30: no overflow in 64 bits */
            split_weight_name(w);
            im->sorted[im->n_weights] = w;
            im->n_weights++;
        }
        grp->needed = offset;
    }
    im->n_groups = gi;
    qsort(im->sorted, (size_t)im->n_weights, sizeof *im->sorted, cmp_weights);
    return WT_OK;
}

/* The manifest entry for variable `var` of layer l, or NULL. Names match on their last two
 * components ("<layer>/<var>"), so prefixes added by nested models do not matter; if several
 * entries match, the one whose third-last component is l's enclosing model wins. */
static wt_status find_weight(importer* im, const layer* l, const char* var, mweight** out) {
    *out = NULL;
    size_t ln = strlen(l->name), vn = strlen(var);
    size_t lo = 0, hi = (size_t)im->n_weights;
    while (lo < hi) { /* first entry >= (name, var) */
        size_t mid = lo + (hi - lo) / 2;
        const mweight* w = im->sorted[mid];
        int c = cmp_part(w->layer_part ? w->layer_part : "", w->layer_len, l->name, ln);
        if (!c) c = cmp_part(w->var_part, w->var_len, var, vn);
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    mweight* best = NULL;
    int n_match = 0, n_scoped = 0;
    for (size_t i = lo; i < (size_t)im->n_weights; i++) {
        mweight* w = im->sorted[i];
        if (!w->layer_part || cmp_part(w->layer_part, w->layer_len, l->name, ln) ||
            cmp_part(w->var_part, w->var_len, var, vn))
            break;
        if (n_match == 0) best = w;
        n_match++;
        if (w->scope_part && l->scope && cmp_part(w->scope_part, w->scope_len, l->scope, strlen(l->scope)) == 0) {
            if (n_scoped == 0) best = w;
            n_scoped++;
        }
    }
    if (n_match > 1 && n_scoped != 1)
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: layer '%s': %d weightsManifest entries match '%s/%s'", l->name, n_match,
                       l->name, var);
    *out = best;
    return WT_OK;
}

/* Copies nbytes at `offset` of a group (its shard files concatenated) into dst. */
static void read_group(const importer* im, const mgroup* g, uint64_t offset, uint8_t* dst, size_t nbytes) {
    for (int k = 0; k < g->n_files && nbytes; k++) {
        const wt_weight_file* f = &im->files[im->group_files[g->first_file + k]];
        if (offset >= f->len) {
            offset -= f->len;
            continue;
        }
        size_t take = f->len - (size_t)offset;
        if (take > nbytes) take = nbytes;
        memcpy(dst, f->bytes + offset, take);
        dst += take;
        nbytes -= take;
        offset = 0;
    }
    WT_ASSERT(nbytes == 0);
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3FF) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Decodes manifest entry w into im->scratch (w->count floats). */
static wt_status decode_weight(importer* im, const layer* l, mweight* w) {
    const mgroup* g = &im->groups[w->group];
    WT_ASSERT(!g->missing && g->available >= g->needed && w->storage != ST_OTHER); /* find_param checked */
    /* sizes are bounded by the bytes the caller holds in memory, so they fit size_t */
    size_t count = (size_t)w->count, nbytes = (size_t)w->nbytes;
    if (count > im->scratch_cap) {
        float* p = (float*)realloc(im->scratch, (count ? count : 1) * sizeof(float));
        if (!p) return wt_fail(WT_ERR_OUT_OF_MEMORY, "tfjs import: out of memory for weight '%s'", w->name);
        im->scratch = p;
        im->scratch_cap = count;
    }
    if (nbytes > im->bytes_cap) {
        uint8_t* p = (uint8_t*)realloc(im->bytes, nbytes ? nbytes : 1);
        if (!p) return wt_fail(WT_ERR_OUT_OF_MEMORY, "tfjs import: out of memory for weight '%s'", w->name);
        im->bytes = p;
        im->bytes_cap = nbytes;
    }
    read_group(im, g, w->offset, im->bytes, nbytes);
    const uint8_t* b = im->bytes;
    float* dst = im->scratch;
    switch (w->storage) {
    case ST_F32:
        for (size_t i = 0; i < count; i++) {
            uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
                         (uint32_t)b[4 * i + 3] << 24;
            memcpy(&dst[i], &u, sizeof u);
        }
        break;
    case ST_U8:
        for (size_t i = 0; i < count; i++) dst[i] = (float)(b[i] * w->q_scale + w->q_min);
        break;
    case ST_U16:
        for (size_t i = 0; i < count; i++)
            dst[i] = (float)(((unsigned)b[2 * i] | (unsigned)b[2 * i + 1] << 8) * w->q_scale + w->q_min);
        break;
    case ST_F16:
        for (size_t i = 0; i < count; i++) dst[i] = half_to_float((uint16_t)(b[2 * i] | b[2 * i + 1] << 8));
        break;
    }
    return WT_OK;
}

/* The manifest tensor for variable `var` of Keras layer l, checked before anything is allocated
 * for it: its shape must equal `shape` (rank dims), its group's files must be present and long
 * enough, it must be float32 (maybe quantized), and no other layer may have claimed it. So the
 * parameter memory an import allocates is bounded by the bytes of the weight files (at most 4x,
 * for uint8 quantization), never by numbers in model.json alone. */
static wt_status find_param(importer* im, const layer* l, const char* var, const long long* shape, int rank,
                            mweight** out) {
    *out = NULL;
    mweight* w;
    wt_status st = find_weight(im, l, var, &w);
    if (st) return st;
    if (!w)
        return wt_fail(WT_ERR_NOT_FOUND, "tfjs import: layer '%s' (%s): weight '%s/%s' is not in the weightsManifest",
                       l->name, l->cls, l->name, var);
    int same = w->rank == rank;
    for (int k = 0; same && k < rank; k++) same = w->shape[k] == shape[k];
    if (!same) {
        char want[96], got[96];
        int n = 0;
        for (int k = 0; k < rank; k++) n += snprintf(want + n, sizeof want - (size_t)n, "%s%lld", k ? "," : "", shape[k]);
        if (!rank) snprintf(want, sizeof want, "scalar");
        n = 0;
        got[0] = '\0';
        for (int k = 0; k < w->rank && n < 80; k++)
            n += snprintf(got + n, sizeof got - (size_t)n, "%s%lld", k ? "," : "", w->shape[k]);
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: layer '%s' (%s): weight '%s' has shape [%s], the layer needs [%s]",
                       l->name, l->cls, w->name, got, want);
    }
    const mgroup* g = &im->groups[w->group];
    if (g->missing)
        return wt_fail(WT_ERR_NOT_FOUND, "tfjs import: layer '%s' needs weight file '%s', which was not provided", l->name,
                       g->missing);
    if (g->available < g->needed)
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: the weight files of group %d are %llu bytes, the manifest needs %llu "
                       "(a shard is truncated or missing bytes; first file '%s')", w->group + 1,
                       (unsigned long long)g->available, (unsigned long long)g->needed,
                       g->n_files ? im->files[im->group_files[g->first_file]].path : "");
    if (w->storage == ST_OTHER)
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: layer '%s': weight '%s' is not float32", l->name, w->name);
    if (w->used_by)
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: layer '%s' of model '%s': weight '%s' already belongs to layer "
                       "'%s' of model '%s' (each manifest tensor belongs to one layer)", l->name,
                       l->scope ? l->scope : "", w->name, w->used_by->name, w->used_by->scope ? w->used_by->scope : "");
    w->used_by = l;
    *out = w;
    return WT_OK;
}

/* Loads manifest tensor w (from find_param) into the parameter of kind `kind` of webtune node
 * `node`. */
static wt_status load_param(importer* im, const layer* l, int node, wt_param_kind kind, mweight* w) {
    wt_status st = decode_weight(im, l, w);
    if (st) return st;
    int first = 0, n_params = wt_net_param_count(im->net);
    /* the node's parameters are the last ones added */
    for (int i = n_params - 1; i >= 0; i--) {
        wt_param_info pi;
        wt_net_param_info(im->net, i, &pi);
        if (pi.node != node) break;
        first = i;
        if (pi.kind == kind) break;
    }
    wt_param_info pi;
    st = wt_net_param_info(im->net, first, &pi);
    WT_ASSERT(!st && pi.node == node && pi.kind == kind && pi.count == (size_t)w->count);
    st = wt_net_param_write(im->net, first, im->scratch, (size_t)w->count);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", wt_last_error());
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: layer '%s': bad values in weight '%s': %s", l->name, w->name, msg);
    }
    im->n_weights_loaded++;
    return WT_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* Pass 3: emit layers                                                                          */
/* ------------------------------------------------------------------------------------------- */

/* Remembers a name the net now holds (a copy, owned by the importer). */
static wt_status remember_name(importer* im, const char* name, int node) {
    if ((im->n_names & (im->n_names - 1)) == 0) { /* full at 0, 1, 2, 4, 8, ...: double */
        char** p = (char**)realloc(im->name_store, (size_t)(im->n_names ? 2 * im->n_names : 1) * sizeof *p);
        if (!p) return wt_fail(WT_ERR_OUT_OF_MEMORY, "tfjs import: out of memory");
        im->name_store = p;
    }
    size_t n = strlen(name) + 1;
    char* copy = (char*)malloc(n);
    if (!copy) return wt_fail(WT_ERR_OUT_OF_MEMORY, "tfjs import: out of memory");
    memcpy(copy, name, n);
    im->name_store[im->n_names++] = copy;
    return map_put(&im->node_names, copy, node);
}

/* Adds a node named `name`, or `name_2`, `name_3`, ... if a node of that name exists (layers of
 * nested models may share a name). Names are looked up in a hash map, not in the net, so a model
 * with many equal names stays linear. */
static wt_status add_node(importer* im, const layer* l, wt_layer_desc* d, const char* name, int* out) {
    if (wt_net_node_count(im->net) - 1 >= MAX_NODES)
        return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: layer '%s' (%s): the model needs more than %d webtune layers",
                       l->name, l->cls, MAX_NODES);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", name);
    for (int k = 2; map_get(&im->node_names, buf) >= 0; k++) {
        if (k >= MAX_NAME_SUFFIX)
            return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: layer '%s' (%s): more than %d layers are named '%s'",
                           l->name, l->cls, MAX_NAME_SUFFIX - 1, name);
        snprintf(buf, sizeof buf, "%s_%d", name, k);
    }
    wt_clear_error();
    d->name = buf;
    wt_status st = wt_net_add(im->net, d, out);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", wt_last_error());
        /* an argument wt_net_add refuses came from the file (a name over 200 bytes): the model is
         * one webtune cannot represent, not a caller's mistake */
        if (st == WT_ERR_INVALID_ARGUMENT) st = WT_ERR_UNSUPPORTED;
        return wt_fail(st, "tfjs import: layer '%s' (%s): %s", l->name, l->cls, msg);
    }
    return remember_name(im, buf, *out);
}

static wt_status unsupported(const layer* l, const char* what) {
    return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: layer '%s' (%s): %s", l->name, l->cls, what);
}

/* [a, b] or a single integer n (meaning [n, n]) */
static int int_pair(const wt_json* v, long long lo, long long hi, long long out[2]) {
    if (wt_json_int(v, lo, hi, &out[0])) {
        out[1] = out[0];
        return 1;
    }
    return wt_json_is(v, WT_JSON_ARRAY) && v->count == 2 && wt_json_int(v->first, lo, hi, &out[0]) &&
           wt_json_int(v->first->next, lo, hi, &out[1]);
}

static int get_bool(const wt_json* cfg, const char* key, int dflt) {
    const wt_json* v = wt_json_get(cfg, key);
    return wt_json_is(v, WT_JSON_BOOL) ? v->boolean : dflt;
}

static wt_status check_channels_last(const layer* l) {
    const wt_json* df = wt_json_get(l->cfg, "data_format");
    if (df && df->type != WT_JSON_NULL && !streq(wt_json_str(df), "channels_last"))
        return unsupported(l, "only data_format channels_last is supported");
    return WT_OK;
}

/* Emits the node for an `activation` attribute (or an Activation layer) after node x. */
static wt_status emit_activation(importer* im, layer* l, const char* act, int x, int* out, int* softmax) {
    *out = x;
    if (!act || streq(act, "linear")) return WT_OK;
    if (streq(act, "softmax")) {
        *softmax = 1;
        return WT_OK;
    }
    wt_layer_desc d = { 0 };
    if (streq(act, "relu")) d.type = WT_LAYER_RELU;
    else if (streq(act, "relu6")) d.type = WT_LAYER_RELU6;
    else return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: layer '%s' (%s): activation '%s' is not supported "
                        "(linear, relu, relu6, softmax)", l->name, l->cls, act);
    d.input = x;
    char name[256];
    if (streq(l->cls, "Activation")) snprintf(name, sizeof name, "%s", l->name);
    else snprintf(name, sizeof name, "%s/%s", l->name, act);
    return add_node(im, l, &d, name, out);
}

static const char* activation_attr(const layer* l, wt_status* st) {
    const wt_json* a = wt_json_get(l->cfg, "activation");
    *st = WT_OK;
    if (!a || a->type == WT_JSON_NULL) return "linear";
    const char* s = wt_json_str(a);
    if (!s) *st = unsupported(l, "the activation is not a name");
    return s;
}

static void shape_of(importer* im, int node, int* h, int* w, int* c) { wt_net_node_shape(im->net, node, h, w, c); }

static wt_status emit_conv(importer* im, layer* l, const layer* src, int x, int depthwise) {
    const wt_json* cfg = l->cfg;
    long long k[2], s[2], dil[2] = { 1, 1 }, filters = 0, mult = 1, groups = 1;
    wt_status st = check_channels_last(l);
    if (st) return st;
    if (!int_pair(wt_json_get(cfg, "kernel_size"), 1, 15, k)) return unsupported(l, "kernel_size must be 1..15");
    if (!int_pair(wt_json_get(cfg, "strides"), 1, 8, s)) return unsupported(l, "strides must be 1..8");
    if (s[0] != s[1]) return unsupported(l, "strides must be equal along height and width");
    const wt_json* dv = wt_json_get(cfg, "dilation_rate");
    if (dv && !int_pair(dv, 1, 1, dil)) return unsupported(l, "dilation_rate must be 1");
    const wt_json* gv = wt_json_get(cfg, "groups");
    if (gv && !wt_json_int(gv, 1, 1, &groups)) return unsupported(l, "groups must be 1");
    if (depthwise) {
        const wt_json* mv = wt_json_get(cfg, "depth_multiplier");
        if (mv && !wt_json_int(mv, 1, 1, &mult)) return unsupported(l, "depth_multiplier must be 1");
    } else if (!wt_json_int(wt_json_get(cfg, "filters"), 1, 65536, &filters)) {
        return unsupported(l, "filters must be 1..65536");
    }
    const char* pad = wt_json_str(wt_json_get(cfg, "padding"));
    if (!streq(pad, "same") && !streq(pad, "valid")) return unsupported(l, "padding must be 'same' or 'valid'");
    const char* act = activation_attr(l, &st);
    if (st) return st;
    int use_bias = get_bool(cfg, "use_bias", 1);

    int in_h, in_w, in_c;
    shape_of(im, x, &in_h, &in_w, &in_c);
    wt_layer_desc d = { 0 };
    d.type = depthwise ? WT_LAYER_DEPTHWISE : WT_LAYER_CONV2D;
    d.input = x;
    d.out_channels = depthwise ? 0 : (int)filters;
    d.kernel_h = (int)k[0];
    d.kernel_w = (int)k[1];
    d.stride = (int)s[0];
    d.use_bias = use_bias;
    d.padding = streq(pad, "same") ? WT_PAD_SAME : WT_PAD_VALID;
    if (src && src->has_pad) {
        /* ZeroPadding2D, then this layer's own padding on the padded size */
        int pads[4] = { src->pad[0], src->pad[1], src->pad[2], src->pad[3] };
        if (d.padding == WT_PAD_SAME) {
            int size[2] = { in_h + pads[0] + pads[1], in_w + pads[2] + pads[3] };
            for (int a = 0; a < 2; a++) {
                int o = (size[a] + d.stride - 1) / d.stride;
                int total = (o - 1) * d.stride + (int)k[a] - size[a];
                if (total < 0) total = 0;
                pads[2 * a] += total / 2;
                pads[2 * a + 1] += total - total / 2;
            }
        }
        d.padding = WT_PAD_EXPLICIT;
        d.pad_top = pads[0];
        d.pad_bottom = pads[1];
        d.pad_left = pads[2];
        d.pad_right = pads[3];
    }
    /* sizes from untrusted numbers: bound them in 64 bits before the net multiplies them */
    uint64_t out_c = depthwise ? (uint64_t)in_c : (uint64_t)filters;
    uint64_t n_weights = (uint64_t)k[0] * (uint64_t)k[1] * (uint64_t)(depthwise ? 1 : in_c) * out_c;
    uint64_t n_out = (uint64_t)(in_h + d.pad_top + d.pad_bottom + 2 * k[0]) *
                     (uint64_t)(in_w + d.pad_left + d.pad_right + 2 * k[1]) * out_c;
    if (n_weights > MAX_TENSOR_ELEMS || n_out > MAX_TENSOR_ELEMS)
        return unsupported(l, "the layer is too large");
    /* the weights first: the node's parameters are allocated only for tensors that exist */
    long long kshape[4] = { k[0], k[1], in_c, depthwise ? 1 : filters }, bshape[1] = { depthwise ? in_c : filters };
    mweight *wk = NULL, *wb = NULL;
    st = find_param(im, l, depthwise ? "depthwise_kernel" : "kernel", kshape, 4, &wk);
    if (!st && use_bias) st = find_param(im, l, "bias", bshape, 1, &wb);
    if (st) return st;
    int node;
    st = add_node(im, l, &d, l->name, &node);
    if (!st) st = load_param(im, l, node, WT_PARAM_WEIGHT, wk);
    if (!st && wb) st = load_param(im, l, node, WT_PARAM_BIAS, wb);
    if (st) return st;
    return emit_activation(im, l, act, node, &l->node, &l->softmax);
}

static wt_status emit_dense(importer* im, layer* l, int x) {
    long long units;
    wt_status st;
    if (!wt_json_int(wt_json_get(l->cfg, "units"), 1, 65536, &units)) return unsupported(l, "units must be 1..65536");
    const char* act = activation_attr(l, &st);
    if (st) return st;
    int use_bias = get_bool(l->cfg, "use_bias", 1);
    int in_h, in_w, in_c;
    shape_of(im, x, &in_h, &in_w, &in_c);
    if ((uint64_t)in_c * (uint64_t)units > MAX_TENSOR_ELEMS ||
        (uint64_t)in_h * (uint64_t)in_w * (uint64_t)units > MAX_TENSOR_ELEMS)
        return unsupported(l, "the layer is too large");
    wt_layer_desc d = { .type = WT_LAYER_DENSE, .input = x, .out_channels = (int)units, .use_bias = use_bias };
    long long kshape[2] = { in_c, units }, bshape[1] = { units };
    mweight *wk = NULL, *wb = NULL;
    st = find_param(im, l, "kernel", kshape, 2, &wk);
    if (!st && use_bias) st = find_param(im, l, "bias", bshape, 1, &wb);
    if (st) return st;
    int node;
    st = add_node(im, l, &d, l->name, &node);
    if (!st) st = load_param(im, l, node, WT_PARAM_WEIGHT, wk);
    if (!st && wb) st = load_param(im, l, node, WT_PARAM_BIAS, wb);
    if (st) return st;
    return emit_activation(im, l, act, node, &l->node, &l->softmax);
}

static wt_status emit_batchnorm(importer* im, layer* l, int x) {
    const wt_json* cfg = l->cfg;
    const wt_json* axis = wt_json_get(cfg, "axis");
    long long a = -1;
    if (wt_json_is(axis, WT_JSON_ARRAY) && axis->count == 1) axis = axis->first;
    if (axis && !(wt_json_int(axis, -1, 3, &a) && (a == -1 || a == 3)))
        return unsupported(l, "only axis -1 (channels) is supported");
    double eps = 1e-3, mom = 0.99;
    const wt_json* ev = wt_json_get(cfg, "epsilon");
    const wt_json* mv = wt_json_get(cfg, "momentum");
    if (ev && !(wt_json_num(ev, &eps) && eps > 0.0 && eps < 1.0)) return unsupported(l, "epsilon must be in (0, 1)");
    if (mv && !(wt_json_num(mv, &mom) && mom > 0.0 && mom <= 1.0)) return unsupported(l, "momentum must be in (0, 1]");
    if (get_bool(cfg, "renorm", 0)) return unsupported(l, "batch renormalization is not supported");
    int center = get_bool(cfg, "center", 1), scale = get_bool(cfg, "scale", 1);
    int c;
    shape_of(im, x, NULL, NULL, &c);
    wt_layer_desc d = { .type = WT_LAYER_BATCHNORM, .input = x, .bn_mode = im->bn_mode,
                        .bn_epsilon = (float)eps, .bn_momentum = (float)mom };
    long long shape[1] = { c };
    mweight *wg = NULL, *wb = NULL, *wm = NULL, *wv = NULL;
    wt_status st = WT_OK;
    if (scale) st = find_param(im, l, "gamma", shape, 1, &wg);
    if (!st && center) st = find_param(im, l, "beta", shape, 1, &wb);
    if (!st) st = find_param(im, l, "moving_mean", shape, 1, &wm);
    if (!st) st = find_param(im, l, "moving_variance", shape, 1, &wv);
    if (st) return st;
    int node;
    st = add_node(im, l, &d, l->name, &node);
    if (st) return st;
    if (wg) st = load_param(im, l, node, WT_PARAM_GAMMA, wg);
    if (!st && wb) st = load_param(im, l, node, WT_PARAM_BETA, wb);
    if (!st) st = load_param(im, l, node, WT_PARAM_MOVING_MEAN, wm);
    if (!st) st = load_param(im, l, node, WT_PARAM_MOVING_VARIANCE, wv);
    l->node = node;
    return st;
}

static wt_status emit_relu(importer* im, layer* l, int x) {
    const wt_json* cfg = l->cfg;
    double mx = -1.0, slope = 0.0, thr = 0.0;
    const wt_json* mv = wt_json_get(cfg, "max_value");
    const wt_json* sv = wt_json_get(cfg, "negative_slope");
    const wt_json* tv = wt_json_get(cfg, "threshold");
    if (mv && mv->type != WT_JSON_NULL && !wt_json_num(mv, &mx)) return unsupported(l, "max_value is not a number");
    if (sv && sv->type != WT_JSON_NULL && !wt_json_num(sv, &slope)) return unsupported(l, "negative_slope is not a number");
    if (tv && tv->type != WT_JSON_NULL && !wt_json_num(tv, &thr)) return unsupported(l, "threshold is not a number");
    if (slope != 0.0 || thr != 0.0) return unsupported(l, "negative_slope and threshold must be 0");
    if (mx != -1.0 && mx != 6.0) return unsupported(l, "max_value must be none (ReLU) or 6 (ReLU6)");
    wt_layer_desc d = { .type = mx == 6.0 ? WT_LAYER_RELU6 : WT_LAYER_RELU, .input = x };
    return add_node(im, l, &d, l->name, &l->node);
}

/* Reshape / Flatten on [N,1,1,C]: nothing to do in NHWC, provided the channels stay the last
 * axis: a target shape of ones followed by C (one -1 may stand for any one dimension). */
static wt_status emit_reshape(importer* im, layer* l, int x) {
    int h, w, c;
    shape_of(im, x, &h, &w, &c);
    if (h != 1 || w != 1) return unsupported(l, "only reshapes of a 1x1 feature map are supported");
    if (streq(l->cls, "Reshape")) {
        const wt_json* ts = wt_json_get(l->cfg, "target_shape");
        if (!wt_json_is(ts, WT_JSON_ARRAY) || ts->count < 1 || ts->count > 3)
            return unsupported(l, "target_shape must list 1 to 3 dimensions");
        long long dims[3], known = 1;
        int n = 0, wild = -1;
        for (const wt_json* e = ts->first; e; e = e->next, n++) {
            if (!wt_json_int(e, -1, 65536, &dims[n]) || dims[n] == 0) return unsupported(l, "invalid target_shape");
            if (dims[n] == -1) {
                if (wild >= 0) return unsupported(l, "invalid target_shape (two -1 dimensions)");
                wild = n;
            } else {
                known *= dims[n];
            }
        }
        if (wild >= 0) {
            if (c % known) return unsupported(l, "target_shape does not fit the input");
            dims[wild] = c / known;
        }
        for (int k = 0; k < n; k++)
            if (dims[k] != (k == n - 1 ? c : 1))
                return unsupported(l, "the target shape must be [1, ..., C] (channels last, everything else 1)");
    }
    l->node = x;
    return WT_OK;
}

static wt_status emit_zero_padding(importer* im, layer* l, const layer* src, int x) {
    wt_status st = check_channels_last(l);
    if (st) return st;
    const wt_json* p = wt_json_get(l->cfg, "padding");
    long long v[4];
    long long pr[2];
    if (wt_json_int(p, 0, 64, &v[0])) {
        v[1] = v[2] = v[3] = v[0];
    } else if (wt_json_is(p, WT_JSON_ARRAY) && p->count == 2 && wt_json_is(p->first, WT_JSON_ARRAY)) {
        long long a[2], b[2];
        if (!int_pair(p->first, 0, 64, a) || !int_pair(p->first->next, 0, 64, b))
            return unsupported(l, "padding must be ((top, bottom), (left, right)) in 0..64");
        v[0] = a[0]; v[1] = a[1]; v[2] = b[0]; v[3] = b[1];
    } else if (int_pair(p, 0, 64, pr)) {
        v[0] = v[1] = pr[0];
        v[2] = v[3] = pr[1];
    } else {
        return unsupported(l, "padding must be ((top, bottom), (left, right)) in 0..64");
    }
    l->node = x;
    l->has_pad = 1;
    l->pad_layer = (int)(l - im->layers);
    for (int k = 0; k < 4; k++) l->pad[k] = (int)v[k] + (src && src->has_pad ? src->pad[k] : 0);
    return WT_OK;
}

static const layer* input_layer(const importer* im, const layer* l, int k) {
    int ref = im->refs[l->in_first + k];
    return ref < 0 ? NULL : &im->layers[ref];
}

static int input_node(const importer* im, const layer* l, int k) {
    const layer* s = input_layer(im, l, k);
    return s ? s->node : 0;
}

static wt_status emit_layer(importer* im, layer* l) {
    const char* cls = l->cls;
    int is_shape_noop = streq(cls, "Reshape") || streq(cls, "Flatten");
    int is_conv = streq(cls, "Conv2D") || streq(cls, "DepthwiseConv2D");
    if (l->n_in < 1) return wt_fail(WT_ERR_CORRUPT, "tfjs import: layer '%s' (%s) has no input", l->name, cls);
    if (l->n_in > 1 && !streq(cls, "Add"))
        return unsupported(l, "only Add layers may have more than one input");
    for (int k = 0; k < l->n_in; k++) {
        const layer* s = input_layer(im, l, k);
        if (!s) continue;
        if (s->softmax && !is_shape_noop)
            return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: layer '%s' (%s) follows a softmax; webtune supports softmax "
                           "only as the model's final activation", l->name, cls);
        if (s->has_pad && !is_conv && !streq(cls, "ZeroPadding2D"))
            return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: ZeroPadding2D '%s' must be followed by a Conv2D or "
                           "DepthwiseConv2D, not by '%s' (%s)", im->layers[s->pad_layer].name, l->name, cls);
    }
    const layer* src = input_layer(im, l, 0);
    int x = input_node(im, l, 0);
    im->n_layers_imported++;
    if (streq(cls, "Conv2D")) return emit_conv(im, l, src, x, 0);
    if (streq(cls, "DepthwiseConv2D")) return emit_conv(im, l, src, x, 1);
    if (streq(cls, "Dense")) return emit_dense(im, l, x);
    if (streq(cls, "BatchNormalization")) return emit_batchnorm(im, l, x);
    if (streq(cls, "ReLU")) return emit_relu(im, l, x);
    if (streq(cls, "ZeroPadding2D")) return emit_zero_padding(im, l, src, x);
    if (is_shape_noop) {
        l->softmax = src && src->softmax;
        return emit_reshape(im, l, x);
    }
    if (streq(cls, "Activation")) {
        wt_status st;
        const char* act = activation_attr(l, &st);
        if (st) return st;
        return emit_activation(im, l, act, x, &l->node, &l->softmax);
    }
    if (streq(cls, "Softmax")) {
        const wt_json* axis = wt_json_get(l->cfg, "axis");
        long long a = -1;
        if (wt_json_is(axis, WT_JSON_ARRAY) && axis->count == 1) axis = axis->first;
        if (axis && axis->type != WT_JSON_NULL && !(wt_json_int(axis, -1, -1, &a)))
            return unsupported(l, "only axis -1 is supported");
        l->node = x;
        l->softmax = 1;
        return WT_OK;
    }
    if (streq(cls, "GlobalAveragePooling2D")) {
        wt_status st = check_channels_last(l);
        if (st) return st;
        wt_layer_desc d = { .type = WT_LAYER_GLOBAL_AVG_POOL, .input = x };
        st = add_node(im, l, &d, l->name, &l->node);
        if (!st) im->last_gap_node = l->node;
        return st;
    }
    if (streq(cls, "Dropout")) {
        double rate = 0.0;
        const wt_json* ns = wt_json_get(l->cfg, "noise_shape");
        if (!wt_json_num(wt_json_get(l->cfg, "rate"), &rate) || !(rate >= 0.0 && rate < 1.0))
            return unsupported(l, "rate must be in [0, 1)");
        if (ns && ns->type != WT_JSON_NULL) return unsupported(l, "noise_shape is not supported");
        wt_layer_desc d = { .type = WT_LAYER_DROPOUT, .input = x, .dropout_rate = (float)rate };
        return add_node(im, l, &d, l->name, &l->node);
    }
    if (streq(cls, "Add")) {
        if (l->n_in < 2) return unsupported(l, "needs at least two inputs");
        int acc = x;
        for (int k = 1; k < l->n_in; k++) {
            char name[256];
            if (k == l->n_in - 1) snprintf(name, sizeof name, "%s", l->name);
            else snprintf(name, sizeof name, "%s/partial%d", l->name, k);
            wt_layer_desc d = { .type = WT_LAYER_ADD, .input = acc, .input2 = input_node(im, l, k) };
            wt_status st = add_node(im, l, &d, name, &acc);
            if (st) return st;
        }
        l->node = acc;
        return WT_OK;
    }
    im->n_layers_imported--;
    return wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: layer '%s' of class '%s' is not supported", l->name, cls);
}

/* ------------------------------------------------------------------------------------------- */
/* Entry points                                                                                 */
/* ------------------------------------------------------------------------------------------- */

static void importer_free(importer* im) {
    wt_json_free(im->doc);
    free(im->layers);
    free(im->refs);
    free(im->weights);
    free(im->sorted);
    free(im->groups);
    free(im->group_files);
    free(im->file_order);
    map_free(&im->node_names);
    for (int i = 0; i < im->n_names; i++) free(im->name_store[i]);
    free(im->name_store);
    free(im->scratch);
    free(im->bytes);
}

static wt_status parse_model_json(importer* im, const char* json, size_t len, const wt_json** root) {
    if (!json && len) return wt_fail(WT_ERR_INVALID_ARGUMENT, "tfjs import: model_json is NULL");
    wt_json_limits lim = { .max_bytes = MAX_JSON_BYTES, .max_depth = MAX_JSON_DEPTH, .max_values = MAX_JSON_VALUES };
    wt_status st = wt_json_parse(json, len, &lim, &im->doc);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", wt_last_error());
        return wt_fail(st, "tfjs import: model.json is not valid: %s", msg);
    }
    *root = wt_json_root(im->doc);
    if ((*root)->type != WT_JSON_OBJECT) return wt_fail(WT_ERR_CORRUPT, "tfjs import: model.json is not a JSON object");
    return WT_OK;
}

wt_status wt_tfjs_weight_paths(const char* model_json, size_t len, char** paths_out, int* count_out) {
    if (!paths_out) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_tfjs_weight_paths: paths_out is NULL");
    *paths_out = NULL;
    if (count_out) *count_out = 0;
    importer im;
    memset(&im, 0, sizeof im);
    const wt_json* root;
    wt_status st = parse_model_json(&im, model_json, len, &root);
    if (st) {
        importer_free(&im);
        return st;
    }
    const wt_json* manifest = wt_json_get(root, "weightsManifest");
    if (!wt_json_is(manifest, WT_JSON_ARRAY)) {
        importer_free(&im);
        return wt_fail(WT_ERR_CORRUPT, "tfjs import: model.json has no weightsManifest list");
    }
    size_t total = 1;
    int n = 0;
    for (int pass = 0; pass < 2 && !st; pass++) {
        char* out = pass ? *paths_out : NULL;
        size_t at = 0;
        for (const wt_json* g = manifest->first; g && !st; g = g->next) {
            const wt_json* ps = wt_json_get(g, "paths");
            if (!wt_json_is(ps, WT_JSON_ARRAY)) {
                st = wt_fail(WT_ERR_CORRUPT, "tfjs import: weightsManifest group at byte %zu has no 'paths' list", g->offset);
                break;
            }
            for (const wt_json* p = ps->first; p; p = p->next) {
                const char* path = wt_json_str(p);
                if (!path || !path_is_safe(path)) {
                    st = wt_fail(WT_ERR_CORRUPT, "tfjs import: weight file path '%.200s' (byte %zu) is not a plain "
                                 "relative path", path ? path : "(not a string)", p->offset);
                    break;
                }
                size_t pl = strlen(path);
                if (pass == 0) {
                    if (n >= MAX_PATHS) {
                        st = wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: more than %d weight files", MAX_PATHS);
                        break;
                    }
                    total += pl + 1;
                    n++;
                } else {
                    memcpy(out + at, path, pl);
                    out[at + pl] = '\n';
                    at += pl + 1;
                }
            }
        }
        if (pass == 0 && !st) {
            *paths_out = (char*)malloc(total);
            if (!*paths_out) st = wt_fail(WT_ERR_OUT_OF_MEMORY, "tfjs import: out of memory");
        } else if (pass == 1) {
            out[at] = '\0';
        }
    }
    importer_free(&im);
    if (st) {
        free(*paths_out);
        *paths_out = NULL;
        return st;
    }
    if (count_out) *count_out = n;
    return WT_OK;
}

void wt_tfjs_paths_free(char* paths) { free(paths); }

static const layer* find_layer(const importer* im, const char* name, int* idx) {
    for (int i = 0; i < im->n_layers; i++) {
        if (strcmp(im->layers[i].name, name) == 0) {
            *idx = i;
            return &im->layers[i];
        }
    }
    return NULL;
}

static const char* const default_cuts[] = { "conv_pw_13_relu", "out_relu" };

wt_status wt_import_tfjs(wt_context* ctx, const char* model_json, size_t len, const wt_weight_file* files, int n_files,
                         const wt_import_options* opt, wt_net** out, wt_import_info* info) {
    if (!out) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_import_tfjs: out is NULL");
    *out = NULL;
    if (info) memset(info, 0, sizeof *info);
    if (!ctx) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_import_tfjs: ctx is NULL");
    if (n_files < 0 || (n_files > 0 && !files))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_import_tfjs: files is NULL or n_files is negative");
    for (int f = 0; f < n_files; f++)
        if (!files[f].path || (!files[f].bytes && files[f].len))
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_import_tfjs: files[%d] has a NULL path or NULL bytes", f);
    wt_import_options o = { 0 };
    if (opt) o = *opt;
    if (o.bn_mode != WT_BN_FROZEN && o.bn_mode != WT_BN_BATCH_STATS)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_import_tfjs: unknown bn_mode %d", (int)o.bn_mode);
    if (o.in_h < 0 || o.in_w < 0 || o.in_h > 8192 || o.in_w > 8192)
        return wt_fail(WT_ERR_SHAPE, "wt_import_tfjs: in_h/in_w must be in 0..8192");

    importer* im = (importer*)calloc(1, sizeof *im);
    if (!im) return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_import_tfjs: out of memory");
    im->files = files;
    im->n_files = n_files;
    im->bn_mode = o.bn_mode;
    const wt_json* root;
    wt_status st = parse_model_json(im, model_json, len, &root);

    /* 1. topology */
    int model_out = -1;
    if (!st) {
        const wt_json* topo = wt_json_get(root, "modelTopology");
        if (wt_json_get(topo, "model_config")) topo = wt_json_get(topo, "model_config");
        if (!wt_json_is(topo, WT_JSON_OBJECT)) st = wt_fail(WT_ERR_CORRUPT, "tfjs import: model.json has no modelTopology");
        else st = walk_model(im, topo, -1, 0, &model_out);
    }
    if (!st) st = parse_manifest(im, wt_json_get(root, "weightsManifest"));
    if (!st && im->shape_error)
        st = wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: the model input must be [batch, height, width, channels]");
    int in_h = o.in_h ? o.in_h : im->in_shape[0], in_w = o.in_w ? o.in_w : im->in_shape[1];
    int in_c = im->in_shape[2] ? im->in_shape[2] : 3;
    if (!st && (in_h <= 0 || in_w <= 0))
        st = wt_fail(WT_ERR_SHAPE, "tfjs import: the model does not fix its input size; set in_h and in_w in the options");
    if (!st && (uint64_t)in_h * (uint64_t)in_w * (uint64_t)in_c > MAX_TENSOR_ELEMS)
        st = wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: the input %dx%dx%d is too large", in_h, in_w, in_c);
    if (!st && model_out < 0) st = wt_fail(WT_ERR_CORRUPT, "tfjs import: the model has no layers");

    /* 2. the output and what it needs */
    int output = model_out, gap_after_cut = 0, cut = -1;
    const char* cut_name = o.cut_layer;
    if (!st && !cut_name) {
        for (size_t k = 0; k < sizeof default_cuts / sizeof *default_cuts && !cut_name; k++)
            if (find_layer(im, default_cuts[k], &cut)) cut_name = default_cuts[k];
        if (!cut_name)
            st = wt_fail(WT_ERR_NOT_FOUND, "tfjs import: no default cut layer (conv_pw_13_relu or out_relu) in this model; "
                         "name one in cut_layer, or pass \"\" to keep the whole model");
    }
    int whole = !st && cut_name[0] == '\0';
    if (!st && !whole) {
        if (!find_layer(im, cut_name, &cut)) {
            st = wt_fail(WT_ERR_NOT_FOUND, "tfjs import: cut layer '%s' is not in the model", cut_name);
        } else {
            output = cut;
            if (!o.no_pooling && !streq(im->layers[cut].cls, "GlobalAveragePooling2D")) {
                gap_after_cut = 1;
                for (int j = cut + 1; j < im->n_layers; j++) {
                    const layer* l = &im->layers[j];
                    if (l->n_in == 1 && im->refs[l->in_first] == cut && streq(l->cls, "GlobalAveragePooling2D")) {
                        output = j; /* the model pools there itself */
                        gap_after_cut = 0;
                        break;
                    }
                }
            }
        }
    }
    if (!st) {
        /* mark what the output depends on (inputs always precede their readers) */
        im->layers[output].needed = 1;
        for (int i = output; i >= 0; i--) {
            const layer* l = &im->layers[i];
            if (!l->needed) continue;
            for (int k = 0; k < l->n_in; k++) {
                int r = im->refs[l->in_first + k];
                if (r >= i) {
                    st = wt_fail(WT_ERR_CORRUPT, "tfjs import: layer '%s' reads a later layer", l->name);
                    break;
                }
                if (r >= 0) im->layers[r].needed = 1;
            }
            if (st) break;
        }
    }

    /* 3. emit */
    if (!st) st = wt_net_create(ctx, in_h, in_w, in_c, &im->net);
    if (!st) {
        wt_layer_desc d0;
        st = wt_net_node_desc(im->net, 0, &d0);
        if (!st) st = remember_name(im, d0.name, 0); /* "input": a Keras layer of that name becomes input_2 */
    }
    for (int i = 0; !st && i <= output; i++)
        if (im->layers[i].needed) st = emit_layer(im, &im->layers[i]);
    int out_node = -1, softmax = 0;
    if (!st) {
        const layer* l = &im->layers[output];
        if (l->has_pad)
            st = wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: the output layer '%s' is a ZeroPadding2D", l->name);
        out_node = l->node;
        softmax = l->softmax;
        if (!st && softmax && !whole)
            st = wt_fail(WT_ERR_UNSUPPORTED, "tfjs import: cut layer '%s' follows a softmax; cut below it", cut_name);
    }
    if (!st && gap_after_cut) {
        wt_layer_desc d = { .type = WT_LAYER_GLOBAL_AVG_POOL, .input = out_node };
        layer* l = &im->layers[cut];
        st = add_node(im, l, &d, "embedding_pool", &out_node);
    }
    if (st) {
        wt_net_destroy(im->net);
        importer_free(im);
        free(im);
        return st;
    }
    if (info) {
        info->output_node = out_node;
        info->in_h = in_h;
        info->in_w = in_w;
        info->in_c = in_c;
        info->n_layers = im->n_layers_imported;
        info->n_weights = im->n_weights_loaded;
        info->logits_node = -1;
        info->embedding_node = -1;
        if (whole) {
            info->logits_node = out_node;
            info->output_softmax = softmax;
            wt_net_node_shape(im->net, out_node, NULL, NULL, &info->n_outputs);
            info->embedding_node = im->last_gap_node > 0 ? im->last_gap_node : -1;
        } else {
            info->embedding_node = out_node;
            snprintf(info->cut_layer, sizeof info->cut_layer, "%s", cut_name);
        }
        if (info->embedding_node >= 0)
            wt_net_node_shape(im->net, info->embedding_node, NULL, NULL, &info->embedding_dim);
    }
    *out = im->net;
    im->net = NULL;
    importer_free(im);
    free(im);
    wt_clear_error();
    return WT_OK;
}
