/* replay_main.c: a main() for one fuzz target without libFuzzer, run by CTest (tests/CMakeLists.txt,
 * natively only: it reads files). Compiled together with tests/fuzz/fuzz_<target>.c into
 * fuzz_replay_<target>, with WT_FUZZ_TARGET naming the target.
 *
 *   fuzz_replay_<target>                 replays tests/fuzz/regressions/<target>/ (every file) and
 *                                        the generated cases below; exit status 0 if all pass
 *   fuzz_replay_<target> FILE|DIR ...    replays just those inputs (to reproduce a finding with the
 *                                        normal ASan build, without libFuzzer)
 *
 * Each input goes through LLVMFuzzerTestOneInput, whose oracles abort on a violation. The generated
 * cases are made at run time from real files (${WT_SHARED_DIR}: environment variable, else the
 * compile-time default): a 1-byte file, truncated files and bit-flipped files of each format, fed to
 * the fuzz entry point and to the public API, where each must give an error status:
 *   model_file   a tiny classifier saved with wt_model_save: 1 byte, truncations, and every byte
 *                with one bit flipped (past the header's magic, version and length: WT_ERR_CORRUPT,
 *                "checksum mismatch")
 *   tfjs_import  the MobileNet v1 and Teachable Machine backbones: "{", truncated model.json, a
 *                structural bracket flipped, a truncated or missing shard; plus bit flips spread
 *                over model.json, which must not crash (any documented status)
 *   image        a flower JPEG and a PNG made from it: 1 byte, truncations, a bit flip in the magic
 *                and in the declared size; plus bit flips spread over the file (no crash) */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "webtune.h"

#ifndef WT_FUZZ_TARGET
#error "compile with -DWT_FUZZ_TARGET=\"model_file\" (or tfjs_import, image)"
#endif
#ifndef WT_FUZZ_REGRESSIONS_DIR
#define WT_FUZZ_REGRESSIONS_DIR "tests/fuzz/regressions"
#endif
#ifndef WT_SHARED_DIR
#define WT_SHARED_DIR "../shared"
#endif

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static int n_inputs, n_cases, n_failed;

#define EXPECT(cond, ...)                                                                        \
    do {                                                                                         \
        n_cases++;                                                                               \
        if (!(cond)) {                                                                           \
            n_failed++;                                                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                 \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fprintf(stderr, "\n  (last error: %s)\n", wt_last_error());                          \
        }                                                                                        \
    } while (0)

#if !defined(WT_REPLAY_MODEL_FILE) /* the model-file cases make their file with the C API */
static const char* shared_dir(void) {
    const char* d = getenv("WT_SHARED_DIR");
    return d && d[0] ? d : WT_SHARED_DIR;
}
#endif

static uint8_t* read_all(const char* path, size_t* len) {
    *len = 0;
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t* buf = (uint8_t*)malloc(cap);
    for (;;) {
        if (!buf) break;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t* p = (uint8_t*)realloc(buf, cap * 2);
        if (!p) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
        cap *= 2;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Runs the fuzz entry point on a private copy of exactly len bytes (ASan sees over-reads). */
static void fuzz_one(const uint8_t* data, size_t len) {
    uint8_t* copy = (uint8_t*)malloc(len ? len : 1);
    if (!copy) abort();
    if (len) memcpy(copy, data, len);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
    n_inputs++;
}

static int cmp_str(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

/* A file, or every regular file of a directory (sorted, not recursive). */
static int replay_path(const char* path, int verbose) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "replay: %s does not exist\n", path);
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        size_t len;
        uint8_t* data = read_all(path, &len);
        if (!data) {
            fprintf(stderr, "replay: cannot read %s\n", path);
            return -1;
        }
        if (verbose) fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
        fuzz_one(data, len);
        free(data);
        return 1;
    }
    DIR* d = opendir(path);
    if (!d) return -1;
    char** names = NULL;
    size_t n = 0, cap = 0;
    struct dirent* e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* ., .., dot files */
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = (char**)realloc(names, cap * sizeof *names);
            if (!names) abort();
        }
        size_t k = strlen(path) + strlen(e->d_name) + 2;
        names[n] = (char*)malloc(k);
        snprintf(names[n], k, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode) && replay_path(names[i], verbose) > 0) count++;
        free(names[i]);
    }
    free(names);
    return count;
}

/* ------------------------------------------------------------------------------------------- */
#if defined(WT_REPLAY_MODEL_FILE)

static wt_status load(wt_context* ctx, const uint8_t* b, size_t n) {
    wt_net* net = NULL;
    wt_model_meta* meta = NULL;
    wt_status st = wt_model_load(ctx, b, n, &net, &meta);
    wt_net_destroy(net);
    wt_model_meta_free(meta);
    return st;
}

static void generated_cases(void) {
    wt_context* ctx;
    if (wt_context_create(NULL, &ctx) != WT_OK) abort();
    wt_net* net;
    int x, emb, logits;
    if (wt_net_create(ctx, 6, 6, 3, &net) != WT_OK) abort();
    wt_layer_desc layers[] = {
        { .type = WT_LAYER_CONV2D, .name = "conv", .out_channels = 4, .stride = 2, .use_bias = 1 },
        { .type = WT_LAYER_BATCHNORM, .name = "bn" },
        { .type = WT_LAYER_RELU6, .name = "relu" },
        { .type = WT_LAYER_GLOBAL_AVG_POOL, .name = "gap" },
        { .type = WT_LAYER_DENSE, .name = "logits", .out_channels = 3, .use_bias = 1 },
    };
    x = 0;
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        layers[i].input = x;
        if (wt_net_add(net, &layers[i], &x) != WT_OK) abort();
    }
    emb = x - 1;
    logits = x;
    static const char* const labels[] = { "a", "b", "c" };
    wt_model_meta meta = { .n_labels = 3, .labels = labels, .embedding_node = emb, .logits_node = logits };
    uint8_t* file;
    size_t len;
    if (wt_model_save(net, &meta, 0, &file, &len) != WT_OK) abort();
    wt_net_destroy(net);

    EXPECT(load(ctx, file, len) == WT_OK, "the intact model file loads");
    fuzz_one(file, len);

    /* 1 byte */
    wt_status st = load(ctx, file, 1);
    EXPECT(st == WT_ERR_CORRUPT && strstr(wt_last_error(), "truncated"), "1-byte model file: %s", wt_status_name(st));
    fuzz_one(file, 1);
    static const uint8_t zero = 0;
    st = load(ctx, &zero, 1);
    EXPECT(st == WT_ERR_CORRUPT && strstr(wt_last_error(), "bad magic"), "1 zero byte: %s", wt_status_name(st));
    fuzz_one(&zero, 1);

    /* truncated */
    size_t cuts[] = { len - 1, len - 32, len / 2, 56, 24, 23, 8 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        st = load(ctx, file, cuts[i]);
        EXPECT(st == WT_ERR_CORRUPT && strstr(wt_last_error(), "truncated"), "model file cut to %zu bytes: %s",
               cuts[i], wt_status_name(st));
        fuzz_one(file, cuts[i]);
    }

    /* one bit flipped in every byte: past the magic, version and length fields the checksum catches
     * it. (fuzz_one also loads each with the checksum fixed up, which reaches the parsers.) */
    uint8_t* flip = (uint8_t*)malloc(len);
    for (size_t i = 0; i < len; i++) {
        memcpy(flip, file, len);
        flip[i] ^= (uint8_t)(1u << (i % 8));
        st = load(ctx, flip, len);
        if (i < 8) EXPECT(st == WT_ERR_CORRUPT && strstr(wt_last_error(), "bad magic"), "flip in byte %zu: %s", i,
                          wt_status_name(st));
        else if (i < 12) EXPECT(st == WT_ERR_CORRUPT || st == WT_ERR_UNSUPPORTED, "flip in byte %zu: %s", i,
                                wt_status_name(st));
        else if (i >= 16 && i < 24) EXPECT(st == WT_ERR_CORRUPT, "flip in byte %zu: %s", i, wt_status_name(st));
        else EXPECT(st == WT_ERR_CORRUPT && strstr(wt_last_error(), "checksum mismatch"), "flip in byte %zu: %s", i,
                    wt_status_name(st));
        fuzz_one(flip, len);
    }
    free(flip);
    wt_free_bytes(file);
    wt_context_destroy(ctx);
}

/* ------------------------------------------------------------------------------------------- */
#elif defined(WT_REPLAY_TFJS_IMPORT)

typedef struct backbone {
    uint8_t* json;
    size_t json_len;
    wt_weight_file* files;
    uint8_t** data;
    int n_files;
    char* paths;
} backbone;

static int load_backbone(const char* name, backbone* b) {
    memset(b, 0, sizeof *b);
    char path[4096];
    snprintf(path, sizeof path, "%s/backbones/%s/model.json", shared_dir(), name);
    b->json = read_all(path, &b->json_len);
    if (!b->json) {
        fprintf(stderr, "FAIL: %s not found (set WT_SHARED_DIR)\n", path);
        n_failed++;
        return 0;
    }
    if (wt_tfjs_weight_paths((const char*)b->json, b->json_len, &b->paths, &b->n_files) != WT_OK) abort();
    b->files = (wt_weight_file*)calloc((size_t)b->n_files + 1, sizeof *b->files);
    b->data = (uint8_t**)calloc((size_t)b->n_files + 1, sizeof *b->data);
    char* p = b->paths;
    for (int i = 0; i < b->n_files; i++) {
        char* nl = strchr(p, '\n');
        *nl = '\0';
        snprintf(path, sizeof path, "%s/backbones/%s/%s", shared_dir(), name, p);
        b->data[i] = read_all(path, &b->files[i].len);
        if (!b->data[i]) abort();
        b->files[i].path = p;
        b->files[i].bytes = b->data[i];
        p = nl + 1;
    }
    return 1;
}

static void free_backbone(backbone* b) {
    for (int i = 0; i < b->n_files; i++) free(b->data[i]);
    free(b->data);
    free(b->files);
    wt_tfjs_paths_free(b->paths);
    free(b->json);
}

static wt_status import(const void* json, size_t len, const wt_weight_file* files, int n) {
    wt_context* ctx;
    if (wt_context_create(NULL, &ctx) != WT_OK) abort();
    wt_net* net = NULL;
    wt_status st = wt_import_tfjs(ctx, (const char*)json, len, files, n, NULL, &net, NULL);
    wt_net_destroy(net);
    wt_context_destroy(ctx);
    return st;
}

/* The fuzz input: u32 json length, option byte, model.json, one shard. */
static void fuzz_tfjs(const uint8_t* json, size_t jl, const uint8_t* shard, size_t sl, uint8_t flags) {
    uint8_t* in = (uint8_t*)malloc(5 + jl + sl);
    for (int i = 0; i < 4; i++) in[i] = (uint8_t)(jl >> (8 * i));
    in[4] = flags;
    memcpy(in + 5, json, jl);
    if (sl) memcpy(in + 5 + jl, shard, sl);
    fuzz_one(in, 5 + jl + sl);
    free(in);
}

static void json_cases(const backbone* b) {
    const uint8_t* j = b->json;
    size_t n = b->json_len;
    const uint8_t* shard = b->files[0].bytes;
    size_t sl = b->files[0].len;
    char* paths = NULL;

    wt_status st = import(j, n, b->files, b->n_files);
    EXPECT(st == WT_OK, "the intact backbone imports: %s", wt_status_name(st));
    fuzz_tfjs(j, n, shard, sl, 0);

    /* 1 byte, truncated */
    size_t cuts[] = { 1, n / 2, n - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        st = import(j, cuts[i], b->files, b->n_files);
        EXPECT(st == WT_ERR_CORRUPT, "model.json cut to %zu bytes: %s", cuts[i], wt_status_name(st));
        st = wt_tfjs_weight_paths((const char*)j, cuts[i], &paths, NULL);
        EXPECT(st == WT_ERR_CORRUPT && !paths, "weight paths of model.json cut to %zu bytes: %s", cuts[i],
               wt_status_name(st));
        fuzz_tfjs(j, cuts[i], shard, sl, 0);
    }

    /* a structural bracket flipped ('{' -> 'z', '[' -> 'Z'): 32 of them, spread over the file */
    uint8_t* flip = (uint8_t*)malloc(n);
    size_t n_brackets = 0;
    int in_string = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_string) {
            if (j[i] == '\\') i++;
            else if (j[i] == '"') in_string = 0;
        } else if (j[i] == '"') {
            in_string = 1;
        } else if (j[i] == '{' || j[i] == '[') {
            n_brackets++;
        }
    }
    size_t seen = 0, step = n_brackets / 32 + 1;
    in_string = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_string) {
            if (j[i] == '\\') i++;
            else if (j[i] == '"') in_string = 0;
            continue;
        }
        if (j[i] == '"') {
            in_string = 1;
            continue;
        }
        if ((j[i] != '{' && j[i] != '[') || seen++ % step) continue;
        memcpy(flip, j, n);
        flip[i] ^= 1;
        st = import(flip, n, b->files, b->n_files);
        EXPECT(st == WT_ERR_CORRUPT && strstr(wt_last_error(), "json"), "bracket at byte %zu flipped: %s", i,
               wt_status_name(st));
        fuzz_tfjs(flip, n, shard, sl, 0);
    }

    /* single bit flips spread over model.json: any documented status, no crash */
    for (size_t k = 0; k < 48; k++) {
        size_t i = (k * 7919 + 13) % n;
        memcpy(flip, j, n);
        flip[i] ^= (uint8_t)(1u << (k % 8));
        st = import(flip, n, b->files, b->n_files);
        EXPECT(st == WT_OK || st == WT_ERR_CORRUPT || st == WT_ERR_UNSUPPORTED || st == WT_ERR_NOT_FOUND ||
                   st == WT_ERR_SHAPE,
               "bit %zu of byte %zu flipped: %s", k % 8, i, wt_status_name(st));
        fuzz_tfjs(flip, n, shard, sl, (uint8_t)k);
    }
    free(flip);

    /* a shard cut short, a shard missing */
    wt_weight_file* files = (wt_weight_file*)malloc((size_t)b->n_files * sizeof *files);
    memcpy(files, b->files, (size_t)b->n_files * sizeof *files);
    files[0].len -= 4;
    st = import(j, n, files, b->n_files);
    EXPECT(st == WT_ERR_CORRUPT && strstr(wt_last_error(), "truncated"), "a shard cut short: %s", wt_status_name(st));
    fuzz_tfjs(j, n, shard, sl - 4, 1);
    st = import(j, n, files + 1, b->n_files - 1);
    EXPECT(b->n_files < 2 || st == WT_ERR_NOT_FOUND, "a shard missing: %s", wt_status_name(st));
    st = import(j, n, NULL, 0);
    EXPECT(st == WT_ERR_NOT_FOUND, "no shards: %s", wt_status_name(st));
    free(files);
}

static void generated_cases(void) {
    static const char* const names[] = { "mobilenet_v1_0.25_224", "teachable_machine_mobilenet_v2_0.35_224" };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        backbone b;
        if (!load_backbone(names[k], &b)) continue;
        json_cases(&b);
        free_backbone(&b);
    }
}

/* ------------------------------------------------------------------------------------------- */
#elif defined(WT_REPLAY_IMAGE)

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
/* GCC reports the static functions stb declares but never defines (HDR, TGA writers with
 * STBI_WRITE_NO_STDIO...) at the end of the file, outside the push/pop above. */
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

typedef struct membuf {
    uint8_t* p;
    size_t n;
} membuf;

static void to_mem(void* ctx, void* data, int size) {
    membuf* m = (membuf*)ctx;
    m->p = (uint8_t*)realloc(m->p, m->n + (size_t)size);
    if (!m->p) abort();
    memcpy(m->p + m->n, data, (size_t)size);
    m->n += (size_t)size;
}

static uint8_t* first_jpeg(size_t* len) {
    static const char* const classes[] = { "daisy", "dandelion", "roses", "sunflowers", "tulips" };
    char dir[4096], best[4096] = "";
    for (size_t c = 0; c < sizeof classes / sizeof classes[0] && !best[0]; c++) {
        snprintf(dir, sizeof dir, "%s/datasets/flowers/train/%s", shared_dir(), classes[c]);
        DIR* d = opendir(dir);
        if (!d) continue;
        struct dirent* e;
        char name[1024] = "";
        while ((e = readdir(d))) {
            size_t k = strlen(e->d_name);
            if (k > 4 && strcmp(e->d_name + k - 4, ".jpg") == 0 && (!name[0] || strcmp(e->d_name, name) < 0))
                snprintf(name, sizeof name, "%s", e->d_name);
        }
        closedir(d);
        if (name[0]) snprintf(best, sizeof best, "%s/%s", dir, name);
    }
    return best[0] ? read_all(best, len) : NULL;
}

static void fuzz_image(const uint8_t* img, size_t n, uint8_t ctl) {
    uint8_t* in = (uint8_t*)malloc(n + 1);
    in[0] = ctl;
    memcpy(in + 1, img, n);
    fuzz_one(in, n + 1);
    free(in);
}

static wt_status decode(const uint8_t* b, size_t n) {
    wt_image img;
    wt_status st = wt_image_decode(b, n, &img);
    wt_image_free(&img);
    return st;
}

/* size_at: offset of the big-endian u16 (JPEG) or u32 (PNG) whose top bit a flip makes too large */
static void image_cases(const char* what, const uint8_t* b, size_t n, size_t size_at) {
    wt_status st = decode(b, n);
    EXPECT(st == WT_OK, "the intact %s decodes: %s", what, wt_status_name(st));
    fuzz_image(b, n, 0);

    size_t cuts[] = { 1, n / 2, n * 3 / 4 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        st = decode(b, cuts[i]);
        EXPECT(st == WT_ERR_CORRUPT, "%s cut to %zu bytes: %s", what, cuts[i], wt_status_name(st));
        fuzz_image(b, cuts[i], (uint8_t)(i * 3));
    }

    uint8_t* flip = (uint8_t*)malloc(n);
    memcpy(flip, b, n);
    flip[1] ^= 1; /* JPEG FF D8 -> FF D9, PNG 89 'P' -> 89 'Q' */
    st = decode(flip, n);
    EXPECT(st == WT_ERR_UNSUPPORTED, "%s with its magic flipped: %s", what, wt_status_name(st));
    fuzz_image(flip, n, 1);

    memcpy(flip, b, n);
    flip[size_at] ^= 0x80; /* a side of 32768 or more pixels */
    st = decode(flip, n);
    EXPECT(st == WT_ERR_SHAPE, "%s with its declared size flipped: %s", what, wt_status_name(st));
    fuzz_image(flip, n, 2);

    /* single bit flips spread over the file: any documented status, no crash */
    for (size_t k = 0; k < 96; k++) {
        size_t i = (k * 7919 + 5) % n;
        memcpy(flip, b, n);
        flip[i] ^= (uint8_t)(1u << (k % 8));
        st = decode(flip, n);
        EXPECT(st == WT_OK || st == WT_ERR_CORRUPT || st == WT_ERR_UNSUPPORTED || st == WT_ERR_SHAPE,
               "%s, bit %zu of byte %zu flipped: %s", what, k % 8, i, wt_status_name(st));
        fuzz_image(flip, n, (uint8_t)(k * 37));
    }
    free(flip);
}

static void generated_cases(void) {
    size_t n;
    uint8_t* jpeg = first_jpeg(&n);
    if (!jpeg) {
        fprintf(stderr, "FAIL: no flower JPEG under %s/datasets/flowers (set WT_SHARED_DIR)\n", shared_dir());
        n_failed++;
        return;
    }
    /* the frame header (SOF0..SOF2), found by walking the marker segments after SOI (an EXIF
     * thumbnail may hold another); its height is at +5 */
    size_t sof = 0;
    for (size_t i = 2; i + 9 < n && jpeg[i] == 0xFF;) {
        if (jpeg[i + 1] >= 0xC0 && jpeg[i + 1] <= 0xC2) {
            sof = i;
            break;
        }
        i += 2 + ((size_t)jpeg[i + 2] << 8 | jpeg[i + 3]);
    }
    EXPECT(sof > 0, "the JPEG has a frame header");
    if (sof) image_cases("JPEG", jpeg, n, sof + 5);

    /* a PNG of the same photo, made smaller */
    wt_image img;
    wt_status st = wt_image_decode(jpeg, n, &img);
    EXPECT(st == WT_OK, "decode the photo: %s", wt_status_name(st));
    if (st == WT_OK) {
        uint8_t small[40 * 30 * 3];
        wt_preprocess p = { .out_h = 30, .out_w = 40, .filter = WT_RESIZE_AREA, .crop = WT_CROP_NONE };
        st = wt_image_resize_u8(&img, &p, small, sizeof small);
        EXPECT(st == WT_OK, "resize: %s", wt_status_name(st));
        membuf png = { NULL, 0 };
        stbi_write_png_to_func(to_mem, &png, 40, 30, 3, small, 40 * 3);
        EXPECT(png.n > 33, "stb_image_write made a PNG");
        if (png.n > 33) image_cases("PNG", png.p, png.n, 16); /* IHDR width, big-endian */
        free(png.p);
        wt_image_free(&img);
    }
    free(jpeg);
}

#else
#error "define one of WT_REPLAY_MODEL_FILE, WT_REPLAY_TFJS_IMPORT, WT_REPLAY_IMAGE"
#endif

int main(int argc, char** argv) {
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            if (replay_path(argv[i], 1) < 0) return 1;
        printf("replay %s: %d inputs, no crash\n", WT_FUZZ_TARGET, n_inputs);
        return 0;
    }
    int n = replay_path(WT_FUZZ_REGRESSIONS_DIR "/" WT_FUZZ_TARGET, 0);
    if (n < 0) return 1;
    printf("replay %s: %d regression inputs from %s\n", WT_FUZZ_TARGET, n, WT_FUZZ_REGRESSIONS_DIR "/" WT_FUZZ_TARGET);
    generated_cases();
    printf("replay %s: %d inputs through the fuzz entry point, %d generated-case checks, %d failed\n",
           WT_FUZZ_TARGET, n_inputs, n_cases, n_failed);
    return n_failed ? 1 : 0;
}
