/*
 * hostile: calls every mailtls function the wrong way (NULL everywhere, invalid UTF-8,
 * oversized inputs, wrong call order, freed and foreign handles, double frees) and checks
 * that each gets its error code and nothing crashes. Exit 0 when every check holds.
 * Run it under Valgrind or AddressSanitizer to check memory safety too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailtls.h"

static int failures = 0;
static int checks = 0;

#define EXPECT(call, want)                                                              \
  do {                                                                                  \
    mailtls_result got_ = (call);                                                       \
    checks++;                                                                           \
    if (got_ != (want)) {                                                               \
      fprintf(stderr, "%s:%d: %s returned %u, expected %u\n", __FILE__, __LINE__, #call, \
              (unsigned)got_, (unsigned)(want));                                        \
      failures++;                                                                       \
    }                                                                                   \
  } while (0)

#define CHECK(cond)                                                              \
  do {                                                                           \
    checks++;                                                                    \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                                \
    }                                                                            \
  } while (0)

enum { OK = MAILTLS_RESULT_OK, NUL = MAILTLS_RESULT_NULL_PARAMETER };

static const char BAD_UTF8[] = {(char)0xff, (char)0xfe, 'x', 0};

static char *huge_string(size_t n) {
  char *s = malloc(n + 1);
  if (!s) abort();
  memset(s, 'a', n);
  s[n] = 0;
  return s;
}

static void result_messages(void) {
  char buf[256];
  size_t n = 12345;
  EXPECT(mailtls_result_message(MAILTLS_RESULT_OK, buf, sizeof buf, &n), OK);
  CHECK(strcmp(buf, "success") == 0 && n == 7);
  EXPECT(mailtls_result_message(4242424u, buf, sizeof buf, &n), OK); /* unknown code */
  CHECK(strstr(buf, "unknown") != NULL);
  CHECK(!mailtls_result_is_known(0) && mailtls_result_is_known(MAILTLS_RESULT_PANIC));
  CHECK(mailtls_result_is_known(MAILTLS_RESULT_WRONG_ROLE));
  EXPECT(mailtls_result_message(MAILTLS_RESULT_OK, NULL, 10, &n), NUL);
  EXPECT(mailtls_result_message(MAILTLS_RESULT_OK, buf, sizeof buf, NULL), NUL);
  EXPECT(mailtls_result_message(MAILTLS_RESULT_OK, buf, 0, &n), MAILTLS_RESULT_INSUFFICIENT_SIZE);
  /* Truncation: 4 bytes of buffer hold 3 characters and the NUL. */
  n = 99;
  EXPECT(mailtls_result_message(MAILTLS_RESULT_OK, buf, 4, &n), OK);
  CHECK(n == 3 && strcmp(buf, "suc") == 0);
}

static void config_calls(void) {
  mailtls_config *config = NULL;
  char buf[512];
  size_t n = 0;
  uint32_t line = 0, column = 0;

  EXPECT(mailtls_config_new(NULL), NUL);
  EXPECT(mailtls_config_set_default_level(NULL, "may"), NUL);
  EXPECT(mailtls_config_load_postfix_table(NULL, (const uint8_t *)"x", 1), NUL);
  EXPECT(mailtls_config_last_error(NULL, buf, sizeof buf, &n), NUL);
  mailtls_config_free(NULL);

  EXPECT(mailtls_config_new(&config), OK);
  CHECK(config != NULL);
  EXPECT(mailtls_config_last_error(config, buf, sizeof buf, &n), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_config_set_default_level(config, NULL), NUL);
  EXPECT(mailtls_config_set_default_level(config, BAD_UTF8), MAILTLS_RESULT_INVALID_UTF8);
  EXPECT(mailtls_config_set_default_level(config, "paranoid"), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_config_last_error(config, buf, sizeof buf, &n), OK);
  CHECK(strstr(buf, "paranoid") != NULL);
  EXPECT(mailtls_config_last_error_position(config, &line, &column), MAILTLS_RESULT_NOT_FOUND);

  char *huge = huge_string(MAILTLS_MAX_STRING + 1);
  EXPECT(mailtls_config_set_default_level(config, huge), MAILTLS_RESULT_TOO_LONG);
  free(huge);

  /* Tables: NULL, oversized (the length alone is checked: nothing is read), bad UTF-8,
   * syntax errors with their position. */
  EXPECT(mailtls_config_load_postfix_table(config, NULL, 10), NUL);
  EXPECT(mailtls_config_load_postfix_table(config, (const uint8_t *)"x", (size_t)MAILTLS_MAX_TEXT + 1),
         MAILTLS_RESULT_TOO_LONG);
  EXPECT(mailtls_config_load_postfix_table(config, (const uint8_t *)BAD_UTF8, 3), MAILTLS_RESULT_INVALID_UTF8);
  const char *bad_table = "example.com secure\n[mx.example.net]:99999 encrypt\n";
  EXPECT(mailtls_config_load_postfix_table(config, (const uint8_t *)bad_table, strlen(bad_table)),
         MAILTLS_RESULT_POLICY_TABLE);
  EXPECT(mailtls_config_last_error_position(config, NULL, &column), NUL);
  line = column = 0;
  EXPECT(mailtls_config_last_error_position(config, &line, &column), OK);
  CHECK(line == 2 && column >= 1);
  EXPECT(mailtls_config_last_error(config, buf, sizeof buf, &n), OK);
  CHECK(strstr(buf, "line 2") != NULL);

  /* A big valid table (1 MB of comments) loads. */
  size_t big = 1u << 20;
  char *table = huge_string(big);
  table[0] = '#';
  table[big - 1] = '\n';
  EXPECT(mailtls_config_load_postfix_table(config, (const uint8_t *)table, big), OK);
  free(table);

  /* Plans. */
  mailtls_plan *plan = NULL;
  const char *hosts[] = {"mx1.example.com", NULL};
  EXPECT(mailtls_config_plan(config, NULL, NULL, 0, &plan), NUL);
  EXPECT(mailtls_config_plan(config, "example.com", NULL, 0, NULL), NUL);
  EXPECT(mailtls_config_plan(config, "example.com", NULL, 2, &plan), NUL);
  EXPECT(mailtls_config_plan(config, "example.com", hosts, 2, &plan), NUL); /* hosts[1] is NULL */
  EXPECT(mailtls_config_plan(config, "example.com", hosts, MAILTLS_MAX_HOSTS + 1, &plan),
         MAILTLS_RESULT_TOO_LONG);
  EXPECT(mailtls_config_plan(config, "[unclosed", NULL, 0, &plan), MAILTLS_RESULT_DESTINATION);
  EXPECT(mailtls_config_plan(config, BAD_UTF8, NULL, 0, &plan), MAILTLS_RESULT_INVALID_UTF8);
  CHECK(plan == NULL); /* out-parameters are written only on success */
  EXPECT(mailtls_config_plan(config, "example.com", hosts, 1, &plan), OK);
  CHECK(plan != NULL);

  size_t count = 0, size = 0;
  bool required = true;
  EXPECT(mailtls_plan_host_count(plan, &count), OK);
  CHECK(count == 1);
  EXPECT(mailtls_plan_host_requires_tls(plan, 5, &required), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_plan_host_requires_tls(plan, 0, &required), OK);
  CHECK(!required); /* the default level is may */
  EXPECT(mailtls_plan_explain(plan, 7, buf, sizeof buf, &n), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_plan_explain(plan, MAILTLS_FORMAT_TEXT, buf, 4, &n), MAILTLS_RESULT_INSUFFICIENT_SIZE);
  EXPECT(mailtls_plan_explain_size(plan, MAILTLS_FORMAT_JSON, &size), OK);
  char *json = malloc(size);
  EXPECT(mailtls_plan_explain(plan, MAILTLS_FORMAT_JSON, json, size, &n), OK);
  CHECK(n == size - 1 && json[0] == '{' && json[n] == 0);
  free(json);

  /* A handle of the wrong type is refused, not misread. */
  EXPECT(mailtls_plan_host_count((const mailtls_plan *)config, &count), MAILTLS_RESULT_INVALID_HANDLE);
  EXPECT(mailtls_config_set_default_level((mailtls_config *)plan, "may"), MAILTLS_RESULT_INVALID_HANDLE);
  mailtls_config_free((mailtls_config *)plan); /* wrong type: ignored */
  EXPECT(mailtls_plan_host_count(plan, &count), OK);

  /* A pointer that never was a handle. */
  int local = 0;
  EXPECT(mailtls_plan_host_count((const mailtls_plan *)&local, &count), MAILTLS_RESULT_INVALID_HANDLE);
  mailtls_plan_free((mailtls_plan *)&local); /* not ours: ignored */

  /* Use after free and double free. */
  mailtls_plan_free(plan);
  EXPECT(mailtls_plan_host_count(plan, &count), MAILTLS_RESULT_INVALID_HANDLE);
  mailtls_plan_free(plan);
  mailtls_config_free(config);
  EXPECT(mailtls_config_set_default_level(config, "may"), MAILTLS_RESULT_INVALID_HANDLE);
  mailtls_config_free(config);
}

static void tlsrpt_calls(void) {
  mailtls_tlsrpt *rpt = NULL;
  mailtls_tlsrpt_added added = MAILTLS_TLSRPT_ADDED_OVER_CAP;
  char buf[64];
  size_t n = 0;

  EXPECT(mailtls_tlsrpt_new(10, 5, &rpt), MAILTLS_RESULT_REPORT);
  EXPECT(mailtls_tlsrpt_new(0, 100, NULL), NUL);
  EXPECT(mailtls_tlsrpt_new(0, 100, &rpt), OK);

  mailtls_tlsrpt_session s;
  memset(&s, 0, sizeof s);
  s.at_unix = 50;
  EXPECT(mailtls_tlsrpt_add(rpt, &s, &added), NUL); /* policy_type NULL */
  EXPECT(mailtls_tlsrpt_add(rpt, NULL, &added), NUL);
  s.policy_type = "nonsense";
  s.policy_domain = "example.com";
  EXPECT(mailtls_tlsrpt_add(rpt, &s, &added), MAILTLS_RESULT_REPORT);
  s.policy_type = "sts";
  s.result_type = "not-a-result-type";
  EXPECT(mailtls_tlsrpt_add(rpt, &s, &added), MAILTLS_RESULT_REPORT);
  s.result_type = "certificate-expired";
  s.sending_ip = "999.1.1.1";
  EXPECT(mailtls_tlsrpt_add(rpt, &s, &added), MAILTLS_RESULT_INVALID_ARGUMENT);
  s.sending_ip = NULL;
  s.policy_string_count = 3; /* with a NULL array */
  EXPECT(mailtls_tlsrpt_add(rpt, &s, &added), NUL);
  s.policy_string_count = 0;
  s.policy_domain = BAD_UTF8;
  EXPECT(mailtls_tlsrpt_add(rpt, &s, &added), MAILTLS_RESULT_INVALID_UTF8);
  s.policy_domain = "example.com";
  EXPECT(mailtls_tlsrpt_add(rpt, &s, NULL), NUL);
  CHECK(added == MAILTLS_TLSRPT_ADDED_OVER_CAP); /* untouched so far */
  EXPECT(mailtls_tlsrpt_add(rpt, &s, &added), OK);
  CHECK(added == MAILTLS_TLSRPT_ADDED_COUNTED);
  s.at_unix = 1000;
  EXPECT(mailtls_tlsrpt_add(rpt, &s, &added), OK);
  CHECK(added == MAILTLS_TLSRPT_ADDED_OUTSIDE_PERIOD);

  EXPECT(mailtls_tlsrpt_json(rpt, "other.example", "org", "c@x", "id", buf, sizeof buf, &n),
         MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_tlsrpt_json(rpt, "example.com", NULL, "c@x", "id", buf, sizeof buf, &n), NUL);
  EXPECT(mailtls_tlsrpt_json(rpt, "example.com", "org", "c@x", "id", buf, sizeof buf, &n),
         MAILTLS_RESULT_INSUFFICIENT_SIZE);
  mailtls_tlsrpt_free(rpt);
  mailtls_tlsrpt_free(rpt);
  EXPECT(mailtls_tlsrpt_add(rpt, &s, &added), MAILTLS_RESULT_INVALID_HANDLE);
}

static void server_calls(void) {
  mailtls_server_config *config = NULL;
  mailtls_session *session = NULL;
  mailtls_session_event event = MAILTLS_SESSION_EVENT_OTHER;
  uint8_t out[64];
  char detail[256];
  size_t n = 0;
  bool closed = false;

  EXPECT(mailtls_server_config_new(NULL, &config), NUL);
  EXPECT(mailtls_server_config_new("mx.example.org", &config), OK);
  EXPECT(mailtls_server_config_set_identity_pem(config, (const uint8_t *)"junk", 4,
                                                (const uint8_t *)"junk", 4),
         MAILTLS_RESULT_CERTIFICATE_PEM);
  EXPECT(mailtls_server_config_set_identity_pem(config, NULL, 0, NULL, 0), NUL);
  EXPECT(mailtls_session_new_server(config, "not an address", 0, &session), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_session_new_server(config, "192.0.2.1", 1000, &session), OK);
  /* The config may go before its sessions. */
  mailtls_server_config_free(config);

  EXPECT(mailtls_session_event_detail(session, detail, sizeof detail, &n), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_session_accept(session), MAILTLS_RESULT_WRONG_STATE);
  EXPECT(mailtls_session_reject(session, 550, "5.7.1", "no"), MAILTLS_RESULT_WRONG_STATE);
  EXPECT(mailtls_session_reject(session, 250, NULL, "fine"), MAILTLS_RESULT_WRONG_STATE);
  EXPECT(mailtls_session_reject(session, 550, "9.9.9.9", "x"), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_session_tls_fact(session, MAILTLS_TLS_FACT_VERSION, detail, sizeof detail, &n),
         MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_session_poll_transmit(session, NULL, 10, &n), NUL);
  /* The client's calls on a server session. */
  mailtls_role role = MAILTLS_ROLE_CLIENT;
  EXPECT(mailtls_session_role(session, &role), OK);
  CHECK(role == MAILTLS_ROLE_SERVER);
  const char *rcpts[] = {"user@example.org"};
  EXPECT(mailtls_session_send_mail(session, "a@example.org", rcpts, 1, 1000), MAILTLS_RESULT_WRONG_ROLE);
  EXPECT(mailtls_session_send_data(session, (const uint8_t *)"x", 1, true, 1000), MAILTLS_RESULT_WRONG_ROLE);
  EXPECT(mailtls_session_quit(session, 1000), MAILTLS_RESULT_WRONG_ROLE);

  /* The greeting comes out in small pieces. */
  size_t total = 0;
  do {
    EXPECT(mailtls_session_poll_transmit(session, out, 5, &n), OK);
    total += n;
  } while (n > 0);
  CHECK(total > 10);

  /* Garbage and a line far over the limit are answered, not fatal. */
  size_t taken = 0;
  EXPECT(mailtls_session_handle_input(session, (const uint8_t *)"\xff\xfe\r\n", 4, 2000, &taken), OK);
  size_t big = 1u << 20;
  char *line = huge_string(big);
  EXPECT(mailtls_session_handle_input(session, (const uint8_t *)line, big + 1, 2000, &taken),
         MAILTLS_RESULT_TOO_LONG);
  EXPECT(mailtls_session_handle_input(session, (const uint8_t *)line, big, 2000, &taken), OK);
  free(line);
  EXPECT(mailtls_session_handle_input(session, NULL, 3, 2000, &taken), NUL);
  for (int i = 0; i < 100; i++) {
    EXPECT(mailtls_session_poll_event(session, &event), OK);
    if (event == MAILTLS_SESSION_EVENT_NONE) break;
  }
  EXPECT(mailtls_session_handle_eof(session, 3000), OK);
  EXPECT(mailtls_session_close(session), OK);
  while (mailtls_session_poll_transmit(session, out, sizeof out, &n) == OK && n > 0) {
  }
  EXPECT(mailtls_session_is_closed(session, &closed), OK);
  CHECK(closed);
  mailtls_session_free(session);
  mailtls_session_free(session);
  EXPECT(mailtls_session_is_closed(session, &closed), MAILTLS_RESULT_INVALID_HANDLE);
}

static void inbound_calls(void) {
  mailtls_config *config = NULL;
  mailtls_inbound_facts *facts = NULL;
  mailtls_verdict *verdict = NULL;
  char buf[512];
  size_t n = 0;
  uint32_t line = 0, column = 0;

  EXPECT(mailtls_config_new(&config), OK);
  EXPECT(mailtls_config_load_connectors(config, NULL, 0), NUL);
  const char *bad = "[[inbound]]\nname = \"x\"\nconnector_type = \"partner\"\nbogus = 1\n";
  EXPECT(mailtls_config_load_connectors(config, (const uint8_t *)bad, strlen(bad)), MAILTLS_RESULT_CONNECTORS);
  EXPECT(mailtls_config_last_error(config, buf, sizeof buf, &n), OK);
  CHECK(strstr(buf, "bogus") != NULL);
  EXPECT(mailtls_config_last_error_position(config, &line, &column), OK);
  CHECK(line == 4);
  const char *good =
      "[[inbound]]\nname = \"Partner\"\nconnector_type = \"partner\"\n"
      "sender_domains = [\"*.partner.test\"]\nrequire_tls = true\n"
      "tls_sender_certificate_name = \"relay.partner.test\"\nrestrict_domains_to_certificate = true\n";
  EXPECT(mailtls_config_load_connectors(config, (const uint8_t *)good, strlen(good)), OK);
  EXPECT(mailtls_config_last_error(config, buf, sizeof buf, &n), MAILTLS_RESULT_NOT_FOUND);

  EXPECT(mailtls_inbound_facts_new(NULL), NUL);
  EXPECT(mailtls_inbound_facts_new(&facts), OK);
  /* Deciding before the client address is known is the wrong call order. */
  EXPECT(mailtls_config_decide_inbound(config, facts, &verdict), MAILTLS_RESULT_WRONG_STATE);
  CHECK(verdict == NULL);
  EXPECT(mailtls_inbound_facts_set_client_address(facts, "300.1.2.3"), MAILTLS_RESULT_INBOUND_FACTS);
  EXPECT(mailtls_inbound_facts_set_client_address(facts, NULL), NUL);
  EXPECT(mailtls_inbound_facts_set_client_address(facts, "IPv6:2001:db8::1"), OK);
  EXPECT(mailtls_inbound_facts_set_macro(facts, "{no_such_macro}", "x"), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_inbound_facts_set_macro(facts, "{tls_version}", "TLSv9"), MAILTLS_RESULT_INBOUND_FACTS);
  EXPECT(mailtls_inbound_facts_set_macro(facts, "{cipher_bits}", "lots"), MAILTLS_RESULT_INBOUND_FACTS);
  EXPECT(mailtls_inbound_facts_set_macro(facts, "{cert_subject}", BAD_UTF8), MAILTLS_RESULT_INVALID_UTF8);
  EXPECT(mailtls_inbound_facts_set_macro(facts, NULL, "x"), NUL);
  EXPECT(mailtls_inbound_facts_set_verification(facts, 77), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_inbound_facts_add_rcpt(facts, "user@"), MAILTLS_RESULT_INBOUND_FACTS);
  char *huge = huge_string(MAILTLS_MAX_STRING * 4);
  EXPECT(mailtls_inbound_facts_set_mail_from(facts, huge), MAILTLS_RESULT_TOO_LONG);
  free(huge);

  /* The partner's domain without TLS or certificate: refused with the library's reply. */
  EXPECT(mailtls_inbound_facts_set_mail_from(facts, "<someone@partner.test>"), OK);
  EXPECT(mailtls_config_decide_inbound(config, facts, NULL), NUL);
  EXPECT(mailtls_config_decide_inbound(config, facts, &verdict), OK);
  mailtls_action action = MAILTLS_ACTION_ACCEPT;
  EXPECT(mailtls_verdict_action(verdict, &action), OK);
  CHECK(action == MAILTLS_ACTION_REJECT);
  uint16_t code = 0;
  char enhanced[16], text[256], tiny[4];
  size_t en = 0, tn = 0;
  EXPECT(mailtls_verdict_reply(verdict, &code, tiny, sizeof tiny, &en, text, sizeof text, &tn),
         MAILTLS_RESULT_INSUFFICIENT_SIZE);
  CHECK(code == 0 && en == 0); /* nothing written on failure */
  EXPECT(mailtls_verdict_reply(verdict, &code, enhanced, sizeof enhanced, &en, text, sizeof text, &tn), OK);
  CHECK(code == 550 && strcmp(enhanced, "5.7.1") == 0 && tn > 0);
  mailtls_reply_code codes = {0, 0, 0, 0};
  EXPECT(mailtls_verdict_reply_code(NULL, &codes), NUL);
  EXPECT(mailtls_verdict_reply_code(verdict, NULL), NUL);
  EXPECT(mailtls_verdict_reply_code(verdict, &codes), OK);
  CHECK(codes.code == 550 && codes.enhanced_class == 5 && codes.enhanced_subject == 7 && codes.enhanced_detail == 1);
  EXPECT(mailtls_verdict_explain(verdict, MAILTLS_FORMAT_JSON, buf, sizeof buf, &n), OK);
  CHECK(strstr(buf, "\"action\":\"reject\"") != NULL);
  EXPECT(mailtls_verdict_connector(verdict, buf, sizeof buf, &n), OK);
  CHECK(strcmp(buf, "Partner") == 0);
  mailtls_verdict_free(verdict);
  mailtls_verdict_free(verdict);
  EXPECT(mailtls_verdict_action(verdict, &action), MAILTLS_RESULT_INVALID_HANDLE);
  EXPECT(mailtls_verdict_reply_code(verdict, &codes), MAILTLS_RESULT_INVALID_HANDLE);

  /* Facts passed where a config is expected, and the reverse. */
  EXPECT(mailtls_config_decide_inbound((const mailtls_config *)facts, facts, &verdict), MAILTLS_RESULT_INVALID_HANDLE);
  EXPECT(mailtls_config_decide_inbound(config, (const mailtls_inbound_facts *)config, &verdict),
         MAILTLS_RESULT_INVALID_HANDLE);

  /* Too many recipients. */
  int over = 0;
  for (int i = 0; i < 1100; i++) {
    if (mailtls_inbound_facts_add_rcpt(facts, "x@example.com") == MAILTLS_RESULT_TOO_LONG) over++;
  }
  CHECK(over == 1100 - MAILTLS_MAX_RCPTS);
  mailtls_inbound_facts_free(facts);
  mailtls_inbound_facts_free(facts);
  mailtls_config_free(config);
}

static void client_calls(void) {
  mailtls_config *config = NULL;
  mailtls_plan *plan = NULL;
  mailtls_delivery *delivery = NULL;
  mailtls_session *session = NULL;
  mailtls_session_event event = MAILTLS_SESSION_EVENT_OTHER;
  const char *rcpts[] = {"user@example.org"};
  uint8_t out[256];
  size_t n = 0;

  EXPECT(mailtls_config_new(&config), OK);
  EXPECT(mailtls_config_plan(config, "[192.0.2.25]:2525", NULL, 0, &plan), OK);
  EXPECT(mailtls_delivery_new(plan, "bad helo!", &delivery), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_delivery_new_with_anchors(plan, "client.example", "/nonexistent.pem", &delivery), MAILTLS_RESULT_TRUST_ANCHORS);
  EXPECT(mailtls_delivery_new(plan, "client.example", NULL), NUL);
  EXPECT(mailtls_delivery_new(plan, "client.example", &delivery), OK);
  mailtls_plan_free(plan);
  mailtls_config_free(config);

  EXPECT(mailtls_delivery_next_session(delivery, 1000, &session), OK);
  /* Wrong call order: nothing may be sent before the server is ready. */
  EXPECT(mailtls_session_send_mail(session, "a@example.org", rcpts, 1, 1000), MAILTLS_RESULT_WRONG_STATE);
  EXPECT(mailtls_session_send_data(session, (const uint8_t *)"x", 1, true, 1000), MAILTLS_RESULT_WRONG_STATE);
  EXPECT(mailtls_session_send_mail(session, "a@example.org", rcpts, 0, 1000), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_session_send_mail(session, "not an address", rcpts, 1, 1000), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_delivery_record(delivery, session), MAILTLS_RESULT_WRONG_STATE);
  EXPECT(mailtls_session_tls_fact(session, MAILTLS_TLS_FACT_SUITE, (char *)out, sizeof out, &n),
         MAILTLS_RESULT_NOT_FOUND);
  /* The server's calls on a client session. */
  mailtls_role role = MAILTLS_ROLE_SERVER;
  EXPECT(mailtls_session_role(session, &role), OK);
  CHECK(role == MAILTLS_ROLE_CLIENT);
  EXPECT(mailtls_session_accept(session), MAILTLS_RESULT_WRONG_ROLE);
  EXPECT(mailtls_session_reject(session, 550, "5.7.1", "no"), MAILTLS_RESULT_WRONG_ROLE);
  EXPECT(mailtls_session_close(session), MAILTLS_RESULT_WRONG_ROLE);
  EXPECT(mailtls_session_peer_certificate(session, 0, out, sizeof out, &n), MAILTLS_RESULT_WRONG_ROLE);
  /* A hostile server: garbage instead of a greeting. */
  size_t taken = 0;
  EXPECT(mailtls_session_handle_input(session, (const uint8_t *)"\xff\x00garbage\r\n", 11, 1100, NULL), NUL);
  EXPECT(mailtls_session_handle_input(session, (const uint8_t *)"\xff\x00garbage\r\n", 11, 1100, &taken), OK);
  CHECK(taken == 11);
  int finished = 0;
  for (int i = 0; i < 100 && !finished; i++) {
    EXPECT(mailtls_session_poll_event(session, &event), OK);
    if (event == MAILTLS_SESSION_EVENT_CLOSED) finished = 1;
    if (event == MAILTLS_SESSION_EVENT_NONE) EXPECT(mailtls_session_handle_eof(session, 1200), OK);
  }
  CHECK(finished);
  while (mailtls_session_poll_transmit(session, out, sizeof out, &n) == OK && n > 0) {
  }
  EXPECT(mailtls_delivery_record(delivery, session), OK);
  EXPECT(mailtls_delivery_record(delivery, session), MAILTLS_RESULT_WRONG_STATE);
  mailtls_session_free(session);
  mailtls_session_free(session);
  EXPECT(mailtls_session_quit(session, 1300), MAILTLS_RESULT_INVALID_HANDLE);
  /* A server session has no record for a delivery. */
  mailtls_server_config *server_config = NULL;
  mailtls_session *server = NULL;
  EXPECT(mailtls_server_config_new("mx.example.org", &server_config), OK);
  EXPECT(mailtls_session_new_server(server_config, "192.0.2.1", 1000, &server), OK);
  EXPECT(mailtls_delivery_record(delivery, server), MAILTLS_RESULT_WRONG_ROLE);
  mailtls_session_free(server);
  mailtls_server_config_free(server_config);
  /* Sessions are not deliveries. */
  EXPECT(mailtls_delivery_connect_failed((mailtls_delivery *)session), MAILTLS_RESULT_INVALID_HANDLE);
  mailtls_delivery_free(delivery);
}

static void decision_calls(void) {
  mailtls_discovery *discovery = NULL;
  mailtls_config *config = NULL;
  mailtls_plan *plan = NULL;
  mailtls_decision *decision = NULL;
  mailtls_delivery *delivery = NULL;
  char buf[512];
  size_t n = 0, size = 0;
  const uint32_t SECURE = MAILTLS_DNSSEC_STATUS_SECURE;
  const char *record = "3 1 1 5fa4ace807065ebf020382dc3c61ddabda72a186cb6c293961f354ad7639894e";

  /* Discovery answers: NULL, unknown statuses, bad names and records, caps. */
  EXPECT(mailtls_discovery_new(NULL), NUL);
  EXPECT(mailtls_discovery_set_mx_status(NULL, SECURE), NUL);
  EXPECT(mailtls_discovery_add_tlsa(NULL, "mx.example.com", record, SECURE, SECURE), NUL);
  EXPECT(mailtls_discovery_set_sts_policy(NULL, (const uint8_t *)"x", 1), NUL);
  EXPECT(mailtls_discovery_last_error(NULL, buf, sizeof buf, &n), NUL);
  mailtls_discovery_free(NULL);
  EXPECT(mailtls_discovery_new(&discovery), OK);
  CHECK(discovery != NULL);
  EXPECT(mailtls_discovery_last_error(discovery, buf, sizeof buf, &n), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_discovery_set_mx_status(discovery, 99), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_discovery_last_error(discovery, buf, sizeof buf, &n), OK);
  CHECK(strstr(buf, "99") != NULL);
  EXPECT(mailtls_discovery_set_mx_status(discovery, SECURE), OK);
  EXPECT(mailtls_discovery_last_error(discovery, buf, sizeof buf, &n), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_discovery_add_tlsa(discovery, NULL, record, SECURE, SECURE), NUL);
  EXPECT(mailtls_discovery_add_tlsa(discovery, BAD_UTF8, record, SECURE, SECURE), MAILTLS_RESULT_INVALID_UTF8);
  EXPECT(mailtls_discovery_add_tlsa(discovery, "mx.example.com", BAD_UTF8, SECURE, SECURE), MAILTLS_RESULT_INVALID_UTF8);
  EXPECT(mailtls_discovery_add_tlsa(discovery, "not a host!", record, SECURE, SECURE), MAILTLS_RESULT_DESTINATION);
  EXPECT(mailtls_discovery_add_tlsa(discovery, "mx.example.com", record, 7, SECURE), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_discovery_add_tlsa(discovery, "mx.example.com", record, SECURE, 7), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_discovery_add_tlsa(discovery, "mx.example.com", "3 1 1 zz", SECURE, SECURE), MAILTLS_RESULT_TLSA);
  EXPECT(mailtls_discovery_add_tlsa(discovery, "mx.example.com", "3 1", SECURE, SECURE), MAILTLS_RESULT_TLSA);
  EXPECT(mailtls_discovery_last_error(discovery, buf, sizeof buf, &n), OK);
  CHECK(strstr(buf, "mx.example.com") != NULL);
  char *huge = huge_string(MAILTLS_MAX_STRING + 1);
  EXPECT(mailtls_discovery_add_tlsa(discovery, huge, record, SECURE, SECURE), MAILTLS_RESULT_TOO_LONG);
  EXPECT(mailtls_discovery_add_tlsa(discovery, "mx.example.com", huge, SECURE, SECURE), MAILTLS_RESULT_TOO_LONG);
  free(huge);
  /* One RRset has one DNSSEC status. */
  EXPECT(mailtls_discovery_add_tlsa(discovery, "mx.example.com", record, SECURE, SECURE), OK);
  EXPECT(mailtls_discovery_add_tlsa(discovery, "mx.example.com", record, SECURE, MAILTLS_DNSSEC_STATUS_BOGUS),
         MAILTLS_RESULT_INVALID_ARGUMENT);
  /* The TLSA base domain: only for a host with a lookup, only DNS names. */
  EXPECT(mailtls_discovery_set_tlsa_base_domain(NULL, "mx.example.com", "mx.cdn.example"), NUL);
  EXPECT(mailtls_discovery_set_tlsa_base_domain(discovery, "mx.example.com", NULL), NUL);
  EXPECT(mailtls_discovery_set_tlsa_base_domain(discovery, "mx9.example.com", "mx.cdn.example"),
         MAILTLS_RESULT_WRONG_STATE);
  EXPECT(mailtls_discovery_set_tlsa_base_domain(discovery, "mx.example.com", "bad name!"),
         MAILTLS_RESULT_DESTINATION);
  EXPECT(mailtls_discovery_set_tlsa_base_domain(discovery, "mx.example.com", BAD_UTF8), MAILTLS_RESULT_INVALID_UTF8);
  EXPECT(mailtls_discovery_set_tlsa_base_domain(discovery, "mx.example.com", "mx.cdn.example"), OK);
  EXPECT(mailtls_discovery_set_tlsa_base_domain((mailtls_discovery *)record, "mx.example.com", "mx.cdn.example"),
         MAILTLS_RESULT_INVALID_HANDLE);
  /* REQUIRETLS flags. */
  EXPECT(mailtls_discovery_set_message_tls(NULL, true, false), NUL);
  EXPECT(mailtls_discovery_set_message_tls(discovery, false, false), OK);
  /* A lookup without records (NULL) is an answer too. */
  EXPECT(mailtls_discovery_add_tlsa(discovery, "mx2.example.com", NULL, SECURE, MAILTLS_DNSSEC_STATUS_INDETERMINATE),
         OK);
  int over = 0;
  for (int i = 1; i < MAILTLS_MAX_TLSA_RECORDS + 10; i++) {
    if (mailtls_discovery_add_tlsa(discovery, "mx.example.com", record, SECURE, SECURE) == MAILTLS_RESULT_TOO_LONG)
      over++;
  }
  CHECK(over == 10);
  over = 0;
  for (int i = 0; i < MAILTLS_MAX_HOSTS + 5; i++) {
    char host[64];
    snprintf(host, sizeof host, "mx%d.example.net", i);
    if (mailtls_discovery_add_tlsa(discovery, host, NULL, SECURE, SECURE) == MAILTLS_RESULT_TOO_LONG) over++;
  }
  CHECK(over == 7); /* two hosts were there already */
  /* MTA-STS policies: NULL, oversized (only the length is checked), bad UTF-8, bad policy. */
  const char *policy = "version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 86400\n";
  EXPECT(mailtls_discovery_set_sts_policy(discovery, NULL, 10), NUL);
  EXPECT(mailtls_discovery_set_sts_policy(discovery, (const uint8_t *)"x", (size_t)MAILTLS_MAX_TEXT + 1),
         MAILTLS_RESULT_TOO_LONG);
  EXPECT(mailtls_discovery_set_sts_policy(discovery, (const uint8_t *)BAD_UTF8, 3), MAILTLS_RESULT_INVALID_UTF8);
  EXPECT(mailtls_discovery_set_sts_policy(discovery, (const uint8_t *)"mode: sometimes\n", 16),
         MAILTLS_RESULT_STS_POLICY);
  EXPECT(mailtls_discovery_last_error(discovery, buf, sizeof buf, &n), OK);
  CHECK(strstr(buf, "MTA-STS") != NULL);
  EXPECT(mailtls_discovery_set_sts_policy(discovery, (const uint8_t *)policy, strlen(policy)), OK);

  /* Decisions: NULL, wrong handle types, the explanation's size. */
  EXPECT(mailtls_config_new(&config), OK);
  EXPECT(mailtls_config_set_default_level(config, "dane"), OK);
  EXPECT(mailtls_config_plan(config, "[mx.example.com]:2525", NULL, 0, &plan), OK);
  EXPECT(mailtls_decision_new(NULL, discovery, &decision), NUL);
  EXPECT(mailtls_decision_new(plan, discovery, NULL), NUL);
  EXPECT(mailtls_decision_new((const mailtls_plan *)config, discovery, &decision), MAILTLS_RESULT_INVALID_HANDLE);
  EXPECT(mailtls_decision_new(plan, (const mailtls_discovery *)plan, &decision), MAILTLS_RESULT_INVALID_HANDLE);
  CHECK(decision == NULL);
  EXPECT(mailtls_decision_new(plan, NULL, &decision), OK); /* no discovery answers */
  mailtls_decision_free(decision);
  decision = NULL;
  EXPECT(mailtls_decision_new(plan, discovery, &decision), OK);
  CHECK(decision != NULL);
  EXPECT(mailtls_decision_explain(decision, buf, 4, &n), MAILTLS_RESULT_INSUFFICIENT_SIZE);
  EXPECT(mailtls_decision_explain(decision, NULL, 4, &n), NUL);
  EXPECT(mailtls_decision_explain_size(decision, NULL), NUL);
  EXPECT(mailtls_decision_explain_size((const mailtls_decision *)plan, &size), MAILTLS_RESULT_INVALID_HANDLE);
  EXPECT(mailtls_decision_explain_size(decision, &size), OK);
  char *text = malloc(size);
  if (!text) abort();
  EXPECT(mailtls_decision_explain(decision, text, size, &n), OK);
  CHECK(n + 1 == size && strstr(text, "decided by DANE") != NULL);
  free(text);
  mailtls_discovery_free(discovery);
  mailtls_discovery_free(discovery);
  EXPECT(mailtls_discovery_set_mx_status(discovery, SECURE), MAILTLS_RESULT_INVALID_HANDLE);

  /* Deliveries from a decision. */
  EXPECT(mailtls_delivery_new_from_decision(NULL, "client.example", NULL, &delivery), NUL);
  EXPECT(mailtls_delivery_new_from_decision(decision, NULL, NULL, &delivery), NUL);
  EXPECT(mailtls_delivery_new_from_decision(decision, "client.example", NULL, NULL), NUL);
  EXPECT(mailtls_delivery_new_from_decision(decision, "bad helo!", NULL, &delivery), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_delivery_new_from_decision(decision, BAD_UTF8, NULL, &delivery), MAILTLS_RESULT_INVALID_UTF8);
  EXPECT(mailtls_delivery_new_from_decision(decision, "client.example", BAD_UTF8, &delivery),
         MAILTLS_RESULT_INVALID_UTF8);
  EXPECT(mailtls_delivery_new_from_decision(decision, "client.example", "/nonexistent.pem", &delivery),
         MAILTLS_RESULT_TRUST_ANCHORS);
  EXPECT(mailtls_delivery_new_from_decision((const mailtls_decision *)plan, "client.example", NULL, &delivery),
         MAILTLS_RESULT_INVALID_HANDLE);
  CHECK(delivery == NULL);
  EXPECT(mailtls_delivery_new_from_decision(decision, "client.example", NULL, &delivery), OK);
  mailtls_decision_free(decision);
  mailtls_decision_free(decision);
  EXPECT(mailtls_decision_explain_size(decision, &size), MAILTLS_RESULT_INVALID_HANDLE);
  mailtls_plan_free(plan);
  mailtls_config_free(config);

  /* TLS-RPT results: nothing before an attempt, then an attempt that reports nothing. */
  EXPECT(mailtls_delivery_last_tlsrpt_result(NULL, buf, sizeof buf, &n), NUL);
  EXPECT(mailtls_delivery_last_tlsrpt_policy_type(NULL, buf, sizeof buf, &n), NUL);
  EXPECT(mailtls_delivery_last_tlsrpt_result(delivery, buf, sizeof buf, &n), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_delivery_last_tlsrpt_policy_type(delivery, buf, sizeof buf, &n), MAILTLS_RESULT_NOT_FOUND);
  mailtls_session *session = NULL;
  mailtls_session_event event = MAILTLS_SESSION_EVENT_NONE;
  size_t taken = 0;
  EXPECT(mailtls_delivery_next_session(delivery, 1000, &session), OK);
  EXPECT(mailtls_session_handle_input(session, (const uint8_t *)"554 go away\r\n", 13, 1100, &taken), OK);
  int finished = 0;
  for (int i = 0; i < 100 && !finished; i++) {
    EXPECT(mailtls_session_poll_event(session, &event), OK);
    if (event == MAILTLS_SESSION_EVENT_CLOSED) finished = 1;
    if (event == MAILTLS_SESSION_EVENT_NONE) EXPECT(mailtls_session_handle_eof(session, 1200), OK);
  }
  CHECK(finished);
  /* The Closed event, typed: the server's 554 ended the attempt. */
  mailtls_result failure = MAILTLS_RESULT_PANIC;
  mailtls_reply_code reply = {0, 0, 0, 0};
  mailtls_result_type result_type = MAILTLS_RESULT_TYPE_DANE_REQUIRED;
  EXPECT(mailtls_session_event_failure(NULL, &failure), NUL);
  EXPECT(mailtls_session_event_failure(session, NULL), NUL);
  EXPECT(mailtls_session_event_failure(session, &failure), OK);
  CHECK(failure == MAILTLS_RESULT_REJECTED && mailtls_result_is_known(failure));
  EXPECT(mailtls_session_event_reply(session, &reply), OK);
  CHECK(reply.code == 554 && reply.enhanced_class == 0);
  EXPECT(mailtls_session_event_result_type(session, &result_type), MAILTLS_RESULT_NOT_FOUND);
  CHECK(result_type == MAILTLS_RESULT_TYPE_DANE_REQUIRED);
  EXPECT(mailtls_session_client_certificate(session, NULL, NULL), MAILTLS_RESULT_WRONG_ROLE);
  EXPECT(mailtls_delivery_last_result_type(delivery, &result_type), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_delivery_record(delivery, session), OK);
  mailtls_session_free(session);
  EXPECT(mailtls_session_event_failure(session, &failure), MAILTLS_RESULT_INVALID_HANDLE);
  EXPECT(mailtls_delivery_last_result_type(NULL, &result_type), NUL);
  EXPECT(mailtls_delivery_last_result_type(delivery, NULL), NUL);
  EXPECT(mailtls_delivery_last_result_type(delivery, &result_type), MAILTLS_RESULT_NOT_FOUND);
  /* Outbound client certificates: the PEM is checked, the delivery stays usable. */
  EXPECT(mailtls_delivery_set_client_identity_pem(NULL, (const uint8_t *)"x", 1, (const uint8_t *)"x", 1), NUL);
  EXPECT(mailtls_delivery_set_client_identity_pem(delivery, NULL, 1, (const uint8_t *)"x", 1), NUL);
  EXPECT(mailtls_delivery_set_client_identity_pem(delivery, (const uint8_t *)"junk", 4, (const uint8_t *)"junk", 4),
         MAILTLS_RESULT_CERTIFICATE_PEM);
  EXPECT(mailtls_delivery_set_client_identity_pem(delivery, (const uint8_t *)"x", (size_t)MAILTLS_MAX_TEXT + 1,
                                                  (const uint8_t *)"x", 1),
         MAILTLS_RESULT_TOO_LONG);
  EXPECT(mailtls_delivery_last_tlsrpt_result(delivery, buf, sizeof buf, &n), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_delivery_last_tlsrpt_policy_type(delivery, buf, 4, &n), MAILTLS_RESULT_INSUFFICIENT_SIZE);
  EXPECT(mailtls_delivery_last_tlsrpt_policy_type(delivery, NULL, sizeof buf, &n), NUL);
  EXPECT(mailtls_delivery_last_tlsrpt_policy_type(delivery, buf, sizeof buf, NULL), NUL);
  EXPECT(mailtls_delivery_last_tlsrpt_policy_type(delivery, buf, sizeof buf, &n), OK);
  CHECK(strcmp(buf, "tlsa") == 0 && n == 4);
  EXPECT(mailtls_delivery_last_tlsrpt_result((const mailtls_delivery *)session, buf, sizeof buf, &n),
         MAILTLS_RESULT_INVALID_HANDLE);
  /* Counting the attempt in a report: it reports nothing, so nothing is counted. */
  mailtls_tlsrpt *tlsrpt = NULL;
  mailtls_tlsrpt_added added = MAILTLS_TLSRPT_ADDED_OVER_CAP;
  EXPECT(mailtls_tlsrpt_new(0, 100, &tlsrpt), OK);
  EXPECT(mailtls_tlsrpt_add_last_attempt(NULL, delivery, 50, &added), NUL);
  EXPECT(mailtls_tlsrpt_add_last_attempt(tlsrpt, NULL, 50, &added), NUL);
  EXPECT(mailtls_tlsrpt_add_last_attempt(tlsrpt, delivery, 50, NULL), NUL);
  EXPECT(mailtls_tlsrpt_add_last_attempt((mailtls_tlsrpt *)delivery, delivery, 50, &added),
         MAILTLS_RESULT_INVALID_HANDLE);
  EXPECT(mailtls_tlsrpt_add_last_attempt(tlsrpt, (const mailtls_delivery *)tlsrpt, 50, &added),
         MAILTLS_RESULT_INVALID_HANDLE);
  EXPECT(mailtls_tlsrpt_add_last_attempt(tlsrpt, delivery, 50, &added), MAILTLS_RESULT_NOT_FOUND);
  CHECK(added == MAILTLS_TLSRPT_ADDED_OVER_CAP); /* written only on success */
  mailtls_tlsrpt_free(tlsrpt);
  mailtls_delivery_free(delivery);
  EXPECT(mailtls_delivery_last_tlsrpt_result(delivery, buf, sizeof buf, &n), MAILTLS_RESULT_INVALID_HANDLE);
}

static int log_lines = 0;
static int log_bad = 0;

static void count_log(void *userdata, mailtls_log_level level, const char *message, size_t len) {
  if (userdata != &log_lines || level < MAILTLS_LOG_LEVEL_ERROR || level > MAILTLS_LOG_LEVEL_DEBUG ||
      strlen(message) != len)
    log_bad++;
  log_lines++;
}

/* The version, the log callback, the typed event getters and the number names. */
static void library_calls(void) {
  const char *version = mailtls_version();
  CHECK(version != NULL && strlen(version) >= 5 && strchr(version, '.') != NULL);
  EXPECT(mailtls_set_log_callback(NULL, NULL, MAILTLS_LOG_LEVEL_DEBUG), NUL);
  EXPECT(mailtls_set_log_callback(count_log, &log_lines, 0), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_set_log_callback(count_log, &log_lines, 99), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_set_log_callback(count_log, &log_lines, MAILTLS_LOG_LEVEL_DEBUG), OK);
  /* Once per process. */
  EXPECT(mailtls_set_log_callback(count_log, NULL, MAILTLS_LOG_LEVEL_ERROR), MAILTLS_RESULT_WRONG_STATE);

  char buf[64];
  size_t n = 0;
  EXPECT(mailtls_cipher_suite_name(0x1302, buf, sizeof buf, &n), OK);
  CHECK(strcmp(buf, "TLS_AES_256_GCM_SHA384") == 0 && n == 22);
  EXPECT(mailtls_cipher_suite_name(0x0005, buf, sizeof buf, &n), MAILTLS_RESULT_NOT_FOUND); /* RC4 */
  EXPECT(mailtls_cipher_suite_name(0x1302, buf, 4, &n), MAILTLS_RESULT_INSUFFICIENT_SIZE);
  EXPECT(mailtls_cipher_suite_name(0x1302, NULL, sizeof buf, &n), NUL);
  EXPECT(mailtls_cipher_suite_name(0x1302, buf, sizeof buf, NULL), NUL);
  EXPECT(mailtls_kx_group_name(0x001d, buf, sizeof buf, &n), OK);
  CHECK(strcmp(buf, "X25519") == 0);
  EXPECT(mailtls_kx_group_name(0xfefe, buf, sizeof buf, &n), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_kx_group_name(0x001d, NULL, 0, &n), NUL);
  EXPECT(mailtls_tls_version_name(0x0304, buf, sizeof buf, &n), OK);
  CHECK(strcmp(buf, "TLSv1.3") == 0);
  EXPECT(mailtls_tls_version_name(0x0300, buf, sizeof buf, &n), MAILTLS_RESULT_NOT_FOUND); /* SSLv3 */
  EXPECT(mailtls_result_type_name(MAILTLS_RESULT_TYPE_TLSA_INVALID, buf, sizeof buf, &n), OK);
  CHECK(strcmp(buf, "tlsa-invalid") == 0);
  EXPECT(mailtls_result_type_name(MAILTLS_RESULT_TYPE_SUCCESS, buf, sizeof buf, &n), OK);
  CHECK(strcmp(buf, "success") == 0);
  EXPECT(mailtls_result_type_name(4242, buf, sizeof buf, &n), MAILTLS_RESULT_INVALID_ARGUMENT);
  EXPECT(mailtls_result_type_name(MAILTLS_RESULT_TYPE_SUCCESS, buf, 0, &n), MAILTLS_RESULT_INSUFFICIENT_SIZE);
  /* The failure codes are result codes with messages. */
  CHECK(mailtls_result_is_known(MAILTLS_RESULT_CERTIFICATE_REJECTED));
  CHECK(mailtls_result_is_known(MAILTLS_RESULT_HOST_SKIPPED));
  CHECK(mailtls_result_is_known(MAILTLS_RESULT_TRUST_ANCHORS));
  EXPECT(mailtls_result_message(MAILTLS_RESULT_STARTTLS_NOT_OFFERED, buf, sizeof buf, &n), OK);
  CHECK(strstr(buf, "STARTTLS") != NULL);

  /* A server session: a refusal's reply codes, and nothing TLS before TLS. */
  mailtls_server_config *config = NULL;
  mailtls_session *session = NULL;
  mailtls_session_event event = MAILTLS_SESSION_EVENT_NONE;
  mailtls_reply_code reply = {0, 0, 0, 0};
  mailtls_result failure = MAILTLS_RESULT_OK;
  mailtls_result_type result_type = MAILTLS_RESULT_TYPE_SUCCESS;
  mailtls_trust_level trust = MAILTLS_TRUST_LEVEL_VERIFIED;
  uint16_t number = 7;
  size_t taken = 0;
  uint8_t out[512];
  EXPECT(mailtls_server_config_new("mx.example.org", &config), OK);
  /* Client certificates need an identity first; connectors need a configuration handle. */
  EXPECT(mailtls_server_config_request_client_certificates(NULL, (const uint8_t *)"x", 1, false, false), NUL);
  EXPECT(mailtls_server_config_request_client_certificates(config, NULL, 1, false, false), NUL);
  EXPECT(mailtls_server_config_request_client_certificates(config, (const uint8_t *)"junk", 4, true, true),
         MAILTLS_RESULT_WRONG_STATE);
  EXPECT(mailtls_server_config_request_client_certificates(config, (const uint8_t *)"x", (size_t)MAILTLS_MAX_TEXT + 1,
                                                           false, false),
         MAILTLS_RESULT_TOO_LONG);
  EXPECT(mailtls_server_config_set_connectors(config, NULL), NUL);
  EXPECT(mailtls_server_config_set_connectors(NULL, NULL), NUL);
  EXPECT(mailtls_server_config_set_connectors(config, (const mailtls_config *)config), MAILTLS_RESULT_INVALID_HANDLE);
  mailtls_config *empty = NULL;
  EXPECT(mailtls_config_new(&empty), OK);
  EXPECT(mailtls_server_config_set_connectors(config, empty), OK);
  mailtls_config_free(empty);
  EXPECT(mailtls_session_new_server(config, "192.0.2.7", 1000, &session), OK);
  mailtls_server_config_free(config);

  EXPECT(mailtls_session_event_reply(session, &reply), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_session_event_reply(session, NULL), NUL);
  EXPECT(mailtls_session_event_reply(NULL, &reply), NUL);
  EXPECT(mailtls_session_event_result_type(session, &result_type), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_session_event_result_type(session, NULL), NUL);
  EXPECT(mailtls_session_event_failure(session, &failure), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_session_tls_version(session, &number), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_session_cipher_suite(session, &number), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_session_kx_group(session, &number), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_session_tls_version(NULL, &number), NUL);
  EXPECT(mailtls_session_cipher_suite(session, NULL), MAILTLS_RESULT_NOT_FOUND); /* nothing to write */
  CHECK(number == 7);
  EXPECT(mailtls_session_client_certificate(session, &trust, &result_type), MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_session_client_certificate(session, NULL, &result_type), NUL);
  CHECK(trust == MAILTLS_TRUST_LEVEL_VERIFIED);
  EXPECT(mailtls_session_client_certificate((const mailtls_session *)out, &trust, &result_type),
         MAILTLS_RESULT_INVALID_HANDLE);
  while (mailtls_session_poll_transmit(session, out, sizeof out, &n) == OK && n > 0) {
  }
  /* MAIL before EHLO is refused by the session itself: 503 5.5.1. */
  const char *mail = "MAIL FROM:<a@example.org>\r\n";
  EXPECT(mailtls_session_handle_input(session, (const uint8_t *)mail, strlen(mail), 1100, &taken), OK);
  int refused = 0;
  for (int i = 0; i < 20 && !refused; i++) {
    EXPECT(mailtls_session_poll_event(session, &event), OK);
    if (event == MAILTLS_SESSION_EVENT_REFUSED) refused = 1;
    if (event == MAILTLS_SESSION_EVENT_NONE) break;
  }
  CHECK(refused);
  EXPECT(mailtls_session_event_reply(session, &reply), OK);
  CHECK(reply.code == 503 && reply.enhanced_class == 5 && reply.enhanced_subject == 5 && reply.enhanced_detail == 1);
  EXPECT(mailtls_session_event_failure(session, &failure), MAILTLS_RESULT_NOT_FOUND);
  mailtls_session_free(session);
  EXPECT(mailtls_session_event_reply(session, &reply), MAILTLS_RESULT_INVALID_HANDLE);
  CHECK(log_lines > 0 && log_bad == 0);
}

/* The state store: NULL, an unopened handle, a file that is not a state file, bad input. */
static void store_calls(void) {
  char buf[512];
  size_t n = 0;
  mailtls_store *store = NULL;
  const char *policy = "version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 86400\n";
  EXPECT(mailtls_store_new(NULL), NUL);
  EXPECT(mailtls_store_open(NULL, "/tmp/x"), NUL);
  EXPECT(mailtls_store_last_error(NULL, buf, sizeof buf, &n), NUL);
  EXPECT(mailtls_store_record_last_attempt(NULL, NULL, 0, NULL, NULL), NUL);
  EXPECT(mailtls_store_put_sts_policy(NULL, "example.com", "1", (const uint8_t *)policy, strlen(policy), 0), NUL);
  EXPECT(mailtls_discovery_use_stored_sts_policy(NULL, NULL, "example.com", 0), NUL);
  mailtls_store_free(NULL);
  EXPECT(mailtls_store_new(&store), OK);
  CHECK(store != NULL);
  EXPECT(mailtls_store_last_error(store, buf, sizeof buf, &n), MAILTLS_RESULT_NOT_FOUND);
  /* Not open yet: every operation is refused, with a message. */
  EXPECT(mailtls_store_put_sts_policy(store, "example.com", "1", (const uint8_t *)policy, strlen(policy), 0),
         MAILTLS_RESULT_WRONG_STATE);
  EXPECT(mailtls_store_last_error(store, buf, sizeof buf, &n), OK);
  CHECK(strstr(buf, "mailtls_store_open") != NULL);
  EXPECT(mailtls_store_open(store, NULL), NUL);
  EXPECT(mailtls_store_open(store, BAD_UTF8), MAILTLS_RESULT_INVALID_UTF8);
  /* A file that is not a mailtls state file is left alone. */
  char path[64];
  snprintf(path, sizeof path, "/tmp/mailtls-hostile-%ld.txt", (long)getpid());
  FILE *junk = fopen(path, "w");
  CHECK(junk != NULL);
  if (junk) {
    fputs("this is not a SQLite database, it is plain text written by someone else\n", junk);
    fclose(junk);
  }
  EXPECT(mailtls_store_open(store, path), MAILTLS_RESULT_STORE);
  EXPECT(mailtls_store_last_error(store, buf, sizeof buf, &n), OK);
  CHECK(strstr(buf, path) != NULL);
  unlink(path);
  /* A real one: bad domains, ids and policies are refused before anything is stored. */
  char state[64];
  snprintf(state, sizeof state, "/tmp/mailtls-hostile-%ld.sqlite", (long)getpid());
  unlink(state);
  EXPECT(mailtls_store_open(store, state), OK);
  EXPECT(mailtls_store_open(store, state), MAILTLS_RESULT_WRONG_STATE);
  EXPECT(mailtls_store_put_sts_policy(store, "bad name!", "1", (const uint8_t *)policy, strlen(policy), 0),
         MAILTLS_RESULT_DESTINATION);
  EXPECT(mailtls_store_put_sts_policy(store, "example.com", NULL, (const uint8_t *)policy, strlen(policy), 0), NUL);
  EXPECT(mailtls_store_put_sts_policy(store, "example.com", "1", (const uint8_t *)"mode: sometimes\n", 16, 0),
         MAILTLS_RESULT_STS_POLICY);
  EXPECT(mailtls_store_put_sts_policy(store, "example.com", "1", (const uint8_t *)policy, (size_t)MAILTLS_MAX_TEXT + 1,
                                      0),
         MAILTLS_RESULT_TOO_LONG);
  EXPECT(mailtls_store_put_sts_policy(store, "example.com", "1", (const uint8_t *)policy, strlen(policy), 1000), OK);
  mailtls_discovery *discovery = NULL;
  EXPECT(mailtls_discovery_new(&discovery), OK);
  EXPECT(mailtls_discovery_use_stored_sts_policy(discovery, store, "example.com", 2000), OK);
  EXPECT(mailtls_discovery_use_stored_sts_policy(discovery, store, "example.com", 1000 + 86400),
         MAILTLS_RESULT_NOT_FOUND);
  EXPECT(mailtls_discovery_use_stored_sts_policy(discovery, store, "bad name!", 2000), MAILTLS_RESULT_DESTINATION);
  EXPECT(mailtls_discovery_use_stored_sts_policy((mailtls_discovery *)store, store, "example.com", 2000),
         MAILTLS_RESULT_INVALID_HANDLE);
  EXPECT(mailtls_store_record_last_attempt(store, NULL, 0, NULL, NULL), NUL);
  EXPECT(mailtls_store_record_last_attempt(store, (mailtls_delivery *)discovery, 0, NULL, NULL),
         MAILTLS_RESULT_INVALID_HANDLE);
  mailtls_discovery_free(discovery);
  mailtls_store_free(store);
  mailtls_store_free(store);
  EXPECT(mailtls_store_open(store, state), MAILTLS_RESULT_INVALID_HANDLE);
  unlink(state);
  char side[sizeof state + 8];
  snprintf(side, sizeof side, "%s-wal", state);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", state);
  unlink(side);
}

int main(void) {
  library_calls();
  result_messages();
  config_calls();
  tlsrpt_calls();
  server_calls();
  inbound_calls();
  client_calls();
  decision_calls();
  store_calls();
  printf("hostile: %d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
