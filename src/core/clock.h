/* Time in seconds as doubles: monotonic for intervals and timeouts, wall
 * clock for what is shown to people and compared with broker timestamps. */
#ifndef QDECK_CLOCK_H
#define QDECK_CLOCK_H

double clock_mono(void);
double clock_wall(void);
/* "3s", "4m12s", "2h05m", "3d04h" — fits in 8 columns. */
void format_duration(double seconds, char *buf, unsigned len);

#endif
