/*
 * exim_dlfunc: an Exim ${dlfunc} function that returns the mailtls inbound verdict, for an
 * ACL to act on.
 *
 * Exim calls `int fn(uschar **yield, int argc, uschar *argv[])`; the return value is one of
 * Exim's OK / FAIL / ERROR codes. Exim's local_scan.h (which defines them and uschar) is not
 * installed on this machine, so the types and values are declared here as in the Exim 4.96
 * source (OK 0, DEFER 1, FAIL 2, ERROR 3, FAIL_FORCED 4); check them against your
 * local_scan.h when you build for a real Exim.
 *
 * Arguments (argv):
 *   0 connectors file          /etc/exim4/mailtls-connectors.toml
 *   1 client address           $sender_host_address
 *   2 TLS version              $tls_in_ver           (TLS1.3; empty without TLS)
 *   3 cipher                   $tls_in_cipher_std    (may be empty)
 *   4 certificate subject DN   $tls_in_peerdn        (CN=relay.partner.test,O=...)
 *   5 verified                 $tls_in_certificate_verified (1 or 0)
 *   6 sender                   $sender_address
 *   7.. recipients             $local_part@$domain   (optional)
 *
 * Yield: "accept", or "CODE ENHANCED TEXT" for a refusal ("550 5.7.1 Sender domain ..."),
 * and the function returns OK; FAIL when the arguments are unusable, ERROR when the
 * connectors cannot be loaded (the yield says why). An ACL:
 *
 *   warn   set acl_m_tls = ${dlfunc{/usr/lib/exim4/mailtls_dlfunc.so}{mailtls_exim_verdict}\
 *                          {/etc/exim4/mailtls-connectors.toml}{$sender_host_address}\
 *                          {$tls_in_ver}{$tls_in_cipher_std}{$tls_in_peerdn}\
 *                          {$tls_in_certificate_verified}{$sender_address}}
 *   deny   condition = ${if !eq{$acl_m_tls}{accept}}
 *          message   = ${substr_4:$acl_m_tls}
 *
 * Exim runs each SMTP connection in its own process, so the loaded connectors are cached in
 * a static for the life of that process; the yield lives in a static buffer until the next
 * call (Exim copies expansion results).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailtls.h"

typedef unsigned char uschar;
#define OK 0
#define DEFER 1
#define FAIL 2
#define ERROR 3

static mailtls_config *cached_config;
static char cached_path[4096];
static char yield_buf[1024];

static int give(uschar **yield, int status, const char *text) {
  snprintf(yield_buf, sizeof yield_buf, "%s", text);
  *yield = (uschar *)yield_buf;
  return status;
}

static mailtls_config *load(const char *path, char *err, size_t err_len) {
  if (cached_config && strcmp(cached_path, path) == 0) return cached_config;
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, err_len, "cannot open %s", path);
    return NULL;
  }
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
  mailtls_config *config = NULL;
  if (!buf || mailtls_config_new(&config) != MAILTLS_RESULT_OK) {
    free(buf);
    snprintf(err, err_len, "out of memory");
    return NULL;
  }
  mailtls_result r = mailtls_config_load_connectors(config, (const uint8_t *)buf, n);
  free(buf);
  if (r != MAILTLS_RESULT_OK) {
    size_t len = 0;
    mailtls_config_last_error(config, err, err_len, &len);
    mailtls_config_free(config);
    return NULL;
  }
  mailtls_config_free(cached_config);
  cached_config = config;
  snprintf(cached_path, sizeof cached_path, "%s", path);
  return config;
}

/* The CN of an Exim DN ("CN=relay.partner.test,O=mailtls tests"), or "" when none. */
static void common_name(const char *dn, char *out, size_t out_len) {
  out[0] = 0;
  for (const char *p = dn; p && *p; p++) {
    if ((p == dn || p[-1] == ',' || p[-1] == '/' || p[-1] == ' ') && strncmp(p, "CN=", 3) == 0) {
      size_t n = strcspn(p + 3, ",/");
      if (n >= out_len) n = out_len - 1;
      memcpy(out, p + 3, n);
      out[n] = 0;
      return;
    }
  }
}

/* Exim's $tls_in_ver is "TLS1.3"; the milter spelling mailtls reads is "TLSv1.3". */
static void version_name(const char *exim, char *out, size_t out_len) {
  if (strncmp(exim, "TLS1", 4) == 0) {
    snprintf(out, out_len, "TLSv%s", exim + 3);
  } else {
    snprintf(out, out_len, "%s", exim);
  }
}

int mailtls_exim_verdict(uschar **yield, int argc, uschar *argv[]) {
  char err[512] = "";
  if (!yield) return ERROR;
  if (argc < 7 || !argv) return give(yield, FAIL, "mailtls: expected at least 7 arguments");
  for (int i = 0; i < argc; i++) {
    if (!argv[i]) return give(yield, FAIL, "mailtls: NULL argument");
  }
  const char *path = (const char *)argv[0], *client = (const char *)argv[1],
             *version = (const char *)argv[2], *cipher = (const char *)argv[3],
             *peerdn = (const char *)argv[4], *verified = (const char *)argv[5],
             *sender = (const char *)argv[6];
  mailtls_config *config = load(path, err, sizeof err);
  if (!config) return give(yield, ERROR, err);

  mailtls_inbound_facts *facts = NULL;
  if (mailtls_inbound_facts_new(&facts) != MAILTLS_RESULT_OK) return give(yield, ERROR, "mailtls: facts");
  int status = OK;
  char cn[256], tls_version[32];
  common_name(peerdn, cn, sizeof cn);
  version_name(version, tls_version, sizeof tls_version);
  mailtls_result r = mailtls_inbound_facts_set_client_address(facts, client);
  if (r == MAILTLS_RESULT_OK && tls_version[0]) r = mailtls_inbound_facts_set_macro(facts, "tls_version", tls_version);
  if (r == MAILTLS_RESULT_OK && cipher[0]) r = mailtls_inbound_facts_set_macro(facts, "cipher", cipher);
  if (r == MAILTLS_RESULT_OK && cn[0]) r = mailtls_inbound_facts_set_macro(facts, "cert_subject", cn);
  if (r == MAILTLS_RESULT_OK && cn[0])
    r = mailtls_inbound_facts_set_verification(
        facts, strcmp(verified, "1") == 0 ? MAILTLS_VERIFICATION_VERIFIED : MAILTLS_VERIFICATION_NOT_VERIFIED);
  if (r == MAILTLS_RESULT_OK) r = mailtls_inbound_facts_set_mail_from(facts, sender);
  for (int i = 7; r == MAILTLS_RESULT_OK && i < argc; i++) {
    r = mailtls_inbound_facts_add_rcpt(facts, (const char *)argv[i]);
  }
  mailtls_verdict *verdict = NULL;
  if (r == MAILTLS_RESULT_OK) r = mailtls_config_decide_inbound(config, facts, &verdict);
  if (r != MAILTLS_RESULT_OK) {
    size_t n = 0;
    char msg[256];
    mailtls_result_message(r, msg, sizeof msg, &n);
    snprintf(err, sizeof err, "mailtls: %s", msg);
    mailtls_inbound_facts_free(facts);
    return give(yield, FAIL, err);
  }
  mailtls_action action = MAILTLS_ACTION_TEMPFAIL;
  mailtls_verdict_action(verdict, &action);
  if (action == MAILTLS_ACTION_ACCEPT) {
    give(yield, OK, "accept");
  } else {
    uint16_t code = 0;
    char enhanced[16], text[512], reply[600];
    size_t en = 0, tn = 0;
    if (mailtls_verdict_reply(verdict, &code, enhanced, sizeof enhanced, &en, text, sizeof text, &tn) ==
        MAILTLS_RESULT_OK) {
      snprintf(reply, sizeof reply, "%u %s %s", (unsigned)code, enhanced, text);
      give(yield, OK, reply);
    } else {
      status = give(yield, ERROR, "mailtls: no reply for a refusal");
    }
  }
  mailtls_verdict_free(verdict);
  mailtls_inbound_facts_free(facts);
  return status;
}

/* Frees the cached configuration (Exim never calls it; the test driver does, so a leak
 * checker sees a clean exit). */
void mailtls_exim_unload(void) {
  mailtls_config_free(cached_config);
  cached_config = NULL;
  cached_path[0] = 0;
}
