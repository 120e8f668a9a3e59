/*
 * session_loop.h: what the C examples that deliver or serve share. The loop any program needs to drive
 * a mailtls client session over a blocking socket: connect, flush every queued byte in one
 * flight, poll with the session's deadline, feed what arrives, answer READY/DATA_READY, and
 * report each event. Header-only (static inline) so each example stays one compile unit.
 *
 * Set `program_name` in main: it prefixes the fatal errors `die` prints.
 */
#ifndef MAILTLS_EXAMPLES_SESSION_LOOP_H
#define MAILTLS_EXAMPLES_SESSION_LOOP_H

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mailtls.h"

static const char *program_name = "mailtls example";

static inline uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void die(const char *what, mailtls_result r) {
  char msg[256];
  size_t n = 0;
  mailtls_result_message(r, msg, sizeof msg, &n);
  fprintf(stderr, "%s: %s: %s (%u)\n", program_name, what, msg, (unsigned)r);
  exit(1);
}

/* The whole file at PATH (malloc'd, not NUL-terminated; *len bytes), or NULL. */
static inline char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0, got;
  char *buf = malloc(cap);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      char *bigger = realloc(buf, cap *= 2);
      if (!bigger) free(buf);
      buf = bigger;
    }
  }
  fclose(f);
  *len = n;
  return buf;
}

static inline int connect_to(const char *host, uint16_t port) {
  char service[8];
  snprintf(service, sizeof service, "%u", (unsigned)port);
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, service, &hints, &res) != 0) return -1;
  int fd = -1;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

/* Sends everything the session has queued. Returns 0, or -1 when the socket failed. */
static inline int flush(mailtls_session *s, int fd) {
  uint8_t buf[16384];
  size_t n = 0;
  for (;;) {
    mailtls_result r = mailtls_session_poll_transmit(s, buf, sizeof buf, &n);
    if (r != MAILTLS_RESULT_OK) die("poll_transmit", r);
    if (n == 0) return 0;
    for (size_t off = 0; off < n;) {
      ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        return -1;
      }
      off += (size_t)w;
    }
  }
}

/* Waits until FD is readable or the session's deadline passes (which it then tells the
 * session). Returns 1 when the caller should read (a poll error included: the read fails
 * and ends the session), 0 when it should poll events again. */
static inline int wait_readable(mailtls_session *s, int fd) {
  int timeout = -1;
  uint64_t deadline = 0;
  if (mailtls_session_poll_timeout(s, &deadline) == MAILTLS_RESULT_OK) {
    uint64_t now = now_ms();
    timeout = deadline > now ? (int)(deadline - now) : 0;
  }
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  int ready = poll(&pfd, 1, timeout);
  if (ready == 0) mailtls_session_handle_timeout(s, now_ms());
  return ready > 0 || (ready < 0 && errno != EINTR);
}

static inline void print_detail(mailtls_session *s, const char *label) {
  size_t size = 0, n = 0;
  if (mailtls_session_event_detail_size(s, &size) != MAILTLS_RESULT_OK) return;
  char *text = malloc(size);
  if (text && mailtls_session_event_detail(s, text, size, &n) == MAILTLS_RESULT_OK) {
    printf("%s %s\n", label, text);
  }
  free(text);
}

/* Runs one attempt to completion. Sets *accepted when the server took the message. */
static inline void run_session(mailtls_session *s, int fd, const char *from, const char *to,
                        const char *message, int *sent, int *accepted) {
  int finished = 0;
  while (!finished) {
    mailtls_session_event event;
    mailtls_result r;
    while ((r = mailtls_session_poll_event(s, &event)) == MAILTLS_RESULT_OK &&
           event != MAILTLS_SESSION_EVENT_NONE) {
      switch (event) {
        case MAILTLS_SESSION_EVENT_READY:
          if (!*sent) {
            const char *rcpts[] = {to};
            r = mailtls_session_send_mail(s, from, rcpts, 1, now_ms());
            if (r != MAILTLS_RESULT_OK) die("send_mail", r);
            *sent = 1;
          } else {
            mailtls_session_quit(s, now_ms());
          }
          break;
        case MAILTLS_SESSION_EVENT_DATA_READY:
          r = mailtls_session_send_data(s, (const uint8_t *)message, strlen(message), true, now_ms());
          if (r != MAILTLS_RESULT_OK) die("send_data", r);
          break;
        case MAILTLS_SESSION_EVENT_TLS_ESTABLISHED: {
          char version[32], suite[96];
          size_t n = 0;
          if (mailtls_session_tls_fact(s, MAILTLS_TLS_FACT_VERSION, version, sizeof version, &n) ==
                  MAILTLS_RESULT_OK &&
              mailtls_session_tls_fact(s, MAILTLS_TLS_FACT_SUITE, suite, sizeof suite, &n) ==
                  MAILTLS_RESULT_OK) {
            printf("TLS %s %s\n", version, suite);
          }
          break;
        }
        case MAILTLS_SESSION_EVENT_MESSAGE_RESULT:
          print_detail(s, "MESSAGE");
          {
            char text[16];
            size_t n = 0;
            /* "accepted ..." or "refused ..." */
            if (mailtls_session_event_detail(s, text, sizeof text, &n) == MAILTLS_RESULT_INSUFFICIENT_SIZE) {
              size_t size = 0;
              mailtls_session_event_detail_size(s, &size);
              char *all = malloc(size);
              if (all && mailtls_session_event_detail(s, all, size, &n) == MAILTLS_RESULT_OK &&
                  strncmp(all, "accepted", 8) == 0)
                *accepted = 1;
              free(all);
            } else if (strncmp(text, "accepted", 8) == 0) {
              *accepted = 1;
            }
          }
          break;
        case MAILTLS_SESSION_EVENT_CLOSED:
          print_detail(s, "ATTEMPT");
          finished = 1;
          break;
        default:
          break;
      }
    }
    if (r != MAILTLS_RESULT_OK) die("poll_event", r);
    if (flush(s, fd) != 0) {
      mailtls_session_handle_eof(s, now_ms());
      continue;
    }
    if (finished) break;

    if (!wait_readable(s, fd)) continue;
    uint8_t buf[16384];
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got <= 0) {
      mailtls_session_handle_eof(s, now_ms());
    } else {
      /* A client session takes every byte; the loop is what any session needs. */
      for (size_t off = 0, taken = 0; off < (size_t)got; off += taken) {
        r = mailtls_session_handle_input(s, buf + off, (size_t)got - off, now_ms(), &taken);
        if (r != MAILTLS_RESULT_OK) die("handle_input", r);
        if (taken == 0) break;
      }
    }
  }
}

#endif
