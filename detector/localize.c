/*
 * localize.c: the localizer (see localize.h).
 *
 * Each call splits the candidates' keys into `name=value` parts, interns the
 * parts and dimension names in a hash table, and links every hierarchy slice
 * to its ancestors and children among the candidates by index. The descent
 * then only follows those links; whether a slice lies inside a named one, or
 * above one, is a flag set when a slice is named.
 */
#include "detector/localize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detector/hash.h"

#define MAX_PARTS     2
#define HYSTERESIS    0.3
#define CONCENTRATION 2.0 /* excess share over traffic share that makes separate incidents */
#define OVERLAP_SLACK 2.0
#define VAR_FACTOR    0.5 /* variance of a slowly decayed Poisson count over its plain variance */
#define REST_Z        5.0 /* standard deviations that make what children leave an incident */
#define CONC_Z        3.5 /* standard deviations that make children's excess concentrated */
#define NOW_SHARE     0.5 /* of the paging minimum, what the rest must hold over the short window */
#define COVERED       0.9 /* share of a slice's traffic its children carry to be the slice */
#define NONE          UINT32_MAX

typedef struct node {
    uint32_t part[MAX_PARTS]; /* interned "name=value" texts */
    int n_parts;              /* -1: not a hierarchy slice (malformed or too deep) */
    uint32_t anc[3];          /* ancestors among the candidates, NONE where absent */
    uint32_t kids_from, n_kids;
    unsigned char visited, named, covered, below; /* below: a named slice lies inside */
    unsigned char explains; /* in loc->named: named, or a descent ended in it inside a named one */
    unsigned char waits;    /* named as a held slice */
    unsigned char open_below; /* a slice inside it has an open alert */
} node_t;

/* An interned text: a part ("country=BR") or a dimension name ("country"). */
typedef struct text {
    const char *p;
    size_t len;
    size_t slot;   /* where the hash table holds it */
    uint32_t dim;  /* parts: the dimension name's text */
    uint32_t node; /* parts: the one-part candidate made of it, or NONE */
} text_t;

/* A child of the slice being explained, for sorting by dimension and excess. */
typedef struct kid {
    uint32_t dim;
    uint32_t node;
    double excess;
} kid_t;

struct fs_localizer {
    size_t max;
    double min_excess;
    node_t *nodes;
    text_t *texts;
    size_t n_texts;
    uint32_t *slots; /* hash table of texts: index + 1, 0 when empty */
    size_t mask;
    uint32_t *links; /* children of every node, by node (kids_from, n_kids) */
    kid_t *kids;     /* scratch stack for the children being compared */
    kid_t *roots;    /* scratch for the roots of a pass */
    uint32_t *named; /* the slices that explain others by overlap, in order */
    uint32_t *opens; /* the firing candidates with an open alert */
    size_t n_opens;
    size_t n_named;
    uint32_t all; /* the all-traffic candidate, or NONE */
};

fs_localizer_t *fs_localizer_new(size_t max_candidates, double min_excess)
{
    fs_localizer_t *loc = calloc(1, sizeof *loc);
    if (!loc)
        return NULL;
    size_t max = max_candidates ? max_candidates : 1;
    size_t slots = 4;
    /* Up to two parts and two dimension names per candidate, at most half full. */
    while (slots < 8 * max)
        slots *= 2;
    loc->max = max_candidates;
    loc->min_excess = min_excess;
    loc->mask = slots - 1;
    loc->nodes = calloc(max, sizeof *loc->nodes);
    loc->texts = calloc(4 * max, sizeof *loc->texts);
    loc->slots = calloc(slots, sizeof *loc->slots);
    loc->links = calloc(2 * max, sizeof *loc->links);
    loc->kids = calloc(max, sizeof *loc->kids);
    loc->roots = calloc(max, sizeof *loc->roots);
    loc->named = calloc(max, sizeof *loc->named);
    loc->opens = calloc(max, sizeof *loc->opens);
    if (!loc->nodes || !loc->texts || !loc->slots || !loc->links || !loc->kids || !loc->roots ||
        !loc->named || !loc->opens) {
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
    free(loc->texts);
    free(loc->slots);
    free(loc->links);
    free(loc->kids);
    free(loc->roots);
    free(loc->named);
    free(loc->opens);
    free(loc);
}

/* The id of a text, added if new. Keys are canonical, so equal parts have
 * equal escaped text and are compared as they stand. */
static uint32_t intern(fs_localizer_t *loc, const char *p, size_t len)
{
    size_t i = (size_t)fs_hash_bytes(p, len) & loc->mask;
    for (; loc->slots[i]; i = (i + 1) & loc->mask) {
        const text_t *t = &loc->texts[loc->slots[i] - 1];
        if (t->len == len && memcmp(t->p, p, len) == 0)
            return loc->slots[i] - 1;
    }
    uint32_t id = (uint32_t)loc->n_texts++;
    loc->texts[id] = (text_t){p, len, i, NONE, NONE};
    loc->slots[i] = id + 1;
    return id;
}

/* Splits a canonical key into interned parts (n_parts -1 if it is not a
 * hierarchy slice). */
static void parse(fs_localizer_t *loc, const char *key, node_t *n)
{
    memset(n, 0, sizeof *n);
    n->anc[0] = n->anc[1] = n->anc[2] = NONE;
    for (const char *p = key; *p;) {
        const char *q = p, *eq = NULL;
        while (*q && *q != ',') {
            if (*q == '=' && !eq)
                eq = q;
            if (*q == '\\' && q[1])
                q++;
            q++;
        }
        if (n->n_parts == MAX_PARTS || !eq) {
            n->n_parts = -1;
            return;
        }
        uint32_t id = intern(loc, p, (size_t)(q - p));
        if (loc->texts[id].dim == NONE)
            loc->texts[id].dim = intern(loc, p, (size_t)(eq - p));
        n->part[n->n_parts++] = id;
        p = *q == ',' ? q + 1 : q;
    }
}

static int has_part(const node_t *n, uint32_t part)
{
    for (int i = 0; i < n->n_parts; i++)
        if (n->part[i] == part)
            return 1;
    return 0;
}

/* The parents of a slice (one part less) among the candidates, NONE where
 * absent: all traffic for a one-part slice, the one-part slices of a pair. */
static void parents(const node_t *x, uint32_t parent[2])
{
    parent[0] = x->n_parts == 1 ? x->anc[0] : x->n_parts == 2 ? x->anc[1] : NONE;
    parent[1] = x->n_parts == 2 ? x->anc[2] : NONE;
}

/* Links each hierarchy slice to its ancestors and children among the
 * candidates. */
static void link(fs_localizer_t *loc, size_t n)
{
    node_t *nodes = loc->nodes;
    loc->all = NONE;
    for (uint32_t i = 0; i < n; i++) {
        if (nodes[i].n_parts == 0 && loc->all == NONE)
            loc->all = i;
        else if (nodes[i].n_parts == 1 && loc->texts[nodes[i].part[0]].node == NONE)
            loc->texts[nodes[i].part[0]].node = i;
    }
    for (uint32_t i = 0; i < n; i++) {
        node_t *x = &nodes[i];
        if (x->n_parts <= 0)
            continue;
        if (loc->all != i)
            x->anc[0] = loc->all;
        for (int k = 0; k < 2 && x->n_parts == 2; k++)
            x->anc[1 + k] = loc->texts[x->part[k]].node;
    }
    /* Children, grouped by parent: count, place, fill. */
    uint32_t parent[2];
    for (uint32_t i = 0; i < n; i++) {
        parents(&nodes[i], parent);
        for (int k = 0; k < 2; k++)
            if (parent[k] != NONE)
                nodes[parent[k]].n_kids++;
    }
    uint32_t from = 0;
    for (uint32_t i = 0; i < n; i++) {
        nodes[i].kids_from = from;
        from += nodes[i].n_kids;
        nodes[i].n_kids = 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        parents(&nodes[i], parent);
        for (int k = 0; k < 2; k++)
            if (parent[k] != NONE) {
                node_t *p = &nodes[parent[k]];
                loc->links[p->kids_from + p->n_kids++] = i;
            }
    }
}

/* The part a child adds to its parent. */
static uint32_t extra_part(const node_t *parent, const node_t *kid)
{
    for (int i = 0; i < kid->n_parts; i++)
        if (!has_part(parent, kid->part[i]))
            return kid->part[i];
    return NONE;
}

/* Covers slice i, as waiting (held 3) if a held slice covers it. */
static void cover(fs_localizer_t *loc, fs_loc_candidate_t *c, uint32_t i, uint32_t by, int waiting)
{
    if (!loc->nodes[i].covered && i != by)
        c[i].by = by;
    loc->nodes[i].covered = 1;
    if (waiting && !c[i].held && !c[i].report)
        c[i].held = 3;
}

/* Names slice x: it and everything inside it are covered, the slices it
 * lies inside have a named slice below. waiting: x is held, not reported;
 * what it covers is marked as waiting with it (held 3). */
static void name(fs_localizer_t *loc, fs_loc_candidate_t *c, size_t n, uint32_t x, int waiting)
{
    node_t *nodes = loc->nodes;
    nodes[x].named = 1;
    nodes[x].waits = (unsigned char)waiting;
    if (!nodes[x].explains) {
        nodes[x].explains = 1;
        loc->named[loc->n_named++] = x;
    }
    cover(loc, c, x, x, waiting);
    if (nodes[x].n_parts == 0) {
        for (uint32_t i = 0; i < n; i++)
            cover(loc, c, i, x, waiting);
    } else {
        for (uint32_t k = 0; k < nodes[x].n_kids; k++)
            cover(loc, c, loc->links[nodes[x].kids_from + k], x, waiting);
    }
    for (int k = 0; k < 3; k++) {
        uint32_t a = nodes[x].anc[k];
        if (a != NONE) {
            nodes[a].below = 1;
            if (c[a].by < 0)
                c[a].by = x;
        }
    }
}

/* x was explained by its child kid: by what explains the child. */
static void inherit(fs_loc_candidate_t *c, uint32_t x, uint32_t kid)
{
    if (c[x].by < 0 && !c[x].report)
        c[x].by = c[kid].report || c[kid].held == 2 ? (long)kid : c[kid].by;
}

/* The standard deviation of a decayed count whose plain count would have
 * this Poisson variance: with a half-life of many buckets, the variance of
 * sum(w^i x_i) is about half its mean (sum w^2i / sum w^i = 1 / (1 + w)). */
static double noise(double variance)
{
    return sqrt(VAR_FACTOR * (variance > 1 ? variance : 1));
}

/* Sums over the firing children of one dimension. */
typedef struct group {
    double sum, expected, traffic;
    double sum_now, expected_now; /* over the short window */
    int open;
} group_t;

/* Whether what children (sums in g) leave of x is an incident of its own
 * over the recent window: at least the paging minimum, and significant. */
static int rest_was_incident(const fs_localizer_t *loc, const fs_loc_candidate_t *x,
                             const group_t *g)
{
    double rest = x->excess - g->sum;
    double rest_expected = x->expected > g->expected ? x->expected - g->expected : 0;
    return x->expected > 0 && rest >= loc->min_excess && rest >= REST_Z * noise(rest_expected);
}

/* The same, and over the short window too where it is known: the rest of a
 * platform whose wide failures ended a minute ago still holds a decayed
 * excess for a few half-lives of the recent window, but fails no more now. */
static int rest_is_incident(const fs_localizer_t *loc, const fs_loc_candidate_t *x,
                            const group_t *g)
{
    if (!rest_was_incident(loc, x, g))
        return 0;
    if (!(x->expected_now > 0))
        return 1;
    double now = x->excess_now - g->sum_now;
    double now_expected = x->expected_now > g->expected_now ? x->expected_now - g->expected_now : 0;
    return now >= NOW_SHARE * loc->min_excess && now >= REST_Z * noise(now_expected);
}

/* Whether slice x fails now: a significant excess over the short window
 * (assumed when the short window is unknown). */
static int fails_now(const fs_localizer_t *loc, const fs_loc_candidate_t *x)
{
    return !(x->expected_now > 0) || (x->excess_now >= NOW_SHARE * loc->min_excess &&
                                      x->excess_now >= REST_Z * noise(x->expected_now));
}

typedef enum verdict {
    NOT_EXPLAINED, /* the children carry too little of x's excess */
    EXPLAINED,     /* the children explain x */
    SPREAD,        /* x's excess reaches beyond the firing children of the dimension */
} verdict_t;

/*
 * By how many standard deviations a rest of x (its excess and expected
 * count) is quieter than if the children's excess (sum, over their expected
 * count) were spread over x with ratio = rest's share over the children's.
 * Poisson variances of both counts, the children's scaled.
 */
static double spread_z(double rest, double rest_expected, double sum, double expected, double ratio)
{
    double sd = noise(rest_expected + (rest > 0 ? rest : 0) +
                      ratio * ratio * (expected + (sum > 0 ? sum : 0)));
    return (sum * ratio - rest) / sd;
}

/*
 * By how many standard deviations what the children (sums in g) leave of x
 * is quieter than if their excess were spread over x. A problem across x
 * may add failures in proportion to traffic (an outage) or multiply the
 * failure ratio (excess in proportion to the expected count, slices with
 * more failures as usual getting more); the smaller of the two figures is
 * taken. 0 when it cannot be told.
 */
static double quieter_than_spread(const fs_loc_candidate_t *x, const group_t *g)
{
    double rest = x->excess - g->sum;
    double rest_expected = x->expected > g->expected ? x->expected - g->expected : 0;
    double rest_traffic = x->traffic - g->traffic;
    if (x->expected <= 0 || g->traffic <= 0 || rest_traffic <= 0 || g->expected <= 0)
        return 0;
    return fmin(spread_z(rest, rest_expected, g->sum, g->expected, rest_traffic / g->traffic),
                spread_z(rest, rest_expected, g->sum, g->expected, rest_expected / g->expected));
}

/*
 * The same over the short window, in proportion to expected counts only: a
 * rest that merely shows no significant excess over a few buckets (a
 * creeping problem across x, a slice or two above the rest by chance) is
 * not quieter than the spread.
 */
static double quieter_now(const fs_loc_candidate_t *x, const group_t *g)
{
    double rest_expected = x->expected_now - g->expected_now;
    if (!(x->expected_now > 0) || g->expected_now <= 0 || rest_expected <= 0)
        return 0;
    return spread_z(x->excess_now - g->sum_now, rest_expected, g->sum_now, g->expected_now,
                    rest_expected / g->expected_now);
}

/*
 * Whether child kid, one of the children (sums in g) that explain x, stands
 * out from the rest of x: more than limit times the excess it would have if
 * it failed like the rest (in proportion to traffic or to expected
 * failures, whichever gives more). That its excess is real its own test has
 * said.
 */
static int stands_out(const fs_loc_candidate_t *x, const group_t *g, const fs_loc_candidate_t *kid,
                      double limit)
{
    double rest = x->excess - g->sum;
    double rest_expected = x->expected - g->expected, rest_traffic = x->traffic - g->traffic;
    if (x->expected <= 0 || rest <= 0)
        return 1;
    double like_rest = rest_traffic > 0 ? kid->traffic * rest / rest_traffic : 0;
    if (rest_expected > 0 && kid->expected * rest / rest_expected > like_rest)
        like_rest = kid->expected * rest / rest_expected;
    return kid->excess > limit * like_rest;
}

/*
 * Whether the firing children of one dimension (sums in g) explain x (see
 * localize.h): what they leave of x is not an incident of its own, and they
 * carry share of x's excess, or share less the hysteresis when one of them
 * has an open alert or when what they leave of x is clearly quieter than if
 * their excess were spread over x.
 */
static verdict_t judge(const fs_localizer_t *loc, const fs_loc_candidate_t *x, const group_t *g,
                       double share)
{
    if (rest_is_incident(loc, x, g))
        return SPREAD;
    double need = share;
    if (g->open || quieter_than_spread(x, g) >= CONC_Z)
        need = share - HYSTERESIS;
    if (g->sum >= need * x->excess)
        return EXPLAINED;
    /* The rest of x was an incident but fails no more now (the wide part of
     * an incident ended, the narrow part goes on): the recent window holds
     * the history of the wide part, so the children's share is judged on
     * what fails now, if they clearly fail now and the rest is clearly
     * quieter than they are. */
    if (rest_was_incident(loc, x, g) && x->excess_now > 0 && g->sum_now >= need * x->excess_now &&
        g->sum_now >= NOW_SHARE * loc->min_excess &&
        g->sum_now >= REST_Z * noise(g->expected_now) && quieter_now(x, g) >= REST_Z)
        return EXPLAINED;
    return NOT_EXPLAINED;
}

/*
 * Whether the k children kids (sums in g), which explain x together, are
 * separate incidents rather than one problem across x: their share of x's
 * excess is more than twice their share of its traffic (and of its
 * expected failures; a country-wide outage hits each platform in
 * proportion), or the rest of x is clearly quieter than a problem across x
 * would leave it (bursts in the two largest countries, which carry half
 * the traffic); and each of them stands out from the rest of x (a pair
 * that fails like the rest, crossing its threshold after a spread, is part
 * of a problem across x).
 */
static int separate(const fs_loc_candidate_t *c, uint32_t x, const kid_t *kids, size_t k,
                    const group_t *g)
{
    const fs_loc_candidate_t *px = &c[x];
    double excess_part = px->excess > 0 ? g->sum / px->excess : 1;
    double traffic_part = px->traffic > 0 ? g->traffic / px->traffic : 1;
    if (px->expected > 0 && g->expected / px->expected > traffic_part)
        traffic_part = g->expected / px->expected;
    double limit = px->open ? CONCENTRATION + 1 : CONCENTRATION;
    /* Children that carry nearly all of x (every platform of a country)
     * are x: one problem across it, however quiet the sliver left. */
    if (px->traffic > 0 && g->traffic >= COVERED * px->traffic)
        return 0;
    if (excess_part <= limit * traffic_part && quieter_than_spread(px, g) < REST_Z)
        return 0;
    for (size_t i = 0; i < k; i++)
        if (!stands_out(px, g, &c[kids[i].node], limit))
            return 0;
    return 1;
}

/* Takes back the names of the slices inside x: x names the incident now. */
static void unname_inside(fs_localizer_t *loc, fs_loc_candidate_t *c, uint32_t x)
{
    for (size_t k = 0; k < loc->n_named; k++) {
        const node_t *r = &loc->nodes[loc->named[k]];
        if (loc->nodes[x].n_parts == 0 || r->anc[1] == x || r->anc[2] == x)
            c[loc->named[k]].report = 0;
    }
}

static int by_dim_then_excess(const void *a, const void *b)
{
    const kid_t *u = a, *v = b;
    if (u->dim != v->dim)
        return u->dim < v->dim ? -1 : 1;
    if (u->excess != v->excess)
        return u->excess > v->excess ? -1 : 1;
    return u->node < v->node ? -1 : u->node > v->node;
}

static int by_excess(const void *a, const void *b)
{
    const kid_t *u = a, *v = b;
    if (u->excess != v->excess)
        return u->excess > v->excess ? -1 : 1;
    return u->node < v->node ? -1 : u->node > v->node;
}

/*
 * When nothing explains x yet and its excess is not known to reach beyond
 * its children: the child (pending, below the paging minimum, or firing
 * but not yet decisive) that may explain it once it fires or the evidence
 * grows, or NONE. Without expected counts only a child carrying share of
 * x's excess waits.
 */
static uint32_t waiting_child(const fs_localizer_t *loc, const fs_loc_candidate_t *c, uint32_t x,
                              double share)
{
    const node_t *nx = &loc->nodes[x];
    const fs_loc_candidate_t *px = &c[x];
    double need = (px->expected > 0 ? share - HYSTERESIS : share) * px->excess;
    uint32_t best = NONE;
    for (uint32_t k = 0; k < nx->n_kids; k++) {
        uint32_t i = loc->links[nx->kids_from + k];
        group_t g = {c[i].excess,     c[i].expected,     c[i].traffic,
                     c[i].excess_now, c[i].expected_now, c[i].open};
        if ((best == NONE || c[i].excess > c[best].excess) && c[i].excess >= need &&
            !rest_is_incident(loc, px, &g))
            best = i;
    }
    return best;
}

/* Slice i, and the slices inside it, are explained by slice by (NONE: by
 * nothing) without being named: they are part of the same incident. */
static void tag_along(fs_localizer_t *loc, fs_loc_candidate_t *c, uint32_t i, uint32_t by)
{
    node_t *ni = &loc->nodes[i];
    if (ni->visited || ni->covered || by == NONE)
        return;
    ni->visited = 1;
    c[i].by = by;
    for (uint32_t k = 0; k < ni->n_kids; k++) {
        uint32_t j = loc->links[ni->kids_from + k];
        if (!loc->nodes[j].visited && !loc->nodes[j].covered && !c[j].pending) {
            loc->nodes[j].visited = 1;
            c[j].by = by;
        }
    }
}

/* The open slice inside x (with at least the paging minimum of excess) that
 * explains x on its own, the largest, or NONE. */
static uint32_t open_inside(const fs_localizer_t *loc, const fs_loc_candidate_t *c, uint32_t x,
                            double share)
{
    uint32_t best = NONE;
    for (size_t k = 0; k < loc->n_opens; k++) {
        uint32_t r = loc->opens[k];
        const node_t *nr = &loc->nodes[r];
        if (r == x || loc->nodes[r].visited || c[r].excess < loc->min_excess ||
            !(x == loc->all || nr->anc[1] == x || nr->anc[2] == x))
            continue;
        group_t g = {c[r].excess,     c[r].expected,     c[r].traffic,
                     c[r].excess_now, c[r].expected_now, 1};
        if (judge(loc, &c[x], &g, share) == EXPLAINED &&
            (best == NONE || c[r].excess > c[best].excess))
            best = r;
    }
    return best;
}

/*
 * Explains slice x: names it, or descends into the children that explain
 * it. above: x lies above a named slice; then x is only named if its excess
 * reaches beyond its firing children (the incident spreads beyond what is
 * named below it).
 */
static void visit(fs_localizer_t *loc, fs_loc_candidate_t *c, size_t n, uint32_t x, double share,
                  size_t top, int above)
{
    node_t *nodes = loc->nodes;
    if (nodes[x].visited)
        return;
    nodes[x].visited = 1;
    /* Part of a slice already named: that alert covers it. The descent
     * that led here explains its start by x, and so do the slices
     * overlapping x (country=BR x cdn=akamai when country=BR's excess lies
     * in its android part, inside a named platform=android): x's excess, not
     * the named slice's spread evenly, is what falls into them. */
    if (nodes[x].covered) {
        if (!nodes[x].explains) {
            nodes[x].explains = 1;
            loc->named[loc->n_named++] = x;
        }
        return;
    }

    /* The firing children of x, grouped by the dimension they add, largest
     * excess first. A child with less excess than the paging minimum names
     * nothing. */
    kid_t *kids = loc->kids + top;
    size_t n_kids = 0;
    for (uint32_t k = 0; k < nodes[x].n_kids; k++) {
        uint32_t i = loc->links[nodes[x].kids_from + k];
        if (c[i].pending || c[i].excess < loc->min_excess)
            continue;
        kids[n_kids++] = (kid_t){loc->texts[extra_part(&nodes[x], &nodes[i])].dim, i, c[i].excess};
    }
    qsort(kids, n_kids, sizeof *kids, by_dim_then_excess);

    /* For each dimension, whether its firing children together explain x;
     * among the dimensions that do, one whose children are named rather
     * than x, and the one whose children concentrate the excess most (the
     * most specific explanation: for a burst in BR x android, country=BR
     * rather than platform=android below all traffic; for two bursts in two
     * countries, the two countries rather than their two platforms). */
    size_t best_first = 0, best_end = 0, best_k = 0;
    double best_conc = 0;
    int spread = 0, best_separate = 0;
    for (size_t g = 0, end; g < n_kids; g = end) {
        group_t sums = {0, 0, 0, 0, 0, 0};
        for (end = g; end < n_kids && kids[end].dim == kids[g].dim; end++) {
            const fs_loc_candidate_t *kid = &c[kids[end].node];
            sums.sum += kid->excess;
            sums.expected += kid->expected;
            sums.traffic += kid->traffic;
            sums.sum_now += kid->excess_now;
            sums.expected_now += kid->expected_now;
            sums.open |= kid->open || nodes[kids[end].node].open_below;
        }
        verdict_t v = judge(loc, &c[x], &sums, share);
        spread |= v == SPREAD;
        if (v != EXPLAINED)
            continue;
        /* Prefer an explanation that names the children (one, or
         * separate incidents) to one that names x. */
        double conc = sums.traffic > 0 ? sums.sum / sums.traffic : 0;
        size_t k = end - g;
        int sep = k == 1 || separate(c, x, kids + g, k, &sums);
        if (!sep) {
            /* Not separate incidents: the largest child may still explain x
             * alone (country=BR, beside small countries whose pairs crossed
             * their thresholds in the tail of a platform-wide burst). */
            const fs_loc_candidate_t *top1 = &c[kids[g].node];
            group_t one = {top1->excess,       top1->expected,
                           top1->traffic,      top1->excess_now,
                           top1->expected_now, top1->open || nodes[kids[g].node].open_below};
            if (judge(loc, &c[x], &one, share) == EXPLAINED) {
                k = 1;
                sep = 1;
                conc = one.traffic > 0 ? one.sum / one.traffic : 0;
            }
        }
        if (best_k == 0 || sep > best_separate || (sep == best_separate && conc > best_conc)) {
            best_first = g;
            best_end = end;
            best_k = k;
            best_conc = conc;
            best_separate = sep;
        }
    }
    if (!above && !c[x].open && nodes[x].open_below && (best_k == 0 || !best_separate)) {
        /* Rather than naming x: a narrower slice inside it whose alert is
         * open may still explain it (hysteresis across levels: all traffic
         * when BR x android's burst ends and country=BR stops firing first,
         * its excess spread over every cdn). */
        uint32_t r = open_inside(loc, c, x, share);
        if (r != NONE) {
            visit(loc, c, n, r, share, top + n_kids, 0);
            inherit(c, x, r);
            return;
        }
    }
    if (best_k == 0) {
        if (above && !spread)
            return;
        if (above)
            unname_inside(loc, c, x);
        uint32_t w = c[x].open || spread ? NONE : waiting_child(loc, c, x, share);
        if (w != NONE) {
            /* A narrower slice may hold the incident but has not fired or
             * not shown it clearly yet: x waits, and covers its part of the
             * traffic meanwhile. */
            c[x].held = 1;
            c[w].held = 2;
        } else {
            c[x].report = 1;
        }
        name(loc, c, n, x, w != NONE);
        return;
    }
    if (best_k == 1) {
        uint32_t one = kids[best_first].node;
        visit(loc, c, n, one, share, top + n_kids, 0);
        inherit(c, x, one);
        /* The other firing children of that dimension that fail no more now
         * (the tail of a wider incident, not separate from it): explained
         * with it. One that fails now is judged on its own later. */
        for (size_t i = best_first + 1; i < best_end; i++)
            if (!fails_now(loc, &c[kids[i].node]))
                tag_along(loc, c, kids[i].node,
                          c[one].report || c[one].held == 2 ? one : (uint32_t)c[one].by);
        return;
    }
    if (!best_separate) {
        /* One problem across x. */
        if (above)
            unname_inside(loc, c, x);
        c[x].report = 1;
        name(loc, c, n, x, 0);
        return;
    }
    /* The chosen children stay in this frame's part of the scratch; the
     * visits below use the part above it. */
    for (size_t i = 0; i < best_k; i++)
        visit(loc, c, n, kids[best_first + i].node, share, top + n_kids, 0);
    inherit(c, x, kids[best_first].node);
}

/* Whether a part has the value the decoder gives a missing dimension
 * ("unknown", decode.h): such events come from every value of the
 * dimension, so the slice shares traffic with each of them. */
static int unknown(const fs_localizer_t *loc, uint32_t part)
{
    static const char value[] = "unknown";
    const text_t *t = &loc->texts[part];
    size_t name = loc->texts[t->dim].len;
    return t->len == name + 1 + sizeof value - 1 &&
           memcmp(t->p + name + 1, value, sizeof value - 1) == 0;
}

/*
 * How much of the named slices' excess falls into slice y: each named
 * slice r that can share traffic with y (no dimension with two values)
 * contributes its excess times y's share of the traffic of the slice made of
 * the parts both have.
 */
static double overlap_excess(const fs_localizer_t *loc, const fs_loc_candidate_t *c, uint32_t y,
                             fs_loc_traffic_cb traffic, void *opaque, int *waiting,
                             uint32_t *largest)
{
    const node_t *ny = &loc->nodes[y];
    double by_common[1 << MAX_PARTS] = {0};
    for (size_t k = 0; k < loc->n_named; k++) {
        uint32_t r = loc->named[k];
        const node_t *nr = &loc->nodes[r];
        if (r == y || nr->n_parts < 0)
            continue;
        unsigned common = 0;
        int clash = 0;
        for (int i = 0; i < ny->n_parts && !clash; i++)
            for (int j = 0; j < nr->n_parts; j++) {
                if (nr->part[j] == ny->part[i])
                    common |= 1u << i;
                else if (loc->texts[nr->part[j]].dim == loc->texts[ny->part[i]].dim &&
                         !unknown(loc, nr->part[j]) && !unknown(loc, ny->part[i]))
                    clash = 1;
            }
        if (!clash) {
            by_common[common] += c[r].excess;
            *waiting |= nr->waits;
            if (*largest == NONE || c[r].excess > c[*largest].excess)
                *largest = r;
        }
    }
    double sum = 0;
    for (unsigned common = 0; common < (1u << MAX_PARTS); common++) {
        if (by_common[common] <= 0)
            continue;
        /* The common slice's key: all traffic, one part of y's key, or y. */
        const char *key = "";
        size_t len = 0;
        if (common == 3) {
            key = c[y].key;
            len = strlen(key);
        } else if (common) {
            const text_t *t = &loc->texts[ny->part[common == 1 ? 0 : 1]];
            key = t->p;
            len = t->len;
        }
        double part;
        if (c[y].traffic > 0) {
            double total = traffic(opaque, key, len);
            if (total <= 0)
                continue;
            part = c[y].traffic / total;
        } else if (common == 0 && c[y].expected > 0 && loc->all != NONE &&
                   c[loc->all].expected > 0) {
            /* A slice without attempts of its own (an error code, counted
             * across all traffic): its usual share of all errors. A
             * country's error storm carries each code in proportion. */
            part = c[y].expected / c[loc->all].expected;
        } else {
            continue;
        }
        sum += by_common[common] * (part < 1 ? part : 1);
    }
    return sum;
}

/* Whether the named slices that overlap y account for most of its excess;
 * *waiting set if a held slice is among them. */
static int explained_by_overlap(const fs_localizer_t *loc, const fs_loc_candidate_t *c, uint32_t y,
                                double share, fs_loc_traffic_cb traffic, void *opaque, int *waiting,
                                uint32_t *largest)
{
    double sum = overlap_excess(loc, c, y, traffic, opaque, waiting, largest);
    /* What the named slices do not explain must be clearly more than the
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

/* A firing ancestor of slice i that has been explained (visited), the
 * narrowest, or NONE. */
static uint32_t firing_ancestor(const fs_localizer_t *loc, const fs_loc_candidate_t *c, uint32_t i)
{
    const node_t *x = &loc->nodes[i];
    for (int k = 2; k >= 0; k--) {
        uint32_t a = x->anc[k];
        if (a != NONE && !c[a].pending && loc->nodes[a].visited)
            return a;
    }
    return NONE;
}

void fs_localize(fs_localizer_t *loc, fs_loc_candidate_t *c, size_t n, double share,
                 fs_loc_traffic_cb traffic, void *opaque)
{
    if (n > loc->max) {
        for (size_t i = 0; i < n; i++) {
            c[i].report = !c[i].pending;
            c[i].held = 0;
            c[i].by = -1;
        }
        return;
    }
    /* Empty the hash table slot by slot: a call touches only what it uses. */
    for (size_t t = 0; t < loc->n_texts; t++)
        loc->slots[loc->texts[t].slot] = 0;
    loc->n_texts = 0;
    loc->n_named = 0;
    node_t *nodes = loc->nodes;
    for (size_t i = 0; i < n; i++) {
        parse(loc, c[i].key, &nodes[i]);
        c[i].report = 0;
        c[i].held = 0;
        c[i].by = -1;
    }
    link(loc, n);
    /* Hysteresis reaches up: a child whose own child has the open alert
     * (country=BR above an open BR x android) keeps the explanation too. */
    loc->n_opens = 0;
    for (size_t i = 0; i < n; i++) {
        if (!c[i].open || c[i].pending || nodes[i].n_parts < 0)
            continue;
        loc->opens[loc->n_opens++] = (uint32_t)i;
        for (int k = 0; k < 3; k++)
            if (nodes[i].anc[k] != NONE)
                nodes[nodes[i].anc[k]].open_below = 1;
    }
    for (size_t i = 0; i < n; i++)
        if (nodes[i].n_parts < 0 && !c[i].pending)
            c[i].report = 1;
    /* Descents start, largest excess first, at firing slices that have no
     * firing ancestor left to explain them. A slice inside a named one
     * starts none; one above a named one is only checked for an excess
     * beyond its firing children (the incident spreading); one overlapping
     * named ones starts none if they explain most of its excess. A smaller
     * incident next to a big one is not reached from all traffic, which the
     * big one explains: it starts a descent of its own here. Each pass finds
     * the roots left (O(K)) and takes them largest excess first; a pass can
     * expose new roots below the ones it explained, so passes repeat, at
     * most once per level of the hierarchy and a few more. */
    kid_t *roots = loc->roots;
    for (int found = 1; found;) {
        found = 0;
        size_t n_roots = 0;
        for (uint32_t i = 0; i < n; i++) {
            const node_t *x = &nodes[i];
            if (c[i].pending || x->visited || x->n_parts < 0 || x->covered)
                continue;
            int root = 1;
            for (int k = 0; k < 3 && root; k++) {
                uint32_t a = x->anc[k];
                if (a != NONE && !nodes[a].visited && !c[a].pending && !nodes[a].covered)
                    root = 0;
            }
            if (root)
                roots[n_roots++] = (kid_t){0, i, c[i].excess};
        }
        qsort(roots, n_roots, sizeof *roots, by_excess);
        for (size_t r = 0; r < n_roots; r++) {
            uint32_t i = roots[r].node;
            int waiting = 0;
            uint32_t largest = NONE;
            if (nodes[i].visited || nodes[i].covered)
                continue;
            found = 1;
            uint32_t up = firing_ancestor(loc, c, i);
            if (up != NONE && !fails_now(loc, &c[i])) {
                /* No significant excess now (a slice whose test crossed
                 * late, in the tail of a wider incident), under a firing
                 * slice already explained: explained with it. A slice
                 * starting to fail is judged on its own. */
                nodes[i].visited = 1;
                c[i].by = c[up].report || c[up].held == 2 ? (long)up : c[up].by;
                continue;
            }
            if (nodes[i].below)
                visit(loc, c, n, i, share, 0, 1);
            else if (explained_by_overlap(loc, c, i, share, traffic, opaque, &waiting, &largest)) {
                nodes[i].visited = 1;
                c[i].by = nodes[largest].named ? (long)largest : c[largest].by;
                if (waiting && !c[i].held)
                    c[i].held = 3;
            } else
                visit(loc, c, n, i, share, 0, 0);
        }
    }
}
