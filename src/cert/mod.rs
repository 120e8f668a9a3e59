//! Certificate facts, fingerprints and pins, chain validation and partner matching.
