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
#include "session_loop.h"

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
  program_name = "dane";
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
