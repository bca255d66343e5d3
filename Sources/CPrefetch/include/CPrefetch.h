#ifndef SLAD_CPREFETCH_H
#define SLAD_CPREFETCH_H

// Swift has no way to ask for a cache line ahead of its use. The timer wheel's
// hot paths touch memory at addresses known a few operations early (the keys of
// queued updates, the next line of a slot's tail), so they ask for it here.
// A prefetch is only a hint: it never faults, whatever the address.

/// Brings the cache line holding `p` in, for writing.
static inline void slad_prefetch_for_write(const void *p) { __builtin_prefetch(p, 1, 3); }

#endif
