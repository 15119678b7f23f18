/* rx_clock.h — the kernel's receive time of a TCP socket's unread bytes.
 *
 * With SO_TIMESTAMPNS set on a socket, the kernel stamps every packet it
 * receives for it (CLOCK_REALTIME, in the receive path: for loopback, when
 * the sender's packet is handed over). rx_clock_peek counts the queued
 * bytes without consuming or copying them (MSG_PEEK | MSG_TRUNC) and reads
 * the control message, which carries the stamp of the last buffer it
 * reached: the arrival of the newest of those bytes, so never earlier than
 * any of them (TCP keeps the newest stamp when it merges segments). The
 * replay stamps response bytes with it when --rx-stamp is kernel (the
 * default): unlike the epoll return time, it does not grow when the worker
 * is busy with other sockets (docs/metrics.md). */
#ifndef SAGELLM_RX_CLOCK_H
#define SAGELLM_RX_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Asks the kernel to stamp what fd receives. Returns 0, or -1 (errno). */
int rx_clock_enable(int fd);
/* CLOCK_REALTIME ns at which the newest of the first len queued bytes of
 * fd arrived (*peeked, when not NULL, gets how many; scratch, len bytes,
 * is not written by TCP but must exist), or -1 when nothing is queued or
 * the kernel gave no stamp. Never blocks, never consumes. */
int64_t rx_clock_peek(int fd, void *scratch, size_t len, size_t *peeked);
/* CLOCK_REALTIME - CLOCK_MONOTONIC now, ns: a realtime read between two
 * monotonic reads, within half their gap (tens of ns), the tightest of
 * RX_CLOCK_SAMPLES tries, so that a thread preempted (or slowed) during one
 * try does not put a whole tick's stamps off by half the delay. */
#define RX_CLOCK_SAMPLES 5
int64_t rx_clock_real_minus_mono(void);

#endif
