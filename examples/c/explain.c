/*
 * explain: load a Postfix smtp_tls_policy_maps table, plan a destination and print the
 * explanation as text and JSON; then count two TLS-RPT sessions and print the report JSON.
 *
 *   explain TABLE_FILE NEXT_HOP [MX_HOST...]
 *
 * A table that does not parse prints the library's message with its line and column and
 * exits 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailtls.h"

static void die(const char *what, mailtls_result r) {
  char msg[256];
  size_t n = 0;
  mailtls_result_message(r, msg, sizeof msg, &n);
  fprintf(stderr, "explain: %s: %s (%u)\n", what, msg, (unsigned)r);
  exit(1);
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (!buf) exit(1);
  *len = n;
  return buf;
}

/* Prints a plan's explanation in one format, sizing the buffer first. */
static void print_explanation(const mailtls_plan *plan, uint32_t format) {
  size_t size = 0, n = 0;
  mailtls_result r = mailtls_plan_explain_size(plan, format, &size);
  if (r != MAILTLS_RESULT_OK) die("explain size", r);
  char *buf = malloc(size);
  if (!buf) exit(1);
  r = mailtls_plan_explain(plan, format, buf, size, &n);
  if (r != MAILTLS_RESULT_OK) die("explain", r);
  printf("%s\n", buf);
  free(buf);
}

static void tlsrpt_demo(void) {
  mailtls_tlsrpt *rpt = NULL;
  mailtls_result r = mailtls_tlsrpt_new(1459468800, 1459555199, &rpt);
  if (r != MAILTLS_RESULT_OK) die("tlsrpt", r);
  const char *policy[] = {"version: STSv1", "mode: testing", "mx: *.mail.company-y.example",
                          "max_age: 86400"};
  const char *patterns[] = {"*.mail.company-y.example"};
  mailtls_tlsrpt_session s;
  memset(&s, 0, sizeof s);
  s.at_unix = 1459500000;
  s.policy_type = "sts";
  s.policy_domain = "company-y.example";
  s.policy_strings = policy;
  s.policy_string_count = 4;
  s.mx_patterns = patterns;
  s.mx_pattern_count = 1;
  s.mx_host = "mx1.mail.company-y.example";
  s.sending_ip = "2001:db8:abcd:12::1";
  mailtls_tlsrpt_added added;
  if ((r = mailtls_tlsrpt_add(rpt, &s, &added)) != MAILTLS_RESULT_OK) die("tlsrpt add", r);
  s.result_type = "certificate-expired";
  if ((r = mailtls_tlsrpt_add(rpt, &s, &added)) != MAILTLS_RESULT_OK) die("tlsrpt add", r);
  size_t size = 0, n = 0;
  const char *org = "Company-X", *contact = "sts-reporting@company-x.example",
             *id = "5065427c-23d3-47ca-b6e0-946ea0e8c4be";
  r = mailtls_tlsrpt_json_size(rpt, "company-y.example", org, contact, id, &size);
  if (r != MAILTLS_RESULT_OK) die("tlsrpt size", r);
  char *json = malloc(size);
  if (!json) exit(1);
  r = mailtls_tlsrpt_json(rpt, "company-y.example", org, contact, id, json, size, &n);
  if (r != MAILTLS_RESULT_OK) die("tlsrpt json", r);
  printf("TLSRPT %s\n", json);
  free(json);
  mailtls_tlsrpt_free(rpt);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: explain TABLE_FILE NEXT_HOP [MX_HOST...]\n");
    return 64;
  }
  mailtls_config *config = NULL;
  mailtls_result r = mailtls_config_new(&config);
  if (r != MAILTLS_RESULT_OK) die("config", r);

  size_t len = 0;
  char *table = read_file(argv[1], &len);
  r = mailtls_config_load_postfix_table(config, (const uint8_t *)table, len);
  free(table);
  if (r != MAILTLS_RESULT_OK) {
    char msg[512];
    size_t n = 0;
    uint32_t line = 0, column = 0;
    mailtls_config_last_error(config, msg, sizeof msg, &n);
    mailtls_config_last_error_position(config, &line, &column);
    fprintf(stderr, "%s:%u:%u: %s\n", argv[1], (unsigned)line, (unsigned)column, msg);
    mailtls_config_free(config);
    return 2;
  }

  mailtls_plan *plan = NULL;
  r = mailtls_config_plan(config, argv[2], (const char *const *)(argv + 3), (size_t)(argc - 3), &plan);
  if (r != MAILTLS_RESULT_OK) die("plan", r);
  print_explanation(plan, MAILTLS_FORMAT_TEXT);
  printf("JSON ");
  print_explanation(plan, MAILTLS_FORMAT_JSON);
  mailtls_plan_free(plan);
  mailtls_config_free(config);

  tlsrpt_demo();
  return 0;
}
