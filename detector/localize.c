/*
 * localize.c: the localizer (see localize.h).
 */
#include "detector/localize.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PARTS 2
#define HYSTERESIS 0.3
#define CONCENTRATION 2.0 /* excess share over traffic share that makes separate incidents */
#define OVERLAP_SLACK 2.0

typedef struct part {
    const char *name, *value; /* raw, inside the key; compared escaped */
    size_t name_len, value_len;
} part_t;

typedef struct node {
    part_t parts[MAX_PARTS];
    int n_parts; /* -1: not a hierarchy slice (malformed or too deep) */
    int visited;
} node_t;

struct fs_localizer {
    size_t max;
    double min_excess;
    node_t *nodes;
    size_t *order; /* scratch for child lists */
    size_t *roots; /* scratch for the roots of a pass */
};

fs_localizer_t *fs_localizer_new(size_t max_candidates, double min_excess)
{
    fs_localizer_t *loc = calloc(1, sizeof *loc);
    if (!loc)
        return NULL;
    loc->max = max_candidates;
    loc->min_excess = min_excess;
    loc->nodes = calloc(max_candidates ? max_candidates : 1, sizeof *loc->nodes);
    loc->order = calloc(max_candidates ? max_candidates : 1, sizeof *loc->order);
    loc->roots = calloc(max_candidates ? max_candidates : 1, sizeof *loc->roots);
    if (!loc->nodes || !loc->order || !loc->roots) {
        fs_localizer_free(loc);
        return NULL;
    }
    return loc;
}

void fs_localizer_free(fs_localizer_t *loc)
{
    if (!loc)
        return;
    free(loc->nodes);
    free(loc->order);
    free(loc->roots);
    free(loc);
}

/* Splits a canonical key into its parts without unescaping (keys are
 * canonical, so equal values have equal escaped text). */
static void parse(const char *key, node_t *n)
{
    n->n_parts = 0;
    n->visited = 0;
    const char *p = key;
    while (*p) {
        if (n->n_parts == MAX_PARTS) {
            n->n_parts = -1;
            return;
        }
        part_t *part = &n->parts[n->n_parts++];
        const char *eq = strchr(p, '=');
        if (!eq) {
            n->n_parts = -1;
            return;
        }
        part->name = p;
        part->name_len = (size_t)(eq - p);
        part->value = eq + 1;
        const char *q = eq + 1;
        while (*q && *q != ',') {
            if (*q == '\\' && q[1])
                q++;
            q++;
        }
        part->value_len = (size_t)(q - part->value);
        p = *q == ',' ? q + 1 : q;
    }
}

static int same_part(const part_t *a, const part_t *b)
{
    return a->name_len == b->name_len && a->value_len == b->value_len &&
           memcmp(a->name, b->name, a->name_len) == 0 &&
           memcmp(a->value, b->value, a->value_len) == 0;
}

static int has_part(const node_t *n, const part_t *p)
{
    for (int i = 0; i < n->n_parts; i++)
        if (same_part(&n->parts[i], p))
            return 1;
    return 0;
}

/* Whether child is parent plus one part; *extra gets that part's index. */
static int is_child(const node_t *parent, const node_t *child, int *extra)
{
    if (parent->n_parts < 0 || child->n_parts != parent->n_parts + 1)
        return 0;
    for (int i = 0; i < parent->n_parts; i++)
        if (!has_part(child, &parent->parts[i]))
            return 0;
    for (int i = 0; i < child->n_parts; i++)
        if (!has_part(parent, &child->parts[i]))
            *extra = i;
    return 1;
}

static int is_ancestor(const node_t *a, const node_t *d)
{
    if (a->n_parts < 0 || d->n_parts < 0 || a->n_parts >= d->n_parts)
        return 0;
    for (int i = 0; i < a->n_parts; i++)
        if (!has_part(d, &a->parts[i]))
            return 0;
    return 1;
}

static int inside_reported(const fs_localizer_t *loc, const fs_loc_candidate_t *c, size_t n,
                           size_t x);

static void visit(fs_localizer_t *loc, fs_loc_candidate_t *c, size_t n, size_t x, double share)
{
    node_t *nodes = loc->nodes;
    if (nodes[x].visited)
        return;
    nodes[x].visited = 1;
    /* Part of a slice already named: that alert covers it. */
    if (inside_reported(loc, c, n, x))
        return;

    /* The firing children of x, grouped by the dimension they add; for each
     * dimension the fewest children (largest excess first) reaching share. */
    size_t best_first = 0, best_k = 0, n_kids = 0;
    double best_sum = 0, best_conc = 0;
    size_t *kids = loc->order;
    for (size_t i = 0; i < n; i++) {
        int extra = 0;
        /* A child with less excess than the paging minimum names nothing. */
        if (i != x && c[i].excess >= loc->min_excess && is_child(&nodes[x], &nodes[i], &extra))
            kids[n_kids++] = i;
    }
    /* Sort children by (dimension name, excess desc): insertion sort, K small. */
    for (size_t i = 1; i < n_kids; i++) {
        size_t v = kids[i], j = i;
        while (j > 0) {
            size_t u = kids[j - 1];
            int ev = 0, eu = 0;
            is_child(&nodes[x], &nodes[v], &ev);
            is_child(&nodes[x], &nodes[u], &eu);
            const part_t *pv = &nodes[v].parts[ev], *pu = &nodes[u].parts[eu];
            size_t l = pv->name_len < pu->name_len ? pv->name_len : pu->name_len;
            int cmp = memcmp(pv->name, pu->name, l);
            if (cmp == 0)
                cmp = (pv->name_len > pu->name_len) - (pv->name_len < pu->name_len);
            if (cmp > 0 || (cmp == 0 && c[v].excess <= c[u].excess))
                break;
            kids[j] = u;
            j--;
        }
        kids[j] = v;
    }
    for (size_t g = 0; g < n_kids;) {
        int eg = 0;
        is_child(&nodes[x], &nodes[kids[g]], &eg);
        const part_t *dim = &nodes[kids[g]].parts[eg];
        size_t end = g;
        double sum = 0;
        size_t k = 0;
        int reached = 0;
        for (; end < n_kids; end++) {
            int e = 0;
            is_child(&nodes[x], &nodes[kids[end]], &e);
            const part_t *d = &nodes[kids[end]].parts[e];
            if (d->name_len != dim->name_len || memcmp(d->name, dim->name, dim->name_len) != 0)
                break;
            if (!reached) {
                const fs_loc_candidate_t *kid = &c[kids[end]];
                double need = (kid->open ? share - HYSTERESIS : share) * c[x].excess;
                sum += kid->excess;
                k++;
                reached = sum >= need;
            }
        }
        /* Fewest children first; among as few, the dimension that
         * concentrates the excess most (the most specific explanation). */
        double t = 0;
        for (size_t i = g; i < g + k; i++)
            t += c[kids[i]].traffic;
        double conc = t > 0 ? sum / t : 0;
        if (reached && (best_k == 0 || k < best_k || (k == best_k && conc > best_conc))) {
            best_first = g;
            best_k = k;
            best_sum = sum;
            best_conc = conc;
        }
        g = end;
    }
    if (best_k == 0) {
        c[x].report = 1;
        return;
    }
    if (best_k == 1) {
        visit(loc, c, n, kids[best_first], share);
        return;
    }
    /* Several children explain x: one problem across x if their excess is
     * spread over x's traffic about as their traffic is (a country-wide
     * outage hits each platform in proportion), several if the excess is
     * concentrated in a small part of x's traffic. */
    double traffic = 0;
    for (size_t i = 0; i < best_k; i++)
        traffic += c[kids[best_first + i]].traffic;
    double excess_part = c[x].excess > 0 ? best_sum / c[x].excess : 1;
    double traffic_part = c[x].traffic > 0 ? traffic / c[x].traffic : 1;
    double limit = c[x].open ? CONCENTRATION + 1 : CONCENTRATION;
    if (excess_part <= limit * traffic_part) {
        c[x].report = 1;
        return;
    }
    /* Copy the chosen children out of the scratch, which recursion reuses. */
    size_t chosen[64];
    size_t m = best_k < 64 ? best_k : 64;
    memcpy(chosen, &kids[best_first], m * sizeof *chosen);
    for (size_t i = 0; i < m; i++)
        visit(loc, c, n, chosen[i], share);
}

/* Whether slice x lies inside a reported slice (is it or its descendant). */
static int inside_reported(const fs_localizer_t *loc, const fs_loc_candidate_t *c, size_t n,
                           size_t x)
{
    for (size_t r = 0; r < n; r++)
        if (c[r].report && (r == x || is_ancestor(&loc->nodes[r], &loc->nodes[x])))
            return 1;
    return 0;
}

/* Whether slice i contains or is contained in a reported slice. */
static int related_to_reported(const fs_localizer_t *loc, const fs_loc_candidate_t *c, size_t n,
                               size_t i)
{
    for (size_t r = 0; r < n; r++)
        if (c[r].report && (r == i || is_ancestor(&loc->nodes[r], &loc->nodes[i]) ||
                            is_ancestor(&loc->nodes[i], &loc->nodes[r])))
            return 1;
    return 0;
}

/* Whether two slices can share traffic: no dimension with two values. */
static int overlaps(const node_t *a, const node_t *b)
{
    for (int i = 0; i < a->n_parts; i++)
        for (int j = 0; j < b->n_parts; j++)
            if (a->parts[i].name_len == b->parts[j].name_len &&
                memcmp(a->parts[i].name, b->parts[j].name, a->parts[i].name_len) == 0 &&
                !same_part(&a->parts[i], &b->parts[j]))
                return 0;
    return 1;
}

/*
 * How much of reported slice r's excess falls into slice y: r's excess times
 * y's share of the traffic of the slice made of the parts both have.
 */
static double overlap_excess(const fs_localizer_t *loc, const fs_loc_candidate_t *c, size_t y,
                             size_t r, fs_loc_traffic_cb traffic, void *opaque)
{
    const node_t *ny = &loc->nodes[y], *nr = &loc->nodes[r];
    char key[1024];
    size_t len = 0;
    for (int i = 0; i < ny->n_parts; i++) {
        if (!has_part(nr, &ny->parts[i]))
            continue;
        const part_t *pt = &ny->parts[i];
        size_t need = pt->name_len + 1 + pt->value_len + (len ? 1 : 0);
        if (len + need >= sizeof key)
            return 0;
        if (len)
            key[len++] = ',';
        memcpy(key + len, pt->name, pt->name_len + 1 + pt->value_len);
        len += pt->name_len + 1 + pt->value_len;
    }
    key[len] = '\0';
    double common = traffic(opaque, key, len);
    if (common <= 0)
        return 0;
    double part = c[y].traffic / common;
    return c[r].excess * (part < 1 ? part : 1);
}

/* Whether the reported slices that overlap y account for most of its excess. */
static int explained_by_overlap(const fs_localizer_t *loc, const fs_loc_candidate_t *c, size_t n,
                                size_t y, double share, fs_loc_traffic_cb traffic, void *opaque)
{
    double sum = 0;
    for (size_t r = 0; r < n; r++)
        if (c[r].report && r != y && overlaps(&loc->nodes[y], &loc->nodes[r]))
            sum += overlap_excess(loc, c, y, r, traffic, opaque);
    /* What the reported slices do not explain must be clearly more than the
     * share left over (and than the paging minimum): the estimate assumes
     * independent dimensions, the recent excess of a small slice is noisy,
     * and a second page for one incident costs more than a late one for a
     * coincident second incident. */
    if (sum <= 0)
        return 0;
    double residual = c[y].excess - sum;
    double allowed = (1 - share) * c[y].excess;
    if (allowed < loc->min_excess)
        allowed = loc->min_excess;
    return residual <= OVERLAP_SLACK * allowed;
}

void fs_localize(fs_localizer_t *loc, fs_loc_candidate_t *c, size_t n, double share,
                 fs_loc_traffic_cb traffic, void *opaque)
{
    if (n > loc->max) {
        for (size_t i = 0; i < n; i++)
            c[i].report = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        parse(c[i].key, &loc->nodes[i]);
        c[i].report = 0;
    }
    for (size_t i = 0; i < n; i++)
        if (loc->nodes[i].n_parts < 0)
            c[i].report = 1;
    /* Descents start, largest excess first, at firing slices that have no
     * firing ancestor left to explain them; a slice already explained by a
     * reported one (it contains it, is contained in it, or overlaps it with
     * most of its excess) starts none. A smaller incident next to a big one
     * is not reached from all traffic, which the big one explains: it
     * starts a descent of its own here. */
    /* Each pass finds the roots left (O(K^2)) and takes them largest excess
     * first; a pass can expose new roots below the ones it explained, so
     * passes repeat, at most once per level of the hierarchy and a few more. */
    size_t *roots = loc->roots;
    for (int found = 1; found;) {
        found = 0;
        size_t n_roots = 0;
        for (size_t i = 0; i < n; i++) {
            if (loc->nodes[i].visited || loc->nodes[i].n_parts < 0 ||
                related_to_reported(loc, c, n, i))
                continue;
            int root = 1;
            for (size_t j = 0; j < n && root; j++)
                if (j != i && !loc->nodes[j].visited && loc->nodes[j].n_parts >= 0 &&
                    is_ancestor(&loc->nodes[j], &loc->nodes[i]) &&
                    !related_to_reported(loc, c, n, j))
                    root = 0;
            if (root)
                roots[n_roots++] = i;
        }
        /* Largest excess first: insertion sort, the roots are few. */
        for (size_t a = 1; a < n_roots; a++) {
            size_t v = roots[a], b = a;
            while (b > 0 && c[roots[b - 1]].excess < c[v].excess) {
                roots[b] = roots[b - 1];
                b--;
            }
            roots[b] = v;
        }
        for (size_t r = 0; r < n_roots; r++) {
            size_t i = roots[r];
            if (loc->nodes[i].visited || related_to_reported(loc, c, n, i))
                continue;
            found = 1;
            if (explained_by_overlap(loc, c, n, i, share, traffic, opaque))
                loc->nodes[i].visited = 1;
            else
                visit(loc, c, n, i, share);
        }
    }
}
