/* Erlang C: the M/M/c queue, for the capacity figures (console/capacity.h).
 * a = λ/μ is the offered load in slots; c the slots. Pure functions. */
#ifndef QDECK_ERLANG_H
#define QDECK_ERLANG_H

/* Probability that an arrival waits (all c slots busy); 1 when a >= c. */
double erlang_c(int c, double a);
/* Mean wait in the queue before a slot takes the task, seconds:
 * C(c, λ/μ) / (cμ - λ); 0 when λ is 0; INFINITY when λ >= cμ. */
double erlang_wait(double lambda, double mu, int c);
/* The fewest slots that hold the mean wait at or under target seconds
 * (the inverse of erlang_wait); -1 when more than max would be needed or
 * μ is not positive. */
int erlang_slots_for_wait(double lambda, double mu, double target, int max);

#endif
