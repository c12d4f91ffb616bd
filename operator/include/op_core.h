/* op_core: status codes shared by the operator's pure decision modules
 * (quantity, rollout, analysis, autoscale, schedule).
 *
 * These modules make the operator's decisions from plain values: no
 * Kubernetes calls, no I/O, no clock of their own (callers pass now_ms, a
 * monotonic or wall time in milliseconds, the same kind on every call), no
 * allocation unless a function says so. So they are tested with cmocka and
 * an invented clock, and the controllers stay thin.
 *
 * Threads: every function is reentrant; an object (state struct) must be
 * used by one thread at a time.
 */
#ifndef OP_CORE_H
#define OP_CORE_H

enum op_status {
    OP_OK = 0,
    OP_EINVAL = -1, /* bad argument or malformed input */
    OP_ERANGE = -2, /* a value does not fit */
    OP_ENOFIT = -3, /* scheduler: no node can take the replica */
};

/* Static text for an op_status; never NULL. */
const char *op_strerror(int status);

#endif
