/*
 * yamljson: a YAML document as a cJSON tree (libyaml's event parser).
 *
 * For Kubernetes objects and kubeconfig files, which are JSON-compatible
 * YAML: mappings become objects, sequences arrays. Quoted scalars are
 * strings; plain scalars follow YAML 1.2's core schema: null/~/empty, true/
 * false (any case), integers and floats (also .inf/.nan), else strings.
 * Anchors and aliases, non-string keys, duplicate keys and (for
 * yaml_to_json) more than one document are errors. Errors carry the line.
 */
#ifndef PDSIM_COMMON_YAMLJSON_H
#define PDSIM_COMMON_YAMLJSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Parse text[0..len). Returns the tree (cJSON_Delete it; an empty document is
 * JSON null) or NULL with "line N: reason" in err. */
cJSON *yaml_to_json(const char *text, size_t len, char *err, size_t errlen);

/* Every document of a multi-document stream ("---"), as a JSON array (an
 * empty document is null). Otherwise as yaml_to_json. */
cJSON *yaml_to_json_all(const char *text, size_t len, char *err, size_t errlen);

/* The same for a file; err names the file. */
cJSON *yaml_file_to_json(const char *path, char *err, size_t errlen);

#endif
