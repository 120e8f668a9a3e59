/*
 * client: deliver one message with a mailtls delivery over real sockets. The library plans
 * the destination (Postfix policy table), runs each attempt as a sans-IO session and walks
 * hosts and ladder rungs; this program only connects, moves bytes and keeps time.
 *
 *   client [-a ANCHORS.pem] [-s STATE] TABLE_FILE NEXT_HOP FROM TO SUBJECT
 *
 *   -a   verify certificates against these trust anchors instead of the table's tafile=
 *   -s   record every attempt's TLS-RPT outcome in this state store (a SQLite file or a
 *        redis:// URL, as `mailtls send --state`), for `mailtls report`
 *
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

int main(int argc, char **argv) {
  program_name = "client";
  const char *anchors = NULL, *state = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "a:s:")) != -1) {
    if (opt == 'a') {
      anchors = optarg;
    } else if (opt == 's') {
      state = optarg;
    } else {
      return 1;
    }
  }
  if (argc - optind != 5) {
    fprintf(stderr, "usage: client [-a ANCHORS.pem] [-s STATE] TABLE_FILE NEXT_HOP FROM TO SUBJECT\n");
    return 1;
  }
  const char *table_path = argv[optind], *next_hop = argv[optind + 1], *from = argv[optind + 2],
             *to = argv[optind + 3], *subject = argv[optind + 4];

  mailtls_store *store = NULL;
  mailtls_result r;
  if (state) {
    r = mailtls_store_new(&store);
    if (r != MAILTLS_RESULT_OK) die("store", r);
    r = mailtls_store_open(store, state);
    if (r != MAILTLS_RESULT_OK) {
      char why[512];
      size_t why_n = 0;
      mailtls_store_last_error(store, why, sizeof why, &why_n);
      fprintf(stderr, "client: state store: %s\n", why);
      return 1;
    }
  }

  mailtls_config *config = NULL;
  r = mailtls_config_new(&config);
  if (r != MAILTLS_RESULT_OK) die("config", r);
  size_t len = 0;
  char *table = read_file(table_path, &len);
  if (!table) {
    perror(table_path);
    return 1;
  }
  r = mailtls_config_load_postfix_table(config, (const uint8_t *)table, len);
  free(table);
  if (r != MAILTLS_RESULT_OK) die("policy table", r);
  mailtls_plan *plan = NULL;
  r = mailtls_config_plan(config, next_hop, NULL, 0, &plan);
  if (r != MAILTLS_RESULT_OK) die("plan", r);
  mailtls_delivery *delivery = NULL;
  r = anchors ? mailtls_delivery_new_with_anchors(plan, "client.mailtls.test", anchors, &delivery)
              : mailtls_delivery_new(plan, "client.mailtls.test", &delivery);
  if (r != MAILTLS_RESULT_OK) die("delivery", r);
  mailtls_plan_free(plan);
  mailtls_config_free(config);

  char message[1024];
  snprintf(message, sizeof message,
           "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nSent by the mailtls C client example.\r\n", from, to,
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
    int fd = connect_to(host, port);
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
    if (store) {
      /* NOT_FOUND: the attempt reports nothing to TLS-RPT. A failing store loses only the
       * count; the delivery goes on. */
      r = mailtls_store_record_last_attempt(store, delivery, (uint64_t)time(NULL), NULL, NULL);
      if (r != MAILTLS_RESULT_OK && r != MAILTLS_RESULT_NOT_FOUND) {
        char why[512];
        size_t why_n = 0;
        mailtls_store_last_error(store, why, sizeof why, &why_n);
        fprintf(stderr, "client: state store: %s\n", why);
      }
    }
    mailtls_session_free(session);
  }
  if (r != MAILTLS_RESULT_NOT_FOUND) die("next_session", r);

  mailtls_delivery_state outcome = MAILTLS_DELIVERY_STATE_PENDING;
  char detail[512];
  size_t n = 0;
  r = mailtls_delivery_outcome(delivery, &outcome, detail, sizeof detail, &n);
  if (r != MAILTLS_RESULT_OK) die("outcome", r);
  mailtls_delivery_free(delivery);
  mailtls_store_free(store);
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
