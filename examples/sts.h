/* STS files and correlations for the examples (header-only): reading KorSTS-format rows and the
 * Pearson and Spearman correlations that STS benchmarks report.
 *
 * KorSTS (and STS-B) rows: genre, file, year, id, score, sentence1, sentence2, tab-separated,
 * after one header line. sts_read() keeps each row's score and its two sentences. */
#ifndef SBERT_EXAMPLES_STS_H
#define SBERT_EXAMPLES_STS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sts_pairs {
    size_t n;        /* pairs */
    double *gold;    /* gold[n]: the human score */
    size_t *line;    /* line[n]: the file's line (from 1) pair i was read from */
    char **text;     /* text[2 n]: sentence1 and sentence2 of pair i at 2 i and 2 i + 1 */
    char *buffer;    /* the file's bytes, which text[] points into */
} sts_pairs;

/* Splits line at tabs into at most max fields; returns how many. */
static inline int sts_fields(char *line, char **field, int max)
{
    int k = 0;
    while (k < max) {
        field[k++] = line;
        char *tab = strchr(line, '\t');
        if (!tab)
            break;
        *tab = '\0';
        line = tab + 1;
    }
    return k;
}

/* The whole file, NUL-terminated (malloc'd; *size its length, *lines its line count); NULL with a
 * message on stderr when it cannot be read or is not text (a NUL byte would end the lines
 * read from it early). */
static inline char *read_text_file(const char *path, size_t *size, size_t *lines)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    const long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    rewind(f);
    char *data = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: cannot read the file\n", path);
        fclose(f);
        free(data);
        return NULL;
    }
    fclose(f);
    data[n] = '\0';
    *size = (size_t)n;
    *lines = 1;
    for (long i = 0; i < n; i++) {
        if (data[i] == '\0') {
            fprintf(stderr, "%s: line %zu has a NUL byte: not a text file\n", path, *lines);
            free(data);
            return NULL;
        }
        *lines += data[i] == '\n';
    }
    return data;
}

/* The line at *cursor without its "\n" or "\r\n" (cut in place), and *cursor moved past it;
 * NULL at the end of the text. Empty lines are returned too, so that lines can be counted. */
static inline char *sts_next_line(char **cursor)
{
    char *line = *cursor;
    if (!*line)
        return NULL;
    char *end = strchr(line, '\n');
    *cursor = end ? end + 1 : line + strlen(line);
    if (!end)
        end = *cursor;
    if (end > line && end[-1] == '\r')
        end--;
    *end = '\0';
    return line;
}

/* Reads an STS file (rows with fewer than 7 fields or a non-numeric score are skipped; the first
 * line is the header). Returns 0, or -1 with a message on stderr. Free with sts_free(). */
static inline int sts_read(const char *path, sts_pairs *out)
{
    memset(out, 0, sizeof *out);
    size_t size, lines;
    if (!(out->buffer = read_text_file(path, &size, &lines)))
        return -1;
    out->gold = malloc(lines * sizeof *out->gold);
    out->line = malloc(lines * sizeof *out->line);
    out->text = malloc(2 * lines * sizeof *out->text);
    if (!out->gold || !out->line || !out->text) {
        fprintf(stderr, "%s: out of memory\n", path);
        return -1;
    }
    char *cursor = out->buffer, *line = sts_next_line(&cursor); /* the header */
    for (size_t line_no = 2; (line = sts_next_line(&cursor)) != NULL; line_no++) {
        char *field[7], *end;
        if (sts_fields(line, field, 7) < 7)
            continue;
        const double score = strtod(field[4], &end);
        if (end == field[4])
            continue;
        out->gold[out->n] = score;
        out->line[out->n] = line_no;
        out->text[2 * out->n] = field[5];
        out->text[2 * out->n + 1] = field[6];
        out->n++;
    }
    return 0;
}

static inline void sts_free(sts_pairs *p)
{
    free(p->gold);
    free(p->line);
    free(p->text);
    free(p->buffer);
    memset(p, 0, sizeof *p);
}

static inline double sts_pearson(const double *a, const double *b, size_t n)
{
    double ma = 0, mb = 0, ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= (double)n;
    mb /= (double)n;
    for (size_t i = 0; i < n; i++) {
        ab += (a[i] - ma) * (b[i] - mb);
        aa += (a[i] - ma) * (a[i] - ma);
        bb += (b[i] - mb) * (b[i] - mb);
    }
    return ab / sqrt(aa * bb);
}

typedef struct sts_ranked {
    double value;
    size_t index;
} sts_ranked;

static inline int sts_cmp_ranked(const void *a, const void *b)
{
    const double x = ((const sts_ranked *)a)->value, y = ((const sts_ranked *)b)->value;
    return (x > y) - (x < y);
}

/* Ranks 1..n with ties given their average rank (what scipy.stats.spearmanr uses). */
static inline int sts_ranks(const double *x, double *rank, size_t n)
{
    sts_ranked *s = malloc(n * sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < n; i++)
        s[i] = (sts_ranked){ x[i], i };
    qsort(s, n, sizeof *s, sts_cmp_ranked);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && s[j + 1].value == s[i].value)
            j++;
        for (size_t k = i; k <= j; k++)
            rank[s[k].index] = (double)(i + j) / 2.0 + 1.0;
        i = j + 1;
    }
    free(s);
    return 0;
}

/* Spearman's rho: Pearson's r of the ranks. NAN when out of memory. */
static inline double sts_spearman(const double *a, const double *b, size_t n)
{
    double *ra = malloc(n * sizeof *ra), *rb = malloc(n * sizeof *rb), rho = NAN;
    if (ra && rb && sts_ranks(a, ra, n) == 0 && sts_ranks(b, rb, n) == 0)
        rho = sts_pearson(ra, rb, n);
    free(ra);
    free(rb);
    return rho;
}

#endif /* SBERT_EXAMPLES_STS_H */
