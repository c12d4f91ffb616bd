/*
 * manifest-check: a test tool for scripts/helm-test.sh and
 * scripts/check-crds-sync.sh, not part of the product.
 *
 * Reads Kubernetes manifests (multi-document YAML) from the files named on
 * the command line, or stdin when none, with libyaml, and fails when any
 * document does not parse, has a duplicated mapping key (a common template
 * mistake that YAML parsers silently resolve), or is a non-empty document
 * without a string apiVersion, kind and metadata.name. For each object it
 * prints one line "KIND NAMESPACE/NAME" ("-" for no namespace) so that the
 * calling script can assert which objects were rendered.
 *
 * Exit status: 0 all good, 1 a document is bad, 2 usage or I/O error.
 * Single-threaded; everything it allocates is freed before it returns.
 */
#include <stdio.h>
#include <string.h>
#include <yaml.h>

enum mc_status { MC_OK = 0, MC_BAD = 1, MC_IO = 2 };

/* Scalar value of node, or NULL when it is not a scalar. Borrowed from doc. */
static const char *mc_scalar(yaml_node_t *node)
{
    if (!node || node->type != YAML_SCALAR_NODE) return NULL;
    return (const char *)node->data.scalar.value;
}

/* Value node of key in a mapping node, or NULL. Borrowed from doc. */
static yaml_node_t *mc_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *p;

    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *k = mc_scalar(yaml_document_get_node(doc, p->key));
        if (k && strcmp(k, key) == 0) return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

/* 0 when no mapping anywhere under node has the same scalar key twice. */
static int mc_check_dups(yaml_document_t *doc, yaml_node_t *node, int depth, const char *where)
{
    if (!node || depth > 64) return 0;
    if (node->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *it;
        for (it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++)
            if (mc_check_dups(doc, yaml_document_get_node(doc, *it), depth + 1, where) != 0)
                return -1;
    } else if (node->type == YAML_MAPPING_NODE) {
        yaml_node_pair_t *p, *q;
        for (p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
            const char *k = mc_scalar(yaml_document_get_node(doc, p->key));
            for (q = p + 1; k && q < node->data.mapping.pairs.top; q++) {
                const char *k2 = mc_scalar(yaml_document_get_node(doc, q->key));
                if (k2 && strcmp(k, k2) == 0) {
                    fprintf(stderr, "%s: duplicate key \"%s\" (line %lu)\n", where, k,
                            (unsigned long)yaml_document_get_node(doc, q->key)->start_mark.line +
                                1);
                    return -1;
                }
            }
            if (mc_check_dups(doc, yaml_document_get_node(doc, p->value), depth + 1, where) != 0)
                return -1;
        }
    }
    return 0;
}

/* Checks every document of one stream; returns an mc_status. */
static int mc_check_stream(FILE *f, const char *name, int *ndocs)
{
    yaml_parser_t parser;
    int rc = MC_OK;

    if (!yaml_parser_initialize(&parser)) return MC_IO;
    yaml_parser_set_input_file(&parser, f);
    for (;;) {
        yaml_document_t doc;
        yaml_node_t *root, *meta;
        const char *api, *kind, *nm, *ns;

        if (!yaml_parser_load(&parser, &doc)) {
            fprintf(stderr, "%s: YAML error: %s at line %lu\n", name,
                    parser.problem ? parser.problem : "unknown",
                    (unsigned long)parser.problem_mark.line + 1);
            rc = MC_BAD;
            goto out;
        }
        root = yaml_document_get_root_node(&doc);
        if (!root) { /* end of stream */
            yaml_document_delete(&doc);
            break;
        }
        /* Empty documents ("---" followed by comments only) load as a null scalar. */
        if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0) {
            yaml_document_delete(&doc);
            continue;
        }
        meta = mc_get(&doc, root, "metadata");
        api = mc_scalar(mc_get(&doc, root, "apiVersion"));
        kind = mc_scalar(mc_get(&doc, root, "kind"));
        nm = mc_scalar(mc_get(&doc, meta, "name"));
        ns = mc_scalar(mc_get(&doc, meta, "namespace"));
        if (!api || !*api || !kind || !*kind || !nm || !*nm) {
            fprintf(stderr, "%s: document at line %lu lacks apiVersion, kind or metadata.name\n",
                    name, (unsigned long)root->start_mark.line + 1);
            rc = MC_BAD;
        } else if (mc_check_dups(&doc, root, 0, name) != 0) {
            rc = MC_BAD;
        } else {
            printf("%s %s/%s\n", kind, ns ? ns : "-", nm);
            (*ndocs)++;
        }
        yaml_document_delete(&doc);
    }
out:
    yaml_parser_delete(&parser);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = MC_OK, ndocs = 0, i;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: manifest-check [FILE...]   (stdin when no FILE)\n");
        return MC_OK;
    }
    if (argc == 1) rc = mc_check_stream(stdin, "<stdin>", &ndocs);
    for (i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        int r;
        if (!f) {
            fprintf(stderr, "manifest-check: cannot open %s\n", argv[i]);
            return MC_IO;
        }
        r = mc_check_stream(f, argv[i], &ndocs);
        fclose(f);
        if (r > rc) rc = r;
    }
    if (rc == MC_OK && ndocs == 0) {
        fprintf(stderr, "manifest-check: no objects found\n");
        rc = MC_BAD;
    }
    return rc;
}
