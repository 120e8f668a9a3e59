/*
 * milter: a Postfix milter (libmilter) that enforces mailtls inbound partner connectors from
 * Postfix's TLS macros, and refuses mail with the library's reply (code, enhanced code,
 * text) through smfi_setreply.
 *
 *   milter -p inet:2560@127.0.0.1 -c connectors.toml [-n CONNECTIONS]
 *
 * Postfix needs (main.cf):
 *   smtpd_milters = inet:127.0.0.1:2560
 *   milter_protocol = 6
 *   milter_helo_macros = {tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}
 *   milter_mail_macros = i {mail_addr} {tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}
 *
 * Postfix passes {cert_subject}/{cert_issuer} (common names, not DNs) only when the client
 * certificate verified against smtpd_tls_CAfile, so their presence means "verified".
 * The decision is made at MAIL FROM and again at each RCPT TO (on-premises connectors are
 * attributed by recipient domain). -n exits after that many connections closed (for tests
 * under Valgrind: everything is freed before exit).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>

#include <libmilter/mfapi.h>

#include "mailtls.h"

static mailtls_config *config;
static long max_connections = 0;
static long closed_connections = 0;
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const MACROS[] = {"{tls_version}", "{cipher}", "{cipher_bits}",
                                     "{cert_subject}", "{cert_issuer}"};

static mailtls_inbound_facts *facts_of(SMFICTX *ctx) {
  return (mailtls_inbound_facts *)smfi_getpriv(ctx);
}

static void log_error(const char *what, mailtls_result r) {
  char msg[256];
  size_t n = 0;
  mailtls_result_message(r, msg, sizeof msg, &n);
  fprintf(stderr, "mailtls-milter: %s: %s (%u)\n", what, msg, (unsigned)r);
}

static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr) {
  (void)hostname;
  mailtls_inbound_facts *facts = NULL;
  mailtls_result r = mailtls_inbound_facts_new(&facts);
  if (r != MAILTLS_RESULT_OK) {
    log_error("facts", r);
    return SMFIS_TEMPFAIL;
  }
  smfi_setpriv(ctx, facts);
  char text[INET6_ADDRSTRLEN] = "";
  if (addr && addr->sa_family == AF_INET) {
    inet_ntop(AF_INET, &((struct sockaddr_in *)addr)->sin_addr, text, sizeof text);
  } else if (addr && addr->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)addr)->sin6_addr, text, sizeof text);
  }
  if (text[0] == 0 || (r = mailtls_inbound_facts_set_client_address(facts, text)) != MAILTLS_RESULT_OK) {
    fprintf(stderr, "mailtls-milter: no usable client address\n");
    return SMFIS_TEMPFAIL;
  }
  return SMFIS_CONTINUE;
}

static sfsistat on_helo(SMFICTX *ctx, char *helo) {
  mailtls_inbound_facts *facts = facts_of(ctx);
  if (facts && helo) mailtls_inbound_facts_set_helo(facts, helo);
  return SMFIS_CONTINUE;
}

/* Copies the TLS macros Postfix sent at this stage into the facts. */
static void read_macros(SMFICTX *ctx, mailtls_inbound_facts *facts) {
  for (size_t i = 0; i < sizeof MACROS / sizeof MACROS[0]; i++) {
    const char *value = smfi_getsymval(ctx, (char *)MACROS[i]);
    mailtls_result r = mailtls_inbound_facts_set_macro(facts, MACROS[i], value ? value : "");
    if (r != MAILTLS_RESULT_OK) log_error(MACROS[i], r);
  }
  /* Postfix: {cert_subject} is present only for a verified certificate. */
  const char *subject = smfi_getsymval(ctx, "{cert_subject}");
  mailtls_inbound_facts_set_verification(
      facts, subject && subject[0] ? MAILTLS_VERIFICATION_VERIFIED : MAILTLS_VERIFICATION_NOT_VERIFIED);
}

/* smfi_setreply treats '%' specially: keep the text printable and without it. */
static void sanitize(char *text) {
  for (char *p = text; *p; p++) {
    if (*p == '%' || (unsigned char)*p < 0x20) *p = ' ';
  }
}

/* Decides, logs, and sets the reply for a refusal. Returns the milter status. */
static sfsistat decide(SMFICTX *ctx, const char *stage) {
  mailtls_inbound_facts *facts = facts_of(ctx);
  if (!facts) return SMFIS_TEMPFAIL;
  mailtls_verdict *verdict = NULL;
  mailtls_result r = mailtls_config_decide_inbound(config, facts, &verdict);
  if (r != MAILTLS_RESULT_OK) {
    log_error("decide", r);
    return SMFIS_TEMPFAIL;
  }
  char explanation[2048] = "";
  size_t n = 0;
  if (mailtls_verdict_explain(verdict, MAILTLS_FORMAT_TEXT, explanation, sizeof explanation, &n) !=
      MAILTLS_RESULT_OK) {
    strcpy(explanation, "(explanation too long)");
  }
  mailtls_action action = MAILTLS_ACTION_TEMPFAIL;
  mailtls_verdict_action(verdict, &action);
  sfsistat status = SMFIS_CONTINUE;
  if (action != MAILTLS_ACTION_ACCEPT) {
    uint16_t code = 0;
    char enhanced[16], text[512], code_text[8];
    size_t en = 0, tn = 0;
    r = mailtls_verdict_reply(verdict, &code, enhanced, sizeof enhanced, &en, text, sizeof text, &tn);
    if (r != MAILTLS_RESULT_OK) {
      log_error("reply", r);
      status = SMFIS_TEMPFAIL;
    } else {
      sanitize(text);
      snprintf(code_text, sizeof code_text, "%u", (unsigned)code);
      smfi_setreply(ctx, code_text, enhanced, text);
      status = action == MAILTLS_ACTION_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
      printf("mailtls-milter: %s refused %s %s %s | %s\n", stage, code_text, enhanced, text, explanation);
    }
  } else {
    printf("mailtls-milter: %s accepted | %s\n", stage, explanation);
  }
  fflush(stdout);
  mailtls_verdict_free(verdict);
  return status;
}

static sfsistat on_mail(SMFICTX *ctx, char **argv) {
  mailtls_inbound_facts *facts = facts_of(ctx);
  if (!facts || !argv || !argv[0]) return SMFIS_TEMPFAIL;
  read_macros(ctx, facts);
  mailtls_result r = mailtls_inbound_facts_set_mail_from(facts, argv[0]);
  if (r != MAILTLS_RESULT_OK) {
    log_error("MAIL FROM", r);
    smfi_setreply(ctx, "501", "5.1.7", "Bad sender address syntax");
    return SMFIS_REJECT;
  }
  return decide(ctx, "MAIL");
}

static sfsistat on_rcpt(SMFICTX *ctx, char **argv) {
  mailtls_inbound_facts *facts = facts_of(ctx);
  if (!facts || !argv || !argv[0]) return SMFIS_TEMPFAIL;
  mailtls_result r = mailtls_inbound_facts_add_rcpt(facts, argv[0]);
  if (r != MAILTLS_RESULT_OK) {
    log_error("RCPT TO", r);
    smfi_setreply(ctx, "501", "5.1.3", "Bad recipient address syntax");
    return SMFIS_REJECT;
  }
  return decide(ctx, "RCPT");
}

static sfsistat on_close(SMFICTX *ctx) {
  mailtls_inbound_facts_free(facts_of(ctx));
  smfi_setpriv(ctx, NULL);
  pthread_mutex_lock(&counter_lock);
  closed_connections++;
  int stop = max_connections > 0 && closed_connections >= max_connections;
  pthread_mutex_unlock(&counter_lock);
  if (stop) smfi_stop();
  return SMFIS_CONTINUE;
}

static struct smfiDesc description = {
    .xxfi_name = "mailtls",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = 0,
    .xxfi_connect = on_connect,
    .xxfi_helo = on_helo,
    .xxfi_envfrom = on_mail,
    .xxfi_envrcpt = on_rcpt,
    .xxfi_close = on_close,
};

static char *read_file(const char *path, size_t *len) {
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

int main(int argc, char **argv) {
  const char *socket_spec = "inet:2560@127.0.0.1", *connectors = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "p:c:n:")) != -1) {
    switch (opt) {
      case 'p': socket_spec = optarg; break;
      case 'c': connectors = optarg; break;
      case 'n': max_connections = strtol(optarg, NULL, 10); break;
      default:
        fprintf(stderr, "usage: milter -p SOCKET -c CONNECTORS.toml [-n CONNECTIONS]\n");
        return 64;
    }
  }
  if (!connectors) {
    fprintf(stderr, "milter: -c CONNECTORS.toml is required\n");
    return 64;
  }
  mailtls_result r = mailtls_config_new(&config);
  if (r != MAILTLS_RESULT_OK) return 1;
  size_t len = 0;
  char *toml = read_file(connectors, &len);
  if (!toml) {
    perror(connectors);
    mailtls_config_free(config);
    return 66;
  }
  r = mailtls_config_load_connectors(config, (const uint8_t *)toml, len);
  free(toml);
  if (r != MAILTLS_RESULT_OK) {
    char msg[512];
    size_t n = 0;
    mailtls_config_last_error(config, msg, sizeof msg, &n);
    fprintf(stderr, "%s: %s\n", connectors, msg);
    mailtls_config_free(config);
    return 78;
  }
  if (smfi_setconn((char *)socket_spec) == MI_FAILURE || smfi_register(description) == MI_FAILURE) {
    fprintf(stderr, "milter: cannot set up %s\n", socket_spec);
    mailtls_config_free(config);
    return 71;
  }
  /* Create the socket now so a failure (port in use) is reported before smfi_main. */
  if (smfi_opensocket(1) == MI_FAILURE) {
    fprintf(stderr, "milter: cannot listen on %s\n", socket_spec);
    mailtls_config_free(config);
    return 71;
  }
  printf("mailtls-milter: listening on %s\n", socket_spec);
  fflush(stdout);
  int status = smfi_main();
  mailtls_config_free(config);
  printf("mailtls-milter: exiting (%d)\n", status);
  return status == MI_SUCCESS ? 0 : 1;
}
