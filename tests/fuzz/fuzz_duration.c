/* Durations (common/duration.h): parse the input as a string; a value that
 * parses is formatted and must parse back to itself. */
#include "common/duration.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    char err[256], text[64];
    int64_t ns, back;
    if (duration_parse(s, &ns, err, sizeof(err)) == 0) {
        int n = duration_format(ns, text, sizeof(text));
        if (n < 0 || (size_t)n >= sizeof(text) || strlen(text) != (size_t)n)
            abort();
        if (duration_parse(text, &back, err, sizeof(err)) != 0 || back != ns)
            abort(); /* format and parse disagree */
    }
    (void)duration_parse(s, &ns, NULL, 0);
    free(s);
    return 0;
}
