/*
 * crd_check: a PDSimulation validated the way the API server validates it
 * against crds/pdsimulation.yaml, for local mode where there is no API server.
 *
 * The CRD is compiled in. Its structural schema is applied as the API server
 * does: types (with x-kubernetes-int-or-string), required, enum, pattern
 * (POSIX extended regular expressions; the CRD's patterns use nothing else),
 * minimum/maximum, minLength/maxLength, unknown fields rejected (kubectl's
 * default strict field validation) except under
 * x-kubernetes-preserve-unknown-fields, and defaults filled in. Then the CEL
 * rules (x-kubernetes-validations): the shapes the CRD uses are evaluated here
 * (a size bound, an inequality, a std-dev at most a fraction of its mean); a
 * rule of any other shape makes crd_check_init fail, so a new rule cannot be
 * skipped silently.
 */
#ifndef PDSIM_CRD_CHECK_H
#define PDSIM_CRD_CHECK_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Load the compiled-in CRD and check that every CEL rule is understood.
 * Returns 0, or -1 with err. Called by crd_validate; thread-safe. */
int crd_check_init(char *err, size_t errlen);

/* Validate obj in place (defaults are added). Returns 0, or -1 with
 * "field.path: reason" in err. */
int crd_validate(cJSON *obj, char *err, size_t errlen);

#endif
