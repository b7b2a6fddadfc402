/* dataset.c: labelled examples kept as RGB uint8 at the model's input size (150 KB for 224x224,
 * a quarter of float32), one allocation per example so adding and removing never moves pixels. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "webtune.h"

struct wt_dataset {
    int height, width;
    size_t example_bytes;
    size_t max_bytes; /* 0 = no cap */
    uint8_t** pixels;
    int* labels;
    int count, cap;
};

wt_status wt_dataset_create(int height, int width, size_t max_bytes, wt_dataset** out) {
    if (!out) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_dataset_create: out is NULL");
    *out = NULL;
    if (height < 1 || width < 1 || height > WT_IMAGE_MAX_SIDE || width > WT_IMAGE_MAX_SIDE ||
        (size_t)height * width > WT_IMAGE_MAX_PIXELS)
        return wt_fail(WT_ERR_SHAPE, "wt_dataset_create: size %dx%d is not allowed", width, height);
    wt_dataset* ds = (wt_dataset*)calloc(1, sizeof(*ds));
    if (!ds) return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_dataset_create: out of memory");
    ds->height = height;
    ds->width = width;
    ds->example_bytes = (size_t)height * width * 3;
    ds->max_bytes = max_bytes;
    *out = ds;
    return WT_OK;
}

void wt_dataset_destroy(wt_dataset* ds) {
    if (!ds) return;
    for (int i = 0; i < ds->count; i++) free(ds->pixels[i]);
    free(ds->pixels);
    free(ds->labels);
    free(ds);
}

wt_status wt_dataset_add(wt_dataset* ds, const uint8_t* rgb, size_t len, int label, int* out_index) {
    static const char fn[] = "wt_dataset_add";
    if (!ds || !rgb) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    if (len != ds->example_bytes)
        return wt_fail(WT_ERR_SHAPE, "%s: an example is %dx%dx3 = %zu bytes, not %zu", fn, ds->width, ds->height,
                       ds->example_bytes, len);
    if (label < -1 || label >= 65536)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: label %d is not in -1..65535", fn, label);
    if (ds->max_bytes && (size_t)(ds->count + 1) * ds->example_bytes > ds->max_bytes)
        return wt_fail(WT_ERR_OUT_OF_MEMORY,
                       "%s: the dataset's memory budget of %zu MB holds %zu examples of %dx%d; it has %d. "
                       "Raise the budget or remove examples",
                       fn, ds->max_bytes >> 20, ds->max_bytes / ds->example_bytes, ds->width, ds->height, ds->count);
    if (ds->count == ds->cap) {
        int cap = ds->cap ? ds->cap * 2 : 64;
        uint8_t** p = (uint8_t**)realloc(ds->pixels, (size_t)cap * sizeof(*p));
        if (!p) return wt_fail(WT_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
        ds->pixels = p;
        int* l = (int*)realloc(ds->labels, (size_t)cap * sizeof(*l));
        if (!l) return wt_fail(WT_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
        ds->labels = l;
        ds->cap = cap;
    }
    uint8_t* copy = (uint8_t*)malloc(len);
    if (!copy) return wt_fail(WT_ERR_OUT_OF_MEMORY, "%s: out of memory after %d examples", fn, ds->count);
    memcpy(copy, rgb, len);
    ds->pixels[ds->count] = copy;
    ds->labels[ds->count] = label;
    if (out_index) *out_index = ds->count;
    ds->count++;
    return WT_OK;
}

int wt_dataset_count(const wt_dataset* ds) { return ds ? ds->count : 0; }

size_t wt_dataset_bytes(const wt_dataset* ds) { return ds ? (size_t)ds->count * ds->example_bytes : 0; }

wt_status wt_dataset_get(const wt_dataset* ds, int index, int* label, const uint8_t** rgb) {
    if (!ds) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_dataset_get: ds is NULL");
    if (index < 0 || index >= ds->count)
        return wt_fail(WT_ERR_NOT_FOUND, "wt_dataset_get: no example %d (the dataset has %d)", index, ds->count);
    if (label) *label = ds->labels[index];
    if (rgb) *rgb = ds->pixels[index];
    return WT_OK;
}

wt_status wt_dataset_remove(wt_dataset* ds, int index) {
    if (!ds) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_dataset_remove: ds is NULL");
    if (index < 0 || index >= ds->count)
        return wt_fail(WT_ERR_NOT_FOUND, "wt_dataset_remove: no example %d (the dataset has %d)", index, ds->count);
    free(ds->pixels[index]);
    memmove(ds->pixels + index, ds->pixels + index + 1, (size_t)(ds->count - index - 1) * sizeof(*ds->pixels));
    memmove(ds->labels + index, ds->labels + index + 1, (size_t)(ds->count - index - 1) * sizeof(*ds->labels));
    ds->count--;
    return WT_OK;
}

wt_status wt_dataset_remove_label(wt_dataset* ds, int label) {
    if (!ds) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_dataset_remove_label: ds is NULL");
    if (label < 0) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_dataset_remove_label: label %d < 0", label);
    int kept = 0;
    for (int i = 0; i < ds->count; i++) {
        if (ds->labels[i] == label) {
            free(ds->pixels[i]);
            continue;
        }
        ds->pixels[kept] = ds->pixels[i];
        ds->labels[kept] = ds->labels[i] > label ? ds->labels[i] - 1 : ds->labels[i];
        kept++;
    }
    ds->count = kept;
    return WT_OK;
}
