/* random.c: counter-based random numbers. Every value is a pure function of (seed, index), built
 * from 64-bit integer arithmetic only, so it is the same on every platform, for every thread count
 * and in any evaluation order (dropout masks do not depend on how the work was split). */
#include "ops.h"

/* The splitmix64 output function (Steele, Lea, Flood 2014): a bijective 64-bit mixer. */
static uint64_t mix64(uint64_t z) {
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ULL;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z;
}

/* splitmix64's index-th output for a stream whose start is the mixed seed. Mixing the seed first
 * keeps nearby seeds (0, 1, 2, ...) from giving shifted copies of one another's stream. */
uint64_t wt_hash64(uint64_t seed, uint64_t index) {
    uint64_t key = mix64(seed ^ 0x6A09E667F3BCC909ULL);
    return mix64(key + (index + 1) * 0x9E3779B97F4A7C15ULL);
}

/* The top 24 bits scaled by 2^-24: exactly representable, in [0, 1). */
float wt_uniform(uint64_t seed, uint64_t index) {
    return (float)(uint32_t)(wt_hash64(seed, index) >> 40) * (1.0f / 16777216.0f);
}
