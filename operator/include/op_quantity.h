/* op_quantity: Kubernetes resource quantities ("2", "500m", "3Gi", "1.5",
 * "2e3", "128974848") as integers, for the scheduler's arithmetic.
 *
 * Grammar (as resource.Quantity): optional sign, digits with an optional
 * fraction, then one optional suffix: binary Ki Mi Gi Ti Pi Ei, decimal
 * n u m k M G T P E, or an exponent e<N>/E<N>. Negative values and values
 * that do not fit (beyond INT64_MAX thousandths, about 8 PiB) are errors,
 * not clamps: a node that reports nonsense must not look huge or free.
 *
 * Threads: reentrant, no state.
 */
#ifndef OP_QUANTITY_H
#define OP_QUANTITY_H

#include <stdint.h>

/* Parse s into thousandths of a unit, rounding up (so "1n" cpu is 1m, as
 * Kubernetes does for cpu). 0 on success; OP_EINVAL when s is NULL, empty,
 * negative or malformed; OP_ERANGE when it exceeds INT64_MAX thousandths. */
int op_quantity_parse_milli(const char *s, int64_t *out_milli);

/* Parse s into whole units, rounding a fraction up ("1.5" -> 2, "3Gi" ->
 * 3221225472). Same errors as op_quantity_parse_milli. */
int op_quantity_parse_units(const char *s, int64_t *out_units);

#endif
