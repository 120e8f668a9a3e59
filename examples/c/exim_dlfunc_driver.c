/*
 * exim_dlfunc_driver: calls an Exim ${dlfunc} function the way Exim does (dlopen, dlsym,
 * fn(&yield, argc, argv)) and prints "STATUS YIELD", so the module can be tested without
 * Exim.
 *
 *   exim_dlfunc_driver MODULE.so FUNCTION [ARG...]
 *
 * Exits with the function's return value. Like Exim, it keeps the module loaded for the life
 * of the process (no dlclose); the module's optional `mailtls_exim_unload` is called before
 * exit so a leak checker sees everything freed.
 */
#include <dlfcn.h>
#include <stdio.h>

typedef unsigned char uschar;
typedef int (*dlfunc)(uschar **yield, int argc, uschar *argv[]);

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: exim_dlfunc_driver MODULE.so FUNCTION [ARG...]\n");
    return 64;
  }
  void *module = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!module) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 70;
  }
  dlfunc fn;
  *(void **)&fn = dlsym(module, argv[2]);
  if (!fn) {
    fprintf(stderr, "dlsym: %s\n", dlerror());
    return 70;
  }
  int status = 0;
  /* Call twice: the second call uses the cached configuration. */
  for (int round = 0; round < 2; round++) {
    uschar *yield = NULL;
    status = fn(&yield, argc - 3, (uschar **)(argv + 3));
    if (round == 1) printf("%d %s\n", status, yield ? (const char *)yield : "(null)");
  }
  void (*unload)(void);
  *(void **)&unload = dlsym(module, "mailtls_exim_unload");
  if (unload) unload();
  return status;
}
