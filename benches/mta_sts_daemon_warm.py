"""postfix-mta-sts-resolver's own mta-sts-daemon, its internal cache warm before it serves.

Used by benches/policyd.rs as the anchor: the daemon, its socketmap responder and its
internal LRU cache run unchanged; the only difference from a daemon that has served for a
while is that the cache entries (one per domain of the bench's policy file, parsed with the
daemon's own policy parser, fetched "now") are put in before it starts listening, since the
bench machine has no port-443 HTTPS server or port-53 resolver for it to fetch them from.

    python mta_sts_daemon_warm.py POLICIES.tsv -c CONFIG.yml [mta-sts-daemon options]

POLICIES.tsv: one `domain<TAB>policy id<TAB>policy text with \\n escapes` line per domain.
"""
import sys
import time

from postfix_mta_sts_resolver import daemon, utils
from postfix_mta_sts_resolver.base_cache import CacheEntry


def load(path):
    entries = {}
    now = time.time()
    with open(path, encoding="utf-8") as policies:
        for line in policies:
            domain, pol_id, text = line.rstrip("\n").split("\t")
            body = utils.parse_mta_sts_policy(text.replace("\\n", "\n"))
            body["max_age"] = int(body["max_age"])
            entries[domain] = CacheEntry(now, pol_id, body)
    return entries


def main():
    entries = load(sys.argv.pop(1))
    create_cache = utils.create_cache

    def warm_cache(cache_type, options):
        cache = create_cache(cache_type, options)
        for domain, entry in entries.items():
            cache._cache[domain] = entry  # pylint: disable=protected-access
        return cache

    utils.create_cache = warm_cache
    sys.exit(daemon.main())


if __name__ == "__main__":
    main()
