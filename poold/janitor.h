/*
 * janitor.h - the one periodic timer: lease expiry, warm-pool upkeep
 * (min_idle, max_idle, idle_ttl) and forgetting old expired lease ids.
 */
#ifndef POOLD_JANITOR_H
#define POOLD_JANITOR_H

struct poold;

void janitor_start(struct poold *pd);
void janitor_stop(struct poold *pd);
/* One round of upkeep at time now (the timer calls this; tests may too). */
void janitor_run(struct poold *pd, double now);

#endif
