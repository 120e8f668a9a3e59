/*
 * dane: deliver one message under DANE with a mailtls delivery over a real socket. The
 * caller's discovery answers (here: one DNSSEC-validated TLSA record from the command line)
 * and a `dane` plan become a precedence decision; the delivery verifies the server against
 * the TLSA record, and after each attempt the program prints its TLS-RPT (RFC 8460) result
 * under the policy that governed it.
 *
 *   dane [-a ANCHORS.pem] [-c ADDRESS] HOST PORT TLSA FROM TO SUBJECT
 *
 *   HOST  the MX host name the TLSA record belongs to (next hop [HOST]:PORT)
 *   TLSA  the record in presentation form, e.g. "3 1 1 <sha-256 of the server's key>"
 *   -a    replacement trust anchors (PEM), like posttls-finger -F; without it the decision's
 *         own anchors (tafile=) apply. DANE-EE records need none.
 *   -c    connect to ADDRESS instead of resolving HOST
 *
 * Prints DECISION lines (the explanation), per attempt ATTEMPT and "TLSRPT <policy-type>
 * <result>" ("-" when the attempt reports nothing), then COMPLETED, DEFERRED or BOUNCED, and
 * "REPORT <json>": the RFC 8460 aggregate report of the attempts for the policy domain HOST.
 * Exit: 0 the message was accepted, 3 deferred, 4 bounced, 5 the server refused it,
 * 1 usage or setup errors.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mailtls.h"

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void die(const char *what, mailtls_result r) {
  char msg[256];
  size_t n = 0;
  mailtls_result_message(r, msg, sizeof msg, &n);
  fprintf(stderr, "dane: %s: %s (%u)\n", what, msg, (unsigned)r);
  exit(1);
}

static int connect_to(const char *host, uint16_t port) {
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
static int flush(mailtls_session *s, int fd) {
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

static void print_detail(mailtls_session *s, const char *label) {
  size_t size = 0, n = 0;
  if (mailtls_session_event_detail_size(s, &size) != MAILTLS_RESULT_OK) return;
  char *text = malloc(size);
  if (text && mailtls_session_event_detail(s, text, size, &n) == MAILTLS_RESULT_OK) {
    printf("%s %s\n", label, text);
  }
  free(text);
}

/* Runs one attempt to completion. Sets *accepted when the server took the message. */
static void run_session(mailtls_session *s, int fd, const char *from, const char *to,
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

    int timeout = -1;
    uint64_t deadline = 0;
    if (mailtls_session_poll_timeout(s, &deadline) == MAILTLS_RESULT_OK) {
      uint64_t now = now_ms();
      timeout = deadline > now ? (int)(deadline - now) : 0;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int ready = poll(&pfd, 1, timeout);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      mailtls_session_handle_timeout(s, now_ms());
      continue;
    }
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

/* Prints the TLS-RPT result of the attempt just recorded, under its governing policy, and
 * counts it in the aggregate report. */
static void print_tlsrpt(const mailtls_delivery *delivery, mailtls_tlsrpt *tlsrpt) {
  char policy[32], result[64];
  size_t n = 0;
  mailtls_result r = mailtls_delivery_last_tlsrpt_policy_type(delivery, policy, sizeof policy, &n);
  if (r != MAILTLS_RESULT_OK) die("last_tlsrpt_policy_type", r);
  r = mailtls_delivery_last_tlsrpt_result(delivery, result, sizeof result, &n);
  if (r == MAILTLS_RESULT_NOT_FOUND) {
    strcpy(result, "-");
  } else if (r != MAILTLS_RESULT_OK) {
    die("last_tlsrpt_result", r);
  }
  printf("TLSRPT %s %s\n", policy, result);
  mailtls_tlsrpt_added added;
  r = mailtls_tlsrpt_add_last_attempt(tlsrpt, delivery, now_ms() / 1000u, &added);
  if (r != MAILTLS_RESULT_OK && r != MAILTLS_RESULT_NOT_FOUND) die("tlsrpt_add_last_attempt", r);
}

static void print_report(const mailtls_tlsrpt *tlsrpt, const char *domain) {
  const char *org = "mailtls C example", *contact = "postmaster@client.mailtls.test", *id = "dane-example";
  size_t size = 0, n = 0;
  mailtls_result r = mailtls_tlsrpt_json_size(tlsrpt, domain, org, contact, id, &size);
  if (r == MAILTLS_RESULT_NOT_FOUND) return; /* nothing was counted */
  if (r != MAILTLS_RESULT_OK) die("tlsrpt_json_size", r);
  char *json = malloc(size);
  if (!json) exit(1);
  r = mailtls_tlsrpt_json(tlsrpt, domain, org, contact, id, json, size, &n);
  if (r != MAILTLS_RESULT_OK) die("tlsrpt_json", r);
  printf("REPORT %s\n", json);
  free(json);
}

static void print_decision(const mailtls_decision *decision) {
  size_t size = 0, n = 0;
  mailtls_result r = mailtls_decision_explain_size(decision, &size);
  if (r != MAILTLS_RESULT_OK) die("decision_explain_size", r);
  char *text = malloc(size);
  if (!text) exit(1);
  r = mailtls_decision_explain(decision, text, size, &n);
  if (r != MAILTLS_RESULT_OK) die("decision_explain", r);
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) printf("DECISION %s\n", line);
  free(text);
}

/* The discovery answers: the MX (here the literal next hop's address) and the TLSA lookup
 * validated by DNSSEC. A real caller passes what its validating resolver said. */
static mailtls_discovery *discovery_for(const char *host, const char *tlsa) {
  mailtls_discovery *discovery = NULL;
  mailtls_result r = mailtls_discovery_new(&discovery);
  if (r != MAILTLS_RESULT_OK) die("discovery", r);
  r = mailtls_discovery_set_mx_status(discovery, MAILTLS_DNSSEC_STATUS_SECURE);
  if (r != MAILTLS_RESULT_OK) die("mx status", r);
  r = mailtls_discovery_add_tlsa(discovery, host, tlsa, MAILTLS_DNSSEC_STATUS_SECURE, MAILTLS_DNSSEC_STATUS_SECURE);
  if (r != MAILTLS_RESULT_OK) {
    char why[512];
    size_t n = 0;
    if (mailtls_discovery_last_error(discovery, why, sizeof why, &n) == MAILTLS_RESULT_OK)
      fprintf(stderr, "dane: %s\n", why);
    die("TLSA record", r);
  }
  return discovery;
}

int main(int argc, char **argv) {
  const char *anchors = NULL, *address = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "a:c:")) != -1) {
    if (opt == 'a') {
      anchors = optarg;
    } else if (opt == 'c') {
      address = optarg;
    } else {
      return 1;
    }
  }
  if (argc - optind != 6) {
    fprintf(stderr, "usage: dane [-a ANCHORS.pem] [-c ADDRESS] HOST PORT TLSA FROM TO SUBJECT\n");
    return 1;
  }
  const char *host_name = argv[optind], *port_text = argv[optind + 1], *tlsa = argv[optind + 2],
             *from = argv[optind + 3], *to = argv[optind + 4], *subject = argv[optind + 5];

  mailtls_config *config = NULL;
  mailtls_result r = mailtls_config_new(&config);
  if (r != MAILTLS_RESULT_OK) die("config", r);
  r = mailtls_config_set_default_level(config, "dane");
  if (r != MAILTLS_RESULT_OK) die("level", r);
  char next_hop[512];
  snprintf(next_hop, sizeof next_hop, "[%s]:%s", host_name, port_text);
  mailtls_plan *plan = NULL;
  r = mailtls_config_plan(config, next_hop, NULL, 0, &plan);
  if (r != MAILTLS_RESULT_OK) die("plan", r);
  mailtls_config_free(config);

  mailtls_discovery *discovery = discovery_for(host_name, tlsa);
  mailtls_decision *decision = NULL;
  r = mailtls_decision_new(plan, discovery, &decision);
  if (r != MAILTLS_RESULT_OK) die("decision", r);
  mailtls_discovery_free(discovery);
  mailtls_plan_free(plan);
  print_decision(decision);

  mailtls_delivery *delivery = NULL;
  r = mailtls_delivery_new_from_decision(decision, "client.mailtls.test", anchors, &delivery);
  if (r != MAILTLS_RESULT_OK) die("delivery", r);
  mailtls_decision_free(decision);

  mailtls_tlsrpt *tlsrpt = NULL;
  uint64_t today = now_ms() / 1000u;
  r = mailtls_tlsrpt_new(today - 86400u, today + 86400u, &tlsrpt);
  if (r != MAILTLS_RESULT_OK) die("tlsrpt", r);

  char message[1024];
  snprintf(message, sizeof message,
           "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nSent by the mailtls C DANE example.\r\n", from, to,
           subject);
  int sent = 0, accepted = 0;
  mailtls_session *session = NULL;
  while ((r = mailtls_delivery_next_session(delivery, now_ms(), &session)) == MAILTLS_RESULT_OK) {
    char host[256];
    size_t n = 0;
    uint16_t port = 0;
    r = mailtls_delivery_current_host(delivery, host, sizeof host, &n, &port);
    if (r != MAILTLS_RESULT_OK) die("current_host", r);
    printf("CONNECT %s:%u\n", host, (unsigned)port);
    int fd = connect_to(address ? address : host, port);
    if (fd < 0) {
      mailtls_delivery_connect_failed(delivery);
      mailtls_session_free(session);
      continue;
    }
    sent = 0;
    run_session(session, fd, from, to, message, &sent, &accepted);
    close(fd);
    r = mailtls_delivery_record(delivery, session);
    if (r != MAILTLS_RESULT_OK) die("record", r);
    mailtls_session_free(session);
    print_tlsrpt(delivery, tlsrpt);
  }
  if (r != MAILTLS_RESULT_NOT_FOUND) die("next_session", r);

  mailtls_delivery_state outcome = MAILTLS_DELIVERY_STATE_PENDING;
  char detail[512];
  size_t n = 0;
  r = mailtls_delivery_outcome(delivery, &outcome, detail, sizeof detail, &n);
  if (r != MAILTLS_RESULT_OK) die("outcome", r);
  mailtls_delivery_free(delivery);
  print_report(tlsrpt, host_name);
  mailtls_tlsrpt_free(tlsrpt);
  switch (outcome) {
    case MAILTLS_DELIVERY_STATE_COMPLETED:
      printf("COMPLETED %s\n", detail);
      return accepted ? 0 : 5;
    case MAILTLS_DELIVERY_STATE_DEFERRED:
      printf("DEFERRED %s\n", detail);
      return 3;
    case MAILTLS_DELIVERY_STATE_BOUNCED:
      printf("BOUNCED %s\n", detail);
      return 4;
    default:
      printf("PENDING\n");
      return 1;
  }
}
