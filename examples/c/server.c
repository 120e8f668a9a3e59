/*
 * server: an SMTP server that terminates STARTTLS itself with the mailtls server session over
 * real sockets, asks every client for a certificate, verifies it against a CA file and
 * enforces inbound connectors (a partner's domain only with the partner's certificate), as a
 * C MTA would. Messages are counted, not stored.
 *
 *   server -p PORT -c CERT.pem -k KEY.pem [-C CLIENT_CA.pem] [-n CONNECTORS.toml] [-m SESSIONS]
 *
 * It listens on 127.0.0.1:PORT (0: a free port; it prints "listening on PORT"), serves one
 * session after the other and exits 0 after SESSIONS sessions (default 1). For each session
 * it prints:
 *
 *   SESSION 127.0.0.1
 *   TLS 0x0304 TLS_AES_256_GCM_SHA384 X25519       version, suite, group: IANA numbers, named
 *   CLIENT-CERT Verified success                    trust level, RFC 8460 result type
 *   REFUSED 550 5.7.1 MAIL                          the session refused a command (connectors)
 *   MAIL <a@b>  RCPT <c@d>  MESSAGE 123             what it accepted
 *   CLOSED quit
 *
 * The connectors decide: the session refuses MAIL FROM of a partner domain without the
 * partner's verified certificate by itself (a REFUSED event); this program accepts whatever
 * the session lets through.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "mailtls.h"
#include "session_loop.h"

static char *must_read(const char *path, size_t *len) {
  char *text = read_file(path, len);
  if (!text) {
    fprintf(stderr, "server: cannot read %s\n", path);
    exit(1);
  }
  return text;
}

static void check(const char *what, mailtls_result r) {
  if (r != MAILTLS_RESULT_OK) die(what, r);
}

static void print_tls(mailtls_session *s) {
  uint16_t version = 0, suite = 0, group = 0;
  char suite_name[64] = "?", group_name[32] = "?";
  size_t n = 0;
  check("tls_version", mailtls_session_tls_version(s, &version));
  check("cipher_suite", mailtls_session_cipher_suite(s, &suite));
  mailtls_cipher_suite_name(suite, suite_name, sizeof suite_name, &n);
  if (mailtls_session_kx_group(s, &group) == MAILTLS_RESULT_OK)
    mailtls_kx_group_name(group, group_name, sizeof group_name, &n);
  printf("TLS 0x%04x %s %s\n", version, suite_name, group_name);

  mailtls_trust_level trust = MAILTLS_TRUST_LEVEL_ANONYMOUS;
  mailtls_result_type result_type = MAILTLS_RESULT_TYPE_SUCCESS;
  char type_name[64] = "?";
  check("client_certificate", mailtls_session_client_certificate(s, &trust, &result_type));
  mailtls_result_type_name(result_type, type_name, sizeof type_name, &n);
  static const char *const trust_names[] = {"Anonymous", "Untrusted", "Trusted", "Verified"};
  printf("CLIENT-CERT %s %s\n", trust <= MAILTLS_TRUST_LEVEL_VERIFIED ? trust_names[trust] : "?",
         type_name);
}

/* Serves one accepted connection to its end. */
static void serve(const mailtls_server_config *config, int fd, const char *client_ip) {
  mailtls_session *s = NULL;
  check("session_new_server", mailtls_session_new_server(config, client_ip, now_ms(), &s));
  printf("SESSION %s\n", client_ip);
  uint8_t pending[16384];
  size_t pending_len = 0;
  int finished = 0;
  while (!finished) {
    mailtls_session_event event;
    mailtls_result r;
    while ((r = mailtls_session_poll_event(s, &event)) == MAILTLS_RESULT_OK &&
           event != MAILTLS_SESSION_EVENT_NONE) {
      switch (event) {
        case MAILTLS_SESSION_EVENT_TLS_ESTABLISHED:
          print_tls(s);
          break;
        case MAILTLS_SESSION_EVENT_REFUSED: {
          mailtls_reply_code reply;
          check("event_reply", mailtls_session_event_reply(s, &reply));
          printf("REFUSED %u %u.%u.%u\n", reply.code, reply.enhanced_class, reply.enhanced_subject,
                 reply.enhanced_detail);
          break;
        }
        case MAILTLS_SESSION_EVENT_MAIL_FROM:
          print_detail(s, "MAIL");
          check("accept", mailtls_session_accept(s));
          break;
        case MAILTLS_SESSION_EVENT_RCPT_TO:
          print_detail(s, "RCPT");
          check("accept", mailtls_session_accept(s));
          break;
        case MAILTLS_SESSION_EVENT_MESSAGE_END:
          print_detail(s, "MESSAGE");
          check("accept", mailtls_session_accept(s));
          break;
        case MAILTLS_SESSION_EVENT_TLS_FAILED: {
          mailtls_result failure = MAILTLS_RESULT_OK;
          char text[256];
          size_t n = 0;
          check("event_failure", mailtls_session_event_failure(s, &failure));
          mailtls_result_message(failure, text, sizeof text, &n);
          printf("TLS-FAILED %u %s\n", (unsigned)failure, text);
          break;
        }
        case MAILTLS_SESSION_EVENT_CLOSED:
          print_detail(s, "CLOSED");
          finished = 1;
          break;
        default:
          break;
      }
    }
    if (r != MAILTLS_RESULT_OK) die("poll_event", r);
    if (flush(s, fd) != 0) break;
    if (finished) break;

    /* Offer what the session did not take yet (it waits while an event is unanswered). */
    if (pending_len > 0) {
      size_t taken = 0;
      check("handle_input", mailtls_session_handle_input(s, pending, pending_len, now_ms(), &taken));
      memmove(pending, pending + taken, pending_len - taken);
      pending_len -= taken;
      if (taken > 0) continue;
    }
    if (!wait_readable(s, fd)) continue;
    if (pending_len == sizeof pending) continue; /* full: the session must answer first */
    ssize_t got = recv(fd, pending + pending_len, sizeof pending - pending_len, 0);
    if (got <= 0) {
      mailtls_session_handle_eof(s, now_ms());
    } else {
      pending_len += (size_t)got;
    }
  }
  mailtls_session_free(s);
  fflush(stdout);
}

int main(int argc, char **argv) {
  program_name = "server";
  const char *cert = NULL, *key = NULL, *client_ca = NULL, *connectors = NULL;
  int port = -1, sessions = 1, opt;
  while ((opt = getopt(argc, argv, "p:c:k:C:n:m:")) != -1) {
    switch (opt) {
      case 'p': port = atoi(optarg); break;
      case 'c': cert = optarg; break;
      case 'k': key = optarg; break;
      case 'C': client_ca = optarg; break;
      case 'n': connectors = optarg; break;
      case 'm': sessions = atoi(optarg); break;
      default: return 1;
    }
  }
  if (port < 0 || port > 65535 || !cert || !key || sessions < 1) {
    fprintf(stderr,
            "usage: server -p PORT -c CERT.pem -k KEY.pem [-C CLIENT_CA.pem] [-n CONNECTORS.toml] "
            "[-m SESSIONS]\n");
    return 1;
  }

  mailtls_server_config *config = NULL;
  check("server_config_new", mailtls_server_config_new("mx.partner.test", &config));
  size_t cert_len = 0, key_len = 0;
  char *cert_pem = must_read(cert, &cert_len), *key_pem = must_read(key, &key_len);
  check("set_identity_pem", mailtls_server_config_set_identity_pem(config, (const uint8_t *)cert_pem, cert_len,
                                                                   (const uint8_t *)key_pem, key_len));
  free(cert_pem);
  free(key_pem);
  if (client_ca) {
    size_t len = 0;
    char *pem = must_read(client_ca, &len);
    /* Ask, do not require; let the connectors judge a failed certificate. */
    check("request_client_certificates",
          mailtls_server_config_request_client_certificates(config, (const uint8_t *)pem, len, false, false));
    free(pem);
  }
  if (connectors) {
    size_t len = 0;
    char *toml = must_read(connectors, &len);
    mailtls_config *policy = NULL;
    check("config_new", mailtls_config_new(&policy));
    mailtls_result r = mailtls_config_load_connectors(policy, (const uint8_t *)toml, len);
    if (r != MAILTLS_RESULT_OK) {
      char text[512];
      size_t n = 0;
      mailtls_config_last_error(policy, text, sizeof text, &n);
      fprintf(stderr, "server: %s: %s\n", connectors, text);
      return 1;
    }
    check("set_connectors", mailtls_server_config_set_connectors(config, policy));
    mailtls_config_free(policy);
    free(toml);
  }

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 16) != 0) {
    perror("server: listen");
    return 1;
  }
  socklen_t addr_len = sizeof addr;
  getsockname(listener, (struct sockaddr *)&addr, &addr_len);
  printf("listening on %u\n", (unsigned)ntohs(addr.sin_port));
  fflush(stdout);
  for (int served = 0; served < sessions; served++) {
    struct sockaddr_in peer;
    socklen_t peer_len = sizeof peer;
    int fd = accept(listener, (struct sockaddr *)&peer, &peer_len);
    if (fd < 0) {
      if (errno == EINTR) {
        served--;
        continue;
      }
      perror("server: accept");
      return 1;
    }
    char ip[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    serve(config, fd, ip);
    close(fd);
  }
  close(listener);
  mailtls_server_config_free(config);
  return 0;
}
