/*
 * hll.c: HyperLogLog (Flajolet et al. 2007) with linear counting for small
 * cardinalities (see hll.h).
 */
#include "detector/hll.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void set_register(uint8_t *registers, uint64_t hash)
{
    uint32_t index = (uint32_t)(hash >> (64 - FS_HLL_P));
    uint64_t rest = (hash << FS_HLL_P) | (1ULL << (FS_HLL_P - 1)); /* guard bit */
    uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);
    if (rank > registers[index])
        registers[index] = rank;
}

int fs_hll_add(fs_hll_t *hll, uint64_t hash)
{
    if (hll->registers) {
        set_register(hll->registers, hash);
        return 0;
    }
    for (uint32_t i = 0; i < hll->n_sparse; i++)
        if (hll->sparse[i] == hash)
            return 0;
    if (hll->n_sparse < FS_HLL_SPARSE_MAX) {
        if (hll->n_sparse == hll->cap_sparse) {
            uint32_t cap = hll->cap_sparse ? 2 * hll->cap_sparse : 4;
            uint64_t *grown = realloc(hll->sparse, cap * sizeof *grown);
            if (!grown)
                return -1;
            hll->sparse = grown;
            hll->cap_sparse = cap;
        }
        hll->sparse[hll->n_sparse++] = hash;
        return 0;
    }
    hll->registers = calloc(FS_HLL_REGISTERS, 1);
    if (!hll->registers)
        return -1;
    for (uint32_t i = 0; i < hll->n_sparse; i++)
        set_register(hll->registers, hll->sparse[i]);
    set_register(hll->registers, hash);
    free(hll->sparse);
    hll->sparse = NULL;
    hll->n_sparse = hll->cap_sparse = 0;
    return 0;
}

void fs_hll_clear(fs_hll_t *hll)
{
    free(hll->sparse);
    free(hll->registers);
    memset(hll, 0, sizeof *hll);
}

void fs_hll_merge_into(const fs_hll_t *hll, uint8_t *registers)
{
    if (hll->registers) {
        for (uint32_t i = 0; i < FS_HLL_REGISTERS; i++)
            if (hll->registers[i] > registers[i])
                registers[i] = hll->registers[i];
        return;
    }
    for (uint32_t i = 0; i < hll->n_sparse; i++)
        set_register(registers, hll->sparse[i]);
}

double fs_hll_estimate(const uint8_t *registers)
{
    const double m = FS_HLL_REGISTERS;
    double sum = 0;
    unsigned zeros = 0;
    for (uint32_t i = 0; i < FS_HLL_REGISTERS; i++) {
        sum += ldexp(1.0, -registers[i]);
        zeros += registers[i] == 0;
    }
    double alpha = 0.7213 / (1 + 1.079 / m);
    double estimate = alpha * m * m / sum;
    if (estimate <= 2.5 * m && zeros > 0)
        return m * log(m / zeros); /* linear counting */
    return estimate;
}
